import Foundation
import NormDaemon
import Testing

@Suite("Shell completions")
struct CompletionTests {
    @Test("bash, zsh and fish completions know the subcommands and the ctl verbs", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) throws {
        let script = try runNormd(["--generate-completion-script", shell])
        #expect(script.status == 0)
        for word in ["check-config", "ctl", "stats", "checkpoint", "reload", "reset"] {
            #expect(script.stdout.contains(word), "\(shell) completion lacks \(word)")
        }
    }
}
