import Foundation
import NormDaemon
import NormTestSupport
import Testing

@Suite("One daemon per state folder and per ipc endpoint")
struct SingleInstanceTests {
    @Test("a second normd on the same configuration exits 75 naming the first's pid, and the first keeps serving")
    func secondInstanceRefused() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        let peers = TestPeers()
        try OperationsEndToEndTests.feed(first, peers, count: 1)
        let second = try DaemonProcess(pipelines: pipelineTOML(), directory: directory, waitUntilReady: false)
        second.process.waitUntilExit()
        #expect(second.process.terminationStatus == 75)
        #expect(second.log.contains("pid \(first.process.processIdentifier)"), "the refusal names the holder: \(second.log)")
        // The first daemon's ipc endpoints were not taken over: it still receives and answers.
        try OperationsEndToEndTests.feed(first, peers, count: 2, seed: 9)
        #expect(try OperationsEndToEndTests.runningStats(first)?["num_batches_tracked"]?.intValue == 3)
        #expect(first.stop() == 0)
    }

    @Test("a daemon with another state folder refuses an ipc endpoint where a process listens, and never unlinks it")
    func liveIPCEndpointRefused() throws {
        let first = try DaemonProcess(pipelines: pipelineTOML())
        let shared = first.directory.path
        let other = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "thief"
                [pipeline.input]
                bind = ["ipc://\(shared)/bn.in"]
                [pipeline.output]
                bind = ["ipc://{dir}/thief.out"]
                """, waitUntilReady: false)
        other.process.waitUntilExit()
        #expect(other.process.terminationStatus == 1)
        #expect(other.log.contains("another process is listening on ipc://\(shared)/bn.in"), "\(other.log)")
        try OperationsEndToEndTests.feed(first, TestPeers(), count: 1)
        #expect(first.stop() == 0)
    }

    @Test(
        "an ipc endpoint or a control socket whose path is a file is refused at start and the file kept (libzmq and a stale-socket cleanup would delete it)",
        arguments: ["input", "dead_letter", "control_socket"])
    func fileWhereASocketGoes(place: String) throws {
        let directory = DaemonProcess.makeDirectory()
        let file = directory.appendingPathComponent(place == "control_socket" ? "ctl.sock" : "bn.\(place == "input" ? "in" : "dead")")
        try Data("someone's data\n".utf8).write(to: file)
        let daemon = try DaemonProcess(pipelines: pipelineTOML(deadLetter: true), directory: directory, waitUntilReady: false)
        try #require(eventually(timeout: 20) { !daemon.process.isRunning }, "normd started over the file: \(daemon.log)")
        #expect(daemon.process.terminationStatus == 1)
        #expect(daemon.log.contains("\(file.path) is a regular file, not a socket"), "\(daemon.log)")
        #expect(try String(contentsOf: file, encoding: .utf8) == "someone's data\n")
    }
}
