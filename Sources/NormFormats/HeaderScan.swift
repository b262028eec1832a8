import NormCore

/// The header of the common case read in one pass over its bytes, with no JSON tree: a valid
/// JSON object in ASCII whose strings hold no escape and no control character, with a
/// well-formed `dtype`, `shape`, `layout` and `seq`. Anything else is not read here (`scan`
/// returns nil) and goes to the parser, which finds the rejection and its reason — so what
/// this accepts is exactly what the parser accepts, with the same fields (the header fuzzer
/// and `HeaderScanTests` hold the two paths to that).
struct HeaderScan {
    var seq: UInt64?
    var dtype: DType
    var shape: [Int]
    var layout: TensorLayout
    /// Where the object and its `dtype` value lie, when the header has one `dtype` and no `norm`:
    /// the output header is then the object's bytes with that value replaced and the norm object
    /// put before the closing brace — three copies, where walking the members again and copying
    /// them one by one took twice the time (perf, 64 B).
    var splice: HeaderSplice.Copy?

    /// nil when the header is not the common case (see the type's doc). The shape is written
    /// into `shape`'s storage when nothing else holds it (the caller keeps one array for it).
    static func scan(_ bytes: UnsafeRawBufferPointer, maxDepth: Int, shape dimensions: inout [Int]) -> HeaderScan? {
        var reader = Reader(bytes: bytes, maxDepth: maxDepth)
        guard reader.readObject() else { return nil }
        guard let dtype = reader.dtypeValue, let type = reader.dtype(dtype), let shape = reader.shapeValue, reader.shape(shape, into: &dimensions)
        else { return nil }
        var result = HeaderScan(dtype: type, shape: dimensions, layout: .nchw)
        if let seq = reader.seqValue {
            guard let value = reader.unsigned(seq, limit: .max) else { return nil }
            result.seq = value
        }
        if let layout = reader.layoutValue {
            guard let parsed = reader.layout(layout) else { return nil }
            result.layout = parsed
        }
        if reader.dtypeCount == 1 && reader.normCount == 0 { result.splice = HeaderSplice.Copy(object: reader.objectBytes, dtype: dtype) }
        return result
    }

    /// A validating reader over the header's bytes; every method returns nil (or false) for what
    /// is not the common case.
    struct Reader {
        let bytes: UnsafeRawBufferPointer
        let maxDepth: Int
        var index = 0
        /// The values of the four fields read here, as the top-level members are read; the last
        /// of a duplicated member counts, as the parser's lookup has it.
        var seqValue: Range<Int>?
        var dtypeValue: Range<Int>?
        var shapeValue: Range<Int>?
        var layoutValue: Range<Int>?
        /// How many top-level `dtype` and `norm` members there are, and where the object lies
        /// (see `splice`).
        var dtypeCount = 0
        var normCount = 0
        var objectBytes = 0..<0

        /// Reads the whole header as one object; false if it is not the common case.
        mutating func readObject() -> Bool {
            skipSpace()
            let start = index
            guard index < bytes.count, bytes[index] == UInt8(ascii: "{"), object(depth: 1) else { return false }
            objectBytes = start..<index
            skipSpace()
            return index == bytes.count
        }

        mutating func record(_ member: HeaderSplice.Member) {
            switch field(member) {
            case .seq: seqValue = member.value
            case .dtype:
                dtypeValue = member.value
                dtypeCount += 1
            case .shape: shapeValue = member.value
            case .layout: layoutValue = member.value
            case .norm: normCount += 1
            case .other: break
            }
        }

        enum Field { case seq, dtype, shape, layout, norm, other }

        /// Which of the four fields read here, or the `norm` the output header sets, the member's
        /// key names (it holds no escape).
        func field(_ member: HeaderSplice.Member) -> Field {
            let name = UnsafeRawBufferPointer(rebasing: bytes[(member.key.lowerBound + 1)..<(member.key.upperBound - 1)])
            if name.holds("seq") { return .seq }
            if name.holds("dtype") { return .dtype }
            if name.holds("shape") { return .shape }
            if name.holds("layout") { return .layout }
            if name.holds("norm") { return .norm }
            return .other
        }

        /// A string value's bytes without its quotes, or nil for another value.
        func stringContents(_ range: Range<Int>) -> UnsafeRawBufferPointer? {
            guard range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\"") else { return nil }
            return UnsafeRawBufferPointer(rebasing: bytes[(range.lowerBound + 1)..<(range.upperBound - 1)])
        }

        func dtype(_ range: Range<Int>) -> DType? {
            guard let name = stringContents(range) else { return nil }
            return Self.dtypes.first { name.elementsEqual($0.name) }?.type
        }

        func layout(_ range: Range<Int>) -> TensorLayout? {
            guard let name = stringContents(range) else { return nil }
            return Self.layouts.first { name.elementsEqual($0.name) }?.layout
        }

        /// Digits alone, at most `limit`.
        func unsigned(_ range: Range<Int>, limit: UInt64) -> UInt64? {
            guard !range.isEmpty else { return nil }
            var value: UInt64 = 0
            for i in range {
                let digit = bytes[i] &- UInt8(ascii: "0")
                guard digit < 10 else { return nil }
                let (times, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(UInt64(digit))
                guard !o1, !o2, sum <= limit else { return nil }
                value = sum
            }
            return value
        }

        /// An array of 2 to 5 positive integers, each at most Int.max, read into `dimensions`.
        func shape(_ range: Range<Int>, into dimensions: inout [Int]) -> Bool {
            guard bytes[range.lowerBound] == UInt8(ascii: "[") else { return false }
            dimensions.removeAll(keepingCapacity: true)
            dimensions.reserveCapacity(5)
            var i = range.lowerBound + 1
            let end = range.upperBound - 1  // the closing bracket
            while i < end {
                while i < end, Self.isSpace(bytes[i]) { i += 1 }
                var j = i
                while j < end, bytes[j] >= UInt8(ascii: "0"), bytes[j] <= UInt8(ascii: "9") { j += 1 }
                guard let value = unsigned(i..<j, limit: UInt64(Int.max)), value > 0, dimensions.count < 5 else { return false }
                dimensions.append(Int(value))
                i = j
                while i < end, Self.isSpace(bytes[i]) { i += 1 }
                guard i == end || bytes[i] == UInt8(ascii: ",") else { return false }
                i += 1
            }
            return dimensions.count >= 2
        }

        static let dtypes = DType.allCases.map { (name: Array($0.rawValue.utf8), type: $0) }
        static let layouts = TensorLayout.allCases.map { (name: Array($0.rawValue.utf8), layout: $0) }

        static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }

        mutating func skipSpace() {
            while index < bytes.count, Self.isSpace(bytes[index]) { index += 1 }
        }

        /// At `{`; records the top level's members.
        mutating func object(depth: Int) -> Bool {
            guard depth <= maxDepth else { return false }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return true
            }
            while true {
                skipSpace()
                let keyStart = index
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), string() else { return false }
                let keyEnd = index
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                skipSpace()
                let valueStart = index
                guard value(depth: depth) else { return false }
                let valueEnd = index
                if depth == 1 { record(HeaderSplice.Member(key: keyStart..<keyEnd, value: valueStart..<valueEnd)) }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "}") else { return false }
                index += 1
                return true
            }
        }

        mutating func array(depth: Int) -> Bool {
            guard depth <= maxDepth else { return false }
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return true
            }
            while true {
                skipSpace()
                guard value(depth: depth) else { return false }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard bytes[index] == UInt8(ascii: "]") else { return false }
                index += 1
                return true
            }
        }

        mutating func value(depth: Int) -> Bool {
            guard index < bytes.count else { return false }
            switch bytes[index] {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        /// At a quote: printable ASCII up to the closing quote, no backslash.
        mutating func string() -> Bool {
            index += 1
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return true }
                guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return false }
            }
            return false
        }

        mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for i in 0..<count where bytes[index + i] != word.utf8Start[i] { return false }
            index += count
            return true
        }

        /// JSON's number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
        mutating func number() -> Bool {
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            let start = index
            let integer = digits()
            guard integer > 0, !(integer > 1 && bytes[start] == UInt8(ascii: "0")) else { return false }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { return false }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { return false }
            }
            return true
        }

        mutating func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            return index - start
        }
    }
}
