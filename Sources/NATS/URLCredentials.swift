/// A NATS URL may carry its credentials (`nats://user:password@host:4222`, or a token:
/// `nats://token@host:4222`): whatever normd writes to a log or an error names the server, never
/// the secret.
public enum URLCredentials {
    /// One URL with its password (or token) written `***`; a user name before a colon stays, so
    /// the operator still sees who connects. As libnats reads a URL, the credentials run from
    /// `://` to the last `@`, so a password may hold `/`, `?`, `#`, `@` or a space.
    public static func redacted(url: String) -> String {
        guard let scheme = schemeEnd(Substring(url)) else { return url }
        let rest = url[scheme...]
        guard let at = rest.lastIndex(of: "@") else { return url }
        return String(url[..<scheme]) + masked(rest[..<at]) + rest[at...]
    }

    /// A list of URLs as a log or an error names them: each redacted, joined with ", ".
    public static func redacted(urls: [String]) -> String {
        urls.map { redacted(url: $0) }.joined(separator: ", ")
    }

    /// `text` with every `scheme://userinfo@host` in it redacted, for a text that was not built
    /// from the URLs themselves (a configuration value as TOML writes it, say). A URL is taken to
    /// run until a quote that is not escaped, a line's end or the next `://`, and its credentials
    /// to its last `@`: a password holding a quote or `://` is beyond what a scan can tell, so
    /// wherever the URLs are at hand, `redacted(url:)` is what is used.
    public static func redacted(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = schemeEnd(rest) {
            result += rest[..<scheme]
            rest = rest[scheme...]
            let end = urlEnd(rest)
            guard let at = rest[..<end].lastIndex(of: "@") else { continue }
            result += masked(rest[..<at])
            rest = rest[at...]
        }
        return result + rest
    }

    /// `user:***` for `user:password`, `***` for a token.
    private static func masked(_ userinfo: Substring) -> String {
        if let colon = userinfo.firstIndex(of: ":") { return userinfo[..<colon] + ":***" }
        return "***"
    }

    /// Where the URL that begins `text` ends in the text around it.
    private static func urlEnd(_ text: Substring) -> Substring.Index {
        var index = text.startIndex
        var escaped = false
        while index < text.endIndex {
            let character = text[index]
            if !escaped && (character == "\"" || character == "'") || character == "\n" || text[index...].hasPrefix("://") { return index }
            escaped = !escaped && character == "\\"
            index = text.index(after: index)
        }
        return index
    }

    /// Where the authority begins after the first "://" in `text`.
    private static func schemeEnd(_ text: Substring) -> Substring.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix("://") { return text.index(index, offsetBy: 3) }
            index = text.index(after: index)
        }
        return nil
    }
}
