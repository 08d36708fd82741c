import BFFSpec
import HTTPTypes
import NIOCore

/// Why a connection was refused before routing, answered as `application/problem+json` with
/// `Connection: close`. Written by ``RequestHeadGuard`` straight to the socket, because the request
/// never reached the HTTP decoder, let alone the middleware that renders ``Problem``s.
enum IngressRejection: Error, Equatable {
    /// The request line is longer than the limit (414).
    case requestLineTooLong(limit: Int)
    /// The header block is larger than the limit in bytes (431).
    case headerBlockTooLarge(limit: Int)
    /// The head has more header fields than the limit (431).
    case tooManyHeaderFields(limit: Int)
    /// The head is not well-formed HTTP/1.1 or is ambiguous about its framing (400).
    case malformed(String)
    /// The declared Content-Length is above what any route accepts (413).
    case contentTooLarge(limit: Int)
    /// The head did not arrive completely in time (408).
    case headTimeout(Duration)
    /// The server already serves as many connections as it may (503).
    case overCapacity

    var status: HTTPResponse.Status {
        switch self {
        case .requestLineTooLong: .uriTooLong
        case .headerBlockTooLarge, .tooManyHeaderFields: .requestHeaderFieldsTooLarge
        case .malformed: .badRequest
        case .contentTooLarge: .contentTooLarge
        case .headTimeout: .requestTimeout
        case .overCapacity: .serviceUnavailable
        }
    }

    var detail: String {
        switch self {
        case .requestLineTooLong(let limit): "the request line is longer than \(limit) bytes; shorten the URL or its query"
        case .headerBlockTooLarge(let limit): "the request headers are larger than \(limit) bytes; send fewer or smaller headers"
        case .tooManyHeaderFields(let limit): "the request has more than \(limit) header fields; send fewer headers"
        case .malformed(let reason): "malformed request: \(reason)"
        case .contentTooLarge(let limit): "the request body is larger than \(limit) bytes"
        case .headTimeout(let timeout): "the request headers did not arrive within \(timeout); send the whole head at once"
        case .overCapacity: "the server is at its connection limit; retry shortly"
        }
    }

    /// The complete HTTP/1.1 response, ready for the socket, with a request id of its own (the
    /// request's head was refused unread, or its `X-Request-ID` is the decoder's to read).
    var responseBytes: ByteBuffer {
        let status = self.status
        let requestID = RequestIDMiddleware.requestID(sent: nil)
        var body: [UInt8] = []
        JSONValue.object([
            ("type", "about:blank"),
            ("title", .string(status.reasonPhrase)),
            ("status", .number(Double(status.code))),
            ("detail", .string(detail)),
            ("request_id", .string(requestID)),
        ]).write(to: &body)
        var retryAfter = ""
        if case .overCapacity = self { retryAfter = "Retry-After: 1\r\n" }
        let head = "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\n"
            + "Content-Type: application/problem+json\r\n"
            + "Cache-Control: no-store\r\n"
            + "X-Request-ID: \(requestID)\r\n"
            + retryAfter
            + "Connection: close\r\n"
            + "Content-Length: \(body.count)\r\n\r\n"
        var buffer = ByteBuffer()
        buffer.reserveCapacity(head.utf8.count + body.count)
        buffer.writeString(head)
        buffer.writeBytes(body)
        return buffer
    }
}
