import Testing

@testable import NormDaemon

@Suite("Connect endpoints' host names")
struct ConnectCheckTests {
    @Test(
        "the host of a tcp:// connect endpoint, with a source address or IPv6 brackets; none for ipc://, inproc:// or *",
        arguments: [
            ("tcp://feeder.local:5555", "feeder.local"), ("tcp://eth0;feeder:1", "feeder"), ("tcp://192.168.1.2:5555;[::1]:7", "::1"),
            ("tcp://[fe80::1]:5555", "fe80::1"), ("tcp://*:5555", nil), ("ipc:///tmp/x", nil), ("inproc://a:b", nil), ("tcp://nocolon", nil),
        ] as [(String, String?)])
    func host(endpoint: String, host: String?) {
        #expect(ConnectCheck.host(endpoint) == host)
    }

    @Test("a numeric address resolves without asking DNS; a name under .invalid never does (RFC 6761)")
    func resolution() {
        #expect(ConnectCheck.resolutionProblem("127.0.0.1") == nil && ConnectCheck.resolutionProblem("::1") == nil)
        #expect(ConnectCheck.resolutionProblem("nonexistent.invalid") != nil)
    }
}
