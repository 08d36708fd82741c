#if canImport(Glibc)
import Glibc
#endif

/// The `Date` header value (IMF-fixdate, RFC 9110 5.6.7), formatted once per second per cache.
///
/// Hummingbird adds `Date` to every answer it writes; answers written on the event loop carry the
/// same header from this cache, one per connection handler so no lock is needed.
struct HTTPDate {
    private var second = -1
    private var text = ""

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Now, e.g. `Tue, 01 Dec 2026 14:54:57 GMT`.
    mutating func now() -> String {
        let now = time(nil)
        if Int(now) != second {
            second = Int(now)
            text = Self.format(now)
        }
        return text
    }

    static func format(_ seconds: time_t) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }
}
