import NormCore

/// Builds outbound headers and dead letters.
public enum WireEncoder {
    /// The input header with `dtype` set to the output's and a `norm` object added.
    public static func outputHeader(_ members: [(String, JSONValue)], outputDType: DType, norm: [(String, JSONValue)]) -> String {
        var result = members
        // The field keeps its place; a duplicate of it later in the header goes.
        func set(_ key: String, _ value: JSONValue) {
            guard let index = result.firstIndex(where: { $0.0 == key }) else {
                result.append((key, value))
                return
            }
            result[index].1 = value
            result = result.enumerated().filter { $0.offset <= index || $0.element.0 != key }.map(\.element)
        }
        set("dtype", .string(outputDType.rawValue))
        set("norm", .object(norm))
        return JSONValue.object(result).serialized
    }

    /// The output header for `header`: spliced from its bytes (each member as it came), or
    /// serialized from its members when a top-level key is written with escapes.
    public static func outputHeader(_ header: InboundHeader, outputDType: DType, kind: String, mode: String, batches: Int64?) -> [UInt8] {
        if let members = header.memberRanges {
            return HeaderSplice.outputHeader(header.raw, members: members, dtype: outputDType) { out in
                out.append(contentsOf: #"{"kind":""#.utf8)
                out.append(contentsOf: kind.utf8)
                out.append(contentsOf: #"","mode":""#.utf8)
                out.append(contentsOf: mode.utf8)
                out.append(UInt8(ascii: "\""))
                if let batches {
                    out.append(contentsOf: #","batches":"#.utf8)
                    appendDecimal(batches, to: &out)
                }
                out.append(UInt8(ascii: "}"))
            }
        }
        var members: [(String, JSONValue)] = [("kind", .string(kind)), ("mode", .string(mode))]
        if let batches { members.append(("batches", .int(batches))) }
        return Array(outputHeader(header.members, outputDType: outputDType, norm: members).utf8)
    }

    /// `value` in decimal, as `String(value)` writes it, without making the string.
    static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        // Most significant digit first, so nothing is reversed (reversing a slice of `out` copied it).
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        while divisor <= magnitude / 10 { divisor *= 10 }
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
    }

    public static func deadLetterHeader(_ rejection: Rejection) -> String {
        JSONValue.object([("error", .string(rejection.reason.rawValue)), ("detail", .string(rejection.detail))]).serialized
    }
}
