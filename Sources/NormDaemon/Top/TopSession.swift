import Foundation

/// `normd top`: on a terminal, a screen refreshed every `interval` seconds until `q`, SIGINT or
/// SIGTERM, the terminal restored on every way out; otherwise one plain snapshot (rates over one
/// interval) and exit.
public enum TopSession {
    /// Output-rate seconds kept for the sparkline.
    static let historyLength = 30

    /// Runs it; returns the exit status (0; 2 when the daemon cannot be reached; 130 or 143 after
    /// SIGINT or SIGTERM).
    public static func run(socket: String, interval: Double) -> Int32 {
        let ask: ([String]) throws -> String = { try ControlClient.send($0, socket: socket, timeout: 5) }
        func sample() throws -> TopSample { try TopSample.read(takenAt: Double(MonotonicClock.nanoseconds()) / 1e9, ask: ask) }
        var renderer = TopRenderer()
        do {
            guard Terminal.isInteractive else {
                let first = try sample()
                Thread.sleep(forTimeInterval: interval)
                let second = try sample()
                renderer.width = 200
                print(renderer.render(second, previous: first, history: [:]), terminator: "")
                return 0
            }
            return try live(sample: sample, renderer: &renderer, interval: interval)
        } catch {
            FileHandle.standardError.write(Data("normd top: \(error)\n".utf8))
            return 2
        }
    }

    private static func live(sample: () throws -> TopSample, renderer: inout TopRenderer, interval: Double) throws -> Int32 {
        let replaced = TopSignals.install()
        defer { TopSignals.restore(replaced) }
        let terminal = try Terminal()
        defer { terminal.restore() }
        renderer.interactive = true
        var previous: TopSample?
        var history: [String: [Double]] = [:]
        while true {
            let current = try sample()
            if let previous, current.takenAt > previous.takenAt {
                for p in current.pipelines {
                    let before = previous.pipelines.first { $0.name == p.name }?.published ?? p.published
                    history[p.name, default: []].append(Double(max(0, p.published - before)) / (current.takenAt - previous.takenAt))
                    history[p.name] = Array(history[p.name]!.suffix(historyLength))
                }
            }
            renderer.width = terminal.width
            terminal.draw(renderer.render(current, previous: previous, history: history))
            previous = current
            let deadline = MonotonicClock.deadline(after: interval)
            while MonotonicClock.nanoseconds() < deadline {
                let signalled = TopSignals.received.load(ordering: .relaxed)
                if signalled != 0 { return signalled }
                switch terminal.key(within: 100) {
                case UInt8(ascii: "q"), UInt8(ascii: "Q"): return 0
                case UInt8(ascii: "s"), UInt8(ascii: "S"):
                    renderer.keyOrder = renderer.keyOrder == .score ? .name : .score
                    terminal.draw(renderer.render(current, previous: history.isEmpty ? nil : previous, history: history))
                default: break
                }
            }
        }
    }
}
