import Foundation

/// Where the control socket and state live when the configuration does not say (docs/command-line.md).
public struct DefaultPaths: Sendable {
    public let controlSocket: String
    public let stateDir: String
    public static let systemConfigFile = "/etc/normd/normd.toml"
    public static let systemControlSocket = "/run/normd/normd.sock"

    /// The socket `normd ctl` talks to without `--socket`: the caller's own daemon's when it exists,
    /// else the system daemon's (so a `control_group` member reaches it without flags).
    public static func clientSocket(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        let own = DefaultPaths(environment: environment).controlSocket
        return FileManager.default.fileExists(atPath: own) ? own : systemControlSocket
    }

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let uid = getuid()
        if uid == 0 {
            controlSocket = Self.systemControlSocket
            stateDir = "/var/lib/normd"
            return
        }
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            controlSocket = "\(runtime)/normd/normd.sock"
        } else {
            controlSocket = "/tmp/normd-\(uid)/normd.sock"
        }
        if let state = environment["XDG_STATE_HOME"], !state.isEmpty {
            stateDir = "\(state)/normd"
        } else {
            stateDir = "\(environment["HOME"] ?? NSHomeDirectory())/.local/state/normd"
        }
    }
}
