import HTTPTypes
public import Hummingbird
import Synchronization

/// Gives every request an id: the client's `X-Request-ID` when it is short and printable, else a
/// new random one. The id is echoed to the client and sent on every upstream call.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = BFFRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = Self.requestID(sent: request.headers[.requestID])
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestID
        return response
    }

    /// The id for a request that sent `value` as its `X-Request-ID`.
    static func requestID(sent value: String?) -> String {
        value.flatMap(acceptable) ?? generate()
    }

    private static func acceptable(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return value
    }

    private static func generate() -> String {
        let text = String(RequestIDSequence.shared.next(), radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}

/// Unique, unpredictable-looking 64-bit ids without a `getrandom` call per request: a counter from a
/// random start, stepped by an odd constant and scrambled by SplitMix64's finaliser. That finaliser
/// is a bijection, so one process never repeats an id in 2^64 requests; replicas start from
/// independent random seeds.
final class RequestIDSequence: Sendable {
    static let shared = RequestIDSequence(seed: .random(in: .min ... .max))

    private let counter: Atomic<UInt64>

    init(seed: UInt64) {
        counter = Atomic(seed)
    }

    func next() -> UInt64 {
        var z = counter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
