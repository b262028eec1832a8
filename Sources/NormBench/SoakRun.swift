import Foundation
import NormDaemon
import NormFormats

/// What a soak saw, and the checks made on it.
struct SoakRun {
    let rate: Double
    let capacity: Double?
    let seconds: Double
    let sent: [(pool: SoakBatchPool, record: SoakSent)]
    let received: [String: [Int]]
    let resident: [Int]
    var stalledSeconds = 0.0
    var stats: JSONValue?
    var keys: JSONValue?
    var failures: [String] = []

    init(rate: Double, capacity: Double?, seconds: Double, sent: [(SoakBatchPool, SoakSent)], received: [String: [Int]], resident: [Int]) {
        self.rate = rate
        self.capacity = capacity
        self.seconds = seconds
        self.sent = sent.map { (pool: $0.0, record: $0.1) }
        self.received = received
        self.resident = resident
    }

    func report() -> SoakReport {
        var lines: [String] = []
        var failures = self.failures
        let counter = { (name: String) in stats?[name]?.intValue ?? 0 }
        let rejected = (stats?["rejected"]?.objectValue ?? []).map { ($0.0, $0.1.intValue ?? 0) }
        let rejectedTotal = rejected.reduce(0) { $0 + $1.1 }
        let malformed = Dictionary(sent.flatMap { $0.record.malformed }, uniquingKeysWith: +)
        let validSent = sent.reduce(0) { $0 + $1.record.order.values.reduce(0) { $0 + $1.count } }
        let published = received.values.reduce(0) { $0 + $1.count }
        let readingSeconds = max(1, seconds - stalledSeconds)

        let load = capacity.map { ", \(format(100 * rate / $0, 0))% of the measured capacity of \(format($0, 0))" } ?? ""
        lines.append(
            "load asked: \(format(rate, 0)) valid batches/s\(load); reached: \(format(Double(validSent) / seconds, 0))/s over \(format(seconds, 0)) s, "
                + "\(format(Double(published) / readingSeconds, 0))/s while the consumer read (it stalled \(format(stalledSeconds, 0)) s)")
        if stats != nil {
            lines.append(
                "received \(counter("received")), published \(counter("published")), rejected \(rejectedTotal) "
                    + "{\(rejected.map { "\($0.0): \($0.1)" }.joined(separator: ", "))}, dropped \(counter("dropped")), in flight \(counter("in_flight"))")
            if counter("received") != counter("published") + rejectedTotal + counter("dropped") + counter("in_flight") {
                failures.append("received != published + rejected + dropped + in flight")
            }
            if counter("received") != validSent + malformed.values.reduce(0, +) {
                failures.append("normd received \(counter("received")), \(validSent) valid and \(malformed.values.reduce(0, +)) malformed were sent")
            }
            if counter("received") == 0 { failures.append("nothing was received") }
        } else if failures.isEmpty {
            failures.append("no stats from the control socket")
        }
        lines.append("malformed sent {\(Soak.malformedKinds.map { "\($0): \(malformed[$0] ?? 0)" }.joined(separator: ", "))}")
        for kind in Soak.malformedKinds where stats != nil {
            let got = rejected.first { $0.0 == kind }?.1 ?? 0
            if got != malformed[kind] ?? 0 { failures.append("\(malformed[kind] ?? 0) malformed '\(kind)' sent, \(got) rejected") }
        }

        let (orderBreaks, lost, worst) = checkKeys(&failures)
        lines.append(
            "keys \(received.count), valid batches sent \(validSent), published and received \(published), lost \(lost), "
                + "order intact in every key: \(orderBreaks == 0), statistics vs float64 recomputation: worst relative error \(String(format: "%.2e", worst))")
        let low = resident.min() ?? 0
        let high = resident.max() ?? 0
        let growth = low > 0 ? Double(high) / Double(low) : .nan
        lines.append("resident memory after warm-up: \(low >> 20)–\(high >> 20) MiB (max/min \(format(growth, 3)), \(resident.count) samples)")
        if !(growth <= 1.10) { failures.append("resident memory not flat within 10% (max/min \(format(growth, 3)))") }
        return SoakReport(lines: lines, failures: failures)
    }

    /// Order, completeness and running statistics of every key; returns the keys out of order,
    /// the valid batches never received, and the worst relative error of the statistics.
    private func checkKeys(_ failures: inout [String]) -> (Int, Int, Double) {
        var orderBreaks = 0
        var duplicates = 0
        var lost = 0
        var worst = 0.0
        for (pool, record) in sent {
            for (key, batches) in record.order {
                let seqs = received[key] ?? []
                if Set(seqs).count != seqs.count { duplicates += 1 }
                if seqs != seqs.sorted() { orderBreaks += 1 }
                lost += batches.count - Set(seqs).count
                // BatchNorm's running statistics, momentum 0.1, from the float64 moments of each published batch.
                var mean = [Double](repeating: 0, count: SoakBatchPool.channels)
                var variance = [Double](repeating: 1, count: SoakBatchPool.channels)
                for seq in seqs where seq < batches.count {
                    let batch = batches[seq]
                    for c in mean.indices {
                        mean[c] = 0.9 * mean[c] + 0.1 * pool.means[batch][c]
                        variance[c] = 0.9 * variance[c] + 0.1 * pool.variances[batch][c]
                    }
                }
                guard let state = keys?[key] else {
                    if !seqs.isEmpty { failures.append("\(key): no state in `show`") }
                    continue
                }
                if state["num_batches_tracked"]?.intValue != seqs.count {
                    failures.append("\(key): num_batches_tracked \(state["num_batches_tracked"]?.intValue ?? -1), \(seqs.count) published")
                }
                for (name, reference) in [("running_mean", mean), ("running_var", variance)] {
                    let ours = state[name]?.arrayValue?.compactMap(\.doubleValue) ?? []
                    guard ours.count == reference.count else {
                        worst = .infinity
                        continue
                    }
                    for (a, b) in zip(ours, reference) { worst = max(worst, abs(a - b) / max(1e-12, abs(b))) }
                }
            }
        }
        if orderBreaks > 0 { failures.append("\(orderBreaks) keys out of order") }
        if duplicates > 0 { failures.append("\(duplicates) keys with a batch published twice") }
        if lost > 0 { failures.append("\(lost) valid batches sent were never received") }
        if !(worst <= 1e-9) { failures.append("running statistics differ from the float64 recomputation by \(String(format: "%.2e", worst))") }
        return (orderBreaks, lost, worst)
    }
}

/// The soak's printed figures and the checks that failed.
public struct SoakReport: Sendable {
    public let lines: [String]
    public let failures: [String]
    public var passed: Bool { failures.isEmpty }
    public var text: String {
        (lines + [passed ? "soak: PASSED" : "soak: FAILED — " + failures.joined(separator: "; ")]).joined(separator: "\n") + "\n"
    }
}
