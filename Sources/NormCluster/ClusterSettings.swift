/// Where a pipeline's input and output live on JetStream, and how its keys are shared.
public struct ClusterSettings: Sendable, Equatable {
    /// The pipeline's name: consumers, the state bucket and the member bucket are named after it.
    public var pipeline: String
    public var urls: [String]
    public var inputStream = "NORMD_IN"
    public var inputPrefix = "normd.in"
    public var partitions = 6
    public var ackWait = 1.0
    public var ownerTimeout = 3.0
    /// Nil: outputs go elsewhere (a ZeroMQ socket).
    public var outputStream: String? = "NORMD_OUT"
    public var outputPrefix = "normd.out"
    /// `max_keys`: the state bucket holds at most this many keys, and the server refuses a new
    /// one beyond (rejected `max_keys`); 0: no limit.
    public var maxKeys = 0
    /// The settings that decide a pipeline's numbers, as its configuration writes them: every
    /// instance of a pipeline should hold the same, or a key's outputs depend on which instance
    /// owns it. Empty: not compared.
    public var agreement = ""

    public init(pipeline: String, urls: [String]) {
        self.pipeline = pipeline
        self.urls = urls
    }

    /// The durable consumer of partition `partition`.
    public func consumer(_ partition: Int) -> String { "normd-\(pipeline)-p\(partition)" }
    /// The bucket of record for the keys' statistics.
    public var stateBucket: String { "NORMD_STATE_\(pipeline)" }
    /// The bucket that marks, per key the state bucket refused at `max_keys`, the last input
    /// refused: once the key is let in, what it missed starts after that.
    public var refusalBucket: String { "NORMD_REFUSED_\(pipeline)" }
    /// How many keys' refusal marks are kept (the oldest go first).
    public static let refusalsKept = 100_000
    /// The bucket in which instances say they are alive.
    public var memberBucket: String { "NORMD_MEMBERS_\(pipeline)" }
    /// The priority group every partition's consumer pins one client in.
    static let group = "normd"

    /// A problem with the settings, or nil.
    public var problem: String? {
        if urls.isEmpty { return "needs a server url" }
        if partitions < 1 || partitions > 1024 { return "partitions must be 1 to 1024" }
        if maxKeys < 0 { return "max_keys must be 0 or more" }
        if !(ackWait > 0) || !(ackWait < ownerTimeout) {
            return "ack_wait_s (\(ackWait)) must be positive and shorter than owner_timeout_s (\(ownerTimeout)): a new owner must see the old owner's unacknowledged messages again before new ones"
        }
        for (name, value) in [("pipeline", pipeline), ("stream", inputStream)] + (outputStream.map { [("output stream", $0)] } ?? [])
        where !Self.isName(value) {
            return "\(name) \"\(value)\" must be letters, digits, - and _"
        }
        for (name, value) in [("subject_prefix", inputPrefix), ("output subject_prefix", outputPrefix)] where !Self.isSubject(value) {
            return "\(name) \"\(value)\" is not a subject without wildcards"
        }
        return nil
    }

    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { c in (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 || c == 95 }
    }

    static func isSubject(_ s: String) -> Bool {
        !s.isEmpty && s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { Self.isToken(String($0)) }
    }

    /// A subject token: not empty, no `.`, `*`, `>` or whitespace (the contract's rule for keys).
    public static func isToken(_ s: String) -> Bool {
        !s.isEmpty && !s.unicodeScalars.contains { $0 == "." || $0 == "*" || $0 == ">" || $0.properties.isWhitespace }
    }
}
