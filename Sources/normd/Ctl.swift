import ArgumentParser
import Foundation
import NormDaemon

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one command to a running daemon's control socket.",
        discussion: "Commands:\n"
            + ControlCommand.helpText.map { "  \($0.0.padding(toLength: 26, withPad: " ", startingAt: 0)) \($0.1)" }.joined(separator: "\n")
            + "\n\nExit status: 0 answered, 1 the answer is an error, 2 the socket cannot be reached or no answer came in time.")

    @Option(help: "The control socket (default: this user's daemon socket if it exists, else /run/normd/normd.sock).")
    var socket: String?

    @Flag(help: "Print the raw JSON answer (the default when stdout is not a terminal).")
    var json = false

    @Option(help: "Seconds to wait for the answer.")
    var timeout: Double = 10

    @Argument(
        parsing: .captureForPassthrough, help: "The command and its arguments.",
        completion: .list(ControlCommand.helpText.map { String($0.0.prefix { $0 != " " }) }))
    var command: [String] = []

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() throws {
        // Passthrough capture would send `--help` to the daemon; it is answered here.
        if command.first == "--help" || command.first == "-h" {
            print(Normd.helpMessage(for: Ctl.self))
            return
        }
        guard !command.isEmpty else { throw ValidationError("missing COMMAND; try: normd ctl --help") }
        let path = socket ?? DefaultPaths.clientSocket()
        let reply: String
        do {
            reply = try ControlClient.send(command, socket: path, timeout: timeout)
        } catch {
            FileHandle.standardError.write(Data("normd ctl: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print(json || isatty(STDOUT_FILENO) == 0 ? reply : ControlClient.readable(reply), terminator: "")
        if ControlClient.isError(reply) { throw ExitCode(1) }
    }
}
