import AsyncHTTPClient
import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// Proxy routes: what is forwarded, what is stripped, and large bodies streamed both ways.
@Suite("Proxy", .timeLimit(.minutes(2)))
struct ProxyTests {
    static let endpoints = """
        - route: GET /api/users/{rest*}
          proxy: { service: svc, path: "/users/{rest}" }
        - route: "* /echo/{rest*}"
          timeout: 30s
          proxy: { service: svc, path: "/echo/{rest}", timeout: 30s }
        """

    @Test("forwards path and query, strips hop-by-hop headers, adds X-Forwarded-For and the request id")
    func forwardsAndStripsHeaders() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/*", body: #"{"id":42}"#)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                let response = try await RawHTTP.send(
                    "GET /api/users/42/orders?limit=5&q=a%20b HTTP/1.1\r\n"
                        + "Host: gateway.example\r\n"
                        + "Connection: x-secret, close\r\n"
                        + "X-Secret: 1\r\n"
                        + "Keep-Alive: timeout=5\r\n"
                        + "X-Request-ID: req-abc-123\r\n"
                        + "Accept: application/json\r\n\r\n",
                    port: gateway.port
                )
                #expect(response.status == 200)
                #expect(response.body == #"{"id":42}"#)
                #expect(response.header("X-Request-ID") == "req-abc-123")

                let seen = try #require(stub.requests.first)
                #expect(stub.requests.count == 1)
                #expect(seen.method == .GET)
                #expect(seen.uri == "/users/42/orders?limit=5&q=a%20b")
                #expect(!seen.headers.contains(name: "x-secret"))
                #expect(!seen.headers.contains(name: "keep-alive"))
                #expect(!seen.headers[canonicalForm: "connection"].contains { $0.lowercased() == "x-secret" })
                #expect(seen.headers["x-forwarded-for"] == ["127.0.0.1"])
                #expect(seen.headers["x-request-id"] == ["req-abc-123"])
                #expect(seen.headers["host"] == ["127.0.0.1:\(stub.port)"])
                #expect(seen.headers["accept"] == ["application/json"])
            }
        }
    }

    @Test("an upstream 404 passes through unchanged, and a generated request id is echoed")
    func upstreamErrorsPassThrough() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/missing", .notFound, body: #"{"error":"no such user"}"#)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                let response = try await gateway.get("/api/users/missing")
                #expect(response.status == 404)
                #expect(response.text == #"{"error":"no such user"}"#)
                #expect(response.header("Content-Type") == "application/json")
                let requestID = try #require(response.header("X-Request-ID"))
                #expect(!requestID.isEmpty)
                #expect(stub.requests.first?.headers["x-request-id"] == [requestID])
            }
        }
    }

    @Test("proxied POSTs with bodies on kept-alive client connections, some answered 500, never lose a connection (no 'I/O on closed channel')")
    func postsKeepClientConnections() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            let count = Mutex(0)
            // The stub answers once the Content-Length is in, often before the gateway has read the
            // end of the client's body: the upload must then end without cancelling that read.
            stub.on("/orders") { _ in
                count.withLock { $0 += 1; return $0 } % 7 == 1 ? StubResponse(.internalServerError, #"{"error":1}"#) : StubResponse(.ok, #"{"ok":true}"#)
            }
            let endpoints = """
                - route: POST /orders
                  proxy: { service: svc, path: /orders }
                """
            try await withGateway(spec(service: stub, endpoints: endpoints)) { gateway in
                let body = String(repeating: "o", count: 64 * 1024)
                // Eight clients in a row each, so every request after a client's first reuses its connection.
                let failures = await withTaskGroup(of: [String].self) { group in
                    for _ in 0..<8 {
                        group.addTask {
                            var failures: [String] = []
                            for _ in 0..<40 {
                                do {
                                    let answer = try await gateway.request(.POST, "/orders", headers: [("Content-Type", "text/plain")], body: body)
                                    if ![200, 500].contains(answer.status) { failures.append("status \(answer.status)") }
                                } catch {
                                    failures.append("\(error)")
                                }
                            }
                            return failures
                        }
                    }
                    return await group.reduce(into: []) { $0 += $1 }
                }
                #expect(failures.isEmpty, "\(failures.count) requests failed: \(Set(failures))")
                #expect(stub.requests(to: "/orders").count == 320)
            }
        }
    }

    @Test("a 64 MiB upload streams through the proxy and back, byte for byte")
    func streamsLargeBodiesBothWays() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                try await withTimeLimit(.seconds(90)) {
                    let body = PatternBody(totalBytes: 64 << 20)
                    var request = HTTPClientRequest(url: gateway.baseURL + "/echo/blob?tag=big")
                    request.method = .POST
                    request.headers.add(name: "content-type", value: "application/octet-stream")
                    request.body = .stream(body, length: .known(Int64(body.totalBytes)))
                    let response = try await gateway.client.execute(request, timeout: .seconds(90))
                    try await Self.expectEchoed(body, in: response)
                    let seen = try #require(stub.requests.first)
                    #expect(seen.method == .POST)
                    #expect(seen.uri == "/echo/blob?tag=big")
                    #expect(seen.headers["content-length"] == [String(body.totalBytes)])
                }
            }
        }
    }
}

extension ProxyTests {
    /// Checks that `response` is a 200 whose body is `body`, byte for byte.
    static func expectEchoed(_ body: PatternBody, in response: HTTPClientResponse) async throws {
        #expect(response.status == .ok)
        var verifier = PatternVerifier(pattern: body.pattern)
        for try await chunk in response.body {
            verifier.check(chunk)
        }
        #expect(verifier.received == body.totalBytes)
        #expect(verifier.mismatches == 0, "the echoed bytes differ from those sent")
    }

    @Test("an upload of unknown length goes to the service in chunks and comes back byte for byte")
    func streamsChunkedUploads() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                try await withTimeLimit(.seconds(60)) {
                    let body = PatternBody(totalBytes: 4 << 20)
                    var request = HTTPClientRequest(url: gateway.baseURL + "/echo/chunked")
                    request.method = .PUT
                    request.body = .stream(body, length: .unknown)
                    let response = try await gateway.client.execute(request, timeout: .seconds(60))
                    try await Self.expectEchoed(body, in: response)
                    let seen = try #require(stub.requests.first)
                    #expect(seen.method == .PUT)
                    #expect(seen.headers["transfer-encoding"] == ["chunked"])
                    #expect(seen.headers["content-length"].isEmpty)
                }
            }
        }
    }
}

/// A deterministic, non-repeating-per-chunk byte stream: the pattern is a prime length (65521), the
/// chunks 64 KiB, so a lost, duplicated or reordered chunk shows up as a mismatch.
struct PatternBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    static let period = 65_521
    static let chunkSize = 65_536

    let totalBytes: Int
    /// The pattern written twice, so any window of up to one period is a contiguous slice.
    let pattern: ByteBuffer

    init(totalBytes: Int) {
        self.totalBytes = totalBytes
        var state: UInt32 = 0x1234_5678
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.period * 2)
        for _ in 0..<Self.period {
            state = state &* 1_664_525 &+ 1_013_904_223
            bytes.append(UInt8(truncatingIfNeeded: state >> 24))
        }
        bytes += bytes
        pattern = ByteBuffer(bytes: bytes)
    }

    struct AsyncIterator: AsyncIteratorProtocol {
        let body: PatternBody
        var offset = 0

        mutating func next() async -> ByteBuffer? {
            guard offset < body.totalBytes else { return nil }
            let length = Swift.min(PatternBody.chunkSize, body.totalBytes - offset)
            var chunk = ByteBuffer()
            chunk.reserveCapacity(length)
            var written = 0
            while written < length {
                let start = (offset + written) % PatternBody.period
                let count = Swift.min(length - written, PatternBody.period)
                chunk.writeImmutableBuffer(body.pattern.getSlice(at: start, length: count)!)
                written += count
            }
            offset += length
            return chunk
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(body: self) }
}

/// Checks received bytes against ``PatternBody``'s pattern by position, with `memcmp` per window.
struct PatternVerifier {
    let pattern: ByteBuffer
    private(set) var received = 0
    private(set) var mismatches = 0

    init(pattern: ByteBuffer) {
        self.pattern = pattern
    }

    mutating func check(_ chunk: ByteBuffer) {
        var chunk = chunk
        while chunk.readableBytes > 0 {
            let start = received % PatternBody.period
            let count = Swift.min(chunk.readableBytes, PatternBody.period)
            let expected = pattern.getSlice(at: start, length: count)!
            let actual = chunk.readSlice(length: count)!
            let equal = expected.withUnsafeReadableBytes { e in
                actual.withUnsafeReadableBytes { a in memcmp(e.baseAddress!, a.baseAddress!, count) == 0 }
            }
            if !equal { mismatches += 1 }
            received += count
        }
    }
}
