import AsyncHTTPClient
import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// One raw TCP connection to the gateway that the test drives byte by byte: it can send a head in
/// pieces, read a response while keeping the connection open, and tell whether the server closed it.
final class RawConnection: Sendable {
    private let channel: any Channel
    /// Shared with the channel's handler from before the connection exists: a refusal the server
    /// sends (and closes after) right at accept must not be lost.
    private let received: ReceivedBox

    private init(channel: any Channel, received: ReceivedBox) {
        self.channel = channel
        self.received = received
    }

    static func open(port: Int) async throws -> RawConnection {
        let box = ReceivedBox()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(box: box))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return RawConnection(channel: channel, received: box)
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func close() async {
        try? await channel.close()
    }

    /// Whether the server has closed (or half-closed) its side.
    var isClosed: Bool { received.state.withLock { $0.isClosed } }

    var text: String { received.state.withLock { String(decoding: $0.bytes, as: UTF8.self) } }

    /// Waits, polling, until `condition` holds for what has been received; false after `timeout`.
    func eventually(within timeout: Duration = .seconds(5), _ condition: (RawConnection) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(self) { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return condition(self)
    }

    /// Waits for the server to close the connection and parses everything it sent.
    func responsesUntilClosed(within timeout: Duration = .seconds(5)) async throws -> [ParsedResponse] {
        guard await eventually(within: timeout, \.isClosed) else { throw RawHTTPError.malformed("still open after \(timeout), received: \(text)") }
        return try ParsedResponse.all(in: text)
    }

    /// Waits until `count` whole responses have arrived, leaving the connection open.
    func responses(_ count: Int, within timeout: Duration = .seconds(5)) async throws -> [ParsedResponse] {
        guard await eventually(within: timeout, { (try? ParsedResponse.all(in: $0.text).count) ?? 0 >= count }) else {
            throw RawHTTPError.timedOut
        }
        return try ParsedResponse.all(in: text)
    }
}

/// One response with a Content-Length body, as the gateway writes them.
struct ParsedResponse: Sendable {
    let status: Int
    let headers: [(name: String, value: String)]
    let body: String

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body parsed as JSON.
    func json() throws -> JSONValue { try JSONParser.parse(Array(body.utf8)) }

    /// Every complete response in `text`, in order.
    static func all(in text: String) throws -> [ParsedResponse] {
        var rest = Substring(text)
        var responses: [ParsedResponse] = []
        while let split = rest.range(of: "\r\n\r\n") {
            let lines = rest[..<split.lowerBound].components(separatedBy: "\r\n")
            let statusParts = lines[0].split(separator: " ")
            guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw RawHTTPError.malformed(String(rest)) }
            let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
            let bodyStart = split.upperBound
            guard rest.utf8.distance(from: bodyStart, to: rest.endIndex) >= length else { break }
            let bodyEnd = rest.utf8.index(bodyStart, offsetBy: length)
            responses.append(ParsedResponse(status: status, headers: headers, body: String(rest[bodyStart..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return responses
    }
}

private final class ReceivedBox: Sendable {
    struct Received {
        var bytes: [UInt8] = []
        var isClosed = false
    }

    let state = Mutex(Received())
}

private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let box: ReceivedBox

    init(box: ReceivedBox) {
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        box.state.withLock { $0.bytes += buffer.readableBytesView }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { closed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        closed()
        context.close(promise: nil)
    }

    private func closed() {
        box.state.withLock { $0.isClosed = true }
    }
}
