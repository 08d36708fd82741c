#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bits of HTTP/1.1's grammar (RFC 9110 section 5, RFC 9112) that the gateway checks on raw
/// bytes, so that no header needs a `String` to be checked.
///
/// One place for them: the ingress scanner (``RequestHeadScanner``) reads client heads with them,
/// the upstream response parser validates field lines with ``splitField(_:_:)``, the lazily built
/// headers (``ResponseFields``) split them with the same function, and the request writer reads
/// `Connection` with the same list rule as the parser.
enum HTTP1Syntax {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")

    /// `tchar`: the characters of a field name or a token.
    static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
            UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
            UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// A byte allowed in a field value or a reason phrase: tab, space, visible ASCII and obs-text.
    /// Every other control character (CR and LF on their own, NUL, DEL) is refused.
    static func isValueCharacter(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }

    static func isWhitespace(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    /// The value of a `HEXDIG`, or nil.
    static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    /// The name and the value (optional whitespace around it trimmed) of the field line at `line`,
    /// or nil when the line is not `token ":" OWS value OWS`: that refuses an empty name, whitespace
    /// before the colon, a line folded onto the one before (obs-fold starts with whitespace, so it
    /// has no name) and control characters, a bare CR among them, in the value.
    static func splitField(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>) -> (name: Range<Int>, value: Range<Int>)? {
        var colon = line.lowerBound
        while colon < line.upperBound, bytes[colon] != UInt8(ascii: ":") {
            guard isTokenCharacter(bytes[colon]) else { return nil }
            colon += 1
        }
        guard colon > line.lowerBound, colon < line.upperBound else { return nil }
        var start = colon + 1
        var end = line.upperBound
        while start < end, isWhitespace(bytes[start]) { start += 1 }
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        for index in start..<end where !isValueCharacter(bytes[index]) { return nil }
        return (line.lowerBound..<colon, start..<end)
    }

    /// The offset of the first `byte` in `range` of `bytes` (`memchr`: the generic search over a
    /// slice of raw bytes costs several times more).
    static func firstIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, let base = bytes.baseAddress else { return nil }
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count)
        guard let found = memchr(base + range.lowerBound, Int32(byte), range.count) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// Calls `field` with the name and value of each field line in `range`, lines ending in CRLF.
    /// - Returns: false when a line is not a valid field line (``splitField(_:_:)``), or `field` returned false.
    static func forEachField(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ field: (Range<Int>, Range<Int>) -> Bool) -> Bool {
        var start = range.lowerBound
        while start < range.upperBound {
            guard let end = firstIndex(of: lf, in: bytes, start..<range.upperBound), end > start, bytes[end - 1] == cr,
                let (name, value) = splitField(bytes, start..<(end - 1)), field(name, value)
            else { return false }
            start = end + 1
        }
        return true
    }

    /// Calls `field` with the name and value of each field line in `range` that
    /// ``forEachField(_:_:_:)`` has accepted before: the lines are only split, not checked again.
    static func forEachCheckedField(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ field: (Range<Int>, Range<Int>) -> Void) {
        var start = range.lowerBound
        while start < range.upperBound, let end = firstIndex(of: lf, in: bytes, start..<range.upperBound) {
            let line = start..<(end - 1)
            if let colon = firstIndex(of: UInt8(ascii: ":"), in: bytes, line) {
                var valueStart = colon + 1
                var valueEnd = line.upperBound
                while valueStart < valueEnd, isWhitespace(bytes[valueStart]) { valueStart += 1 }
                while valueEnd > valueStart, isWhitespace(bytes[valueEnd - 1]) { valueEnd -= 1 }
                field(line.lowerBound..<colon, valueStart..<valueEnd)
            }
            start = end + 1
        }
    }

    /// Whether the bytes at `range` spell `lowercased`, ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercased: StaticString) -> Bool {
        equalsIgnoringCase(bytes, range, lowercased: UnsafeRawBufferPointer(start: lowercased.utf8Start, count: lowercased.utf8CodeUnitCount))
    }

    /// Whether the bytes at `range` spell `string` (a lowercased name), ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, lowercased string: String) -> Bool {
        guard range.count == string.utf8.count else { return false }
        var string = string
        return string.withUTF8 { equalsIgnoringCase(bytes, range, lowercased: UnsafeRawBufferPointer($0)) }
    }

    private static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, lowercased expected: UnsafeRawBufferPointer) -> Bool {
        guard range.count == expected.count else { return false }
        for offset in 0..<range.count {
            var byte = bytes[range.lowerBound + offset]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            guard byte == expected[offset] else { return false }
        }
        return true
    }

    /// Whether the bytes at `a` and at `b` are the same, ignoring ASCII case.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ a: Range<Int>, _ b: Range<Int>) -> Bool {
        a.count == b.count && zip(bytes[a], bytes[b]).allSatisfy { sameIgnoringCase($0, $1) }
    }

    /// Whether two field names are the same, ignoring ASCII case.
    static func namesEqual(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { sameIgnoringCase($0, $1) }
    }

    /// Two bytes equal, or the same ASCII letter in either case.
    private static func sameIgnoringCase(_ x: UInt8, _ y: UInt8) -> Bool {
        x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
    }

    /// Whether the bytes at `range` spell `expected` exactly (a method, a version: case matters).
    static func equalsExactly(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ expected: StaticString) -> Bool {
        guard range.count == expected.utf8CodeUnitCount else { return false }
        let spelled = UnsafeRawBufferPointer(start: expected.utf8Start, count: expected.utf8CodeUnitCount)
        for offset in 0..<range.count where bytes[range.lowerBound + offset] != spelled[offset] { return false }
        return true
    }

    /// Calls `element` with each element of the comma-separated list at `range`, whitespace around
    /// it trimmed; empty elements are skipped, as RFC 9110 section 5.6.1 asks of recipients.
    /// `element` returns false to stop early.
    static func forEachListElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ element: (Range<Int>) -> Bool) {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound, bytes[end] != UInt8(ascii: ",") { end += 1 }
            var first = start
            var last = end
            while first < last, isWhitespace(bytes[first]) { first += 1 }
            while last > first, isWhitespace(bytes[last - 1]) { last -= 1 }
            if first < last, !element(first..<last) { return }
            start = end + 1
        }
    }

    /// Whether the comma-separated list at `range` holds `lowercased` as an element, ignoring case.
    static func listContains(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercased: StaticString) -> Bool {
        var found = false
        forEachListElement(bytes, range) { element in
            found = equalsIgnoringCase(bytes, element, lowercased)
            return !found
        }
        return found
    }

    /// Whether the comma-separated list at `list` holds the bytes at `element` as an element, ignoring case.
    static func listContains(_ bytes: UnsafeRawBufferPointer, _ list: Range<Int>, element: Range<Int>) -> Bool {
        var found = false
        forEachListElement(bytes, list) { candidate in
            found = equalsIgnoringCase(bytes, candidate, element)
            return !found
        }
        return found
    }

    /// The number that the first element of the list at `range` spells in decimal digits; nil when
    /// it is not one or is too large.
    static func leadingDecimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        var number: Int?
        forEachListElement(bytes, range) { element in
            number = decimal(bytes, element)
            return false
        }
        return number
    }

    /// The number that the bytes at `range` spell in decimal digits (`1*DIGIT`); nil when they are
    /// empty, hold anything else or spell a number too large for an `Int`.
    static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty else { return nil }
        var value = 0
        for byte in bytes[range] {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
            guard !overflow else { return nil }
            let (sum, carry) = shifted.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
            guard !carry else { return nil }
            value = sum
        }
        return value
    }
}
