import Foundation

extension ConfigurationLoader {
    /// Every endpoint that is bound is bound once: a second bind of an ipc:// path silently takes
    /// the first socket's traffic (libzmq unlinks and rebinds), so two binds of one endpoint — in
    /// two pipelines or within one — are an error naming both places. ipc:// paths are compared
    /// after normalizing (`ipc://dir/./in` is `ipc://dir/in`).
    static func checkBindsAreUnique(_ pipelines: [PipelineConfiguration], reader: ConfigurationReader) {
        var owners: [String: (index: Int, pipeline: String, key: String)] = [:]
        for (index, pipeline) in pipelines.enumerated() {
            let base = "pipeline[\(index)]"
            var binds: [(String, String)] = []
            binds += pipeline.input.bind.enumerated().map { ("\(base).input.bind[\($0.offset)]", $0.element) }
            binds += pipeline.output.bind.enumerated().map { ("\(base).output.bind[\($0.offset)]", $0.element) }
            if !pipeline.output.deadLetter.isEmpty { binds.append(("\(base).output.dead_letter", pipeline.output.deadLetter)) }
            for (key, endpoint) in binds {
                let normalized = normalizedEndpoint(endpoint)
                if let owner = owners[normalized] {
                    let where_ = owner.index == index ? "also by this pipeline" : "also by pipeline \"\(owner.pipeline)\""
                    reader.fail(key, "\(endpoint) is bound \(where_) (\(owner.key)); each endpoint can be bound once")
                } else {
                    owners[normalized] = (index, pipeline.name, key)
                }
            }
        }
    }

    /// The form two binds of the same endpoint share.
    static func normalizedEndpoint(_ endpoint: String) -> String {
        guard endpoint.hasPrefix("ipc://") else { return endpoint.lowercased() }
        let path = String(endpoint.dropFirst("ipc://".count))
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        return "ipc://" + URL(fileURLWithPath: absolute).standardizedFileURL.path
    }
}
