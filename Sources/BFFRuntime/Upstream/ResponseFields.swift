import NIOCore
import NIOHTTP1

/// A response's header fields: as the bytes they arrived in, turned into `HTTPHeaders` only when read.
///
/// Most fan-out answers are never asked for a header (only calls with a `cache:` read theirs), so
/// keeping the field lines the parser already validated saves two strings per field on every call.
struct ResponseFields: Sendable {
    private enum Storage: Sendable {
        /// Field lines, each ending in CRLF, as checked by ``HTTP1ResponseParser``.
        case lines(ByteBuffer)
        case headers(HTTPHeaders)
    }

    private let storage: Storage

    /// - Parameter lines: field lines, each ending in CRLF, each one valid for ``HTTP1Syntax/splitField(_:_:)``.
    init(lines: ByteBuffer) {
        storage = .lines(lines)
    }

    init(_ headers: HTTPHeaders) {
        storage = .headers(headers)
    }

    /// The fields as `HTTPHeaders`, built anew from the bytes on each read: read it once and keep it.
    var headers: HTTPHeaders {
        switch storage {
        case .headers(let headers):
            return headers
        case .lines(let lines):
            return lines.withUnsafeReadableBytes { bytes in
                var headers = HTTPHeaders()
                _ = HTTP1Syntax.forEachField(bytes, 0..<bytes.count) { name, value in
                    headers.add(
                        name: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[name]), as: UTF8.self),
                        value: String(decoding: UnsafeRawBufferPointer(rebasing: bytes[value]), as: UTF8.self)
                    )
                    return true
                }
                return headers
            }
        }
    }
}

/// The head of a service's answer as the gateway's codec read it (``HTTP1ResponseParser``).
struct UpstreamResponseHead {
    var status: HTTPResponseStatus
    /// The field lines as they arrived, each ending in CRLF, each valid for ``HTTP1Syntax/splitField(_:_:)``.
    var lines: ByteBuffer
    var fields: ResponseFields { ResponseFields(lines: lines) }
    /// The body's length when `Content-Length` frames it; nil for a chunked body, one that runs
    /// until the close, and an answer without a body (a HEAD's, a 204 or 304) whatever it says.
    var contentLength: Int?
    /// Whether the answer allows the connection to carry another request.
    var keepAlive: Bool

    /// The head as NIO spells it, its fields built from the bytes.
    var nioHead: HTTPResponseHead {
        HTTPResponseHead(version: .http1_1, status: status, headers: fields.headers)
    }
}
