import NormCore

/// Why a message produced no output; the codes of docs/wire-format.md, in the order checked.
public enum RejectReason: String, Sendable, CaseIterable, Codable {
    case frames, key, header, dtype, shape
    case tooLarge = "too_large"
    case layout, channels
    case payloadSize = "payload_size"
    case nonfinite
    case tooFewValues = "too_few_values"
    case maxKeys = "max_keys"
    /// Cluster mode: the key's state of record in the bucket cannot be read (written by
    /// something else, or damaged) until `ctl reset` writes it anew.
    case state

    public init(_ code: NormError.Code) {
        switch code {
        case .shape: self = .shape
        case .channels, .affine, .statistics: self = .channels
        case .payloadSize: self = .payloadSize
        case .nonfinite: self = .nonfinite
        case .tooFewValues: self = .tooFewValues
        }
    }
}
