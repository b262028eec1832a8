import Foundation
import NATS
import NormCluster
import NormCore
import NormFormats
import NormTestSupport
import Testing

@Suite("Cluster mode: several instances")
struct SharedClusterTests {
    @Test("three instances, one killed midway and one started late with other threads, give one instance's bits")
    func sharedEqualsSingle() throws {
        let server = try NATSServer()
        let view = try ServerView(server)
        let keys = ClusterTests.keys, shape = ClusterTests.shape
        let batches = 30, total = keys.count * batches
        let t = ClusterTests()

        let single = t.settings("ONE", server)
        let reference = try RunningWorker(single)
        try view.publishInput(prefix: single.inputPrefix, keys: keys, batches: batches, shape: shape)
        #expect(try eventually(timeout: 60) { try view.messageCount("ONE_OUT") == total })
        reference.stop()

        let shared = t.settings("MANY", server)
        var workers = try (0..<3).map { _ in try RunningWorker(shared) }
        var all = workers
        try view.publishInput(prefix: shared.inputPrefix, keys: keys, batches: batches / 2, shape: shape)
        #expect(try eventually(timeout: 60) { try view.messageCount("MANY_OUT") >= total / 4 })
        let killed = workers.remove(at: 0)
        let ownedByKilled = killed.worker.counters.partitionsOwned
        killed.kill()
        let late = try RunningWorker(shared, threads: 3)
        workers.append(late)
        all.append(late)
        try view.publishInput(prefix: shared.inputPrefix, keys: keys, batches: batches, shape: shape, from: batches / 2)
        let complete = try eventually(timeout: 60) { try view.messageCount("MANY_OUT") == total }
        #expect(complete)
        let taken = workers.flatMap { $0.worker.counters.partitionsOwned }
        // The killed instance left deliveries unacknowledged: they came back to the new owners.
        #expect(all.reduce(0) { $0 + $1.worker.counters.redeliveries.load(ordering: .relaxed) } > 0)
        workers.forEach { $0.stop() }

        let expected = try t.outputs(view, "ONE_OUT"), actual = try t.outputs(view, "MANY_OUT")
        #expect(expected.count == total && actual.count == total)
        let differing = expected.filter { actual[$0.key] != $0.value }.map(\.key).sorted()
        #expect(differing.isEmpty, "outputs differ from one instance's: \(differing.prefix(5))")
        for key in keys {
            let one = try view.state("NORMD_STATE_ONE", key: key), many = try view.state("NORMD_STATE_MANY", key: key)
            #expect(one?.statistics == many?.statistics && one?.statistics?.batchesTracked == Int64(batches), "\(key): running statistics differ")
        }
        #expect(!ownedByKilled.isEmpty && ownedByKilled.allSatisfy { taken.contains($0) }, "the killed instance's partitions \(ownedByKilled) were not all taken over: \(taken)")
    }
}
