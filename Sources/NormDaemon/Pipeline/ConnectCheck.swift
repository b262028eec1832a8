import Dispatch
import Glibc
import Logging

/// ZeroMQ connects in the background and retries for ever, so a `connect` endpoint whose host
/// name does not resolve (a typo, a service not yet in DNS) fails without a word. This looks
/// each tcp:// host up once, off the pipeline's thread, and warns about those that do not
/// resolve; ZeroMQ goes on retrying either way.
enum ConnectCheck {
    static func warnUnresolved(_ endpoints: [String], side: String, logger: Logger) {
        let hosts = endpoints.compactMap { endpoint in host(endpoint).map { (endpoint, $0) } }
        guard !hosts.isEmpty else { return }
        DispatchQueue.global(qos: .utility).async {
            for (endpoint, host) in hosts {
                guard let problem = resolutionProblem(host) else { continue }
                logger.warning(
                    "\(side) connect endpoint's host does not resolve; ZeroMQ keeps retrying",
                    metadata: ["endpoint": "\(endpoint)", "host": "\(host)", "error": "\(problem)"])
            }
        }
    }

    /// The host of a `tcp://[source;]host:port` endpoint, brackets of an IPv6 address removed.
    static func host(_ endpoint: String) -> String? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        var address = Substring(endpoint.dropFirst("tcp://".count))
        if let semicolon = address.lastIndex(of: ";") { address = address[address.index(after: semicolon)...] }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        var host = address[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty || host == "*" ? nil : String(host)
    }

    /// getaddrinfo's reason `host` does not resolve, or nil when it does.
    static func resolutionProblem(_ host: String) -> String? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &result)
        if let result { freeaddrinfo(result) }
        return status == 0 ? nil : String(cString: gai_strerror(status))
    }
}
