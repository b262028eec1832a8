import Foundation
import NormDaemon
import NormTestSupport
import Testing

@Suite("control_group", .enabled(if: getuid() == 0, "creates users and a group, which needs root"))
struct ControlGroupTests {
    @Test("a member of control_group is answered by plain ctl; a user outside it is refused; a missing group fails check-config")
    func groupAccess() throws {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        let group = "nctl\(suffix)"
        let member = "nin\(suffix)"
        let outsider = "nout\(suffix)"
        #expect(try runProcess("/usr/sbin/groupadd", [group]).status == 0)
        #expect(try runProcess("/usr/sbin/useradd", ["-M", "-G", group, member]).status == 0)
        #expect(try runProcess("/usr/sbin/useradd", ["-M", outsider]).status == 0)
        defer {
            _ = try? runProcess("/usr/sbin/userdel", [member])
            _ = try? runProcess("/usr/sbin/userdel", [outsider])
            _ = try? runProcess("/usr/sbin/groupdel", [group])
        }
        let daemon = try DaemonProcess(pipelines: minimalPipeline, daemon: "control_group = \"\(group)\"")
        chmod(daemon.directory.path, 0o755)
        var info = stat()
        #expect(stat(daemon.socketPath, &info) == 0)
        #expect(info.st_gid == getgrnam(group)!.pointee.gr_gid && info.st_mode & 0o777 == 0o660)
        let asMember = try runProcess(
            "/usr/sbin/runuser", ["-u", member, "--", try Self.binaryForOtherUsers(), "ctl", "--socket", daemon.socketPath, "--json", "stats"])
        #expect(asMember.status == 0 && asMember.stdout.contains("\"pipelines\""), "\(asMember)")
        let asOutsider = try runProcess(
            "/usr/sbin/runuser", ["-u", outsider, "--", try Self.binaryForOtherUsers(), "ctl", "--socket", daemon.socketPath, "stats"])
        #expect(asOutsider.status == 2, "\(asOutsider)")
        #expect(daemon.stop() == 0)

        let missing = try runNormd(["check-config", writeConfig(daemon: "control_group = \"no-such-group-\(suffix)\"")])
        #expect(missing.status == 78 && missing.stderr.contains("daemon.control_group: group \"no-such-group-\(suffix)\" does not exist"), "\(missing)")
    }

    /// The normd binary where other users can run it: the built one when every folder above it
    /// lets others through, else a copy in a fresh 0755 folder (a checkout under a 0700 folder,
    /// as `mktemp -d` makes, keeps them out).
    static func binaryForOtherUsers() throws -> String { try otherUsersBinary.get() }

    private static let otherUsersBinary = Result { try placeBinaryForOtherUsers() }

    private static func placeBinaryForOtherUsers() throws -> String {
        var folder = URL(fileURLWithPath: DaemonProcess.binary).deletingLastPathComponent()
        var reachable = true
        while folder.path != "/" {
            var info = stat()
            if stat(folder.path, &info) != 0 || info.st_mode & 0o001 == 0 { reachable = false }
            folder.deleteLastPathComponent()
        }
        if reachable { return DaemonProcess.binary }
        let copy = URL(fileURLWithPath: "/tmp/normd-bin-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o755])
        TestFolders.removeAtExit(copy.path)
        let binary = copy.appendingPathComponent("normd")
        try FileManager.default.copyItem(atPath: DaemonProcess.binary, toPath: binary.path)
        chmod(binary.path, 0o755)
        return binary.path
    }

    func writeConfig(daemon extra: String) throws -> String {
        let directory = DaemonProcess.makeDirectory()
        let path = directory.appendingPathComponent("normd.toml").path
        try "[daemon]\n\(extra)\n\(minimalPipeline.replacingOccurrences(of: "{dir}", with: directory.path))\n".write(
            toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test(
        "a member's plain `normd ctl stats` (no --socket) reaches the system daemon's socket at /run/normd/normd.sock",
        .enabled(if: getuid() == 0 && !FileManager.default.fileExists(atPath: DefaultPaths.systemControlSocket), "needs root and no system normd"))
    func plainCtlReachesSystemSocket() throws {
        let suffix = String(UUID().uuidString.prefix(6)).lowercased()
        let group = "nctl\(suffix)"
        let member = "nin\(suffix)"
        #expect(try runProcess("/usr/sbin/groupadd", [group]).status == 0)
        #expect(try runProcess("/usr/sbin/useradd", ["-M", "-G", group, member]).status == 0)
        defer {
            _ = try? runProcess("/usr/sbin/userdel", [member])
            _ = try? runProcess("/usr/sbin/groupdel", [group])
        }
        let directory = DaemonProcess.makeDirectory()
        let config = directory.appendingPathComponent("normd.toml").path
        try """
        [daemon]
        control_socket = "\(DefaultPaths.systemControlSocket)"
        state_dir = "\(directory.path)/state"
        control_group = "\(group)"
        \(minimalPipeline.replacingOccurrences(of: "{dir}", with: directory.path))
        """.write(toFile: config, atomically: true, encoding: .utf8)
        rmdir("/run/normd")  // an empty folder left by another run, perhaps 0700; normd creates it 0755
        let daemon = try DaemonProcess(pipelines: "", directory: directory, waitUntilReady: false)
        defer { daemon.stop() }
        #expect(eventually(timeout: 20) { FileManager.default.fileExists(atPath: DefaultPaths.systemControlSocket) })
        // The member has no daemon of its own: ctl falls back to the system socket.
        let plain = try runProcess(
            "/usr/sbin/runuser", ["-u", member, "--", "env", "-u", "XDG_RUNTIME_DIR", try Self.binaryForOtherUsers(), "ctl", "--json", "stats"])
        #expect(plain.status == 0 && plain.stdout.contains("\"pipelines\""), "\(plain)")
    }
}
