extension PipelineConfiguration {
    /// What differs from `old`, as `section.field (old → new)`, for the reload log.
    func changes(from old: PipelineConfiguration) -> [String] {
        Self.diff("input", input, old.input) + Self.diff("output", output, old.output) + Self.diff("norm", norm, old.norm)
    }

    private static func diff<T>(_ section: String, _ new: T, _ old: T) -> [String] {
        zip(Mirror(reflecting: new).children, Mirror(reflecting: old).children).compactMap { n, o in
            let a = "\(n.value)"
            let b = "\(o.value)"
            guard a != b else { return nil }
            // What a file held is named, not printed: it can be large.
            if n.label == "initValues" { return "\(section).init (the file's contents changed)" }
            return "\(section).\(n.label ?? "?") (\(b) → \(a))"
        }
    }
}
