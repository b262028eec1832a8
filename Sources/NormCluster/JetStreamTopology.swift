import NATS
import NormFormats

/// Creates what a pipeline needs on the server when it is missing — the input stream, whose
/// subject transform maps each key to a partition; the output stream; one durable pull consumer
/// per partition with a pinned-client priority group — through JetStream API JSON (libnats 3.4
/// has no typed call for transforms or priority groups), and refuses a server without them.
public struct JetStreamTopology: Sendable {
    public let settings: ClusterSettings
    let jetStream: JetStream

    public init(settings: ClusterSettings, jetStream: JetStream) {
        self.settings = settings
        self.jetStream = jetStream
    }

    /// The transform's destination: "<prefix>.<partition>.<key>".
    var transformDestination: String { "\(settings.inputPrefix).{{partition(\(settings.partitions),1)}}.{{wildcard(1)}}" }

    /// Creates what is missing and returns the input stream's identity: its name and creation
    /// time, which a key's state records beside its last applied sequence (a stream made anew
    /// numbers its messages from 1 again).
    @discardableResult
    public func ensure() throws(ClusterError) -> String {
        let s = settings
        let input = try ensureStream(
            s.inputStream,
            #"{"name":"\#(s.inputStream)","subjects":["\#(s.inputPrefix).*"],"allow_direct":true,"subject_transform":{"src":"\#(s.inputPrefix).*","dest":"\#(transformDestination)"}}"#
        ) { config in
            guard config["subject_transform"]?["dest"]?.stringValue == transformDestination else {
                return "stream \(s.inputStream) exists without the transform to \(s.partitions) partitions (\(transformDestination)); delete it or use the partitions it was made with"
            }
            guard config["allow_direct"]?.boolValue == true else {
                return "stream \(s.inputStream) exists without allow_direct, which reading a dead owner's skipped messages needs"
            }
            return nil
        }
        try ensureOutputStream()
        for partition in 0..<s.partitions { try ensureConsumer(partition) }
        guard let created = input["created"]?.stringValue else {
            throw ClusterError(.server, "stream \(s.inputStream) has no creation time in \(input.serialized.prefix(200))", context: "reading stream \(s.inputStream)")
        }
        return "\(s.inputStream) \(created)"
    }

    /// The output stream, "<output prefix>.>", with a two-minute duplicate window. An existing
    /// stream must take that subject: one made for another prefix (another pipeline's, sharing
    /// the stream's name) would answer no publish, and the pipeline would wait for ever.
    public func ensureOutputStream() throws(ClusterError) {
        guard let output = settings.outputStream else { return }
        let subject = "\(settings.outputPrefix).>"
        try ensureStream(output, #"{"name":"\#(output)","subjects":["\#(subject)"],"duplicate_window":120000000000}"#) { config in
            let subjects = config["subjects"]?.arrayValue?.compactMap(\.stringValue) ?? []
            guard !subjects.contains(where: { Self.covers($0, subject) }) else { return nil }
            return "stream \(output) exists with subjects \(subjects), which do not take \(subject): give this pipeline an output stream of its own, or add \(subject) to it"
        }
    }

    /// Whether stream subject `filter` takes every subject `subject` (ending in ">") stands for.
    static func covers(_ filter: String, _ subject: String) -> Bool {
        let f = filter.split(separator: ".", omittingEmptySubsequences: false)
        let s = subject.split(separator: ".", omittingEmptySubsequences: false)
        for (i, token) in f.enumerated() {
            if token == ">" { return true }
            guard i < s.count, s[i] != ">", s[i] != "*" else { return false }
            if token != "*" && token != s[i] { return false }
        }
        return f.count == s.count
    }

    /// Sets the state bucket's `max_msgs` to `max_keys` (-1: none) when it differs, and returns
    /// the limit it had then. The bucket keeps one message per key and discards new ones at the
    /// limit, so the server itself refuses a key beyond it, whichever instance asks; an existing
    /// key's update replaces its message and is never refused. A bucket made elsewhere that
    /// discards old messages instead would drop the oldest keys' state: refused.
    public func limitKeys() throws(ClusterError) -> Int? {
        try limit(settings.stateBucket, to: settings.maxKeys > 0 ? settings.maxKeys : -1, discard: nil) { config in
            guard settings.maxKeys > 0, config["discard"]?.stringValue != "new" else { return nil }
            return "the state bucket \(settings.stateBucket) discards old entries at its limit, which would drop keys' statistics; make it with discard \"new\" (as normd does) to use max_keys"
        }
    }

    /// The refusal bucket keeps the newest `ClusterSettings.refusalsKept` keys' marks and lets
    /// the oldest go: a flood of keys it refused must not grow it without end.
    public func limitRefusals() throws(ClusterError) {
        _ = try limit(settings.refusalBucket, to: ClusterSettings.refusalsKept, discard: "old") { _ in nil }
    }

    /// Sets a bucket stream's `max_msgs` (and `discard`, when given) where they differ; returns
    /// the `max_msgs` it had then, or nil when nothing changed. `check` may refuse its config.
    private func limit(_ bucket: String, to maxMessages: Int, discard: String?, check: (JSONValue) -> String?) throws(ClusterError) -> Int? {
        let stream = "KV_\(bucket)"
        let info = try jetStream.request("STREAM.INFO.\(stream)", "")
        guard let config = info["config"], case .object(let members) = config else { throw apiError(info, "reading stream \(stream)") }
        let was = config["max_msgs"]?.intValue ?? -1
        guard was != maxMessages || (discard != nil && config["discard"]?.stringValue != discard) else { return nil }
        if let problem = check(config) { throw ClusterError(.topology, problem) }
        let changed = JSONValue.object(
            members.map { name, value in
                switch name {
                case "max_msgs": (name, .int(maxMessages))
                case "discard": (name, discard.map { .string($0) } ?? value)
                default: (name, value)
                }
            })
        let reply = try jetStream.request("STREAM.UPDATE.\(stream)", changed.serialized)
        if reply["error"] != nil { throw apiError(reply, "setting max_msgs \(maxMessages) on \(stream)") }
        return was
    }

    /// Creates stream `name` when missing and returns its info (config, created, state).
    @discardableResult
    private func ensureStream(_ name: String, _ json: String, check: (JSONValue) -> String?) throws(ClusterError) -> JSONValue {
        let reply = try jetStream.request("STREAM.CREATE.\(name)", json)
        if reply["error"] == nil { return reply }
        // 10058: the name is taken. An existing stream is fine if it is the one we would make.
        guard reply["error"]?["err_code"]?.intValue == 10058 else { throw apiError(reply, "creating stream \(name)") }
        let info = try jetStream.request("STREAM.INFO.\(name)", "")
        if let error = info["error"] { throw ClusterError(.server, error["description"]?.stringValue ?? "\(error)", context: "reading stream \(name)") }
        if let problem = check(info["config"] ?? .null) { throw ClusterError(.topology, problem) }
        return info
    }

    private func ensureConsumer(_ partition: Int) throws(ClusterError) {
        let s = settings
        let name = s.consumer(partition)
        let json = """
            {"stream_name":"\(s.inputStream)","config":{"durable_name":"\(name)","filter_subject":"\(s.inputPrefix).\(partition).*",\
            "ack_policy":"explicit","ack_wait":\(Int64(s.ackWait * 1e9)),"max_deliver":-1,"deliver_policy":"all",\
            "priority_groups":["\(ClusterSettings.group)"],"priority_policy":"pinned_client","priority_timeout":\(Int64(s.ownerTimeout * 1e9))}}
            """
        let reply = try jetStream.request("CONSUMER.CREATE.\(s.inputStream).\(name)", json)
        if let error = reply["error"] {
            // An existing consumer with other settings: say which.
            throw ClusterError(.topology, error["description"]?.stringValue ?? "\(error)", context: "creating consumer \(name)")
        }
        // Servers from 2.11 report their version in the consumer's metadata; older ones do not,
        // and ignore the priority group they do not know.
        let version = reply["config"]?["metadata"]?["_nats.ver"]?.stringValue
        guard let version, Self.isAtLeast211(version), reply["config"]?["priority_policy"]?.stringValue == "pinned_client" else {
            throw ClusterError(
                .serverTooOld,
                "the NATS server at \(URLCredentials.redacted(urls: s.urls)) is \(version.map { "version \($0)" } ?? "older than 2.11 (it reports no version)"); cluster mode needs nats-server 2.11 or newer for pinned consumers")
        }
    }

    /// Whether "2.15.1" (or "v2.11.0-beta") is 2.11 or newer.
    static func isAtLeast211(_ version: String) -> Bool {
        let numbers = version.drop { !$0.isNumber }.split(separator: ".").prefix(2).map { Int($0.prefix { $0.isNumber }) ?? 0 }
        guard numbers.count == 2 else { return false }
        return numbers[0] > 2 || (numbers[0] == 2 && numbers[1] >= 11)
    }

    private func apiError(_ reply: JSONValue, _ context: String) -> ClusterError {
        ClusterError(.server, reply["error"]?["description"]?.stringValue ?? "\(reply)", context: context)
    }
}
