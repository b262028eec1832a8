import NormCore

/// The output header made from the input header's own bytes: each member is copied as it came,
/// `dtype`'s value replaced and the `norm` object put in place of the first `norm` (or appended),
/// later duplicates of either dropped — the same JSON values `WireEncoder.outputHeader` gives
/// from the parsed tree, without serializing that tree again for every message.
enum HeaderSplice {
    /// A top-level member's byte ranges in the header: its key (with quotes) and its value.
    struct Member {
        var key: Range<Int>
        var value: Range<Int>
    }

    /// A header with one `dtype` and no `norm`, spliced by copying: the object's bytes (from its
    /// brace to its brace) with the `dtype` value replaced and the norm object added before the
    /// closing brace. Space between tokens stays as the producer wrote it, where `write` drops the
    /// space between members.
    struct Copy: Sendable {
        /// The object, braces included.
        let object: Range<Int>
        /// The `dtype` member's value (a string, quotes included).
        let dtype: Range<Int>

        func write(_ header: UnsafeRawBufferPointer, dtype type: DType, to out: inout [UInt8], norm: (inout [UInt8]) -> Void) {
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: header[object.lowerBound..<dtype.lowerBound]))
            out.append(UInt8(ascii: "\""))
            out.append(utf8: type.rawValue)
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: header[dtype.upperBound..<(object.upperBound - 1)]))
            out.append(literal: #","norm":"#)
            norm(&out)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Appends the output header from `header`'s bytes to `out`; `header` must be a JSON object
    /// the parser accepted whose top-level keys hold no escape (`forEachMember` says so). `norm`
    /// writes the norm object's JSON.
    static func write(_ header: UnsafeRawBufferPointer, dtype: DType, to out: inout [UInt8], norm: (inout [UInt8]) -> Void) {
        out.append(UInt8(ascii: "{"))
        // A member after the first is preceded by a comma: the object holds one when more than
        // its brace was written. (No nested functions: their captured flags were boxed and each
        // access checked for exclusivity at run time, per member.)
        let open = out.count
        var wroteDType = false
        var wroteNorm = false
        let complete = forEachMember(header) { member in
            let key = UnsafeRawBufferPointer(rebasing: header[(member.key.lowerBound + 1)..<(member.key.upperBound - 1)])
            if key.holds("dtype") {
                if !wroteDType { putDType(dtype, to: &out, open: open) }
                wroteDType = true
            } else if key.holds("norm") {
                if !wroteNorm { putNorm(norm, to: &out, open: open) }
                wroteNorm = true
            } else {
                if out.count > open { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: UnsafeRawBufferPointer(rebasing: header[member.key.lowerBound..<member.value.upperBound]))
            }
        }
        precondition(complete, "a header the splice cannot take")
        if !wroteDType { putDType(dtype, to: &out, open: open) }
        if !wroteNorm { putNorm(norm, to: &out, open: open) }
        out.append(UInt8(ascii: "}"))
    }

    private static func putDType(_ dtype: DType, to out: inout [UInt8], open: Int) {
        if out.count > open { out.append(UInt8(ascii: ",")) }
        out.append(literal: #""dtype":""#)
        out.append(utf8: dtype.rawValue)
        out.append(UInt8(ascii: "\""))
    }

    private static func putNorm(_ norm: (inout [UInt8]) -> Void, to out: inout [UInt8], open: Int) {
        if out.count > open { out.append(UInt8(ascii: ",")) }
        out.append(literal: #""norm":"#)
        norm(&out)
    }

    /// Calls `body` with each top-level member of a valid JSON object, in order, without
    /// allocating; false (after the members before it) where a key holds a backslash.
    @discardableResult
    static func forEachMember(_ bytes: UnsafeRawBufferPointer, _ body: (Member) -> Void) -> Bool {
        var i = skipSpace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return false }
        i = skipSpace(bytes, i + 1)
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return true }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\"") else { return false }
            let keyEnd = skipString(bytes, i)
            guard keyEnd - i >= 2, bytes[keyEnd - 1] == UInt8(ascii: "\""), !bytes[i..<keyEnd].contains(UInt8(ascii: "\\")) else { return false }
            let key = i..<keyEnd
            i = skipSpace(bytes, keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return false }
            let valueStart = skipSpace(bytes, i + 1)
            let valueEnd = skipValue(bytes, valueStart)
            body(Member(key: key, value: valueStart..<valueEnd))
            i = skipSpace(bytes, valueEnd)
            guard i < bytes.count else { return false }
            if bytes[i] == UInt8(ascii: "}") { return true }
            guard bytes[i] == UInt8(ascii: ",") else { return false }
            i = skipSpace(bytes, i + 1)
        }
        return false
    }

    private static func skipSpace(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        return i
    }

    /// From an opening quote to just past its closing quote.
    private static func skipString(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        var i = start + 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return bytes.count
    }

    /// Just past one value: a string, an object or array (nesting counted, strings skipped), or
    /// a number or literal (up to the next delimiter).
    private static func skipValue(_ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        guard start < bytes.count else { return start }
        switch bytes[start] {
        case UInt8(ascii: "\""):
            return skipString(bytes, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: "\""):
                    i = skipString(bytes, i)
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default: break
                }
                i += 1
            }
            return bytes.count
        default:
            var i = start
            while i < bytes.count {
                switch bytes[i] {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: return i
                default: i += 1
                }
            }
            return i
        }
    }
}
