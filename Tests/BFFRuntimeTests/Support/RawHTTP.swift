import Foundation
import NIOCore
import NIOPosix

/// A response parsed from raw bytes: status code, header lines and (de-chunked) body.
struct RawResponse: Sendable {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: String

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

enum RawHTTPError: Error {
    case timedOut, malformed(String)
}

/// Writes exact request bytes on a fresh TCP connection and reads until the server closes it.
///
/// HTTP clients normalise targets (`..`, `%2e`), so hostile paths are sent this way, byte for byte.
/// Requests should carry `Connection: close`; the read is bounded by `timeout`.
enum RawHTTP {
    static func send(_ request: String, port: Int, timeout: TimeAmount = .seconds(5)) async throws -> RawResponse {
        try parse(String(buffer: try await receive(request, port: port, responses: 1, timeout: timeout)))
    }

    /// Sends several pipelined requests at once and returns the `count` answers in the order they
    /// arrived. Answers must carry a Content-Length.
    static func pipelined(_ requests: String, port: Int, count: Int, timeout: TimeAmount = .seconds(5)) async throws -> [RawResponse] {
        var rest = Substring(String(buffer: try await receive(requests, port: port, responses: count, timeout: timeout)))
        var answers: [RawResponse] = []
        while let length = CollectingHandler.completeLength(of: rest) {
            answers.append(try parse(String(rest.utf8.prefix(length))!))
            rest = Substring(rest.utf8.dropFirst(length))
        }
        return answers
    }

    private static func receive(_ request: String, port: Int, responses: Int, timeout: TimeAmount) async throws -> ByteBuffer {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.any().makePromise(of: ByteBuffer.self)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(2))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CollectingHandler(promise: promise, responses: responses))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            promise.fail(RawHTTPError.timedOut)
            channel.close(promise: nil)
        }
        try await channel.writeAndFlush(ByteBuffer(string: request))
        defer { timer.cancel() }
        return try await promise.futureResult.get()
    }

    private static func parse(_ text: String) throws -> RawResponse {
        guard let split = text.range(of: "\r\n\r\n") else { throw RawHTTPError.malformed(text) }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw RawHTTPError.malformed(text) }
        let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var body = String(text[split.upperBound...])
        if headers.contains(where: { $0.name.lowercased() == "transfer-encoding" && $0.value.lowercased() == "chunked" }) {
            body = dechunk(body)
        }
        return RawResponse(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ text: String) -> String {
        var rest = Substring(text)
        var out = ""
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let end = rest.utf8.index(start, offsetBy: size)
            out += rest[start..<end]
            rest = rest[end...].dropFirst(2)
        }
        return out
    }
}

/// Collects everything a connection receives until it closes.
private final class CollectingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let promise: EventLoopPromise<ByteBuffer>
    private let responses: Int
    private var received = ByteBuffer()

    init(promise: EventLoopPromise<ByteBuffer>, responses: Int) {
        self.promise = promise
        self.responses = responses
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received.writeBuffer(&buffer)
        if isComplete {
            promise.succeed(received)
            context.close(promise: nil)
        }
    }

    /// Whether the whole responses expected (by Content-Length or the last chunk) have arrived, so
    /// a server that keeps the connection open does not stall the test.
    private var isComplete: Bool {
        var rest = Substring(String(buffer: received))
        for _ in 0..<responses {
            guard let length = Self.completeLength(of: rest) else { return false }
            rest = Substring(rest.utf8.dropFirst(length))
        }
        return true
    }

    /// The length of the complete response at the start of `text`, if it has all arrived.
    static func completeLength(of text: Substring) -> Int? {
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<end.lowerBound].lowercased()
        let headLength = text[..<end.upperBound].utf8.count
        let body = text[end.upperBound...]
        if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        {
            return body.utf8.count >= length ? headLength + length : nil
        }
        if head.contains("transfer-encoding: chunked"), let last = body.range(of: "0\r\n\r\n") {
            return headLength + body[..<last.upperBound].utf8.count
        }
        return nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.succeed(received)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
