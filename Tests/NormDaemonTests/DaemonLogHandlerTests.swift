import Foundation
import Logging
import Testing

@testable import NormDaemon

@Suite("Log lines")
struct DaemonLogHandlerTests {
    @Test("under the journal: syslog priority first, no timestamp, one line")
    func journal() {
        let handler = DaemonLogHandler(journal: true)
        #expect(
            handler.format(level: .warning, message: "rejected message", metadata: ["key": "cam 0", "seq": "7"])
                == #"<4>rejected message key="cam 0" seq=7"#)
        #expect(handler.format(level: .error, message: "reload refused:\nline two", metadata: [:]) == #"<3>reload refused:\nline two"#)
        #expect([Logger.Level.critical, .error, .warning, .notice, .info, .debug, .trace].map(DaemonLogHandler.priority) == [2, 3, 4, 5, 6, 7, 7])
    }

    @Test("elsewhere: logfmt with ts, level and quoted values")
    func logfmt() {
        let handler = DaemonLogHandler(journal: false)
        let line = handler.format(
            level: .info, message: "normd ready", metadata: ["pipelines": "a,b", "config": #"/etc/my "normd".toml"#],
            date: Date(timeIntervalSince1970: 0))
        #expect(line == #"ts=1970-01-01T00:00:00.000Z level=info msg="normd ready" config="/etc/my \"normd\".toml" pipelines=a,b"#)
        #expect(!handler.format(level: .info, message: "a\nb", metadata: ["k": "x\ny"]).contains("\n"))
        // A producer's key with escape sequences (C0 ESC, C1 CSI, DEL) reaches no terminal as is.
        #expect(
            handler.format(level: .info, message: "m", metadata: ["key": "\u{1B}[2J\u{9B}1m\u{7F}é"], date: Date(timeIntervalSince1970: 0))
                == #"ts=1970-01-01T00:00:00.000Z level=info msg=m key="\u001b[2J\u009b1m\u007fé""#)
    }
}
