import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// UTC timestamps for log lines, `2026-11-22T05:35:12.345Z`, written without Foundation's date
/// formatting (which costs several microseconds per call, on every request for the access log).
enum LogTimestamp {
    /// Appends the current time to `bytes`.
    static func write(to bytes: inout [UInt8]) {
        // Date is read for its seconds only (no formatting), which avoids timespec: release builds
        // see that C struct through CoreFoundation as well as Glibc and refuse it as ambiguous.
        let now = Date().timeIntervalSince1970
        let whole = now.rounded(.down)
        var seconds = time_t(whole)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        digits(Int(parts.tm_year) + 1900, 4, &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2, &bytes)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2, &bytes)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2, &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2, &bytes)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2, &bytes)
        bytes.append(UInt8(ascii: "."))
        digits(min(999, Int((now - whole) * 1000)), 3, &bytes)
        bytes.append(UInt8(ascii: "Z"))
    }

    private static func digits(_ value: Int, _ width: Int, _ bytes: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(rest / divisor % 10))
            rest %= divisor
            divisor /= 10
        }
    }
}
