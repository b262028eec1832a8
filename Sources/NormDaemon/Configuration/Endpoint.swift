/// What a ZeroMQ endpoint string must look like for normd.
enum Endpoint {
    static func problem(_ endpoint: String, bind: Bool) -> String? {
        guard let separator = endpoint.range(of: "://") else { return "\"\(endpoint)\" is not a ZeroMQ address (tcp://, ipc:// or inproc://)" }
        let scheme = endpoint[..<separator.lowerBound]
        let rest = String(endpoint[separator.upperBound...])
        switch scheme {
        case "ipc", "inproc":
            return rest.isEmpty ? "\"\(endpoint)\" has no path" : nil
        case "tcp":
            guard let colon = rest.lastIndex(of: ":"), !rest[..<colon].isEmpty else { return "\"\(endpoint)\" needs HOST:PORT" }
            let port = rest[rest.index(after: colon)...]
            if port == "*" && bind { return nil }
            guard let number = Int(port), (1...65_535).contains(number) else { return "\"\(endpoint)\" has no valid port" }
            return nil
        default:
            return "\"\(endpoint)\": transport \(scheme) is not supported (tcp, ipc, inproc)"
        }
    }
}
