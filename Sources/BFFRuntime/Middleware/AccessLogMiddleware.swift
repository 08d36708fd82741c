import BFFSpec
public import Hummingbird
import NIOCore

/// Writes one JSON line per request to standard output: time, request id, method, route, path,
/// status, duration, the names of degraded calls and, when tracing, the trace id.
///
/// The line is written byte by byte into one buffer (no intermediate JSON tree, no Foundation date
/// formatting): the access log is on by default, so its cost is paid on every request.
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
        sink.write(
            Self.line(
                requestID: context.requestID, method: request.method.rawValue, route: context.record.route, path: request.uri.path,
                status: Int(response.status.code), milliseconds: milliseconds, degraded: context.record.degradedCalls,
                traceID: context.trace?.traceID
            )
        )
        return response
    }

    /// One access-log line, newline included.
    static func line(requestID: String, method: String, route: String?, path: String, status: Int, milliseconds: Double, degraded: [String], traceID: String? = nil) -> [UInt8] {
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line += #"{"ts":""#.utf8
        LogTimestamp.write(to: &line)
        line += #"","request_id":"#.utf8
        JSONValue.writeString(requestID, to: &line)
        line += #","method":"#.utf8
        JSONValue.writeString(method, to: &line)
        line += #","route":"#.utf8
        if let route { JSONValue.writeString(route, to: &line) } else { line += "null".utf8 }
        line += #","path":"#.utf8
        JSONValue.writeString(path, to: &line)
        line += #","status":"#.utf8
        line += String(status).utf8
        line += #","ms":"#.utf8
        line += ResponseComposer.formatMilliseconds(milliseconds).utf8
        if !degraded.isEmpty {
            line += #","degraded":"#.utf8
            JSONValue.array(degraded.map(JSONValue.string)).write(to: &line)
        }
        if let traceID, !traceID.isEmpty {
            line += #","trace_id":"#.utf8
            JSONValue.writeString(traceID, to: &line)
        }
        line += "}\n".utf8
        return line
    }
}
