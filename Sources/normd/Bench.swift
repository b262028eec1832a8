import ArgumentParser
import NormDaemon

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Measure normd: kernels against the memory bound, or end to end against a zmq_proxy forwarder.")

    @Flag(help: "Measure the normalization kernels against the read-twice-write-once bound.")
    var kernel = false

    func run() async throws {
        throw ValidationError("choose --kernel")
    }
}
