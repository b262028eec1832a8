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

    /// The output header for `header`, in an array of its own (`OutputHeader` writes it into a
    /// frame without one).
    public static func outputHeader(_ header: InboundHeader, outputDType: DType, kind: String, mode: String, batches: Int64?) -> [UInt8] {
        OutputHeader(header, outputDType: outputDType, kind: kind, mode: mode, batches: batches).bytes
    }

    public static func deadLetterHeader(_ rejection: Rejection) -> String {
        JSONValue.object([("error", .string(rejection.reason.rawValue)), ("detail", .string(rejection.detail))]).serialized
    }
}
