import AsyncHTTPClient
import BFFRuntime
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Two replicas of the real partner-bff behind a real HAProxy, sharing one real redis-server, on
/// loopback: what deploy/ sets up in a cluster, measured from the client side.
@Suite("Deploy: two replicas behind a balancer share one budget and restart one at a time without a failed request", .serialized, .timeLimit(.minutes(1)))
struct ScaleOutTests {
    @Test("a plan quota of N allows N requests in total across both replicas, not N per replica")
    func sharedBudget() async throws {
        let quota = 300
        let metered = APIKeyLine.generate(client: "metered-partner", plan: "metered")
        try await Self.withReplicas(keys: [metered.line], quota: quota) { setup in
            let tally = try await Self.load(
                total: 2000, concurrency: 8, rate: nil, key: metered.key, url: setup.url, client: setup.client, within: .seconds(30)
            )
            let served = await setup.servedByReplica()
            print("shared budget: quota \(quota) across 2 replicas, sent \(tally.sent), ok \(tally.ok) (a \(served["a"] ?? 0), b \(served["b"] ?? 0)), 429 \(tally.statuses[429] ?? 0), other \(tally.failed - (tally.statuses[429] ?? 0)), lost \(tally.lost)")
            #expect(tally.sent == 2000)
            #expect(tally.ok == quota, "the two replicas let \(tally.ok) requests through on a quota of \(quota)")
            #expect(tally.statuses[429] == 2000 - quota, "everything past the quota should be 429: \(tally.statuses)")
            #expect(tally.lost == 0)
            #expect((served["a"] ?? 0) > 0 && (served["b"] ?? 0) > 0, "both replicas should have served part of the budget: \(served)")
            #expect((served["a"] ?? 0) + (served["b"] ?? 0) == quota)
        }
    }

    @Test("a rolling restart under steady load (SIGTERM, exit 0, start again, then the other replica) loses and fails no request")
    func rollingRestart() async throws {
        let bulk = APIKeyLine.generate(client: "bulk-partner", plan: "bulk")
        let total = 3000
        try await Self.withReplicas(keys: [bulk.line], quota: 1_000_000) { setup in
            let progress = Counter()
            let result = try await withThrowingTaskGroup(of: Phase.self) { group in
                group.addTask {
                    .load(try await Self.load(
                        total: total, concurrency: 4, rate: 250, key: bulk.key, url: setup.url, client: setup.client, within: .seconds(40), progress: progress
                    ))
                }
                group.addTask {
                    var restarts: [Restart] = []
                    for replica in setup.replicas {
                        let after = (restarts.last?.sentWhenBack ?? 0) + 400
                        let reached = await eventually(within: .seconds(20)) { progress.value >= after }
                        guard reached else { break }
                        restarts.append(try await Self.restart(replica, in: setup, progress: progress))
                    }
                    return .restarts(restarts)
                }
                var tally = LoadTally(), restarts: [Restart] = []
                for try await phase in group {
                    switch phase {
                    case .load(let counted): tally = counted
                    case .restarts(let done): restarts = done
                    }
                }
                return (tally, restarts)
            }
            let (tally, restarts) = result
            print("scale-out: sent \(tally.sent), ok \(tally.ok), failed \(tally.failed), lost \(tally.lost)")
            for restart in restarts {
                print("scale-out: replica \(restart.name) SIGTERM after \(restart.sentAtTerm) requests, out of rotation after \(Self.milliseconds(restart.outOfRotation)), exited \(restart.exitStatus.map(String.init) ?? "late") after \(Self.milliseconds(restart.exited)), back in rotation after \(restart.sentWhenBack) requests")
            }
            #expect(restarts.count == 2, "both replicas should have been restarted during the load")
            for restart in restarts {
                #expect(restart.exitStatus == 0, "replica \(restart.name) should exit 0 after its drain: \(setup.replicas.first { $0.name == restart.name }?.errors() ?? "")")
                #expect(restart.leftRotationWhileRunning, "HAProxy should take replica \(restart.name) out on /ready before it stops accepting")
                #expect(restart.sentWhenBack < total, "replica \(restart.name) came back after the load had ended, so the restart was not under load")
            }
            #expect(tally.sent == total)
            #expect(tally.failed == 0, "answers other than 200: \(tally.statuses)")
            #expect(tally.lost == 0, "requests without an answer: \(tally.lost) (\(tally.errors.prefix(3)))")
            #expect(tally.ok == total)
        }
    }

    // MARK: Setup

    /// The replicas, the balancer in front of them and a client for both.
    struct Setup: Sendable {
        let replicas: [ReplicaProcess]
        let adminPorts: [String: Int]
        let haproxy: HAProxy
        let client: HTTPClient
        var url: String { "http://127.0.0.1:\(haproxy.port)/v1/items" }

        /// `/v1/items` answers with 200 per replica, from each one's /metrics (since its last start).
        func servedByReplica() async -> [String: Int] {
            var served: [String: Int] = [:]
            for (name, port) in adminPorts {
                let metrics = (try? await ExecutableTests.body("http://127.0.0.1:\(port)/metrics")) ?? ""
                served[name] = Int(PrometheusText.value(metrics, "bff_http_requests_total", ["route": "/v1/items", "status": "200"]) ?? 0)
            }
            return served
        }
    }

    /// Starts redis-server, a stub upstream, replicas a and b of partner-bff sharing them, and HAProxy;
    /// runs `body` once HAProxy has both replicas in rotation; stops every process however it ends.
    static func withReplicas(keys: [String], quota: Int, _ body: @escaping @Sendable (Setup) async throws -> Void) async throws {
        try await withStubs { stubs in
            stubs[0].on("/items", body: #"{"items":[{"id":"p1"}]}"#)
            try await RedisServer.with { redis in
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scale-out-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }
                let spec = folder.appendingPathComponent("partner.yaml")
                try """
                name: partner
                services:
                  products: { url: "\(stubs[0].url)" }
                  inventory: { url: "\(stubs[0].url)" }
                auth:
                  api_keys: { env: BFF_PARTNER_KEYS }
                plans:
                  metered: { quota: \(quota)/day }
                  bulk: { quota: \(quota)/day }
                rate_limits:
                  store: redis://127.0.0.1:\(redis.port)
                  on_store_error: deny
                  # Generous for a loaded CI machine: a check slower than this would be a 503 here.
                  timeout: 2s
                endpoints:
                  - route: GET /v1/items
                    auth: api_key
                    timeout: 2s
                    calls:
                      items: { service: products, path: /items, required: true }
                """.write(to: spec, atomically: true, encoding: .utf8)

                let binary = try ExecutableTests.binary("partner-bff")
                var replicas: [ReplicaProcess] = []
                var adminPorts: [String: Int] = [:]
                var servers: [(name: String, port: Int)] = []
                for name in ["a", "b"] {
                    let port = try ExecutableTests.freePort(), adminPort = try ExecutableTests.freePort()
                    replicas.append(ReplicaProcess(
                        name: name,
                        executable: binary,
                        arguments: [
                            "--spec", spec.path, "--listen", "127.0.0.1:\(port)", "--admin-listen", "127.0.0.1:\(adminPort)",
                            "--threads", "1", "--pre-drain-seconds", "1", "--drain-seconds", "5", "--no-access-log",
                        ],
                        environment: ["BFF_PARTNER_KEYS": keys.joined(separator: ";")],
                        folder: folder
                    ))
                    adminPorts[name] = adminPort
                    servers.append((name, port))
                }
                let haproxy = try HAProxy(servers: servers, folder: folder)
                let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
                defer {
                    haproxy.stop()
                    for replica in replicas { replica.stop() }
                }
                let outcome: Result<Void, any Error>
                do {
                    for replica in replicas { try replica.start() }
                    try await haproxy.start()
                    for replica in replicas {
                        let up = await haproxy.waitUntil(replica.name, isUp: true, client: client, within: .seconds(15))
                        try #require(up, "HAProxy never saw replica \(replica.name) up: \(replica.errors())\n\(haproxy.replica.errors())")
                    }
                    outcome = .success(try await body(Setup(replicas: replicas, adminPorts: adminPorts, haproxy: haproxy, client: client)))
                } catch {
                    outcome = .failure(error)
                }
                try await client.shutdown()
                try outcome.get()
            }
        }
    }

    // MARK: Rolling restart

    struct Restart: Sendable {
        let name: String
        let sentAtTerm: Int
        let outOfRotation: Duration
        let leftRotationWhileRunning: Bool
        let exitStatus: Int32?
        let exited: Duration
        let sentWhenBack: Int
    }

    enum Phase: Sendable {
        case load(LoadTally)
        case restarts([Restart])
    }

    /// What an orchestrator does to one replica: SIGTERM, wait for the exit, start it again on the
    /// same port, wait until the balancer has it back.
    static func restart(_ replica: ReplicaProcess, in setup: Setup, progress: Counter) async throws -> Restart {
        let clock = ContinuousClock()
        let start = clock.now
        let sentAtTerm = progress.value
        replica.terminate()
        let leftRotation = await setup.haproxy.waitUntil(replica.name, isUp: false, client: setup.client, within: .seconds(5))
        let outOfRotation = clock.now - start
        let stillRunning = await replica.waitForExit(within: .milliseconds(1)) == nil
        let status = await replica.waitForExit(within: .seconds(15))
        let exited = clock.now - start
        try replica.start()
        let back = await setup.haproxy.waitUntil(replica.name, isUp: true, client: setup.client, within: .seconds(15))
        try #require(back, "HAProxy never saw replica \(replica.name) up again: \(replica.errors())")
        return Restart(
            name: replica.name, sentAtTerm: sentAtTerm, outOfRotation: outOfRotation, leftRotationWhileRunning: leftRotation && stillRunning,
            exitStatus: status, exited: exited, sentWhenBack: progress.value
        )
    }

    static func milliseconds(_ duration: Duration) -> String {
        "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000) ms"
    }

    // MARK: Load

    /// Client-side counts: every request sent ends as ok (200 with its whole body), failed (any other
    /// answer) or lost (no answer: a reset, a refused connection, a timeout).
    struct LoadTally: Sendable {
        var sent = 0
        var ok = 0
        var failed = 0
        var lost = 0
        var statuses: [Int: Int] = [:]
        var errors: [String] = []
    }

    /// Sends `total` GETs with the API key from `concurrency` clients, at most `rate` a second in all
    /// (unpaced when nil), and stops sending at `within` whatever is left.
    static func load(
        total: Int, concurrency: Int, rate: Double?, key: String, url: String, client: HTTPClient, within: Duration, progress: Counter = Counter()
    ) async throws -> LoadTally {
        let next = Counter()
        let tally = Tally()
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + within
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.increment()
                        guard index < total, clock.now < deadline else { return }
                        if let rate {
                            let slot = start + .milliseconds(Int64(Double(index) * 1000 / rate))
                            if slot > clock.now { try? await Task.sleep(until: slot, clock: clock) }
                        }
                        var request = HTTPClientRequest(url: url)
                        request.headers.add(name: "X-Api-Key", value: key)
                        tally.withLock { $0.sent += 1 }
                        progress.increment()
                        do {
                            let response = try await client.execute(request, timeout: .seconds(5))
                            _ = try await response.body.collect(upTo: 1 << 16)
                            let status = Int(response.status.code)
                            tally.withLock { tally in
                                tally.statuses[status, default: 0] += 1
                                if status == 200 { tally.ok += 1 } else { tally.failed += 1 }
                            }
                        } catch {
                            tally.withLock { tally in
                                tally.lost += 1
                                if tally.errors.count < 10 { tally.errors.append(String(describing: error)) }
                            }
                        }
                    }
                }
            }
        }
        return tally.withLock { $0 }
    }

    /// A count shared by concurrent tasks.
    final class Counter: Sendable {
        private let count = Atomic<Int>(0)

        var value: Int { count.load(ordering: .relaxed) }

        /// Adds one and returns the value before.
        @discardableResult
        func increment() -> Int { count.add(1, ordering: .relaxed).oldValue }
    }

    /// The tally shared by the load's clients.
    final class Tally: Sendable {
        private let state = Mutex(LoadTally())

        func withLock<T: Sendable>(_ body: (inout LoadTally) -> T) -> T { state.withLock { body(&$0) } }
    }
}
