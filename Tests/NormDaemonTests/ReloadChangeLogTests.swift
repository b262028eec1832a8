import Foundation
import NormCore
import Testing

@testable import NormDaemon

@Suite("What a reload logs as changed")
struct ReloadChangeLogTests {
    @Test("a changed CURVE certificate is named without its secret key; a changed init file without its contents")
    func secretsAndContentsStayOut() {
        var old = PipelineConfiguration(name: "p")
        var curve = CurveSettings()
        curve.secretKeyFile = "/etc/normd/curve/normd.key_secret"
        curve.certificate = CurveCertificate(publicKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7", secretKey: "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6")
        old.input.curve = curve
        old.norm.initValues = InitFile(affine: nil, statistics: RunningStatistics(mean: [1, 2], variance: [3, 4], batchesTracked: 7))
        var new = old
        new.input.curve?.certificate = CurveCertificate(
            publicKey: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID", secretKey: "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs")
        new.norm.initValues?.statistics?.batchesTracked = 8
        let changes = new.changes(from: old).joined(separator: "\n")
        #expect(changes.contains("input.curve"))
        #expect(changes.contains("norm.init (the file's contents changed)"))
        #expect(!changes.contains("JTKVSB") && !changes.contains("D:)Q[IlAW"), "a secret key in the reload log: \(changes)")
        #expect(!changes.contains("batchesTracked: 7"))
    }

    @Test("changes are named by their keys in the file, with the values as the file writes them")
    func keysAsWritten() {
        let old = PipelineConfiguration(name: "p")
        var new = old
        new.norm.maxKeys = 70
        new.norm.momentum = .cumulative
        new.input.ownerTimeoutS = 6
        new.output.whenFull = .drop
        #expect(
            new.changes(from: old) == [
                "input.owner_timeout_s (3.0 → 6.0)", "output.when_full (\"block\" → \"drop\")", "norm.momentum (0.1 → \"cumulative\")",
                "norm.max_keys (0 → 70)",
            ])
    }

    @Test("a NATS URL's password is not written in the reload log")
    func urlCredentials() {
        var old = PipelineConfiguration(name: "p")
        old.input.url = "nats://normd:old-pw@h:4222"
        var new = old
        new.input.url = "nats://normd:new-pw@h:4222"
        #expect(new.changes(from: old) == ["input.url (\"nats://normd:***@h:4222\" → \"nats://normd:***@h:4222\")"])
    }

    @Test("a NATS password holding a space, a slash or an escaped quote is not written in the reload log")
    func urlCredentialsUnusualPassword() throws {
        var old = PipelineConfiguration(name: "p")
        old.output.urls = ["nats://normd:old pw/1@h:4222", "nats://h2:4222"]
        var new = old
        new.output.urls = ["nats://normd:new\"pw?#@h:4222", "nats://h2:4222"]
        let change = try #require(new.changes(from: old).first)
        #expect(change.hasPrefix("output.urls ("), "\(change)")
        #expect(!change.contains("pw") && change.contains("nats://normd:***@h:4222") && change.contains("nats://h2:4222"), "\(change)")
    }
}
