import AsyncHTTPClient
import Foundation
import NIOCore

/// A real HAProxy (Debian's `haproxy`) on loopback in front of BFF replicas, configured as a
/// health-checking balancer in front of a Kubernetes Service would be: round robin, `/ready` polled
/// every 100 ms, out after one failed check and back after two good ones, connection failures retried
/// on another replica.
final class HAProxy: Sendable {
    static let executable = "/usr/sbin/haproxy"

    let port: Int
    let statsPort: Int
    let replica: ReplicaProcess
    private let configuration: URL

    /// The balancer for `servers` (name and port), configured in `folder`; not started yet.
    init(servers: [(name: String, port: Int)], folder: URL) throws {
        port = try ExecutableTests.freePort()
        statsPort = try ExecutableTests.freePort()
        let lines = servers.map { "    server \($0.name) 127.0.0.1:\($0.port) check" }.joined(separator: "\n")
        let configuration = folder.appendingPathComponent("haproxy.cfg")
        try """
        global
            maxconn 4096

        defaults
            mode http
            timeout connect 1s
            timeout client 30s
            timeout server 10s
            timeout http-keep-alive 10s
            # A /ready answer that is merely slow on a busy machine must not count as a failed check;
            # only a 503 or a refused connection takes a replica out.
            timeout check 1s
            # A replica that stopped accepting between a health check and a request gets the request
            # again on the other one; GETs are safe to send twice.
            retries 3
            option redispatch 1
            retry-on conn-failure empty-response

        frontend public
            bind 127.0.0.1:\(port)
            default_backend bffs

        backend bffs
            balance roundrobin
            option httpchk GET /ready
            http-check expect status 200
            default-server inter 100ms fall 1 rise 2
        \(lines)

        listen stats
            bind 127.0.0.1:\(statsPort)
            stats enable
            stats uri /stats

        """.write(to: configuration, atomically: true, encoding: .utf8)
        self.configuration = configuration
        replica = ReplicaProcess(
            name: "haproxy",
            executable: URL(fileURLWithPath: Self.executable),
            arguments: ["-db", "-f", configuration.path],
            environment: [:],
            folder: folder
        )
    }

    /// Checks the configuration (so a mistake in it reads as such, not as a balancer that never
    /// comes up), then starts HAProxy in the foreground.
    func start() async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw HAProxyMissing()
        }
        let check = try await ExecutableTests.run(URL(fileURLWithPath: Self.executable), ["-c", "-q", "-f", configuration.path])
        guard check.status == 0 else { throw HAProxyConfigurationRefused(path: configuration.path, output: check.output + check.errors) }
        try replica.start()
    }

    func stop() { replica.stop() }

    /// Each server's state as HAProxy's health checks see it (`UP`, `DOWN`, `MAINT`...), from the
    /// CSV stats page; empty if the page did not answer.
    func serverStates(client: HTTPClient) async -> [String: String] {
        guard let response = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(statsPort)/stats;csv"), timeout: .seconds(2)),
            let body = try? await response.body.collect(upTo: 1 << 20)
        else { return [:] }
        let rows = String(buffer: body).split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        guard let header = rows.first, let status = header.firstIndex(of: "status") else { return [:] }
        var states: [String: String] = [:]
        for row in rows.dropFirst() where row.count > status && row[0] == "bffs" && row[1] != "BACKEND" {
            states[row[1]] = row[status]
        }
        return states
    }

    /// Polls until HAProxy sees `server` in (or out of) service; whether it did within `timeout`.
    func waitUntil(_ server: String, isUp: Bool, client: HTTPClient, within timeout: Duration) async -> Bool {
        await eventually(within: timeout) {
            await serverStates(client: client)[server].map { $0.hasPrefix("UP") == isUp } ?? false
        }
    }
}

struct HAProxyConfigurationRefused: Error, CustomStringConvertible {
    let path: String
    let output: String
    var description: String { "haproxy -c refuses \(path): \(output)" }
}

struct HAProxyMissing: Error, CustomStringConvertible {
    var description: String { "\(HAProxy.executable) is not installed; install the Debian package haproxy (.ci/run does)" }
}
