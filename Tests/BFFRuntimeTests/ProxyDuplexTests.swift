import AsyncHTTPClient
import BFFRuntime
import NIOCore
import NIOHTTP1
import Testing

/// The proxy reads the response while it uploads the request, so upstreams that answer early or
/// echo as they read never deadlock against its backpressure.
@Suite(.timeLimit(.minutes(1))) struct ProxyDuplexTests {
    private func spec(port: Int) -> String {
        """
        name: duplex
        services:
          duplex: { url: "http://127.0.0.1:\(port)", timeout: 5s }
        endpoints:
          - route: "* /up/{rest*}"
            proxy: { service: duplex, path: "/{rest}" }
        """
    }

    @Test("a 32 MiB body echoed by an upstream that stops reading when it cannot write comes back whole")
    func echoWhileReading() async throws {
        let upstream = try await DuplexUpstream.start()
        try await withGateway(spec(port: upstream.port)) { gateway in
            let size = 32 << 20
            var request = HTTPClientRequest(url: gateway.baseURL + "/up/echo")
            request.method = .POST
            request.body = .stream(ZeroBody(total: size), length: .known(Int64(size)))
            let response = try await gateway.client.execute(request, timeout: .seconds(30))
            #expect(response.status == .ok)
            var received = 0
            for try await chunk in response.body { received += chunk.readableBytes }
            #expect(received == size)
        }
        try await upstream.shutdown()
    }

    @Test("an upstream that answers 413 before reading the body gets its answer through, not a hang or 502")
    func earlyAnswer() async throws {
        let upstream = try await DuplexUpstream.start()
        try await withGateway(spec(port: upstream.port)) { gateway in
            let size = 32 << 20
            var request = HTTPClientRequest(url: gateway.baseURL + "/up/reject")
            request.method = .POST
            request.body = .stream(ZeroBody(total: size), length: .known(Int64(size)))
            let response = try await gateway.client.execute(request, timeout: .seconds(30))
            #expect(response.status == .payloadTooLarge)
            let body = try await response.body.collect(upTo: 1024)
            #expect(String(buffer: body) == #"{"error":"too large"}"#)
            let health = try await gateway.get("/health")
            #expect(health.status == 200)
        }
        try await upstream.shutdown()
    }
}
