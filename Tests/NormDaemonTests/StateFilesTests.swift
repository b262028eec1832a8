import Foundation
import NormCore
import NormFormats
import NormTestSupport
import Testing

@testable import NormDaemon

@Suite("State files: generations and fallback")
struct StateFilesTests {
    static func folder() throws -> StateFiles {
        StateFiles(directory: TestFolders.make("state", permissions: 0o700).path)
    }

    static func snapshot(batches: Int64) -> StateFiles.Snapshot {
        StateFiles.Snapshot(
            kind: .batch, mode: .train, configuredMode: .train, shared: false,
            keys: [ExactString("cam0"): RunningStatistics(mean: [0.5, -1], variance: [2, 3], batchesTracked: batches)], affine: nil)
    }

    @Test("nothing written: none; one write: current; a second keeps the first as the previous generation")
    func generations() throws {
        let files = try Self.folder()
        guard case .none = try files.load(pipeline: "bn") else {
            Issue.record("expected none")
            return
        }
        _ = try files.write(Self.snapshot(batches: 1), pipeline: "bn")
        guard case .current(let first) = try files.load(pipeline: "bn") else {
            Issue.record("expected current")
            return
        }
        #expect(first == Self.snapshot(batches: 1))
        _ = try files.write(Self.snapshot(batches: 2), pipeline: "bn")
        let previous = try StateFiles.decode(SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: files.previousPath("bn"))))))
        #expect(previous == Self.snapshot(batches: 1))
    }

    @Test("a torn current file falls back to the previous generation and says why")
    func tornCurrentFallsBack() throws {
        let files = try Self.folder()
        _ = try files.write(Self.snapshot(batches: 1), pipeline: "bn")
        _ = try files.write(Self.snapshot(batches: 2), pipeline: "bn")
        let current = try Data(contentsOf: URL(fileURLWithPath: files.currentPath("bn")))
        try current.prefix(current.count / 2).write(to: URL(fileURLWithPath: files.currentPath("bn")))
        guard case .previous(let snapshot, let problem) = try files.load(pipeline: "bn") else {
            Issue.record("expected the previous generation")
            return
        }
        #expect(snapshot == Self.snapshot(batches: 1))
        #expect(problem.contains(files.currentPath("bn")))
    }

    @Test("a NaN variance makes a generation unusable like corruption does")
    func nanIsCorrupt() throws {
        let files = try Self.folder()
        _ = try files.write(Self.snapshot(batches: 1), pipeline: "bn")
        var bad = Self.snapshot(batches: 2)
        bad.keys[ExactString("cam0")]?.variance[1] = .nan
        _ = try files.write(bad, pipeline: "bn")
        guard case .previous(let snapshot, _) = try files.load(pipeline: "bn") else {
            Issue.record("expected the previous generation")
            return
        }
        #expect(snapshot == Self.snapshot(batches: 1))
    }

    @Test("both generations bad is an error naming both files; nothing is made up")
    func bothBad() throws {
        let files = try Self.folder()
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: files.currentPath("bn")))
        try Data("garbage too".utf8).write(to: URL(fileURLWithPath: files.previousPath("bn")))
        do {
            _ = try files.load(pipeline: "bn")
            Issue.record("two corrupt generations loaded")
        } catch {
            #expect(error.message.contains(files.currentPath("bn")) && error.message.contains(files.previousPath("bn")))
        }
    }
}
