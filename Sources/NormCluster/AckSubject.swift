/// What a JetStream delivery's reply subject says about the message:
/// `$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<time>.<pending>`, or
/// the newer form with a domain and an account hash after `$JS.ACK`.
struct AckSubject: Equatable {
    let delivered: UInt64
    let streamSequence: UInt64

    init?(_ subject: String) {
        let tokens = subject.split(separator: ".", omittingEmptySubsequences: false)
        guard tokens.count >= 9, tokens[0] == "$JS", tokens[1] == "ACK" else { return nil }
        let base = tokens.count == 9 ? 4 : 6
        guard tokens.count > base + 1, let delivered = UInt64(tokens[base]), let sequence = UInt64(tokens[base + 1]) else { return nil }
        self.delivered = delivered
        self.streamSequence = sequence
    }
}
