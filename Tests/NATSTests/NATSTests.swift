import Foundation
import NATS
import NormTestSupport
import Testing

@Suite("libnats through the NATS layer, against a real nats-server")
struct NATSTests {
    @Test("request and reply, headers both ways")
    func requestReply() throws {
        let server = try NATSServer()
        let connection = try NATSConnection(urls: [server.url], name: "test")
        let inbox = try connection.newInbox()
        let subscription = try connection.subscribe(inbox)
        try connection.publish(NATSMessage(subject: inbox, headers: ["Normd-Header": "{\"a\":1}"], body: [1, 2, 3]))
        let message = try #require(try subscription.next(timeout: 5))
        #expect(message.subject == inbox)
        #expect(message.headers["Normd-Header"] == "{\"a\":1}")
        #expect(message.body == [1, 2, 3])
        #expect(try subscription.next(timeout: 0.05) == nil)
        #expect(connection.maxPayload == 1 << 20)
    }

    @Test("JetStream publish with a message id stores it once")
    func deduplicatedPublish() throws {
        let server = try NATSServer()
        let connection = try NATSConnection(urls: [server.url], name: "test")
        let js = try connection.jetStream()
        let reply = String(decoding: try js.api("STREAM.CREATE.T", #"{"name":"T","subjects":["t.>"]}"#), as: UTF8.self)
        #expect(!reply.contains("\"error\""), "\(reply)")
        let first = try js.publish(NATSMessage(subject: "t.a", body: [1]), messageID: "a:1")
        let again = try js.publish(NATSMessage(subject: "t.a", body: [1]), messageID: "a:1")
        let other = try js.publish(NATSMessage(subject: "t.a", body: [2]), messageID: "a:2")
        #expect(first.sequence == 1 && !first.duplicate)
        #expect(again.duplicate && again.sequence == 1)
        #expect(other.sequence == 2 && !other.duplicate)
    }

    @Test("reading a stream: the server's sequence, not a producer's header; a subject JSON escapes and an unreadable reply are refused as unreadable")
    func storedMessages() throws {
        let server = try NATSServer()
        let connection = try NATSConnection(urls: [server.url], name: "test")
        let js = try connection.jetStream()
        let reply = String(decoding: try js.api("STREAM.CREATE.T", #"{"name":"T","subjects":["t.>"],"allow_direct":true}"#), as: UTF8.self)
        #expect(!reply.contains("\"error\""), "\(reply)")
        _ = try js.publish(NATSMessage(subject: "t.other", body: [0]))
        _ = try js.publish(NATSMessage(subject: "t.a", headers: ["Nats-Sequence": "1", "X": "y"], body: [1]))
        _ = try js.publish(NATSMessage(subject: "t.empty", headers: ["X": ""], body: [2]))
        let found = try #require(try js.next(in: "T", subject: "t.a", from: 1))
        #expect(found.sequence == 2 && found.message.body == [1] && found.message.headers["X"] == "y")
        #expect(try js.next(in: "T", subject: "t.a", from: 3) == nil)
        let quoted = #expect(throws: NATSError.self) { _ = try js.next(in: "T", subject: #"t.a"b"#, from: 1) }
        #expect(quoted?.isUnreadable == true)
        let empty = #expect(throws: NATSError.self) { _ = try js.next(in: "T", subject: "t.empty", from: 1) }
        #expect(empty?.isUnreadable == true, "\(String(describing: empty))")
        let stored = try #require(try js.message(in: "T", sequence: 3))
        #expect(stored.subject == "t.empty" && stored.body == [2])
        #expect(try js.message(in: "T", sequence: 9) == nil)
    }

    @Test("key-value compare-and-set refuses a stale revision")
    func compareAndSet() throws {
        let server = try NATSServer()
        let connection = try NATSConnection(urls: [server.url], name: "test")
        let bucket = try connection.jetStream().keyValue("STATE")
        #expect(try bucket.get("k") == nil)
        let r1 = try bucket.put("k", [1], ifRevision: 0)
        let r2 = try bucket.put("k", [2], ifRevision: r1)
        let entry = try #require(try bucket.get("k"))
        #expect(entry.value == [2] && entry.revision == r2 && r2 > r1)
        let stale = #expect(throws: NATSError.self) { _ = try bucket.put("k", [3], ifRevision: r1) }
        #expect(stale?.isWrongRevision == true, "\(String(describing: stale))")
        let exists = #expect(throws: NATSError.self) { _ = try bucket.put("k", [4], ifRevision: 0) }
        #expect(exists?.isWrongRevision == true, "\(String(describing: exists))")
        #expect(try bucket.get("k")?.value == [2])
    }

    @Test("a key deleted by someone else is made again at revision 0; a bucket at its max_msgs refuses a new key as full, not as a conflict")
    func createOverMarkerAndFull() throws {
        let server = try NATSServer()
        let connection = try NATSConnection(urls: [server.url], name: "test")
        let jetStream = try connection.jetStream()
        let bucket = try jetStream.keyValue("FULL")
        _ = try bucket.put("a", [1], ifRevision: 0)
        // What `nats kv del` leaves: a marker message on the key's subject.
        _ = try jetStream.publish(NATSMessage(subject: "$KV.FULL.a", headers: ["KV-Operation": "DEL"]))
        #expect(try bucket.get("a") == nil)
        let again = try bucket.put("a", [2], ifRevision: 0)
        #expect(try bucket.get("a")?.value == [2] && bucket.get("a")?.revision == again)

        let info = try #require(try JSONSerialization.jsonObject(with: Data(jetStream.api("STREAM.INFO.KV_FULL", ""))) as? [String: Any])
        var config = try #require(info["config"] as? [String: Any])
        config["max_msgs"] = 1
        let updated = String(decoding: try jetStream.api("STREAM.UPDATE.KV_FULL", String(decoding: try JSONSerialization.data(withJSONObject: config), as: UTF8.self)), as: UTF8.self)
        #expect(updated.contains(#""max_msgs":1,"#), "\(updated)")
        let full = #expect(throws: NATSError.self) { _ = try bucket.put("b", [1], ifRevision: 0) }
        #expect(full?.isStreamFull == true && full?.isWrongRevision == false, "\(String(describing: full))")
        // The key the bucket has is still written over.
        #expect(try bucket.put("a", [3], ifRevision: again) > again)
    }

    @Test("a missing server is a clear error at connect")
    func missingServer() throws {
        let server = try NATSServer()
        let url = server.url
        server.stop()
        let error = #expect(throws: NATSError.self) { _ = try NATSConnection(urls: [url], name: "test", timeout: 0.5) }
        #expect(error?.description.contains(url) == true, "\(String(describing: error))")
    }

    @Test(
        "a URL's password or token is written ***, wherever the URL stands in a text",
        arguments: [
            ("nats://normd:s3cret@127.0.0.1:4222", "nats://normd:***@127.0.0.1:4222"),
            ("nats://t0ken@h:4222", "nats://***@h:4222"),
            ("nats://normd:p@ss@h:1/x", "nats://normd:***@h:1/x"),
            ("nats://h:4222", "nats://h:4222"),
            ("connecting to nats://a:b@h1:1, tls://c:d@h2:2: refused", "connecting to nats://a:***@h1:1, tls://c:***@h2:2: refused"),
            ("[\"nats://a:b@h1:1\", \"nats://h2:2\"]", "[\"nats://a:***@h1:1\", \"nats://h2:2\"]"),
            ("no URL here: a@b", "no URL here: a@b"),
            ("nats://u:pa/ss@h:1", "nats://u:***@h:1"),
            ("tls://t0k?en#x@h:1", "tls://***@h:1"),
            ("(\"nats://u:pa ss@h:1\" → \"nats://h:1\")", "(\"nats://u:***@h:1\" → \"nats://h:1\")"),
            ("[\"nats://u:p\\\"q@h1:1\", \"nats://v:w@h2:2\"]", "[\"nats://u:***@h1:1\", \"nats://v:***@h2:2\"]"),
        ])
    func credentialsRedacted(url: String, written: String) {
        #expect(URLCredentials.redacted(url) == written)
    }

    @Test(
        "a single URL's credentials run to its last @, as libnats reads them",
        arguments: [
            ("nats://u:pa ss, \"x\"://y@h:1", "nats://u:***@h:1"),
            ("nats://t/o@k@h:1", "nats://***@h:1"),
            ("nats://h:4222", "nats://h:4222"),
            ("h:4222", "h:4222"),
        ])
    func urlRedacted(url: String, written: String) {
        #expect(URLCredentials.redacted(url: url) == written)
        #expect(URLCredentials.redacted(urls: [url, "tls://a:b c@h2:2"]) == written + ", tls://a:***@h2:2")
    }
}
