/// One `[[pipeline]]` table for tests: input and output bound on `ipc://{dir}/NAME.in` and
/// `.out` (and `.dead` with `deadLetter`), `{dir}` being filled in by whoever writes the file.
/// `norm`, `inputExtra` and `outputExtra` are further lines for those tables.
public func pipelineTOML(
    _ name: String = "bn", kind: String = "batch", input: String = "pull", output: String = "push",
    deadLetter: Bool = false, norm: String = "", inputExtra: String = "", outputExtra: String = ""
) -> String {
    """
    [[pipeline]]
    name = "\(name)"
    [pipeline.input]
    socket = "\(input)"
    bind = ["ipc://{dir}/\(name).in"]
    \(inputExtra)
    [pipeline.output]
    socket = "\(output)"
    bind = ["ipc://{dir}/\(name).out"]
    \(deadLetter ? "dead_letter = \"ipc://{dir}/\(name).dead\"" : "")
    \(outputExtra)
    [pipeline.norm]
    kind = "\(kind)"
    \(norm)
    """
}
