import Foundation
import Synchronization

/// The folders the tests make, all in one folder of the test process (`normd-t<pid>` in the
/// temporary folder), removed with whatever else was handed to `removeAtExit` when the process
/// exits — so running the suite again and again does not fill /tmp. A crashed run leaves them,
/// as evidence; `NORMD_KEEP_TEST_FOLDERS=1` keeps them after any run.
public enum TestFolders {
    private static let extra = Mutex<[String]>([])

    /// This process's folder: short, for ipc:// paths' 107-byte limit.
    private static let root: URL = {
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("normd-t\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { TestFolders.removeAll() }
        return url
    }()

    /// A new folder named `<prefix>-<8 random hex digits>`.
    public static func make(_ prefix: String, permissions: Int? = nil) -> URL {
        let url = root.appendingPathComponent("\(prefix)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
        try! FileManager.default.createDirectory(
            at: url, withIntermediateDirectories: true, attributes: permissions.map { [.posixPermissions: $0] })
        return url
    }

    /// Removes `path` when the process exits, for what must live outside this process's folder.
    public static func removeAtExit(_ path: String) {
        _ = root
        extra.withLock { $0.append(path) }
    }

    private static func removeAll() {
        guard ProcessInfo.processInfo.environment["NORMD_KEEP_TEST_FOLDERS"] == nil else { return }
        for path in [root.path] + extra.withLock({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
    }
}
