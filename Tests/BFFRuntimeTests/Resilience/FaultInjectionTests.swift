import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import BFFRuntime

/// Services that fail halfway through an answer: the head arrives, the body never completes.
@Suite("Resilience: services failing mid-answer", .timeLimit(.minutes(1)))
struct FaultInjectionTests {
    /// Answers every request with a head promising 100 bytes and 10 of them, then either hangs
    /// or closes the connection.
    final class HalfAnswer: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let closeMidBody: Bool
        let requests = Mutex(0)

        init(closeMidBody: Bool) {
            self.closeMidBody = closeMidBody
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            requests.withLock { $0 += 1 }
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-type": "application/json", "content-length": "100"])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: #"{"partial""#)))), promise: nil)
            if closeMidBody { context.close(promise: nil) }
        }
    }

    static func yaml(port: Int, retry: String = "") -> String {
        """
        name: fault-test
        services:
          svc: { url: "http://127.0.0.1:\(port)"\(retry) }
        endpoints:
          - route: GET /optional
            calls:
              x: { service: svc, path: /x, timeout: 300ms, fallback: "none" }
          - route: GET /required
            calls:
              x: { service: svc, path: /x, timeout: 300ms, required: true }
        """
    }

    static func withServer<T: Sendable>(closeMidBody: Bool, _ body: @Sendable (Int, HalfAnswer) async throws -> T) async throws -> T {
        let handler = HalfAnswer(closeMidBody: closeMidBody)
        let server = try await LoopbackServer.start { channel in
            try channel.pipeline.syncOperations.addHandler(handler)
        }
        do {
            let result = try await body(server.port, handler)
            try await server.shutdown()
            return result
        } catch {
            try await server.shutdown()
            throw error
        }
    }

    @Test("a service that sends its head and then hangs is cut off at the call timeout: fallback when optional, 504 when required")
    func hangsAfterHeaders() async throws {
        try await Self.withServer(closeMidBody: false) { port, _ in
            try await withGateway(Self.yaml(port: port)) { gateway in
                let optional = try await gateway.get("/optional")
                #expect(optional.status == 200)
                let json = try optional.json()
                #expect(json["x"] == "none")
                #expect(json.value(at: ["_meta", "calls", "x", "status"]) == "timeout")
                let required = try await gateway.get("/required")
                #expect(required.status == 504)
                #expect(!required.text.contains("partial"), "no half answer leaks")
            }
        }
    }

    @Test("a service that dies mid-body is an error, never a half section; a GET is retried when the service allows it")
    func diesMidBody() async throws {
        try await Self.withServer(closeMidBody: true) { port, handler in
            try await withGateway(Self.yaml(port: port)) { gateway in
                let json = try await gateway.get("/optional").json()
                #expect(json["x"] == "none")
                #expect(json.value(at: ["_meta", "calls", "x", "status"]) == "error")
                #expect(try await gateway.get("/required").status == 502)
            }
            let before = handler.requests.withLock { $0 }
            try await withGateway(Self.yaml(port: port, retry: ", retry: { attempts: 3, backoff: 1ms }")) { gateway in
                let json = try await gateway.get("/optional").json()
                #expect(json.value(at: ["_meta", "calls", "x", "attempts"]) == .number(3))
                #expect(handler.requests.withLock { $0 } == before + 3)
            }
        }
    }
}
