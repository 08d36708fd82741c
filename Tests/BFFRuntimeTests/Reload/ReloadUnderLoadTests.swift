import Foundation
import Testing

/// `bff serve` reloaded by SIGHUP every 100 ms for 10 s while wrk loads it: nothing fails, every
/// answer comes from one spec or the other, memory stays flat.
@Suite("Spec reload under load", .timeLimit(.minutes(2)))
struct ReloadUnderLoadTests {
    static func spec(_ upstream: String, _ version: String) -> String {
        """
        name: reload-load
        services:
          items: { url: "\(upstream)", timeout: 2s }
        endpoints:
          - route: GET /screen
            calls:
              \(version): { service: items, path: /item }
              extra: { service: items, path: /item, fallback: {} }
          - route: GET /pass/{rest*}
            proxy: { service: items, path: "/\(version)/{rest}" }
        """
    }

    /// The resident set of a process, in bytes.
    static func residentBytes(_ pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
        else { return nil }
        return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
    }

    @Test("a SIGHUP every 100 ms for 10 s under wrk: 0 failed requests, every answer from the old or the new spec, memory flat")
    func reloadEvery100msUnderLoad() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
            Issue.record("wrk is not installed (apt-get install wrk; .ci/run installs it)")
            return
        }
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/item", body: #"{"id":1}"#)
            stub.on("/old/item", body: #"{"old":true}"#)
            stub.on("/new/item", body: #"{"new":true}"#)
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("reload-load-\(UUID().uuidString).yaml").path
            defer { try? FileManager.default.removeItem(atPath: file) }
            try Self.spec(stub.url, "old").write(toFile: file, atomically: true, encoding: .utf8)
            let port = try ExecutableTests.freePort()
            let adminPort = try ExecutableTests.freePort()
            let bff = try ChildProcess(
                executable: ExecutableTests.binary("bff").path,
                arguments: [
                    "serve", file, "--listen", "127.0.0.1:\(port)", "--admin-listen", "127.0.0.1:\(adminPort)", "--threads", "1",
                    "--drain-seconds", "1", "--no-access-log",
                ],
                environment: .inherited(adding: ["BFF_LOG_LEVEL": "critical"]),
                standardOutput: .discarded,
                standardError: .discarded
            )
            defer { _ = bff.kill() }
            let base = "http://127.0.0.1:\(port)"
            try #require(await eventually(within: .seconds(10)) { await ExecutableTests.status(base + "/health") == 200 }, "bff serve did not start")

            let script = ExecutableTests.repositoryRoot.appendingPathComponent("Tests/Scripts/reload_load.lua").path
            async let load = ExecutableTests.run(URL(fileURLWithPath: "/usr/bin/nice"), ["-n", "10", "/usr/bin/wrk", "-t1", "-c4", "-d10s", "--timeout", "5s", "-s", script, base + "/screen"])
            var samples: [Int] = []
            var sent = 0
            let start = ContinuousClock.now
            while ContinuousClock.now - start < .seconds(10) {
                try await Task.sleep(for: .milliseconds(100))
                sent += 1
                try Self.spec(stub.url, sent % 2 == 0 ? "old" : "new").write(toFile: file, atomically: true, encoding: .utf8)
                bff.send(SIGHUP)
                if sent % 10 == 0, let bytes = Self.residentBytes(bff.pid) { samples.append(bytes) }
            }
            let result = try await load
            let summary = result.output.split(separator: "\n").last { $0.hasPrefix("old=") }.map(String.init) ?? ""
            let counts = Dictionary(
                uniqueKeysWithValues: summary.split(separator: " ").compactMap { pair -> (String, Int)? in
                    let parts = pair.split(separator: "=")
                    guard parts.count == 2, let value = Int(parts[1]) else { return nil }
                    return (String(parts[0]), value)
                }
            )
            #expect(result.status == 0, "\(result.errors)")
            #expect(counts["bad"] == 0 && counts["statuses"] == 0 && counts["errors"] == 0, "wrk: \(result.output)")
            #expect((counts["old"] ?? 0) > 50 && (counts["new"] ?? 0) > 50, "answers from both specs: \(summary)")
            let metrics = try await ExecutableTests.body("http://127.0.0.1:\(adminPort)/metrics")
            let applied = PrometheusText.value(metrics, "bff_spec_reloads_total", ["result": "applied"]) ?? 0
            // Signals that arrive while a reload runs coalesce; most still apply one by one.
            #expect(applied >= 30, "reloads applied: \(applied) of \(sent) SIGHUPs")
            #expect(PrometheusText.value(metrics, "bff_spec_reloads_total", ["result": "invalid"]) ?? 0 == 0)
            // Memory: after the first seconds (pools and caches warm), the resident set stays level.
            if samples.count >= 4 {
                let growth = samples.last! - samples[1]
                #expect(growth < 24 * 1024 * 1024, "RSS grew \(growth / 1024) KiB over the reloads: \(samples.map { $0 / 1024 })")
            }
            print("reload under load: \(summary); reloads applied \(Int(applied)) of \(sent); RSS KiB \(samples.map { $0 / 1024 })")
            bff.send(SIGTERM)
            #expect(await eventually(within: .seconds(10)) { !bff.isRunning })
        }
    }
}
