import BFFSpec
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

@testable import BFFRuntime

/// Buffered calls over real sockets, against a stub that writes exact bytes in separate reads and
/// never closes a connection unless told to: which connection each call went on shows when the
/// gateway kept one and when it dropped it.
@Suite("Upstream: buffered calls on the gateway's own codec", .timeLimit(.minutes(1)))
struct BufferedTransportTests {
    static func service(_ stub: ScriptedUpstream, maxBodyBytes: Int = 1 << 20) -> ServiceEndpoint {
        ServiceEndpoint(
            ServiceSpec(name: "svc", url: UpstreamURL(stub.url)!, maxBodyBytes: maxBodyBytes, location: SourceLocation(file: "test.yaml", line: 1))
        )
    }

    /// Runs `body` with a transport of its own, shut down afterwards.
    static func withTransport<T: Sendable>(_ body: @Sendable (UpstreamTransport, any EventLoop) async throws -> T) async throws -> T {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let transport = try UpstreamTransport(group: group)
        let result: Result<T, any Error>
        do {
            result = .success(try await body(transport, group.next()))
        } catch {
            result = .failure(error)
        }
        await transport.shutdown()
        try await group.shutdownGracefully()
        return try result.get()
    }

    static func get(_ target: String, _ transport: UpstreamTransport, _ service: ServiceEndpoint, method: HTTPMethod = .GET) async throws -> UpstreamResponse {
        try await transport.send(UpstreamRequest(method: method, target: target), to: service, deadline: .now() + .seconds(3), on: nil)
    }

    static let ok = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")

    @Test("a chunked answer whose head and chunk-size lines are split over reads is read whole, and its connection carries the next call")
    func chunkedAcrossReads() async throws {
        let answer = ScriptedUpstream.Answer(
            "HTTP/1.1 200 OK\r\nTransfer-", "Encoding: chunked\r\nX-Served-By: stub\r\n\r\n5\r", "\nhel", "lo\r\n1", "\r\n!\r\n0\r\n", "\r\n"
        )
        try await ScriptedUpstream.with({ _, _ in answer }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                for _ in 0..<2 {
                    let response = try await Self.get("/chunked", transport, service)
                    #expect(String(buffer: response.body) == "hello!")
                    #expect(response.headers.first(name: "x-served-by") == "stub")
                }
                #expect(stub.requests.map(\.connection) == [0, 0])
                #expect(stub.requests.first?.head.hasPrefix("GET /chunked HTTP/1.1\r\nhost: 127.0.0.1:\(stub.port)\r\n") == true)
            }
        }
    }

    @Test("a call started from the completion of the one before it (a dependent call) reuses that call's connection")
    func reuseFromCompletion() async throws {
        try await ScriptedUpstream.with({ _, _ in Self.ok }) { stub in
            try await Self.withTransport { transport, loop async throws in
                let service = Self.service(stub)
                let second: Result<UpstreamResponse, UpstreamError> = await withUnsafeContinuation { continuation in
                    loop.execute {
                        transport.start(UpstreamRequest(target: "/a"), to: service, deadline: .now() + .seconds(3), on: loop) { first in
                            guard case .success = first else { return continuation.resume(returning: first) }
                            transport.start(UpstreamRequest(target: "/b"), to: service, deadline: .now() + .seconds(3), on: loop) {
                                continuation.resume(returning: $0)
                            }
                        }
                    }
                }
                #expect(try String(buffer: second.get().body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 0])
            }
        }
    }

    @Test("an answer with Connection: close is not reused: the next call opens a new connection, and the tally counts the close")
    func connectionClose() async throws {
        let close = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
        try await ScriptedUpstream.with({ index, _ in index == 0 ? close : Self.ok }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                #expect(try await String(buffer: Self.get("/a", transport, service).body) == "ok")
                #expect(try await String(buffer: Self.get("/b", transport, service).body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 1])
                #expect(await eventually(within: .seconds(2)) { transport.connections.count == 1 }, "the closed connection left the tally")
            }
        }
    }

    @Test("a request that says Connection: close does not leave its connection for the next call")
    func requestConnectionClose() async throws {
        try await ScriptedUpstream.with({ _, _ in Self.ok }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                let closing = UpstreamRequest(target: "/a", headers: ["connection": "close"])
                #expect(try await String(buffer: transport.send(closing, to: service, deadline: .now() + .seconds(3), on: nil).body) == "fresh")
                #expect(try await String(buffer: Self.get("/b", transport, service).body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 1])
            }
        }
    }

    @Test("an HTTP/1.0 answer is reused only with Connection: keep-alive")
    func http10() async throws {
        let plain = ScriptedUpstream.Answer("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        let kept = ScriptedUpstream.Answer("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
        try await ScriptedUpstream.with({ index, _ in index < 2 ? plain : kept }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                for _ in 0..<4 { #expect(try await String(buffer: Self.get("/a", transport, service).body) == "ok") }
                #expect(stub.requests.map(\.connection) == [0, 1, 2, 2])
            }
        }
    }

    @Test("a body without framing headers is read until the service closes, and the next call opens a new connection")
    func closeDelimited() async throws {
        let untilClose = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ", "the close", closeAfter: true)
        try await ScriptedUpstream.with({ index, _ in index == 0 ? untilClose : Self.ok }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                #expect(try await String(buffer: Self.get("/a", transport, service).body) == "until the close")
                #expect(try await String(buffer: Self.get("/b", transport, service).body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 1])
            }
        }
    }

    @Test("the answer to a HEAD request has no body, whatever its Content-Length, and its connection is reused")
    func head() async throws {
        try await ScriptedUpstream.with({ _, _ in ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n") }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                for _ in 0..<2 { #expect(try await Self.get("/a", transport, service, method: .HEAD).body.readableBytes == 0) }
                #expect(stub.requests.map(\.connection) == [0, 0])
            }
        }
    }

    @Test("bytes after an answer, in its read or arriving while the connection is idle, are never read as the next call's answer")
    func leftoverBytes() async throws {
        let stale = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
        let sameRead = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + stale)
        let later = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", stale, gap: .milliseconds(50))
        try await ScriptedUpstream.with({ index, _ in [sameRead, Self.ok, later, Self.ok][index] }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                #expect(try await String(buffer: Self.get("/a", transport, service).body) == "ok")
                #expect(try await String(buffer: Self.get("/b", transport, service).body) == "fresh")
                #expect(try await String(buffer: Self.get("/c", transport, service).body) == "ok")
                #expect(await eventually(within: .seconds(2)) { transport.connections.count == 0 }, "the stale bytes closed the idle connection")
                #expect(try await String(buffer: Self.get("/d", transport, service).body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 1, 1, 2])
            }
        }
    }

    static let oversized: [(name: String, answer: ScriptedUpstream.Answer)] = [
        ("content-length", ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n")),
        ("chunked", ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n", "1\r\n")),
        ("close-delimited", ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\n\r\n0123456789abcdef", "!")),
    ]

    @Test("a body over max_body fails at once with bodyTooLarge, without waiting for the rest, and its connection is dropped", arguments: 0..<3)
    func bodyTooLarge(framing: Int) async throws {
        let answer = Self.oversized[framing].answer
        try await ScriptedUpstream.with({ index, _ in index == 0 ? answer : Self.ok }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub, maxBodyBytes: 16)
                await #expect(throws: UpstreamError.bodyTooLarge(service: "svc", limit: 16), "\(Self.oversized[framing].name)") {
                    try await Self.get("/big", transport, service)
                }
                #expect(try await String(buffer: Self.get("/b", transport, service).body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 1])
            }
        }
    }

    @Test("a malformed answer fails as malformedResponse and its connection is dropped")
    func malformed() async throws {
        let conflicting = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok")
        try await ScriptedUpstream.with({ index, _ in index == 0 ? conflicting : Self.ok }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                await #expect(throws: UpstreamError.malformedResponse(service: "svc")) { try await Self.get("/a", transport, service) }
                #expect(try await String(buffer: Self.get("/b", transport, service).body) == "fresh")
                #expect(stub.requests.map(\.connection) == [0, 1])
            }
        }
    }

    @Test("a service that closes in the middle of an answer fails the call as connectionClosed")
    func closedMidAnswer() async throws {
        let half = ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", closeAfter: true)
        try await ScriptedUpstream.with({ _, _ in half }) { stub in
            try await Self.withTransport { transport, _ async throws in
                await #expect(throws: UpstreamError.connectionClosed(service: "svc")) { try await Self.get("/a", transport, Self.service(stub)) }
            }
        }
    }

    /// A weak reference that crosses to the event loop and back.
    final class WeakBox: @unchecked Sendable {
        weak var object: AnyObject?
    }

    /// Whether the handler of a connection made by `connect` is freed once its channel has closed.
    static func freedAfterClose<Connection: PooledConnection>(on loop: any EventLoop, _ connect: @escaping @Sendable () -> EventLoopFuture<Connection>) async throws -> Bool {
        let box = WeakBox()
        try await loop.flatSubmit {
            connect().flatMap { handler in
                box.object = handler
                let channel = handler.channel!
                channel.close(promise: nil)
                return channel.closeFuture
            }
        }.get()
        try await loop.submit {}.get()
        return box.object == nil
    }

    @Test("a closed connection's handler (with its context and pipeline) is freed, for both kinds of connection")
    func closedConnectionsAreFreed() async throws {
        try await ScriptedUpstream.with({ _, _ in Self.ok }) { stub in
            try await Self.withTransport { transport, loop async throws in
                let service = Self.service(stub)
                let buffered = try await Self.freedAfterClose(on: loop) { transport.bufferedPool(on: loop).connect(service, connectDeadline: .now() + .seconds(1)) }
                let streaming = try await Self.freedAfterClose(on: loop) { transport.streamingPool(on: loop).connect(service, connectDeadline: .now() + .seconds(1)) }
                #expect(buffered, "a buffered-call connection outlived its channel")
                #expect(streaming, "a proxied-call connection outlived its channel")
            }
        }
    }

    @Test("a complete request body goes out after its head with its content-length")
    func requestBody() async throws {
        try await ScriptedUpstream.with({ _, _ in Self.ok }) { stub in
            try await Self.withTransport { transport, loop async throws in
                let service = Self.service(stub)
                let response: UpstreamResponse = try await withUnsafeThrowingContinuation { continuation in
                    loop.execute {
                        let exchange = BufferedExchange(service: service.name, limit: service.maxBodyBytes) { continuation.resume(with: $0) }
                        let connecting = transport.bufferedPool(on: loop).connect(service, connectDeadline: .now() + .seconds(1))
                        connecting.assumeIsolated().whenComplete { result in
                            switch result {
                            case .success(let connection):
                                exchange.connection = connection
                                connection.start(exchange, request: UpstreamRequest(method: .POST, target: "/upload"), service: service, body: ByteBuffer(string: "hello"))
                            case .failure:
                                exchange.fail(.connectFailed(service: service.name))
                            }
                        }
                    }
                }
                #expect(String(buffer: response.body) == "fresh")
                let request = try #require(stub.requests.first)
                #expect(request.head == "POST /upload HTTP/1.1\r\nhost: 127.0.0.1:\(stub.port)\r\ncontent-length: 5\r\n\r\n")
                #expect(request.body == "hello")
            }
        }
    }

    @Test("buffered and proxied calls to one service keep connections of their own kind, and the tally counts both")
    func kindsApart() async throws {
        try await ScriptedUpstream.with({ _, _ in ScriptedUpstream.Answer("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") }) { stub in
            try await Self.withTransport { transport, _ async throws in
                let service = Self.service(stub)
                for round in 0..<2 {
                    #expect(try await String(buffer: Self.get("/buffered", transport, service).body) == "ok")
                    let streamed = try await transport.stream(
                        head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/streamed"), body: nil as AsyncStream<ByteBuffer>?,
                        to: service, headTimeout: .seconds(3), on: nil
                    )
                    var body = ""
                    for try await part in streamed.body { body += String(buffer: part) }
                    await streamed.discard()
                    #expect(body == "ok", "round \(round)")
                }
                let connectionOf = Dictionary(stub.requests.map { ($0.head.split(separator: " ")[1], $0.connection) }, uniquingKeysWith: { first, later in
                    #expect(first == later, "each kind reuses its own connection")
                    return first
                })
                #expect(connectionOf.count == 2 && connectionOf["/buffered"] != connectionOf["/streamed"])
                #expect(stub.connections == 2)
                #expect(await eventually(within: .seconds(2)) { transport.connections.count == 2 })
                await transport.shutdown()
                #expect(await eventually(within: .seconds(2)) { transport.connections.count == 0 })
            }
        }
    }
}
