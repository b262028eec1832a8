import CZeroMQ

/// The socket options normd sets, named, so callers need not import the C module.
public enum ZMQOption {
    public static let sendHighWaterMark = ZMQ_SNDHWM
    public static let receiveHighWaterMark = ZMQ_RCVHWM
    public static let immediate = ZMQ_IMMEDIATE
    public static let xpubNoDrop = ZMQ_XPUB_NODROP
    public static let sendTimeout = ZMQ_SNDTIMEO
    public static let receiveTimeout = ZMQ_RCVTIMEO
    public static let curveServer = ZMQ_CURVE_SERVER
    public static let curveSecretKey = ZMQ_CURVE_SECRETKEY
    public static let curvePublicKey = ZMQ_CURVE_PUBLICKEY
    public static let curveServerKey = ZMQ_CURVE_SERVERKEY
    public static let zapDomain = ZMQ_ZAP_DOMAIN
    public static let reconnectInterval = ZMQ_RECONNECT_IVL
    public static let events = ZMQ_EVENTS
}
