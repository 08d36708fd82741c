import HTTPTypes
public import Hummingbird

/// Gives every request an id: the client's `X-Request-ID` when it is short and printable, else a
/// new random one. The id is echoed to the client and sent on every upstream call.
public struct RequestIDMiddleware: RouterMiddleware {
    public typealias Context = BFFRequestContext

    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.requestID = request.headers[.requestID].flatMap(Self.acceptable) ?? Self.generate()
        var response = try await next(request, context)
        response.headers[.requestID] = context.requestID
        return response
    }

    private static func acceptable(_ value: String) -> String? {
        guard (1...128).contains(value.utf8.count),
            value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return value
    }

    private static func generate() -> String {
        let value = UInt64.random(in: .min ... .max)
        let text = String(value, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }
}
