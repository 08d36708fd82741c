/// Durations as written in specs: a number with an `ms` or `s` suffix (`300ms`, `1s`, `1.5s`).
public enum SpecDuration {
    /// What a malformed duration should look like, for error messages.
    public static let expectedForm = "write a number with ms or s, e.g. 300ms or 1.5s"

    /// Parses `text`, or returns nil when it is not a positive duration with a unit.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces
        let (number, scale): (Substring, Double)
        if trimmed.hasSuffix("ms") {
            (number, scale) = (trimmed.dropLast(2), 1e-3)
        } else if trimmed.hasSuffix("s") {
            (number, scale) = (trimmed.dropLast(1), 1)
        } else {
            return nil
        }
        guard let value = Double(number), value.isFinite, value > 0, value * scale <= 86_400 else { return nil }
        return .nanoseconds(Int64((value * scale * 1e9).rounded()))
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Nanoseconds, saturating at Int64's range.
    public var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}

extension String {
    var trimmingSpaces: Substring {
        var slice = self[...]
        while slice.first?.isWhitespace == true { slice.removeFirst() }
        while slice.last?.isWhitespace == true { slice.removeLast() }
        return slice
    }
}
