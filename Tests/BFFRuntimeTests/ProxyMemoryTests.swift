import AsyncHTTPClient
import BFFRuntime
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Proxied bodies stream: memory stays flat however large they are.
@Suite(.serialized) struct ProxyMemoryTests {
    static let size = 1 << 30
    /// Growth allowed for the whole test process (client, gateway and upstream share it).
    static let allowedGrowth = 96 << 20

    @Test("a 1 GiB download through the proxy keeps memory flat")
    func download() async throws {
        let upstream = try await BulkUpstream.start()
        try await withGateway(proxySpec(port: upstream.port, prefix: "files", target: "/bulk/")) { gateway in
            let before = residentBytes()
            let response = try await gateway.client.execute(HTTPClientRequest(url: gateway.baseURL + "/files/\(Self.size)"), timeout: .seconds(120))
            #expect(response.status == .ok)
            var received = 0
            var peak = before
            for try await chunk in response.body {
                received += chunk.readableBytes
                if received % (32 << 20) < chunk.readableBytes { peak = max(peak, residentBytes()) }
            }
            #expect(received == Self.size)
            #expect(peak - before < Self.allowedGrowth, "resident memory grew by \((peak - before) >> 20) MiB")
            print("rss growth MiB:", (peak - before) >> 20, "baseline MiB:", before >> 20)
        }
        try await upstream.shutdown()
    }

    @Test("a 1 GiB upload through the proxy keeps memory flat")
    func upload() async throws {
        let upstream = try await BulkUpstream.start()
        try await withGateway(proxySpec(port: upstream.port, prefix: "files", target: "/bulk/")) { gateway in
            let before = residentBytes()
            var request = HTTPClientRequest(url: gateway.baseURL + "/files/upload")
            request.method = .POST
            request.body = .stream(ZeroBody(total: Self.size), length: .known(Int64(Self.size)))
            let response = try await gateway.client.execute(request, timeout: .seconds(120))
            let answer = try await response.body.collect(upTo: 1024)
            let peak = residentBytes()
            #expect(response.status == .ok)
            #expect(String(buffer: answer) == "{\"received\":\(Self.size)}")
            #expect(upstream.bytesReceived == Self.size)
            #expect(peak - before < Self.allowedGrowth, "resident memory grew by \((peak - before) >> 20) MiB")
            print("rss growth MiB:", (peak - before) >> 20, "baseline MiB:", before >> 20)
        }
        try await upstream.shutdown()
    }
}

/// `total` zero bytes in 64 KiB chunks, made as they are read.
struct ZeroBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let total: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: Int
        mutating func next() async -> ByteBuffer? {
            guard remaining > 0 else { return nil }
            let size = Swift.min(remaining, 64 * 1024)
            remaining -= size
            return ByteBuffer(repeating: 0, count: size)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: total) }
}

/// This process's resident set size, from /proc/self/statm.
func residentBytes() -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
