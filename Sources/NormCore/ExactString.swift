#if canImport(Glibc)
import Glibc
#endif

/// A string that is its bytes: equal, hashed and ordered by its UTF-8 bytes.
///
/// Swift's `String` compares by Unicode canonical equivalence, so `"ñ"` (C3 B1) and `"n\u{303}"`
/// (6E CC 83) are one `String` key but two stream keys on the wire — and two lanes by their bytes.
/// Stream keys and tensor names are held as `ExactString` wherever they index a dictionary or
/// are sorted, so two spellings never share statistics (the contract: a key is its bytes).
public struct ExactString: Hashable, Comparable, Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public let string: String

    public init(_ string: String) { self.string = string }
    public init(stringLiteral value: String) { self.string = value }

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool { compare(lhs, rhs) == 0 }

    public func hash(into hasher: inout Hasher) {
        var copy = string
        copy.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Byte order, as `show` lists keys.
    public static func < (lhs: ExactString, rhs: ExactString) -> Bool { compare(lhs, rhs) < 0 }

    /// memcmp of the UTF-8 bytes, the shorter first on a tie.
    private static func compare(_ lhs: ExactString, _ rhs: ExactString) -> Int {
        var a = lhs.string, b = rhs.string
        return a.withUTF8 { x in
            b.withUTF8 { y in
                let common = min(x.count, y.count)
                let order = common == 0 ? 0 : Int(memcmp(x.baseAddress!, y.baseAddress!, common))
                return order != 0 ? order : x.count - y.count
            }
        }
    }

    public var description: String { string }
}
