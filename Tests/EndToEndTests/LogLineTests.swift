import Foundation
import NormDaemon
import NormTestSupport
import Testing

@Suite("Log lines as an operator reads them")
struct LogLineTests {
    @Test("under the journal every line carries its syslog priority; a rejection is <4> and names key and seq; the start line names version and file")
    func journalLines() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline, environment: ["JOURNAL_STREAM": "journal"])
        let peers = TestPeers()
        let push = try peers.socket(.push, connect: ["ipc://\(daemon.directory.path)/in"])
        try push.send(frames: [Array("cam7".utf8), Array(#"{"dtype":"float32","shape":[2,3],"seq":41}"#.utf8), [1, 2, 3]])
        #expect(eventually { daemon.log.contains("<4>rejected message") })
        let lines = daemon.log.split(separator: "\n")
        let rejection = lines.first { $0.hasPrefix("<4>rejected message") } ?? ""
        #expect(rejection.contains("key=cam7") && rejection.contains("seq=41") && rejection.contains("reason=payload_size"), "\(rejection)")
        let ready = lines.first { $0.contains("normd ready") } ?? ""
        #expect(
            ready.hasPrefix("<6>normd ready") && ready.contains("version=\(BuildInfo.version)") && ready.contains("config=\(daemon.configPath)"), "\(ready)")
        #expect(lines.allSatisfy { $0.range(of: #"^<[0-7]>"#, options: .regularExpression) != nil }, "a line without its priority:\n\(daemon.log)")
        #expect(daemon.stop() == 0)
    }

    @Test("elsewhere lines are logfmt: ts, level, msg")
    func logfmtLines() throws {
        let daemon = try DaemonProcess(pipelines: minimalPipeline)
        #expect(daemon.stop() == 0)
        let lines = daemon.log.split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("ts=") && $0.contains(" level=") && $0.contains(" msg=") }, "\(daemon.log)")
    }
}
