/// The canonical gRPC status codes, as carried in the `grpc-status` trailer.
public enum GRPCStatus: Int, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case aborted = 10
    case outOfRange = 11
    case unimplemented = 12
    case `internal` = 13
    case unavailable = 14
    case dataLoss = 15
    case unauthenticated = 16

    /// Parses a `grpc-status` value: decimal digits naming one of the 17 codes, nothing else.
    public init?(grpcStatus: String) {
        let digits = grpcStatus.utf8
        guard !digits.isEmpty, digits.count <= 2, digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let number = Int(grpcStatus)
        else { return nil }
        self.init(rawValue: number)
    }

    /// The canonical upper-snake-case name, such as `DEADLINE_EXCEEDED`.
    public var name: String {
        switch self {
        case .ok: return "OK"
        case .cancelled: return "CANCELLED"
        case .unknown: return "UNKNOWN"
        case .invalidArgument: return "INVALID_ARGUMENT"
        case .deadlineExceeded: return "DEADLINE_EXCEEDED"
        case .notFound: return "NOT_FOUND"
        case .alreadyExists: return "ALREADY_EXISTS"
        case .permissionDenied: return "PERMISSION_DENIED"
        case .resourceExhausted: return "RESOURCE_EXHAUSTED"
        case .failedPrecondition: return "FAILED_PRECONDITION"
        case .aborted: return "ABORTED"
        case .outOfRange: return "OUT_OF_RANGE"
        case .unimplemented: return "UNIMPLEMENTED"
        case .internal: return "INTERNAL"
        case .unavailable: return "UNAVAILABLE"
        case .dataLoss: return "DATA_LOSS"
        case .unauthenticated: return "UNAUTHENTICATED"
        }
    }

    public var description: String { name }

    /// Decodes a `grpc-message` value, which is percent-encoded UTF-8.
    ///
    /// The gRPC spec asks receivers to be lenient here, so a `%` not followed by two hex digits
    /// is kept literally and invalid UTF-8 becomes U+FFFD instead of losing the message.
    public static func message(fromHeader value: String) -> String {
        let bytes = Array(value.utf8)
        guard bytes.contains(UInt8(ascii: "%")) else { return value }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
            {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(bytes[index])
                index += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Formats the `grpc-timeout` request header.
public enum GRPCTimeout {
    /// The header value for a caller's remaining time: at most 8 digits in the finest unit that
    /// fits (n, u, m, S, M, H).
    ///
    /// Values are truncated toward zero when a coarser unit is needed, so the server is never
    /// told it has more time than the caller will wait. A zero or negative budget gives `0n`
    /// (already expired); budgets beyond 99,999,999 hours are capped there.
    public static func header(for duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int128(seconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000)
        guard nanoseconds > 0 else { return "0n" }
        let units: [(Int128, Character)] = [
            (1, "n"), (1_000, "u"), (1_000_000, "m"), (1_000_000_000, "S"), (60_000_000_000, "M"), (3_600_000_000_000, "H"),
        ]
        for (size, suffix) in units {
            let count = nanoseconds / size
            if count <= maxValue { return "\(count)\(suffix)" }
        }
        return "\(maxValue)H"
    }

    private static let maxValue: Int128 = 99_999_999
}
