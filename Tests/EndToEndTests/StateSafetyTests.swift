import Foundation
import NormDaemon
import NormFormats
import NormTestSupport
import Testing

@Suite("State and init files that cannot be trusted")
struct StateSafetyTests {
    static func statistics(mean: [Double], variance: [Double], count: Int64 = 0) -> SafeTensors {
        SafeTensors(
            metadata: [:],
            tensors: [
                "running_mean": .float64(mean), "running_var": .float64(variance), "num_batches_tracked": .int64(count),
            ])
    }

    @Test(
        "an init file with NaN, inf, a negative variance or a negative count fails check-config with 78, naming file and tensor",
        arguments: [
            ("running_mean", statistics(mean: [0, .nan, 0], variance: [1, 1, 1])),
            ("running_var", statistics(mean: [0, 0, 0], variance: [1, .infinity, 1])),
            ("running_var", statistics(mean: [0, 0, 0], variance: [1, 1, -0.5])),
            ("num_batches_tracked", statistics(mean: [0, 0, 0], variance: [1, 1, 1], count: -1)),
        ])
    func badInitFile(tensor: String, file: SafeTensors) throws {
        let directory = DaemonProcess.makeDirectory()
        let initPath = directory.appendingPathComponent("bad.safetensors").path
        try Data(file.encoded()).write(to: URL(fileURLWithPath: initPath))
        let config = directory.appendingPathComponent("normd.toml").path
        try """
        [daemon]
        control_socket = "\(directory.path)/ctl.sock"
        state_dir = "\(directory.path)/state"
        \(pipelineTOML(norm: "channels = 3\ninit = \"\(initPath)\"")
                .replacingOccurrences(of: "{dir}", with: directory.path))
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try runNormd(["check-config", config])
        #expect(result.status == 78)
        #expect(result.stderr.contains(initPath) && result.stderr.contains(tensor), "\(result.stderr)")
    }

    @Test("an init file whose num_batches_tracked is Int64's largest: batches are normalized, the count stays, the daemon lives")
    func largestCount() throws {
        let directory = DaemonProcess.makeDirectory()
        let initPath = directory.appendingPathComponent("huge.safetensors").path
        try Data(Self.statistics(mean: [0, 0, 0], variance: [1, 1, 1], count: .max).encoded()).write(to: URL(fileURLWithPath: initPath))
        let daemon = try DaemonProcess(pipelines: pipelineTOML(norm: "channels = 3\ninit = \"\(initPath)\""), directory: directory)
        try OperationsEndToEndTests.feed(daemon, TestPeers(), count: 2)
        #expect(try OperationsEndToEndTests.runningStats(daemon)?["num_batches_tracked"] == .number(String(Int64.max)))
        #expect(daemon.stop() == 0)
    }

    @Test("a state file with a NaN variance falls back to the previous generation, as a corrupt one does")
    func badStateFileFallsBack() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        try OperationsEndToEndTests.feed(first, TestPeers(), count: 2)
        _ = try first.ctl("checkpoint")
        #expect(first.stop() == 0)  // writes the current generation; the checkpoint's becomes .prev
        let current = "\(first.stateDir)/bn.safetensors"
        var file = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: current))))
        file.tensors["cam0.running_var"] = .float64([1, .nan, 1])
        try Data(file.encoded()).write(to: URL(fileURLWithPath: current))

        let second = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        #expect(second.log.contains("running_var[1]"), "the log names the bad tensor")
        #expect(try OperationsEndToEndTests.runningStats(second)?["num_batches_tracked"]?.intValue == 2)
        // And the restored statistics accept a good batch instead of blaming it as nonfinite.
        try OperationsEndToEndTests.feed(second, TestPeers(), count: 1, seed: 7)
        #expect(try eventually { try second.ctl("stats")["pipelines"]?["bn"]?["published"]?.intValue == 1 })
        #expect(second.stop() == 0)
    }

    @Test("a link planted at the temporary state file is replaced, never followed")
    func plantedLink() throws {
        let daemon = try DaemonProcess(pipelines: pipelineTOML())
        try OperationsEndToEndTests.feed(daemon, TestPeers(), count: 1)
        let victim = daemon.directory.appendingPathComponent("victim.txt").path
        try "precious".write(toFile: victim, atomically: true, encoding: .utf8)
        let temporary = "\(daemon.stateDir)/bn.safetensors.tmp"
        #expect(symlink(victim, temporary) == 0)
        _ = try daemon.ctl("checkpoint")
        #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious")
        let written = try SafeTensors.decode(Array(try Data(contentsOf: URL(fileURLWithPath: "\(daemon.stateDir)/bn.safetensors"))))
        #expect(written.tensors["cam0.num_batches_tracked"]?.int64Scalar == 1)
        #expect(daemon.stop() == 0)
    }

    @Test("a state folder others can write, or another user owns, is refused with how to fix it")
    func unsafeStateFolder() throws {
        let directory = DaemonProcess.makeDirectory()
        let state = directory.appendingPathComponent("state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        chmod(state, 0o777)
        let open = try DaemonProcess(pipelines: pipelineTOML(), directory: directory, waitUntilReady: false)
        open.process.waitUntilExit()
        #expect(open.process.terminationStatus == 1)
        #expect(open.log.contains("chmod go-w \(state)"), "\(open.log)")

        chmod(state, 0o700)
        chown(state, 4242, 4242)
        let foreign = try DaemonProcess(pipelines: pipelineTOML(), directory: directory, waitUntilReady: false)
        foreign.process.waitUntilExit()
        #expect(foreign.process.terminationStatus == 1)
        #expect(foreign.log.contains("belongs to uid 4242"), "\(foreign.log)")
    }

    @Test("a state file whose keys have other channels than the configuration now says: start is refused, saying how to go on, and the file is kept")
    func channelsChanged() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        try OperationsEndToEndTests.feed(first, TestPeers(), count: 2)  // 3 channels
        #expect(first.stop() == 0)
        let state = URL(fileURLWithPath: first.stateDir).appendingPathComponent("bn.safetensors")
        let saved = try Data(contentsOf: state)
        let config = URL(fileURLWithPath: first.configPath)
        try String(contentsOf: config, encoding: .utf8).replacingOccurrences(of: "kind = \"batch\"", with: "kind = \"batch\"\nchannels = 5")
            .write(to: config, atomically: true, encoding: .utf8)
        let refused = try DaemonProcess(pipelines: "", directory: directory, waitUntilReady: false)
        try #require(eventually(timeout: 20) { !refused.process.isRunning }, "\(refused.log)")
        #expect(refused.process.terminationStatus == 1)
        #expect(
            refused.log.contains("has 3 channels for key") && refused.log.contains("cam0") && refused.log.contains("configuration says 5")
                && refused.log.contains("--reset-state"), "\(refused.log)")
        #expect(try Data(contentsOf: state) == saved)
    }

    @Test("a state file of another stats scope is set aside, not overwritten: putting the configuration and the file back restores the keys")
    func otherScopeSetAside() throws {
        let directory = DaemonProcess.makeDirectory()
        let first = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        try OperationsEndToEndTests.feed(first, TestPeers(), count: 3)
        #expect(first.stop() == 0)
        let folder = URL(fileURLWithPath: first.stateDir)
        let saved = try Data(contentsOf: folder.appendingPathComponent("bn.safetensors"))
        let perKey = try Self.makeShared(first.configPath)

        let shared = try DaemonProcess(pipelines: "", directory: directory)
        #expect(shared.log.contains("state file is for kind batch, stats per_key; starting fresh"), "\(shared.log)")
        let asideState = try Self.setAsideState(in: folder, log: shared.log)
        #expect(shared.log.contains(asideState))
        // Two checkpoints of the fresh pipeline rotate bn.safetensors and bn.prev.safetensors; the set-aside file stays.
        _ = try shared.ctl("checkpoint")
        _ = try shared.ctl("checkpoint")
        #expect(try Data(contentsOf: folder.appendingPathComponent(asideState)) == saved)
        #expect(shared.stop() == 0)

        let back = try Self.putBack(asideState, perKey: perKey, configPath: first.configPath, folder: folder, directory: directory)
        #expect(try back.ctl("show", "bn")["keys"]?["cam0"]?["num_batches_tracked"]?.intValue == 3)
        #expect(back.stop() == 0)
    }

    @Test("a reload to another stats scope sets the state aside too, with the statistics of the moment before it")
    func otherScopeSetAsideAtReload() throws {
        let directory = DaemonProcess.makeDirectory()
        let daemon = try DaemonProcess(pipelines: pipelineTOML(), directory: directory)
        // The reload checkpoints before it swaps the pipeline, so what is set aside holds both batches.
        try OperationsEndToEndTests.feed(daemon, TestPeers(), count: 2)
        let perKey = try Self.makeShared(daemon.configPath)
        #expect(try daemon.ctl("reload")["reloaded"]?.boolValue == true)
        _ = try daemon.ctl("checkpoint")
        _ = try daemon.ctl("checkpoint")
        #expect(daemon.stop() == 0)

        let folder = URL(fileURLWithPath: daemon.stateDir)
        let asideState = try Self.setAsideState(in: folder, log: daemon.log)
        let back = try Self.putBack(asideState, perKey: perKey, configPath: daemon.configPath, folder: folder, directory: directory)
        #expect(try back.ctl("show", "bn")["keys"]?["cam0"]?["num_batches_tracked"]?.intValue == 2)
        #expect(back.stop() == 0)
    }

    /// Switches pipeline bn's configuration to `stats = "shared"`; the per-key text it had.
    static func makeShared(_ configPath: String) throws -> String {
        let config = URL(fileURLWithPath: configPath)
        let perKey = try String(contentsOf: config, encoding: .utf8)
        try perKey.replacingOccurrences(of: "kind = \"batch\"", with: "kind = \"batch\"\nstats = \"shared\"")
            .write(to: config, atomically: true, encoding: .utf8)
        return perKey
    }

    /// The name of the set-aside state file of pipeline bn (not its .prev or archive).
    static func setAsideState(in folder: URL, log: String) throws -> String {
        let aside = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix("bn.set-aside-") }
        return try #require(aside.first { $0.hasSuffix("Z.safetensors") }, "\(aside)\n\(log)")
    }

    /// The way back, as docs/state-files.md gives it: the old configuration, and the set-aside
    /// file under its own name; a daemon started on them.
    static func putBack(_ asideState: String, perKey: String, configPath: String, folder: URL, directory: URL) throws -> DaemonProcess {
        try perKey.write(to: URL(fileURLWithPath: configPath), atomically: true, encoding: .utf8)
        for name in ["bn.safetensors", "bn.prev.safetensors"] { try? FileManager.default.removeItem(at: folder.appendingPathComponent(name)) }
        try FileManager.default.moveItem(at: folder.appendingPathComponent(asideState), to: folder.appendingPathComponent("bn.safetensors"))
        return try DaemonProcess(pipelines: "", directory: directory)
    }
}
