import AsyncHTTPClient
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

/// The shipped binaries, run as a user would run them.
// Three minutes: the schemathesis runs of `bff demo` run at a low priority and take a minute each
// on a machine busy with a build.
@Suite(.timeLimit(.minutes(3))) struct ExecutableTests {
    /// Built next to the test bundle by `swift test`.
    static func binary(_ name: String) throws -> URL {
        let url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ExecutableMissing(path: url.path)
        }
        return url
    }

    struct ExecutableMissing: Error, CustomStringConvertible {
        let path: String
        var description: String { "\(path) was not built; run the tests with `swift test`" }
    }

    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// Runs `executable` to completion and returns its exit status and both outputs.
    ///
    /// The child is reaped and its output read on threads of their own (see ``ChildProcess``), never
    /// on one of the few threads every test's tasks share: a test waiting for a process must not
    /// stall the others' timers and watchers.
    /// - Parameter environment: the whole environment of the process; nil inherits this one.
    static func run(_ executable: URL, _ arguments: [String], environment: [String: String]? = nil) async throws -> (status: Int32, output: String, errors: String) {
        let child = try ChildProcess(
            executable: executable.path,
            arguments: arguments,
            environment: environment.map { .exactly($0) } ?? .inherited(adding: [:]),
            workingDirectory: repositoryRoot.path,
            standardOutput: .captured,
            standardError: .captured
        )
        let termination = await child.exit()
        return (termination.status, child.output, child.errors)
    }

    @Test("bff validate accepts the four shipped specs")
    func validateShippedSpecs() async throws {
        let specs = ["mobile", "web", "partner", "admin"].map { "bff-specs/\($0).yaml" }
        let result = try await Self.run(Self.binary("bff"), ["validate"] + specs)
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.split(separator: "\n").filter { $0.contains(": ok (") }.count == 4)
    }

    @Test("each BFF's --help and flag errors name the executable, and a bad flag exits 64")
    func helpNamesTheExecutable() async throws {
        for client in ["mobile", "web", "partner", "admin"] {
            let help = try await Self.run(Self.binary("\(client)-bff"), ["--help"])
            #expect(help.status == 0, "\(help.errors)")
            #expect(help.output.contains("USAGE: \(client)-bff "), "\(help.output)")
            #expect(help.output.contains("--admin-listen"))
            let bad = try await Self.run(Self.binary("\(client)-bff"), ["--no-such-flag"])
            #expect(bad.status == 64)
            #expect(bad.errors.contains("Usage: \(client)-bff "), "\(bad.errors)")
        }
    }

    @Test("bff validate prints every problem with file:line and exits 1")
    func validateReportsProblems() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).yaml").path
        try """
        name: broken
        services:
          users: { url: http://127.0.0.1:9001, timout: 1s }
        endpoints:
          - route: GET /a/{id}
            calls:
              a: { service: users, path: "/a/{b.x}" }
              b: { service: users, path: "/b/{a.y}" }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await Self.run(Self.binary("bff"), ["validate", file])
        #expect(result.status == 1)
        #expect(result.errors.contains("\(file):3:"))
        #expect(result.errors.contains("did you mean 'timeout'?"))
        #expect(result.errors.contains("\(file):7:"))
        #expect(result.errors.contains("cycle"))
    }

    @Test("bff routes lists aggregations with their dependencies and the Swift endpoints")
    func routes() async throws {
        let result = try await Self.run(Self.binary("bff"), ["routes", "bff-specs/web.yaml"])
        #expect(result.status == 0, "\(result.errors)")
        #expect(result.output.contains("GET /dashboard/{userId}"))
        #expect(result.output.contains("after user"))
        #expect(result.output.contains("GET /products/{id}/summary  Swift"))
    }

    @Test("a BFF process finishes the request in flight on SIGTERM, then exits 0")
    func drainsOnSigterm() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/slow", body: #"{"done":true}"#, delay: .milliseconds(600))
            let spec = """
                name: mobile
                services:
                  users: { url: "http://127.0.0.1:\(stub.port)" }
                  orders: { url: "http://127.0.0.1:\(stub.port)" }
                  notifications: { url: "http://127.0.0.1:\(stub.port)" }
                auth:
                  jwt:
                    keys: [{ alg: HS256, secret_env: BFF_JWT_SECRET }]
                endpoints:
                  - route: GET /slow
                    auth: none
                    calls:
                      slow: { service: users, path: /slow, timeout: 2s, required: true }
                """
            try await Self.withBFF("mobile-bff", spec: spec, arguments: ["--admin-listen", "off"], environment: ["BFF_JWT_SECRET": TestTokens.secret]) { bff in
                let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
                defer { _ = client.shutdown() }
                async let inFlight = client.execute(HTTPClientRequest(url: bff.base + "/slow"), timeout: .seconds(5))
                let reached = await stub.eventually(within: .seconds(5)) { $0.requests(to: "/slow").count == 1 }
                #expect(reached, "the request had not reached the service before SIGTERM")
                bff.terminate()
                let response = try await inFlight
                #expect(response.status == .ok)
                let body = try await response.body.collect(upTo: 4096)
                #expect(String(buffer: body).hasPrefix(#"{"slow":{"done":true}"#))
                let status = try await bff.exitStatus(within: .seconds(5))
                #expect(status == 0, "\(bff.errors)")
            }
        }
    }

    @Test("SIGTERM with --pre-drain-seconds: /ready turns 503 at once while new connections are still served, then it exits 0; /metrics is on the admin port")
    func preDrainsOnSigterm() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/fast", body: #"{"done":true}"#)
            let adminPort = try Self.freePort()
            let spec = """
                name: partner
                services:
                  products: { url: "http://127.0.0.1:\(stub.port)" }
                  inventory: { url: "http://127.0.0.1:\(stub.port)" }
                auth:
                  api_keys: { env: BFF_PARTNER_KEYS }
                endpoints:
                  - route: GET /fast
                    auth: none
                    calls:
                      fast: { service: products, path: /fast, required: true }
                """
            let arguments = ["--admin-listen", "127.0.0.1:\(adminPort)", "--pre-drain-seconds", "3"]
            try await Self.withBFF("partner-bff", spec: spec, arguments: arguments) { bff in
                #expect(await Self.status(bff.base + "/fast") == 200)
                let metrics = try await Self.body("http://127.0.0.1:\(adminPort)/metrics")
                #expect(PrometheusText.value(metrics, "bff_http_requests_total", ["route": "/fast", "status": "200"]) == 1)

                bff.terminate()
                let notReady = await eventually(within: .seconds(2)) { await Self.status(bff.base + "/ready") == 503 }
                #expect(notReady, "/ready must answer 503 as soon as SIGTERM arrives")
                #expect(await Self.status("http://127.0.0.1:\(adminPort)/ready") == 503)
                #expect(await Self.status(bff.base + "/fast") == 200, "a new connection during the pre-drain is still served")
                #expect(bff.process.isRunning)
                let status = try await bff.exitStatus(within: .seconds(10))
                #expect(status == 0, "\(bff.errors)")
            }
        }
    }

    /// A BFF executable started by a test, on a free port of its own.
    struct RunningBFF {
        let process: ChildProcess
        /// `http://127.0.0.1:PORT` of its public listener.
        let base: String
        /// The file its standard error goes to.
        let errorsFile: String

        /// What it has written to standard error so far, for a failed expectation's message.
        var errors: String { (try? String(contentsOfFile: errorsFile, encoding: .utf8)) ?? "" }

        func terminate() { process.send(SIGTERM) }
        func kill() { process.kill() }

        /// Its exit status once it has exited; nil when it is still running after `timeout`.
        func exitStatus(within timeout: Duration) async throws -> Int32? {
            let exited = await eventually(within: timeout) { !process.isRunning }
            return exited ? process.termination?.status : nil
        }
    }

    /// Runs `executable` with `spec` (written to a temporary file) on a free port, waits for its
    /// /health, hands it to `body`, and kills it afterwards if `body` left it running.
    static func withBFF(
        _ executable: String,
        subcommand: [String] = [],
        spec: String,
        arguments: [String],
        environment: [String: String] = [:],
        _ body: (RunningBFF) async throws -> Void
    ) async throws {
        let port = try freePort()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(executable)-\(UUID().uuidString).yaml").path
        try spec.write(toFile: file, atomically: true, encoding: .utf8)
        let errorsFile = file + ".stderr"
        defer { try? FileManager.default.removeItem(atPath: file) }
        defer { try? FileManager.default.removeItem(atPath: errorsFile) }

        let process = try ChildProcess(
            executable: binary(executable).path,
            arguments: subcommand + ["--spec", file, "--listen", "127.0.0.1:\(port)", "--no-access-log"] + arguments,
            environment: .inherited(adding: environment),
            standardOutput: .discarded,
            standardError: .file(errorsFile)
        )
        let bff = RunningBFF(process: process, base: "http://127.0.0.1:\(port)", errorsFile: errorsFile)
        defer { bff.kill() }
        let started = await eventually(within: .seconds(10)) { await status(bff.base + "/health") == 200 }
        try #require(started, "\(executable) did not start: \(bff.errors)")
        try await body(bff)
    }

    /// The status of a GET on a new connection; nil when nothing answered.
    static func status(_ url: String) async -> Int? {
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        defer { _ = client.shutdown() }
        return (try? await client.execute(HTTPClientRequest(url: url), timeout: .seconds(1))).map { Int($0.status.code) }
    }

    /// The body of a GET, as text.
    static func body(_ url: String) async throws -> String {
        let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        defer { _ = client.shutdown() }
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(2))
        return String(buffer: try await response.body.collect(upTo: 1 << 20))
    }

    /// A port nothing listens on right now.
    static func freePort() throws -> Int {
        let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
        let port = channel.localAddress?.port ?? 0
        try channel.close().wait()
        return port
    }
}
