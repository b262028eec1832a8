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

    /// The output header from `header`'s bytes and its top-level `members` (as the decoder found
    /// them; none with an escaped key). `header` must be a JSON object the parser accepted.
    /// `norm` appends the norm object's JSON to the output.
    static func outputHeader(_ header: [UInt8], members: [Member], dtype: DType, norm: (inout [UInt8]) -> Void) -> [UInt8] {
        header.withUnsafeBufferPointer { bytes -> [UInt8] in
            var out: [UInt8] = []
            out.reserveCapacity(header.count + 96)
            out.append(UInt8(ascii: "{"))
            var wroteDType = false
            var wroteNorm = false
            func separate() {
                if out.count > 1 { out.append(UInt8(ascii: ",")) }
            }
            func appendDType() {
                separate()
                out.append(contentsOf: #""dtype":""#.utf8)
                out.append(contentsOf: dtype.rawValue.utf8)
                out.append(UInt8(ascii: "\""))
            }
            func appendNorm() {
                separate()
                out.append(contentsOf: #""norm":"#.utf8)
                norm(&out)
            }
            for member in members {
                let key = bytes[(member.key.lowerBound + 1)..<(member.key.upperBound - 1)]
                if key.elementsEqual("dtype".utf8) {
                    if !wroteDType { appendDType() }
                    wroteDType = true
                } else if key.elementsEqual("norm".utf8) {
                    if !wroteNorm { appendNorm() }
                    wroteNorm = true
                } else {
                    separate()
                    out.append(contentsOf: bytes[member.key.lowerBound..<member.value.upperBound])
                }
            }
            if !wroteDType { appendDType() }
            if !wroteNorm { appendNorm() }
            out.append(UInt8(ascii: "}"))
            return out
        }
    }

    /// The members of a valid JSON object, in order; nil if a key holds a backslash.
    static func topLevelMembers(_ bytes: UnsafeBufferPointer<UInt8>) -> [Member]? {
        var i = skipSpace(bytes, 0)
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i = skipSpace(bytes, i + 1)
        var members: [Member] = []
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { return members }
        while i < bytes.count {
            guard bytes[i] == UInt8(ascii: "\"") else { return nil }
            let keyEnd = skipString(bytes, i)
            guard keyEnd - i >= 2, bytes[keyEnd - 1] == UInt8(ascii: "\""), !bytes[i..<keyEnd].contains(UInt8(ascii: "\\")) else { return nil }
            let key = i..<keyEnd
            i = skipSpace(bytes, keyEnd)
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipSpace(bytes, i + 1)
            let valueEnd = skipValue(bytes, valueStart)
            members.append(Member(key: key, value: valueStart..<valueEnd))
            i = skipSpace(bytes, valueEnd)
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "}") { return members }
            guard bytes[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(bytes, i + 1)
        }
        return nil
    }

    private static func skipSpace(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 || bytes[i] == 0x0A || bytes[i] == 0x0D { i += 1 }
        return i
    }

    /// From an opening quote to just past its closing quote.
    private static func skipString(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
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
    private static func skipValue(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
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
