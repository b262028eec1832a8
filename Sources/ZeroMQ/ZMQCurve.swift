import CZeroMQ

/// CURVE key material in ZeroMQ's Z85 text form (40 characters per key).
public enum ZMQCurve {
    /// A new key pair, as `zmq_curve_keypair` makes it.
    public static func keyPair() throws(ZMQError) -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        try ZMQRaw.call("zmq_curve_keypair") { zmq_curve_keypair(&publicKey, &secretKey) }
        return (string(publicKey), string(secretKey))
    }

    /// The public key that belongs to a Z85 secret key.
    public static func publicKey(forSecret secret: String) throws(ZMQError) -> String {
        var publicKey = [CChar](repeating: 0, count: 41)
        try ZMQRaw.call("zmq_curve_public") { zmq_curve_public(&publicKey, secret) }
        return string(publicKey)
    }

    /// Whether `key` is a well-formed 40-character Z85 key.
    public static func isValidKey(_ key: String) -> Bool {
        guard key.utf8.count == 40 else { return false }
        var decoded = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&decoded, key) != nil
    }

    /// The 32 raw bytes of a Z85 key, as a ZAP request carries them.
    public static func decode(_ key: String) -> [UInt8]? {
        guard key.utf8.count == 40 else { return nil }
        var decoded = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&decoded, key) == nil ? nil : decoded
    }

    public static func encode(_ bytes: [UInt8]) -> String? {
        guard bytes.count % 4 == 0 else { return nil }
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        return zmq_z85_encode(&text, bytes, bytes.count) == nil ? nil : string(text)
    }

    private static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
