import ArgumentParser
import Foundation
import NormDaemon

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a CURVE certificate pair: DIR/NAME.key and DIR/NAME.key_secret (mode 0600).")

    @Argument var directory: String
    @Argument var name: String

    func run() throws {
        let files = try CurveCertificate.generate(directory: directory, name: name)
        print("public:  \(files.publicFile)\nsecret:  \(files.secretFile)")
    }
}
