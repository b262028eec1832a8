import ArgumentParser
import Foundation
import NormDaemon

struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A live view of a running daemon: rates, latency, rejections, drops and the worst-drifting keys.",
        discussion: "On a terminal the view refreshes every --interval seconds; q quits, s sorts drifting keys by score or name. "
            + "Without a terminal it prints one snapshot (rates over one interval) and exits.")

    @Option(help: "The control socket (default: this user's daemon socket if it exists, else /run/normd/normd.sock).")
    var socket: String?

    @Option(help: "Seconds between refreshes.")
    var interval: Double = 1

    func validate() throws {
        guard interval >= 0.1, interval.isFinite else { throw ValidationError("--interval must be at least 0.1 seconds") }
    }

    func run() throws {
        let status = TopSession.run(socket: socket ?? DefaultPaths.clientSocket(), interval: interval)
        if status != 0 { throw ExitCode(status) }
    }
}
