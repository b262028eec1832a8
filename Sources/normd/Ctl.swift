import ArgumentParser
import Foundation
import NormDaemon

struct Ctl: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Send one command to a running daemon's control socket (try: normd ctl help).")

    @Option(help: "The control socket (default: the daemon's default for this user).")
    var socket: String?

    @Flag(help: "Print the raw JSON answer (the default when stdout is not a terminal).")
    var json = false

    @Argument(parsing: .captureForPassthrough, help: "The command and its arguments.")
    var command: [String] = []

    func run() throws {
        guard !command.isEmpty else { throw ValidationError("missing COMMAND; try: normd ctl help") }
        let path = socket ?? DefaultPaths().controlSocket
        let reply: String
        do {
            reply = try ControlClient.send(command, socket: path)
        } catch {
            FileHandle.standardError.write(Data("normd ctl: \(error)\n".utf8))
            throw ExitCode(2)
        }
        print(json || isatty(STDOUT_FILENO) == 0 ? reply : ControlClient.readable(reply), terminator: "")
        if ControlClient.isError(reply) { throw ExitCode(1) }
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a CURVE certificate pair: DIR/NAME.key and DIR/NAME.key_secret (mode 0600).")

    @Argument var directory: String
    @Argument var name: String

    func run() throws {
        let files = try CurveCertificate.generate(directory: directory, name: name)
        print("public:  \(files.publicFile)\nsecret:  \(files.secretFile)")
    }
}
