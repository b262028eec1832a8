import ArgumentParser
import Foundation
import NormBench

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure normd: the kernels against the memory bound (--kernel), or end to end against a zmq_proxy forwarder.")

    @Flag(help: "Measure the normalization kernels against the read-twice-write-once bound.")
    var kernel = false

    @Option(help: "Rounds of each measurement (interleaved A, B, A, B…).")
    var rounds = 5

    func run() async throws {
        if kernel {
            var bench = KernelBench()
            bench.rounds = rounds
            print(KernelBench.table(try bench.run()), terminator: "")
            return
        }
        throw ValidationError("choose --kernel")
    }
}
