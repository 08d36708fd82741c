import AsyncHTTPClient
import BFFRuntime
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Proxied bodies stream: memory stays flat however large they are.
///
/// The gateway runs as a process of its own (`admin-bff`), so that its resident memory is measured
/// alone, whatever the other suites running beside this one allocate in the test process.
@Suite(.serialized) struct ProxyMemoryTests {
    static let size = 1 << 30
    /// Growth allowed for the gateway process.
    static let allowedGrowth = 96 << 20

    /// Starts `admin-bff` proxying `/files/...` to `upstream`, runs `body` with its port and process.
    static func withGatewayProcess(upstream: BulkUpstream, _ body: (Int, ChildProcess) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let spec = folder.appendingPathComponent("admin.yaml")
        // admin-bff's Swift /overview reads users and orders with a JWT; the measured route is public.
        try """
        name: admin
        limits: { proxy_body: 2GiB }
        auth:
          jwt: { keys: [{ kid: k, alg: HS256, secret_env: BFF_JWT_SECRET }] }
        services:
          upstream: { url: "http://127.0.0.1:\(upstream.port)", timeout: 5s }
          users: { url: "http://127.0.0.1:\(upstream.port)" }
          orders: { url: "http://127.0.0.1:\(upstream.port)" }
        endpoints:
          - route: "* /files/{rest*}"
            auth: none
            proxy: { service: upstream, path: "/bulk/{rest}" }
        """.write(to: spec, atomically: true, encoding: .utf8)
        let port = try ExecutableTests.freePort()
        let gateway = try ChildProcess(
            executable: try ExecutableTests.binary("admin-bff").path,
            arguments: ["--spec", spec.path, "--listen", "127.0.0.1:\(port)", "--admin-listen", "off", "--threads", "1", "--no-access-log"],
            environment: .inherited(adding: ["BFF_JWT_SECRET": "proxy-memory-test-secret-0123456789abcdef"]),
            standardOutput: .discarded, standardError: .file(folder.appendingPathComponent("admin.err").path)
        )
        defer { _ = gateway.kill() }
        let up = await eventually(within: .seconds(10)) { (try? await ExecutableTests.body("http://127.0.0.1:\(port)/health")) != nil }
        try #require(up, "admin-bff did not start: \((try? String(contentsOf: folder.appendingPathComponent("admin.err"), encoding: .utf8)) ?? "")")
        try await body(port, gateway)
    }

    @Test("a 1 GiB download through the proxy keeps the gateway's memory flat")
    func download() async throws {
        let upstream = try await BulkUpstream.start()
        try await Self.withGatewayProcess(upstream: upstream) { port, gateway in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let before = residentBytes(of: gateway.pid)
            let response = try await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/files/\(Self.size)"), timeout: .seconds(120))
            #expect(response.status == .ok)
            var received = 0
            var peak = before
            for try await chunk in response.body {
                received += chunk.readableBytes
                if received % (32 << 20) < chunk.readableBytes { peak = max(peak, residentBytes(of: gateway.pid)) }
            }
            try await client.shutdown()
            #expect(received == Self.size)
            #expect(peak - before < Self.allowedGrowth, "the gateway's resident memory grew by \((peak - before) >> 20) MiB")
            print("gateway rss growth MiB:", (peak - before) >> 20, "baseline MiB:", before >> 20)
        }
        try await upstream.shutdown()
    }

    @Test("a 1 GiB upload through the proxy keeps the gateway's memory flat")
    func upload() async throws {
        let upstream = try await BulkUpstream.start()
        try await Self.withGatewayProcess(upstream: upstream) { port, gateway in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let before = residentBytes(of: gateway.pid)
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/files/upload")
            request.method = .POST
            request.body = .stream(ZeroBody(total: Self.size), length: .known(Int64(Self.size)))
            let response = try await client.execute(request, timeout: .seconds(120))
            let answer = try await response.body.collect(upTo: 1024)
            let peak = residentBytes(of: gateway.pid)
            try await client.shutdown()
            #expect(response.status == .ok)
            #expect(String(buffer: answer) == "{\"received\":\(Self.size)}")
            #expect(upstream.bytesReceived == Self.size)
            #expect(peak - before < Self.allowedGrowth, "the gateway's resident memory grew by \((peak - before) >> 20) MiB")
            print("gateway rss growth MiB:", (peak - before) >> 20, "baseline MiB:", before >> 20)
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

/// A process's resident set size (this one's by default), from /proc/PID/statm.
func residentBytes(of pid: pid_t? = nil) -> Int {
    guard let statm = try? String(contentsOfFile: "/proc/\(pid.map(String.init) ?? "self")/statm", encoding: .utf8) else { return 0 }
    let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
