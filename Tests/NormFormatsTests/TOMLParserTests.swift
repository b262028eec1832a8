import Testing

@testable import NormFormats

@Suite("The TOML parser")
struct TOMLParserTests {
    func parse(_ text: String) throws -> TOMLNode { try TOMLParser.parse(text).root }

    func value(_ node: TOMLNode, _ path: String...) -> TOMLNode? {
        var current: TOMLNode? = node
        for key in path {
            guard case .table(let members)? = current else { return nil }
            current = members.first { $0.0 == key }?.1
        }
        return current
    }

    @Test("strings, numbers, arrays, inline tables and dotted keys")
    func values() throws {
        let doc = try parse(
            #"""
            a = "tab\there \u00e9 \"q\""   # comment
            b = 'C:\path'
            c = """
            line one
            line \
               two"""
            d = '''
            raw \n'''
            e = [1, 2_000, 0x1F, 0o17, 0b101, -3,
                 # comment inside
                ]
            f = [1.5, -2e-3, 1E6, inf, -inf]
            g = { x = 1, y.z = "w" }
            h.i.j = true
            "quoted key" = false
            date = 1979-05-27T07:32:00Z
            """#)
        #expect(value(doc, "a").map { if case .string(let s) = $0 { s } else { "" } } == "tab\there é \"q\"")
        #expect(value(doc, "b").map { if case .string(let s) = $0 { s } else { "" } } == #"C:\path"#)
        #expect(value(doc, "c").map { if case .string(let s) = $0 { s } else { "" } } == "line one\nline two")
        #expect(value(doc, "d").map { if case .string(let s) = $0 { s } else { "" } } == "raw \\n")
        guard case .array(let ints)? = value(doc, "e") else {
            Issue.record("e")
            return
        }
        #expect(ints.compactMap { if case .int(let i) = $0 { i } else { nil } } == [1, 2000, 31, 15, 5, -3])
        guard case .array(let floats)? = value(doc, "f") else {
            Issue.record("f")
            return
        }
        #expect(floats.compactMap { if case .double(let d) = $0 { d } else { nil } } == [1.5, -2e-3, 1e6, .infinity, -.infinity])
        if case .string(let z)? = value(doc, "g", "y", "z") { #expect(z == "w") } else { Issue.record("g.y.z") }
        if case .bool(let b)? = value(doc, "h", "i", "j") { #expect(b) } else { Issue.record("h.i.j") }
        if case .bool(let b)? = value(doc, "quoted key") { #expect(!b) } else { Issue.record("quoted key") }
        if case .other? = value(doc, "date") {} else { Issue.record("date") }
    }

    @Test("tables and arrays of tables record their lines")
    func tables() throws {
        let doc = try TOMLParser.parse(
            """
            [daemon]
            threads = 2

            [[pipeline]]
            name = "a"
            [pipeline.norm]
            kind = "batch"
            [[pipeline]]
            name = "b"
            """)
        #expect(doc.lines["daemon.threads"] == 2)
        #expect(doc.lines["pipeline[0].norm.kind"] == 7)
        #expect(doc.lines["pipeline[1].name"] == 9)
        guard case .array(let pipelines)? = value(doc.root, "pipeline") else {
            Issue.record("pipeline")
            return
        }
        #expect(pipelines.count == 2)
    }

    @Test(
        "syntax errors carry their line",
        arguments: [
            ("a = 1\nb = \n", 2), ("a = 1\na = 2\n", 2), ("[t]\n[t]\n", 2), ("a = \"open\n", 1), ("a = 01\n", 1),
            ("a = 1 b = 2\n", 1), ("x = [1, 2\n", 2), ("a = 1__0\n", 1), ("a = \"\\q\"\n", 1), ("a.b = 1\n[a.b]\n", 2),
            ("a = {x = 1}\n[a]\n", 2), ("=1\n", 1), ("a = .5\n", 1), ("a = 5.\n", 1), ("a = tru\n", 1),
        ])
    func errors(text: String, line: Int) {
        do {
            _ = try TOMLParser.parse(text)
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect(error.line == line, "\(text.debugDescription): \(error.message)")
        }
    }
}
