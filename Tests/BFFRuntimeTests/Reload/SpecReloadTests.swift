import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Reloads of a running gateway: `POST /admin/reload`, ``BFFServer/reload(reason:)`` and `--watch`,
/// against real stubs over real sockets.
@Suite("Spec reload")
struct SpecReloadTests {
    /// A spec with one aggregation whose section is named `section`, a rate-limited route and a proxy.
    static func spec(_ upstream: String, section: String = "old", burst: Int = 2, extra: String = "", listen: String? = nil) -> String {
        """
        name: reload
        \(listen.map { "listen: \"\($0)\"" } ?? "")
        services:
          items: { url: "\(upstream)", timeout: 2s }
          other: { url: "\(upstream)", timeout: 1s }
        endpoints:
          - route: GET /screen
            calls:
              \(section): { service: items, path: /item }
          - route: GET /slow
            calls:
              slow: { service: items, path: /slow }
          - route: GET /limited
            rate_limit: { key: ip, rate: 1/h, burst: \(burst) }
            calls:
              item: { service: items, path: /item }
          - route: GET /pass/{rest*}
            proxy: { service: items, path: "/{rest}" }
        \(extra)
        """
    }

    static func temporaryFile() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString).yaml").path
    }

    /// A stub answering `/item`, and a gateway serving `yaml(stub)` from a file of its own that the
    /// test rewrites before each reload.
    static func withReloadableGateway(
        _ yaml: @Sendable (StubUpstream) -> String = { spec($0.url) },
        adminListener: Bool = false,
        watchInterval: Duration? = nil,
        _ body: @Sendable (TestGateway, StubUpstream, String) async throws -> Void
    ) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/item", body: #"{"id":1}"#)
            let file = temporaryFile()
            defer { try? FileManager.default.removeItem(atPath: file) }
            try await withGateway(yaml(stub), adminListener: adminListener, specFile: file, watchInterval: watchInterval) { gateway in
                try await body(gateway, stub, file)
            }
        }
    }

    @Test("POST /admin/reload swaps the spec in: new requests see the new section, the answer says what carried over")
    func adminReloadApplies() async throws {
        try await Self.withReloadableGateway(adminListener: true) { gateway, stub, file in
            #expect(try await gateway.get("/screen").text.contains(#""old":{"id":1}"#))
            try Self.spec(stub.url, section: "new").write(toFile: file, atomically: true, encoding: .utf8)
            let answer = try await gateway.admin("/admin/reload", method: .POST)
            #expect(answer.status == 200, "\(answer.text)")
            let json = try answer.json()
            #expect(json["result"] == .string("applied"))
            #expect(json["generation"] == .number(2))
            #expect(json["services_kept"] == .array([.string("items"), .string("other")]), "\(answer.text)")
            #expect(json["rate_limits_kept"] == .bool(true))
            #expect(json["restart_needed"] == .array([]))
            let after = try await gateway.get("/screen").text
            #expect(after.contains(#""new":{"id":1}"#) && !after.contains(#""old""#), "\(after)")
            let metrics = try await gateway.admin("/metrics").text
            #expect(PrometheusText.value(metrics, "bff_spec_reloads_total", ["result": "applied"]) == 1)
            #expect(PrometheusText.value(metrics, "bff_spec_generation") == 2)
            let status = try await gateway.admin("/admin/spec").json()
            #expect(status["generation"] == .number(2))
            #expect(status["last_reload"]?["reason"] == .string("admin"))
        }
    }

    @Test("A spec that does not validate is refused whole: 422 problem+json with file:line, the old spec keeps serving")
    func invalidSpecRefused() async throws {
        try await Self.withReloadableGateway(adminListener: true) { gateway, stub, file in
            // A new route that is fine, and a call to a service that does not exist: nothing applies.
            let broken = Self.spec(stub.url, section: "new") + """

                  - route: GET /broken
                    calls:
                      x: { service: nowhere, path: /x }
                """
            try broken.write(toFile: file, atomically: true, encoding: .utf8)
            let answer = try await gateway.admin("/admin/reload", method: .POST)
            #expect(answer.status == 422, "\(answer.text)")
            #expect(answer.header("content-type") == "application/problem+json")
            let problem = try answer.json()
            #expect(problem["status"] == .number(422))
            #expect(problem["request_id"] != nil)
            guard case .array(let errors)? = problem["errors"], let first = errors.first else {
                Issue.record("no errors in \(answer.text)")
                return
            }
            #expect(first["file"] == .string(file))
            let line = broken.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("service: nowhere") }.map { $0 + 1 }
            #expect(first["line"] == line.map { .number(Double($0)) }, "\(answer.text)")
            #expect(first["message"].map { "\($0)" }?.contains("nowhere") == true, "\(answer.text)")
            #expect(try await gateway.get("/screen").text.contains(#""old""#), "the old spec serves on")
            #expect(try await gateway.get("/broken").status == 404)
            let metrics = try await gateway.admin("/metrics").text
            #expect(PrometheusText.value(metrics, "bff_spec_reloads_total", ["result": "invalid"]) == 1)
            #expect(PrometheusText.value(metrics, "bff_spec_generation") == 1)

            try "name: [unclosed".write(toFile: file, atomically: true, encoding: .utf8)
            let syntax = try await gateway.admin("/admin/reload", method: .POST)
            #expect(syntax.status == 422 && syntax.text.contains("YAML syntax error"), "\(syntax.text)")
            #expect(try await gateway.get("/screen").status == 200)
        }
    }

    @Test("A request in flight finishes on the plan it started with; one that arrives after the reload sees the new spec")
    func inFlightFinishesOnOldPlan() async throws {
        try await Self.withReloadableGateway { gateway, stub, file in
    stub.on("/slow", body: #"{"slow":true}"#, delay: .milliseconds(600))
            async let slow = gateway.get("/slow")
            #expect(await stub.eventually { $0.requests(to: "/slow").count == 1 })
            // The new spec has no /slow.
            let withoutSlow = Self.spec(stub.url).replacingOccurrences(of: "  - route: GET /slow\n    calls:\n      slow: { service: items, path: /slow }\n", with: "")
            #expect(!withoutSlow.contains("/slow"))
            try withoutSlow.write(toFile: file, atomically: true, encoding: .utf8)
            let outcome = await gateway.server.reload(reason: "test")
            #expect(outcome.result == .applied, "\(outcome.diagnostics)")
            #expect(try await gateway.get("/slow").status == 404)
            let answer = try await slow
            #expect(answer.status == 200 && answer.text.contains(#""slow":{"slow":true}"#), "\(answer.text)")
        }
    }

    @Test("Rate-limit counts carry over a reload that leaves the limits alone, and start afresh when a limit changes")
    func rateLimitStateCarriesOver() async throws {
        try await Self.withReloadableGateway { gateway, stub, file in
            #expect(try await gateway.get("/limited").status == 200)
            #expect(try await gateway.get("/limited").status == 200)
            #expect(try await gateway.get("/limited").status == 429)
            try Self.spec(stub.url, section: "new").write(toFile: file, atomically: true, encoding: .utf8)
            let kept = await gateway.server.reload(reason: "test")
            #expect(kept.rateLimitsKept)
            #expect(try await gateway.get("/limited").status == 429, "the route's count carried over")
            // The limit is per route: changing it gives the route a new limit, counted afresh.
            try Self.spec(stub.url, section: "new", burst: 3).write(toFile: file, atomically: true, encoding: .utf8)
            let changed = await gateway.server.reload(reason: "test")
            #expect(changed.result == .applied)
            #expect(try await gateway.get("/limited").status == 200)
        }
    }

    @Test("Services whose definition is unchanged keep their cluster (an open breaker stays open); a changed one is rebuilt")
    func unchangedServicesCarryOver() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/item", .internalServerError, body: #"{"error":"down"}"#)
            let file = Self.temporaryFile()
            defer { try? FileManager.default.removeItem(atPath: file) }
            let breaker = "circuit_breaker: { window: 10s, min_requests: 2, failure_rate: 50%, open_for: 30s }"
            let withBreaker = Self.spec(stub.url).replacingOccurrences(of: "items: { url: \"\(stub.url)\", timeout: 2s }", with: "items: { url: \"\(stub.url)\", timeout: 2s, \(breaker) }")
            try await withGateway(withBreaker, adminListener: true, specFile: file) { gateway in
                for _ in 0..<4 { _ = try await gateway.get("/screen") }
                let before = try await gateway.admin("/admin/breakers").text
                #expect(before.contains(#""state":"open""#), "\(before)")
                // Only `other` changes (its timeout); items keeps its open breaker.
                let otherChanged = withBreaker.replacingOccurrences(of: "timeout: 1s", with: "timeout: 900ms") + "\n"
                try otherChanged.write(toFile: file, atomically: true, encoding: .utf8)
                let outcome = await gateway.server.reload(reason: "test")
                #expect(outcome.servicesKept == ["items"] && outcome.servicesRebuilt == ["other"], "\(outcome)")
                let after = try await gateway.admin("/admin/breakers").json()
                #expect("\(after["items"] ?? .null)".contains("open"), "\(after)")
            }
        }
    }

    @Test("What a running server cannot change is reported as needing a restart, and the rest applies")
    func restartNeededReported() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/item", body: #"{"id":1}"#)
            let file = Self.temporaryFile()
            defer { try? FileManager.default.removeItem(atPath: file) }
            try await withGateway(Self.spec(stub.url, listen: "127.0.0.1:18080"), specFile: file) { gateway in
                try Self.spec(stub.url, section: "new", extra: "limits: { header_timeout: 3s }", listen: "127.0.0.1:18081").write(toFile: file, atomically: true, encoding: .utf8)
                let outcome = await gateway.server.reload(reason: "test")
                #expect(outcome.result == .applied)
                #expect(outcome.restartNeeded.contains { $0.hasPrefix("listen 127.0.0.1:18080 -> 127.0.0.1:18081") }, "\(outcome.restartNeeded)")
                #expect(outcome.restartNeeded.contains { $0.hasPrefix("limits") }, "\(outcome.restartNeeded)")
                #expect(outcome.restartNeeded.count == 2, "\(outcome.restartNeeded)")
                #expect(try await gateway.get("/screen").text.contains(#""new""#))
            }
        }
    }

    @Test("--watch reloads when the spec file changes, and when a file it includes changes")
    func watchReloads() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/item", body: #"{"id":1}"#)
            stub.on("/v2/item", body: #"{"id":2}"#)
            let file = Self.temporaryFile()
            let include = Self.temporaryFile()
            defer {
                try? FileManager.default.removeItem(atPath: file)
                try? FileManager.default.removeItem(atPath: include)
            }
            try "services:\n  shared: { url: \"\(stub.url)\" }\n".write(toFile: include, atomically: true, encoding: .utf8)
            let including = Self.spec(stub.url) + "\ninclude: \(include)\n"
            try await withGateway(including, specFile: file, watchInterval: .milliseconds(100)) { gateway in
                try (Self.spec(stub.url, section: "new") + "\ninclude: \(include)\n").write(toFile: file, atomically: true, encoding: .utf8)
                #expect(await eventually(within: .seconds(10)) { (try? await gateway.get("/screen").text.contains(#""new""#)) == true })
                #expect(gateway.server.lastReloadOutcome?.reason == "watch")
                // The included file changes the service `items` reads from.
                try "services:\n  shared: { url: \"\(stub.url)/v2\" }\n".write(toFile: include, atomically: true, encoding: .utf8)
                let generation = gateway.server.lastReloadOutcome?.generation ?? 0
                #expect(await eventually(within: .seconds(10)) { (gateway.server.lastReloadOutcome?.generation ?? 0) > generation })
            }
        }
    }

    @Test("A spec given as text has no file to read again: the reload is refused with 409 and counted")
    func noFileToReload() async throws {
        try await withStubs { stubs in
            try await withGateway(Self.spec(stubs[0].url), adminListener: true) { gateway in
                let answer = try await gateway.admin("/admin/reload", method: .POST)
                #expect(answer.status == 409 && answer.text.contains("not loaded from a file"), "\(answer.text)")
                let metrics = try await gateway.admin("/metrics").text
                #expect(PrometheusText.value(metrics, "bff_spec_reloads_total", ["result": "unavailable"]) == 1)
            }
        }
    }
}
