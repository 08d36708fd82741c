/// RFC 3339 timestamps and proto3 JSON durations, converted to and from seconds and nanoseconds
/// without Foundation so the results do not depend on the host's calendar or locale.
enum TimeFormats {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range proto3 JSON allows.
    static let minTimestampSeconds: Int64 = -62_135_596_800
    static let maxTimestampSeconds: Int64 = 253_402_300_799
    /// ±10,000 years, the range google/protobuf/duration.proto allows.
    static let maxDurationSeconds: Int64 = 315_576_000_000

    // MARK: Timestamp

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, returning a reason on failure.
    static func parseTimestamp(_ text: String) -> Result<(seconds: Int64, nanos: Int32), TimeFormatError> {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(4), scanner.take("-"), let month = scanner.digits(2), scanner.take("-"),
            let day = scanner.digits(2), scanner.take("T") || scanner.take("t"),
            let hour = scanner.digits(2), scanner.take(":"), let minute = scanner.digits(2), scanner.take(":"),
            let second = scanner.digits(2)
        else { return .failure(TimeFormatError("expected an RFC 3339 timestamp such as 2024-05-01T10:00:00Z")) }
        guard (1...12).contains(month), (1...daysInMonth(year: year, month: month)).contains(day),
            hour < 24, minute < 60, second < 60
        else { return .failure(TimeFormatError("date or time field out of range")) }
        guard let nanos = scanner.fraction() else { return .failure(TimeFormatError("fractional seconds must be 1 to 9 digits")) }
        var offsetSeconds: Int64 = 0
        let isUTC = scanner.take("Z") || scanner.take("z")
        if !isUTC {
            guard let sign = scanner.sign() else { return .failure(TimeFormatError("missing time zone (Z or ±HH:MM)")) }
            guard let offsetHours = scanner.digits(2), scanner.take(":"), let offsetMinutes = scanner.digits(2),
                offsetHours < 24, offsetMinutes < 60
            else { return .failure(TimeFormatError("malformed UTC offset")) }
            offsetSeconds = sign * Int64(offsetHours * 3600 + offsetMinutes * 60)
        }
        guard scanner.isAtEnd else { return .failure(TimeFormatError("unexpected characters after the time zone")) }
        let days = daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - offsetSeconds
        guard (minTimestampSeconds...maxTimestampSeconds).contains(seconds) else {
            return .failure(TimeFormatError("timestamp outside 0001-01-01T00:00:00Z...9999-12-31T23:59:59.999999999Z"))
        }
        return .success((seconds, nanos))
    }

    /// Formats in UTC with 0, 3, 6 or 9 fractional digits, as proto3 JSON requires.
    static func formatTimestamp(seconds: Int64, nanos: Int32) -> String? {
        guard (minTimestampSeconds...maxTimestampSeconds).contains(seconds), (0..<1_000_000_000).contains(nanos) else {
            return nil
        }
        let days = floorDiv(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civilFromDays(days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
            + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + fractionText(nanos) + "Z"
    }

    // MARK: Duration

    /// Parses `[-]seconds[.fraction]s`.
    static func parseDuration(_ text: String) -> Result<(seconds: Int64, nanos: Int32), TimeFormatError> {
        var scanner = Scanner(Array(text.utf8))
        let negative = scanner.take("-")
        guard let seconds = scanner.integer(), let nanos = scanner.fraction(), scanner.take("s"), scanner.isAtEnd else {
            return .failure(TimeFormatError("expected a duration such as \"1.5s\""))
        }
        guard seconds <= maxDurationSeconds else { return .failure(TimeFormatError("duration beyond ±315576000000s")) }
        return .success(negative ? (-seconds, -nanos) : (seconds, nanos))
    }

    /// Formats with 0, 3, 6 or 9 fractional digits; `seconds` and `nanos` must agree in sign.
    static func formatDuration(seconds: Int64, nanos: Int32) -> String? {
        guard (-maxDurationSeconds...maxDurationSeconds).contains(seconds), nanos > -1_000_000_000, nanos < 1_000_000_000,
            !(seconds > 0 && nanos < 0), !(seconds < 0 && nanos > 0)
        else { return nil }
        let negative = seconds < 0 || nanos < 0
        return (negative ? "-" : "") + String(seconds.magnitude) + fractionText(Int32(nanos.magnitude)) + "s"
    }

    // MARK: Helpers

    private static func fractionText(_ nanos: Int32) -> String {
        if nanos == 0 { return "" }
        if nanos % 1_000_000 == 0 { return "." + pad(Int64(nanos / 1_000_000), 3) }
        if nanos % 1_000 == 0 { return "." + pad(Int64(nanos / 1_000), 6) }
        return "." + pad(Int64(nanos), 9)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    private static func isLeapYear(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    private static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var isAtEnd: Bool { index == bytes.count }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func sign() -> Int64? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }

        /// Exactly `count` ASCII digits.
        mutating func digits(_ count: Int) -> Int? {
            guard bytes.count - index >= count else { return nil }
            var value = 0
            for offset in 0..<count {
                let byte = bytes[index + offset]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }

        /// One or more digits as a non-negative integer, nil on overflow or when there are none.
        mutating func integer() -> Int64? {
            let start = index
            var value: Int64 = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                let (scaled, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = scaled.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { return nil }
                value = sum
                index += 1
            }
            return index > start ? value : nil
        }

        /// An optional `.digits` part as nanoseconds: zero when absent, nil when malformed or longer than 9 digits.
        mutating func fraction() -> Int32? {
            guard take(".") else { return 0 }
            var nanos: Int32 = 0
            var count = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                guard count < 9 else { return nil }
                nanos = nanos * 10 + Int32(bytes[index] - UInt8(ascii: "0"))
                count += 1
                index += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<9 { nanos *= 10 }
            return nanos
        }
    }
}

/// Why a timestamp or duration string was rejected.
struct TimeFormatError: Error, Sendable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
