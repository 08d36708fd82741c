import AsyncHTTPClient
import BFFRuntime
import BFFSpec
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Testing

/// A response read whole by the test client.
struct TestResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func header(_ name: String) -> String? { headers.first(name: name) }

    /// The body parsed as JSON.
    func json() throws -> JSONValue { try JSONParser.parse(body) }
}

/// A running ``BFFServer`` on 127.0.0.1 with an ephemeral port, plus a client to call it.
struct TestGateway: Sendable {
    let port: Int
    /// The admin listener's port, when the gateway was started with one.
    let adminPort: Int?
    let client: HTTPClient
    let services: ServiceGroup
    let server: BFFServer

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Reads an admin listener path (`/metrics`), or posts to one (`/admin/cache/purge?prefix=...`).
    func admin(_ path: String, method: HTTPMethod = .GET) async throws -> TestResponse {
        guard let adminPort else { throw GatewayError.noAdminListener }
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(adminPort)" + path)
        request.method = method
        let response = try await client.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
    }

    /// Sends a request and reads the whole answer; every call is bounded by `timeout`.
    func request(
        _ method: HTTPMethod = .GET,
        _ path: String,
        headers: [(String, String)] = [],
        body: String? = nil,
        timeout: TimeAmount = .seconds(10)
    ) async throws -> TestResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: Array(body.readableBytesView))
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await request(.GET, path, headers: headers)
    }

    /// Starts the drain, as SIGTERM would.
    func triggerGracefulShutdown() async {
        await services.triggerGracefulShutdown()
    }
}

enum GatewayError: Error {
    case didNotStart
    case noAdminListener
}

/// A logger that keeps test output quiet unless something is really wrong.
let quietLogger: Logger = {
    var logger = Logger(label: "bff-tests")
    logger.logLevel = .critical
    return logger
}()

/// Loads `yaml`, serves it on 127.0.0.1 port 0 inside a service group, runs `body` against it, then
/// drains gracefully and stops every event loop, whether `body` succeeded or threw.
func withGateway<T: Sendable>(
    _ yaml: String,
    swiftEndpoints: [SwiftEndpoint] = [],
    accessLog: LogLineSink? = nil,
    adminListener: Bool = false,
    fastAggregations: Bool = true,
    specFile: String? = nil,
    watchInterval: Duration? = nil,
    drainTimeout: Duration = .seconds(5),
    logger: Logger = quietLogger,
    _ body: @Sendable (TestGateway) async throws -> T
) async throws -> T {
    // With `specFile`, the spec is written there and loaded from it, so reloads read that file.
    if let specFile { try yaml.write(toFile: specFile, atomically: true, encoding: .utf8) }
    let spec = try specFile.map { try SpecLoader.load(file: $0) } ?? SpecLoader.load(yaml: yaml, file: "test.yaml")
    let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
    let (adminPorts, adminContinuation) = AsyncStream.makeStream(of: Int.self)
    if !adminListener { adminContinuation.finish() }
    let server = try await BFFServer(
        spec: spec,
        swiftEndpoints: swiftEndpoints,
        options: ServerOptions(
            listen: HostPort(host: "127.0.0.1", port: 0),
            threads: 1,
            drainTimeout: drainTimeout,
            accessLog: accessLog,
            adminListen: adminListener ? HostPort(host: "127.0.0.1", port: 0) : nil,
            fastAggregations: fastAggregations,
            watchInterval: watchInterval
        ),
        logger: logger,
        onListening: { port in
            portContinuation.yield(port)
            portContinuation.finish()
        },
        onAdminListening: { port in
            adminContinuation.yield(port)
            adminContinuation.finish()
        }
    )
    var configuration = ServiceGroupConfiguration(services: [.init(service: server)], logger: quietLogger)
    configuration.maximumGracefulShutdownDuration = .seconds(5)
    let services = ServiceGroup(configuration: configuration)
    let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    var clientConfiguration = HTTPClient.Configuration()
    clientConfiguration.timeout = .init(connect: .seconds(2), read: .seconds(30))
    let client = HTTPClient(eventLoopGroupProvider: .shared(clientGroup), configuration: clientConfiguration)

    let outcome: Result<T, any Error> = await withTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            defer {
                portContinuation.finish()
                adminContinuation.finish()
            }
            try? await services.run()
        }
        var iterator = ports.makeAsyncIterator()
        var adminIterator = adminPorts.makeAsyncIterator()
        guard let port = await iterator.next() else {
            await services.triggerGracefulShutdown()
            return .failure(GatewayError.didNotStart)
        }
        let adminPort = await adminIterator.next()
        if adminListener && adminPort == nil {
            await services.triggerGracefulShutdown()
            return .failure(GatewayError.didNotStart)
        }
        let result: Result<T, any Error>
        do {
            result = .success(try await body(TestGateway(port: port, adminPort: adminPort, client: client, services: services, server: server)))
        } catch {
            result = .failure(error)
        }
        await services.triggerGracefulShutdown()
        await tasks.waitForAll()
        return result
    }
    try await client.shutdown()
    try await clientGroup.shutdownGracefully()
    try await server.shutdownEventLoops()
    return try outcome.get()
}

/// Starts `count` stubs, runs `body`, and shuts them down afterwards.
func withStubs<T: Sendable>(_ count: Int = 1, _ body: @Sendable ([StubUpstream]) async throws -> T) async throws -> T {
    var stubs: [StubUpstream] = []
    for _ in 0..<count { stubs.append(try await StubUpstream.start()) }
    let result: Result<T, any Error>
    do {
        result = .success(try await body(stubs))
    } catch {
        result = .failure(error)
    }
    for stub in stubs { try await stub.shutdown() }
    return try result.get()
}

/// Milliseconds between two instants of the monotonic clock.
func milliseconds(from start: NIODeadline, to end: NIODeadline) -> Double {
    Double((end - start).nanoseconds) / 1e6
}
