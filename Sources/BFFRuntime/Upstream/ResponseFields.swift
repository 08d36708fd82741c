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
