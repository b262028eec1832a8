import Foundation
import NormCore
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("Replies and scrapes with many keys")
struct ManyKeysTests {
    static let keyCount = 50_000, channels = 8

    /// A state file for pipeline "bn" with `keyCount` keys of `channels` channels, key i holding
    /// running_mean i and num_batches_tracked i + 1, written by Python (not by normd's encoder).
    static func writeState(_ folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let script = """
            import json, struct, sys
            keys, channels, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
            header = {"__metadata__": {"format": "normd-state-1", "kind": "batch", "mode": "train", "configured_mode": "train", "stats": "per_key"}}
            data = bytearray()
            def add(name, dtype, shape, raw):
                header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
                data.extend(raw)
            for i in range(keys):
                key = "key%05d" % i
                add(key + ".running_mean", "F64", [channels], struct.pack("<%dd" % channels, *([float(i)] * channels)))
                add(key + ".running_var", "F64", [channels], struct.pack("<%dd" % channels, *([1.0] * channels)))
                add(key + ".num_batches_tracked", "I64", [], struct.pack("<q", i + 1))
            text = json.dumps(header).encode()
            text += b" " * (-len(text) % 8)
            with open(path, "wb") as f:
                f.write(struct.pack("<Q", len(text)) + text + bytes(data))
            """
        let result = try runProcess("/usr/bin/env", ["python3", "-c", script, "\(keyCount)", "\(channels)", "\(folder)/bn.safetensors"])
        guard result.status == 0 else { throw TestFailure("writing the state file failed: \(result.stderr)") }
    }

    static func resident(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (line.split(separator: " ").compactMap { Int($0) }.first ?? 0) * 1024
    }

    @Test("50,000 keys: show pages in byte order, scrapes are capped and shared, memory returns to its level")
    func manyKeys() throws {
        let directory = DaemonProcess.makeDirectory()
        try Self.writeState(directory.appendingPathComponent("state").path)
        let port = try TestPeers.freeLoopbackPort()
        let daemon = try DaemonProcess(
            pipelines: pipelineTOML(norm: "channels = \(Self.channels)"),
            daemon: "metrics_listen = \"127.0.0.1:\(port)\"\nmetrics_key_statistics = true\nmetrics_key_limit = 100",
            directory: directory, waitUntilReady: false)
        try daemon.waitUntilReady(timeout: 120)
        let baseline = Self.resident(daemon.process.processIdentifier)

        // Every key once, in byte order, 5,000 a page.
        func walk() throws -> Int {
            var seen = 0
            var after: String?
            var previous = ""
            repeat {
                var words = ["show", "bn", "--limit", "5000"]
                if let after { words += ["--after", after] }
                let reply = try JSONParser.parse(
                    try ControlClient.send(words, socket: daemon.socketPath, timeout: 60).trimmingCharacters(in: .whitespacesAndNewlines))
                let keys = try #require(reply["keys"]?.objectValue)
                #expect(keys.count <= 5000)
                for (key, entry) in keys {
                    #expect(ExactString(previous) < ExactString(key), "keys out of byte order: \(previous), \(key)")
                    previous = key
                    #expect(entry["num_batches_tracked"]?.intValue == Int(key.dropFirst(3))! + 1)
                }
                seen += keys.count
                after = reply["next"]?.stringValue
            } while after != nil
            return seen
        }
        #expect(try walk() == Self.keyCount)

        // Eight scrapes at once: one render, shared, with series for 100 keys and the rest counted.
        let texts = ObservedTexts()
        let socket = daemon.socketPath
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            texts.add((try? ControlClient.send(["metrics"], socket: socket, timeout: 60)) ?? "")
        }
        let scrapes = texts.all
        #expect(scrapes.count == 8 && Set(scrapes).count == 1, "concurrent scrapes share one render")
        let text = scrapes.first ?? ""
        #expect(text.contains("normd_metrics_key_series_omitted{pipeline=\"bn\"} \(Self.keyCount - 100)"))
        #expect(text.components(separatedBy: "normd_num_batches_tracked{").count - 1 == 100)
        #expect(text.utf8.count < 2_000_000, "a scrape is \(text.utf8.count) bytes")

        // Resident memory says something only with the plain allocator: a sanitizer's allocator
        // holds freed blocks in quarantine (ASan) or its own caches (TSan) and grows on a second
        // identical walk by however much it chose to keep (60 MiB in one CI run), so under a
        // sanitizer this test checks paging and the shared scrape and leaves memory to the plain run.
        if !Sanitizer.isActive {
            let after_ = Self.resident(daemon.process.processIdentifier)
            #expect(after_ < baseline + 64 * 1_048_576, "resident memory went from \(baseline / 1_048_576) MiB to \(after_ / 1_048_576) MiB")
        }
        #expect(daemon.stop(timeout: 60) == 0)
    }
}

/// Texts collected from several threads.
final class ObservedTexts: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var texts: [String] = []
    func add(_ text: String) { lock.withLock { texts.append(text) } }
    var all: [String] { lock.withLock { texts } }
}
