import Foundation
import NormCore
import Testing

@testable import NormDaemon

@Suite("Control command lines")
struct ControlCommandTests {
    @Test("words, quoted words and errors")
    func parsing() throws {
        #expect(try ControlCommand.parse("stats") == .stats)
        #expect(try ControlCommand.parse("show bn cam0") == .show(pipeline: "bn", key: "cam0"))
        #expect(try ControlCommand.parse("show bn \"\"") == .show(pipeline: "bn", key: ""))
        #expect(try ControlCommand.parse("show bn --limit 10 --after k9") == .show(pipeline: "bn", key: nil, limit: 10, after: "k9"))
        #expect(try ControlCommand.parse("show bn \"--limit\"") == .show(pipeline: "bn", key: "--limit"), "a quoted --word is a key")
        #expect(throws: ControlError.self) { try ControlCommand.parse("show bn --limit 0") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("show bn --limit") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("show bn --colour red") }
        #expect(try ControlCommand.parse("reset \"my pipe\" \"a key\"") == .reset(pipeline: "my pipe", key: "a key"))
        #expect(try ControlCommand.parse("mode bn eval") == .mode(pipeline: "bn", .eval))
        #expect(throws: ControlError.self) { try ControlCommand.parse("mode bn sideways") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("show  bn") }
        #expect(throws: ControlError.self) { try ControlCommand.parse("dance") }
        #expect(ControlClient.commandLine(["show", "my pipe", ""]) == "show \"my pipe\" \"\"")
    }
}
