import BFFSpec
import Foundation
public import Hummingbird
import NIOCore

/// Writes one JSON line per request to standard output: time, request id, method, route, path,
/// status, duration and the names of degraded calls.
public struct AccessLogMiddleware: RouterMiddleware {
    public typealias Context = BFFRequestContext

    private let sink: LogLineSink

    public init(sink: LogLineSink = .standardOutput) {
        self.sink = sink
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = NIODeadline.now()
        let response = try await next(request, context)
        let milliseconds = Double((NIODeadline.now() - started).nanoseconds) / 1e6
        var line: [(String, JSONValue)] = [
            ("ts", .string(Date().formatted(.iso8601))),
            ("request_id", .string(context.requestID)),
            ("method", .string(request.method.rawValue)),
            ("route", context.record.route.map(JSONValue.string) ?? .null),
            ("path", .string(request.uri.path)),
            ("status", .number(Double(response.status.code))),
            ("ms", .number((milliseconds * 10).rounded() / 10)),
        ]
        let degraded = context.record.degradedCalls
        if !degraded.isEmpty { line.append(("degraded", .array(degraded.map(JSONValue.string)))) }
        var bytes: [UInt8] = []
        JSONValue.object(line).write(to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        sink.write(bytes)
        return response
    }
}
