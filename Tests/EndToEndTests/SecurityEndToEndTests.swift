import Foundation
import NormDaemon
import NormTestSupport
import Testing
import ZeroMQ

@Suite("Security: CURVE on TCP endpoints and the control socket's peer credentials")
struct SecurityEndToEndTests {
    @Test("CURVE: an allowed client gets through; an unknown key and a plain client do not; the key comes from $CREDENTIALS_DIRECTORY")
    func curve() throws {
        let directory = DaemonProcess.makeDirectory()
        let keys = directory.appendingPathComponent("keys").path
        _ = try CurveCertificate.generate(directory: keys, name: "server")
        _ = try CurveCertificate.generate(directory: keys, name: "client")
        _ = try CurveCertificate.generate(directory: keys, name: "stranger")
        let server = try CurveCertificate.load(secretFile: "\(keys)/server.key_secret")
        let client = try CurveCertificate.load(secretFile: "\(keys)/client.key_secret")
        let stranger = try CurveCertificate.load(secretFile: "\(keys)/stranger.key_secret")
        let port = try TestPeers.freeLoopbackPort()
        let daemon = try DaemonProcess(
            pipelines: """
                [[pipeline]]
                name = "secure"
                [pipeline.input]
                socket = "pull"
                bind = ["tcp://127.0.0.1:\(port)"]
                [pipeline.input.curve]
                secret_key_file = "server.key_secret"
                allow = ["\(client.publicKey)"]
                [pipeline.output]
                socket = "push"
                bind = ["ipc://{dir}/out"]
                """, directory: directory, environment: ["CREDENTIALS_DIRECTORY": keys])
        let peers = TestPeers()
        let pull = try peers.socket(.pull, connect: ["ipc://\(directory.path)/out"])
        func producer(_ cert: CurveCertificate?) throws -> ZMQSocket {
            let socket = try ZMQSocket(peers.context, .push)
            peers.sockets.append(socket)
            try socket.setLinger(milliseconds: 0)
            try socket.set(ZMQOption.sendTimeout, 500)
            if let cert {
                try socket.set(ZMQOption.curveServerKey, string: server.publicKey)
                try socket.set(ZMQOption.curvePublicKey, string: cert.publicKey)
                try socket.set(ZMQOption.curveSecretKey, string: cert.secretKey!)
            }
            try socket.connect("tcp://127.0.0.1:\(port)")
            return socket
        }
        let header = #"{"dtype":"float32","shape":[2,2,2],"who":"WHO"}"#
        for (name, cert) in [("stranger", stranger), ("plain", nil), ("client", client)] as [(String, CurveCertificate?)] {
            let socket = try producer(cert)
            // A refused handshake leaves the message queued at the producer; it never reaches normd.
            _ = try? socket.send(multipart: [
                try ZMQMessage(string: "k"), try ZMQMessage(string: header.replacingOccurrences(of: "WHO", with: name)),
                try ZMQMessage(seededFloats(8, seed: 1).withUnsafeBytes { Array($0) }),
            ])
        }
        try pull.set(ZMQOption.receiveTimeout, 3000)
        let out = try pull.receiveTensor()
        #expect(out.header["who"] == .string("client"))
        try pull.set(ZMQOption.receiveTimeout, 1000)
        #expect(try pull.receiveFrames() == nil, "a refused client's message came through")
        #expect(try daemon.ctl("stats")["pipelines"]?["secure"]?["received"] == .number("1"))
        #expect(daemon.log.contains("refused a CURVE client"))
        #expect(daemon.stop() == 0)
    }

    @Test(
        "the control socket closes on a peer that is not root, normd's user or in control_group",
        .enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), "needs root and setpriv"))
    func peerCredentials() throws {
        let pipelines = minimalPipeline
        func ctlAsNobody(_ daemon: DaemonProcess) throws -> (status: Int32, stdout: String, stderr: String) {
            // Past the file mode, so that the peer-credential check is what decides.
            chmod(daemon.directory.path, 0o755)
            chmod(daemon.socketPath, 0o666)
            return try runProcess(
                "/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", DaemonProcess.binary, "ctl", "--socket", daemon.socketPath, "stats"])
        }
        let refused = try DaemonProcess(pipelines: pipelines)
        let answer = try ctlAsNobody(refused)
        #expect(answer.status == 2, "\(answer)")
        #expect(answer.stdout.isEmpty)
        #expect(refused.log.contains("control connection refused"))
        #expect(refused.stop() == 0)

        let group = String(cString: getgrgid(65534)!.pointee.gr_name)
        let allowed = try DaemonProcess(pipelines: pipelines, daemon: "control_group = \"\(group)\"")
        let granted = try ctlAsNobody(allowed)
        #expect(granted.status == 0, "\(granted)")
        #expect(granted.stdout.contains("\"pipelines\""))
        #expect(allowed.stop() == 0)
    }
}
