/// Durations as written in specs: a number with an `ms`, `s`, `m` or `h` suffix (`300ms`, `1.5s`, `5m`), at most a day.
public enum SpecDuration {
    /// What a malformed duration should look like, for error messages.
    public static let expectedForm = "write a number with ms, s, m or h, e.g. 300ms, 1.5s or 5m"

    /// Parses `text`, or returns nil when it is not a positive duration with a unit.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingSpaces
        let (number, scale): (Substring, Double)
        if trimmed.hasSuffix("ms") {
            (number, scale) = (trimmed.dropLast(2), 1e-3)
        } else if trimmed.hasSuffix("s") {
            (number, scale) = (trimmed.dropLast(1), 1)
        } else if trimmed.hasSuffix("m") {
            (number, scale) = (trimmed.dropLast(1), 60)
        } else if trimmed.hasSuffix("h") {
            (number, scale) = (trimmed.dropLast(1), 3600)
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
