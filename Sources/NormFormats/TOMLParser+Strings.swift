/// Strings: basic (with escapes) and literal, single-line and multi-line.
extension TOMLParser {
    mutating func basicString() throws(TOMLSyntaxError) -> String { try quotedString(UInt8(ascii: "\""), escapes: true) }
    mutating func literalString() throws(TOMLSyntaxError) -> String { try quotedString(UInt8(ascii: "'"), escapes: false) }

    /// Basic (`"`, with escapes) and literal (`'`) strings, single-line or tripled multi-line.
    private mutating func quotedString(_ quote: UInt8, escapes: Bool) throws(TOMLSyntaxError) -> String {
        let triple = String(repeating: Character(Unicode.Scalar(quote)), count: 3)
        let single = String(Character(Unicode.Scalar(quote)))
        let multiline = starts(with: triple)
        index += multiline ? 3 : 1
        if multiline { skipFirstNewline() }
        var out = String.UnicodeScalarView()
        while true {
            guard let byte = peek() else { throw fail("unterminated string") }
            if byte == quote {
                if !multiline {
                    index += 1
                    return String(out)
                }
                if starts(with: triple) {
                    index += 3
                    // Up to two quotes may end a multi-line string: """a"""" is `a"`.
                    while starts(with: single) && !starts(with: triple) {
                        out.append(Unicode.Scalar(quote))
                        index += 1
                    }
                    return String(out)
                }
                out.append(Unicode.Scalar(quote))
                index += 1
                continue
            }
            if escapes && byte == UInt8(ascii: "\\") {
                index += 1
                if multiline, let next = peek(),
                    next == UInt8(ascii: "\n") || next == UInt8(ascii: " ") || next == UInt8(ascii: "\t") || next == UInt8(ascii: "\r")
                {
                    // A line-ending backslash trims the newline and the white space after it.
                    var sawNewline = false
                    while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\n") || c == UInt8(ascii: "\r") {
                        if c == UInt8(ascii: "\n") {
                            line += 1
                            sawNewline = true
                        }
                        index += 1
                    }
                    guard sawNewline else { throw fail("invalid escape") }
                    continue
                }
                out.append(try escape())
                continue
            }
            if byte == UInt8(ascii: "\n") {
                guard multiline else { throw fail("newline in a single-line string") }
                line += 1
            } else if byte < 0x20 && byte != UInt8(ascii: "\t") && !(multiline && byte == UInt8(ascii: "\r")) || byte == 0x7F {
                throw fail("control character in a string")
            }
            out.append(contentsOf: try utf8Scalar())
        }
    }

    private mutating func escape() throws(TOMLSyntaxError) -> Unicode.Scalar {
        guard let byte = peek() else { throw fail("unterminated escape") }
        index += 1
        switch byte {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"): return "\u{1B}"
        case UInt8(ascii: "\""): return "\""
        case UInt8(ascii: "\\"): return "\\"
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = byte == UInt8(ascii: "u") ? 4 : 8
            guard index + count <= bytes.count, let code = UInt32(String(decoding: bytes[index..<(index + count)], as: UTF8.self), radix: 16),
                let scalar = Unicode.Scalar(code)
            else { throw fail("invalid unicode escape") }
            index += count
            return scalar
        default: throw fail("invalid escape \\\(Character(Unicode.Scalar(byte)))")
        }
    }

    /// One UTF-8 encoded scalar; invalid UTF-8 is an error.
    private mutating func utf8Scalar() throws(TOMLSyntaxError) -> String.UnicodeScalarView {
        let byte = bytes[index]
        let length = byte < 0x80 ? 1 : byte >> 5 == 0b110 ? 2 : byte >> 4 == 0b1110 ? 3 : byte >> 3 == 0b11110 ? 4 : 0
        guard length > 0, index + length <= bytes.count, let text = String(validating: bytes[index..<(index + length)], as: UTF8.self) else {
            throw fail("invalid UTF-8")
        }
        index += length
        return text.unicodeScalars
    }
}
