import CNats

/// Every raw libnats call that can fail goes through here, so the library's last error is read
/// at once, on the thread that made the call.
enum NATSRaw {
    static func check(_ context: @autoclosure () -> String, _ body: () -> natsStatus) throws(NATSError) {
        let status = body()
        guard status != NATS_OK else { return }
        throw error(status, context())
    }

    static func check(_ context: @autoclosure () -> String, jetStream: inout jsErrCode, _ body: (UnsafeMutablePointer<jsErrCode>) -> natsStatus) throws(NATSError) {
        let status = body(&jetStream)
        guard status != NATS_OK else { return }
        throw error(status, context(), jetStreamCode: Int(jetStream.rawValue))
    }

    static func error(_ status: natsStatus, _ context: String, jetStreamCode: Int = 0) -> NATSError {
        var message = String(cString: natsStatus_GetText(status))
        var last = NATS_OK
        if let detail = nats_GetLastError(&last), last == status {
            let text = URLCredentials.redacted(String(cString: detail))
            if !text.isEmpty, text != message { message += ": \(text)" }
        }
        return NATSError(status: Int32(status.rawValue), message: message, context: context, jetStreamCode: jetStreamCode)
    }
}
