/// What a ZeroMQ endpoint string must look like for normd.
enum Endpoint {
    static func problem(_ endpoint: String, bind: Bool) -> String? {
        guard let separator = endpoint.range(of: "://") else { return "\"\(endpoint)\" is not a ZeroMQ address (tcp://, ipc:// or inproc://)" }
        let scheme = endpoint[..<separator.lowerBound]
        let rest = String(endpoint[separator.upperBound...])
        switch scheme {
        case "ipc", "inproc":
            if rest.isEmpty { return "\"\(endpoint)\" has no path" }
            if scheme == "ipc", let problem = unixSocketPathProblem(rest) { return "\"\(endpoint)\": \(problem)" }
            return nil
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

    /// A Unix socket's path holds at most 107 bytes (`sun_path`, ending in a NUL): longer, and
    /// binding or connecting fails at start, so `check-config` says it first.
    static func unixSocketPathProblem(_ path: String) -> String? {
        let limit = 107
        let count = path.utf8.count
        return count > limit ? "the path is \(count) bytes; a Unix socket's path holds at most \(limit)" : nil
    }
}
