/// `127.0.0.1:9464`.
struct HostPort: Sendable, Equatable {
    let host: String
    let port: UInt16
    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]), port > 0 else { return nil }
        host = String(text[..<colon])
        self.port = port
        if host.isEmpty { return nil }
    }
}
