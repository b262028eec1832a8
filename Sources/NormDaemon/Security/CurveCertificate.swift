import Foundation
import ZeroMQ

/// A CURVE certificate in ZeroMQ's own file format (CZMQ's zcert, as pyzmq's
/// `zmq.auth.create_certificates` writes and `load_certificate` reads).
/// Printed without its secret key (`description`, `dump`, logs, reload change lines).
public struct CurveCertificate: Sendable, Equatable, CustomStringConvertible, CustomReflectable {
    public let publicKey: String
    public let secretKey: String?

    public var description: String { "CurveCertificate(public-key: \(publicKey)\(secretKey == nil ? "" : ", secret-key: <hidden>"))" }
    public var customMirror: Mirror { Mirror(self, children: ["publicKey": publicKey, "secretKey": secretKey == nil ? "none" : "<hidden>"]) }

    public init(publicKey: String, secretKey: String?) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Reads `public-key` and, if present, `secret-key` from a certificate file.
    /// A relative `secret_key_file` is looked up in `$CREDENTIALS_DIRECTORY` when systemd set one
    /// (`LoadCredential=`), so a DynamicUser service can read a key root keeps unreadable to it.
    public static func resolve(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard !path.hasPrefix("/"), let folder = environment["CREDENTIALS_DIRECTORY"], !folder.isEmpty else { return path }
        return "\(folder)/\(path)"
    }

    public static func load(secretFile name: String) throws(DaemonError) -> CurveCertificate {
        let path = resolve(name)
        let text: String
        switch FileContents.text(path) {
        case .success(let contents): text = contents
        case .failure(let failure): throw DaemonError(.configuration, "cannot read CURVE certificate \(path): \(failure)")
        }
        func value(_ name: String) -> String? {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: " \t") == name else { continue }
                return parts[1].trimmingCharacters(in: " \t\r\"")
            }
            return nil
        }
        guard let publicKey = value("public-key"), ZMQCurve.isValidKey(publicKey) else {
            throw DaemonError(.configuration, "\(path) holds no valid public-key")
        }
        let secretKey = value("secret-key")
        if let secretKey, !ZMQCurve.isValidKey(secretKey) { throw DaemonError(.configuration, "\(path) holds an invalid secret-key") }
        return CurveCertificate(publicKey: publicKey, secretKey: secretKey)
    }

    /// Writes `DIR/NAME.key` (public) and `DIR/NAME.key_secret` (mode 0600), as `normd keygen` does.
    public static func generate(directory: String, name: String) throws -> (publicFile: String, secretFile: String) {
        // NAME names the pair inside DIR: an empty one would write hidden ".key" files.
        guard !name.isEmpty, !name.contains("/"), name != ".", name != ".." else {
            throw DaemonError(.system, "\"\(name)\" is not a certificate name: give a file name without \"/\" (e.g. normd keygen /etc/normd/curve normd)")
        }
        let (publicKey, secretKey) = try ZMQCurve.keyPair()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let publicFile = "\(directory)/\(name).key"
        let secretFile = "\(directory)/\(name).key_secret"
        let stamp = ISO8601DateFormatter().string(from: Date())
        func body(_ kind: String, secret: Bool) -> String {
            var text = "#   ****  Generated on \(stamp) by normd  ****\n#   ZeroMQ CURVE \(kind) Certificate\n"
            if secret { text += "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n" }
            text += "\nmetadata\ncurve\n    public-key = \"\(publicKey)\"\n"
            if secret { text += "    secret-key = \"\(secretKey)\"\n" }
            return text
        }
        // Never over an existing pair: peers that trust its public key would be refused from then on.
        for file in [secretFile, publicFile] where access(file, F_OK) == 0 {
            throw DaemonError(
                .system,
                "\(file) exists; normd keygen does not replace a certificate (peers that trust its public key would be refused): remove the pair first, or choose another name"
            )
        }
        func create(_ file: String, _ text: String, mode: mode_t) throws {
            let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            guard fd >= 0 else { throw DaemonError(.system, "cannot create \(file)", errno: errno) }
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
            fchmod(fd, mode)
            try handle.write(contentsOf: Data(text.utf8))
        }
        try create(secretFile, body("**Secret**", secret: true), mode: 0o600)
        try create(publicFile, body("Public", secret: false), mode: 0o644)
        return (publicFile, secretFile)
    }

    /// The allow-list of a bind side: `allow` plus every `*.key` in `allow_dir`.
    static func allowedKeys(_ curve: CurveSettings) throws(DaemonError) -> Set<String> {
        var keys = Set(curve.allow)
        if !curve.allowDir.isEmpty {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: curve.allowDir) else {
                throw DaemonError(.configuration, "cannot read allow_dir \(curve.allowDir)")
            }
            for name in names where name.hasSuffix(".key") {
                keys.insert(try load(secretFile: "\(curve.allowDir)/\(name)").publicKey)
            }
        }
        return keys
    }
}
