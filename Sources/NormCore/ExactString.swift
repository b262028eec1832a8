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

    public static func == (lhs: ExactString, rhs: ExactString) -> Bool { lhs.string.utf8.elementsEqual(rhs.string.utf8) }

    public func hash(into hasher: inout Hasher) {
        for byte in string.utf8 { hasher.combine(byte) }
    }

    /// Byte order, as `show` lists keys.
    public static func < (lhs: ExactString, rhs: ExactString) -> Bool { lhs.string.utf8.lexicographicallyPrecedes(rhs.string.utf8) }

    public var description: String { string }
}
