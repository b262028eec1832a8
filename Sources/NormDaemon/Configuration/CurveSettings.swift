/// `[pipeline.input.curve]` or `[pipeline.output.curve]`: CURVE encryption and authentication.
public struct CurveSettings: Sendable, Equatable {
    public var secretKeyFile: String = ""
    public var allow: [String] = []
    public var allowDir: String = ""
    public var serverPublicKey: String = ""
    /// The certificate `secret_key_file` held when the configuration was read: read once, used by
    /// the socket (and compared by a reload, so a changed certificate restarts the pipeline).
    public var certificate: CurveCertificate?
    public init() {}
}
