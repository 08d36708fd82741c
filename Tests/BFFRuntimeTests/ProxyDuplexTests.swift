import AsyncHTTPClient
import BFFRuntime
import NIOCore
import NIOHTTP1
import Testing

/// The proxy reads the response while it uploads the request, so upstreams that answer early or
/// echo as they read never deadlock against its backpressure.
@Suite(.timeLimit(.minutes(1))) struct ProxyDuplexTests {
    static let size = 32 << 20

    /// POSTs `size` zero bytes to `path`, streamed, and returns as soon as the response head arrives.
    static func upload(_ size: Int, to path: String, through gateway: TestGateway) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: gateway.baseURL + path)
        request.method = .POST
        request.body = .stream(ZeroBody(total: size), length: .known(Int64(size)))
        return try await gateway.client.execute(request, timeout: .seconds(30))
    }

    @Test("a 32 MiB body echoed by an upstream that stops reading when it cannot write comes back whole")
    func echoWhileReading() async throws {
        let upstream = try await DuplexUpstream.start()
        try await withGateway(proxySpec(port: upstream.port, prefix: "up")) { gateway in
            let response = try await Self.upload(Self.size, to: "/up/echo", through: gateway)
            #expect(response.status == .ok)
            var received = 0
            for try await chunk in response.body { received += chunk.readableBytes }
            #expect(received == Self.size)
        }
        try await upstream.shutdown()
    }

    @Test("an upstream that answers 413 before reading the body gets its answer through, not a hang or 502")
    func earlyAnswer() async throws {
        let upstream = try await DuplexUpstream.start()
        try await withGateway(proxySpec(port: upstream.port, prefix: "up")) { gateway in
            let response = try await Self.upload(Self.size, to: "/up/reject", through: gateway)
            #expect(response.status == .payloadTooLarge)
            let body = try await response.body.collect(upTo: 1024)
            #expect(String(buffer: body) == #"{"error":"too large"}"#)
            let health = try await gateway.get("/health")
            #expect(health.status == 200)
        }
        try await upstream.shutdown()
    }
}
