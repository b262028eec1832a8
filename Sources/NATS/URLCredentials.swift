/// A NATS URL may carry its credentials (`nats://user:password@host:4222`, or a token:
/// `nats://token@host:4222`): whatever normd writes to a log or an error names the server, never
/// the secret.
public enum URLCredentials {
    /// `text` with the password (or token) of every `scheme://userinfo@host` in it written as
    /// `***`; a user name before a colon stays, so the operator still sees who connects.
    public static func redacted(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let scheme = schemeEnd(rest) {
            result += rest[..<scheme]
            rest = rest[scheme...]
            // The authority ends at a path, or where the URL ends in the text around it.
            let end = rest.firstIndex { "/?#\"', \n]".contains($0) } ?? rest.endIndex
            let authority = rest[..<end]
            guard let at = authority.lastIndex(of: "@") else { continue }
            let userinfo = authority[..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                result += userinfo[..<colon] + ":***"
            } else {
                result += "***"
            }
            rest = rest[at...]
        }
        return result + rest
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
