import Foundation
import Testing

extension ExecutableTests {
    /// A spec-only BFF named like a shipped client: without the auth and services mobile's Swift
    /// endpoints call.
    static let specOnlyMobile = """
        name: mobile
        services:
          catalog: { url: "http://127.0.0.1:9", timeout: 200ms }
        endpoints:
          - route: GET /v1/catalog/{id}
            auth: none
            calls:
              item: { service: catalog, path: "/items/{path.id}", fallback: { id: unknown } }
        """

    @Test("bff serve runs a spec-only BFF that mobile-bff refuses for lacking what its Swift endpoints need, with the executables' flags")
    func serveSpecOnly() async throws {
        try await Self.withBFF("bff", subcommand: ["serve"], spec: Self.specOnlyMobile, arguments: []) { bff in
            let answer = try await Self.body(bff.base + "/v1/catalog/7").replacingOccurrences(of: " ", with: "")
            #expect(answer.contains(#""item":{"id":"unknown"}"#), "\(answer)")
            #expect(await Self.status(bff.base + "/v1/badges/u1") == 404, "no Swift endpoints in bff serve")
            bff.terminate()
            // Past the 10 s drain deadline: a drain that hangs shows as its exit status, with what it logged.
            let status = try await bff.exitStatus(within: .seconds(20))
            #expect(status == 0, "bff serve after SIGTERM: \(bff.errors)")
        }

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID().uuidString).yaml").path
        try Self.specOnlyMobile.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let refused = try await Self.run(Self.binary("mobile-bff"), ["--spec", file, "--listen", "127.0.0.1:0"])
        #expect(refused.status == 1, "mobile-bff should refuse: its Swift endpoints need auth.jwt and more services")
        #expect(refused.errors.contains("MobileEndpoints.swift"), "\(refused.errors)")
        #expect(refused.errors.contains("runs with `bff serve \(file)`"), "the refusal points at bff serve: \(refused.errors)")

        let missing = try await Self.run(Self.binary("bff"), ["serve"], environment: ProcessInfo.processInfo.environment.filter { $0.key != "BFF_SPEC" })
        #expect(missing.status == 64 && missing.errors.contains("missing SPEC"), "\(missing.errors)")
        let twice = try await Self.run(Self.binary("bff"), ["serve", file, "--spec", file])
        #expect(twice.status == 64 && twice.errors.contains("give the spec once"), "\(twice.errors)")
        let broken = try await Self.run(Self.binary("bff"), ["serve", "/nonexistent/spec.yaml", "--listen", "127.0.0.1:0"])
        #expect(broken.status == 1 && broken.errors.contains("/nonexistent/spec.yaml"), "\(broken.errors)")
    }
}
