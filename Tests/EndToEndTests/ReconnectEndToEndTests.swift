import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing
import ZeroMQ

@Suite("Peers that come and go")
struct ReconnectEndToEndTests {
    @Test("a downstream that leaves and returns, and a daemon restarted under a live producer: nothing accepted is lost, order holds")
    func comeAndGo() throws {
        let directory = DaemonProcess.makeDirectory()
        let pipelines = minimalPipeline
        var daemon = try DaemonProcess(pipelines: pipelines, directory: directory)
        let peers = TestPeers()
        // The producer connects once and stays: ZeroMQ reconnects it when the daemon comes back.
        let push = try peers.socket(.push, connect: ["ipc://\(directory.path)/in"])
        try push.set(ZMQOption.reconnectInterval, 20)
        var pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/out"])
        var seen: [Int] = []
        func send(_ seq: Int) throws {
            try push.sendTensor(key: "k", header: #"{"dtype":"float32","shape":[4,2,8],"seq":\#(seq)}"#, floats: seededFloats(64, seed: UInt64(seq)))
        }
        for seq in 0..<10 { try send(seq) }
        for _ in 0..<5 { seen.append(try pull.receiveTensor().header["seq"]!.intValue!) }
        // The downstream leaves (what it had queued goes with it, as ZeroMQ loses what a departed
        // PUSH peer held) and a new one connects; once the daemon has seen the old one go, every
        // batch reaches the new one.
        pull.close(lingerMilliseconds: 0)
        pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/out"])
        // Probes on another key until four in a row arrive: while the daemon still held the old
        // pipe, round-robin would send every other one there and the run would break.
        try pull.set(ZMQOption.receiveTimeout, 200)
        var streak = 0
        var probe = 0
        let deadline = Date().addingTimeInterval(20)
        while streak < 4 && Date() < deadline {
            try push.sendTensor(key: "probe", header: #"{"dtype":"float32","shape":[4,2,8]}"#, floats: seededFloats(64, seed: 1000 + UInt64(probe)))
            probe += 1
            streak = try pull.receiveFrames() == nil ? 0 : streak + 1
        }
        #expect(streak == 4, "the daemon kept sending to the departed consumer")
        // A probe that came later than its 200 ms wait may still arrive; take it before the real batches.
        while try pull.receiveFrames() != nil {}
        for seq in 10..<15 { try send(seq) }
        try pull.set(ZMQOption.receiveTimeout, 1000)
        while let frames = try pull.receiveFrames() { seen.append(try JSONParser.parse(frames[1])["seq"]!.intValue!) }
        #expect(seen == seen.sorted(), "order within the key broke: \(seen)")
        #expect(seen.suffix(5) == [10, 11, 12, 13, 14])
        let tracked = try daemon.ctl("show", "p", "k")["keys"]?["k"]?["num_batches_tracked"]?.intValue
        #expect(tracked == 15, "every accepted batch counts, delivered or not")

        // The daemon restarts while the producer keeps its connection.
        #expect(daemon.stop() == 0)
        for seq in 15..<20 { try send(seq) }  // queued at the producer while the daemon is down
        daemon = try DaemonProcess(pipelines: pipelines, directory: directory)
        var after: [Int] = []
        try pull.set(ZMQOption.receiveTimeout, 5000)
        for _ in 0..<5 { after.append(try pull.receiveTensor().header["seq"]!.intValue!) }
        #expect(after == [15, 16, 17, 18, 19])
        #expect(try daemon.ctl("show", "p", "k")["keys"]?["k"]?["num_batches_tracked"]?.intValue == 20)
        #expect(daemon.stop() == 0)
    }

    @Test("a connect endpoint whose host name does not resolve is warned about once, naming it; a numeric one is not")
    func unresolvedHost() throws {
        let connect = #"connect = ["tcp://127.0.0.1:9", "tcp://nonexistent.invalid:5555"]"#
        let daemon = try DaemonProcess(pipelines: pipelineTOML("p", inputExtra: connect))
        #expect(eventually { daemon.log.contains("host=nonexistent.invalid") }, "\(daemon.log)")
        let warnings = daemon.log.split(separator: "\n").filter { $0.contains("does not resolve") }
        #expect(warnings.count == 1 && warnings[0].contains("endpoint=tcp://nonexistent.invalid:5555"), "\(warnings)")
        #expect(try daemon.ctl("stats")["pipelines"]?["p"] != nil, "the pipeline runs meanwhile")
        #expect(daemon.stop() == 0)
    }
}
