import Foundation

/// Where the control socket and state live when the configuration does not say (INTERFACE.md §3).
public struct DefaultPaths: Sendable {
    public let controlSocket: String
    public let stateDir: String
    public static let systemConfigFile = "/etc/normd/normd.toml"

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let uid = getuid()
        if uid == 0 {
            controlSocket = "/run/normd/normd.sock"
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
