import Foundation
import NormTestSupport
import Testing

@Suite("The systemd unit")
struct SystemdUnitTests {
    static let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("systemd/normd.service")
    static let analyzer = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("systemd-analyze verify accepts systemd/normd.service", .enabled(if: analyzer != nil, "systemd-analyze is not installed"))
    func verify() throws {
        let text = try String(contentsOf: Self.unit, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/normd", with: DaemonProcess.binary)
        let directory = DaemonProcess.makeDirectory()
        let copy = directory.appendingPathComponent("normd.service")
        try text.write(to: copy, atomically: true, encoding: .utf8)
        let result = try runProcess(Self.analyzer!, ["verify", copy.path])
        let ours = (result.stdout + result.stderr).split(separator: "\n").filter { $0.contains("normd.service") }
        #expect(ours.isEmpty, "\(ours.joined(separator: "\n"))")
        #expect(result.status == 0)
    }

    @Test("the unit is Type=notify, checks its configuration first, and keeps its hardening")
    func contents() throws {
        let text = try String(contentsOf: Self.unit, encoding: .utf8)
        for line in [
            "Type=notify", "ExecStartPre=/usr/local/bin/normd check-config --quiet /etc/normd/normd.toml",
            "ExecReload=/usr/local/bin/normd ctl --socket /run/normd/normd.sock --timeout 60 reload", "SupplementaryGroups=normd-ctl", "Restart=on-failure",
            "WatchdogSec=", "DynamicUser=yes", "StateDirectory=normd", "RuntimeDirectory=normd", "ProtectSystem=strict",
            "NoNewPrivileges=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6", "RuntimeDirectoryMode=0755",
        ] {
            #expect(text.contains(line), "missing \(line)")
        }
    }
}
