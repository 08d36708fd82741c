import BFFSpec
import Foundation
import Testing

extension ExecutableTests.Demo {
    /// Each BFF of `bff demo`, its port and the credential header its routes take (from the demo's
    /// welcome text, a fresh secret and key each start).
    static let openAPIClients: [(name: String, port: Int, credential: String)] = [
        ("mobile", 8081, "USER_TOKEN"), ("web", 8082, "USER_TOKEN"), ("partner", 8083, "PARTNER_KEY"), ("admin", 8084, "ADMIN_TOKEN"),
    ]

    @Test(
        "schemathesis, driven by the BFF's own /openapi.json, finds no 5xx and no answer that contradicts the document",
        arguments: ["mobile", "web", "partner", "admin"]
    )
    func schemathesisAgreesWithOpenAPI(client: String) async throws {
        guard let schemathesis = Self.onPath("schemathesis") else {
            Issue.record("schemathesis is not installed (python3 -m pip install schemathesis; .ci/run installs it)")
            return
        }
        let (_, port, credential) = try #require(Self.openAPIClients.first { $0.name == client })
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("demo-openapi-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let process = try ChildProcess(
            executable: ExecutableTests.binary("bff").path,
            arguments: ["demo"],
            workingDirectory: ExecutableTests.repositoryRoot.path,
            standardOutput: .file(log),
            standardError: .discarded
        )
        defer { _ = process.kill() }
        let base = "http://127.0.0.1:\(port)"
        try #require(await eventually(within: .seconds(20)) { await ExecutableTests.status(base + "/health") == 200 }, "bff demo did not start")
        let welcome = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let secret = try #require(
            welcome.split(separator: "\n").first { $0.contains("export \(credential)=") }?.split(separator: "=", maxSplits: 1).last.map(String.init),
            "no \(credential) in the demo's welcome: \(welcome)"
        )
        let header = credential == "PARTNER_KEY" ? "X-Api-Key: \(secret)" : "Authorization: Bearer \(secret)"

        let document = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(client)-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: document) }
        let text = try await ExecutableTests.body("http://127.0.0.1:\(port + 1000)/openapi.json")
        try text.write(toFile: document, atomically: true, encoding: .utf8)
        let parsed = try JSONParser.parse(text)
        #expect(parsed["openapi"] == .string("3.1.1") || parsed["openapi"] == .string("3.1.0"), "\(parsed["openapi"] ?? .null)")

        let checks = ["not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance", "response_headers_conformance"]
        // At a lower priority, so the suites running beside this one keep their timing.
        let run = try await ExecutableTests.run(
            URL(fileURLWithPath: "/usr/bin/nice"),
            [
                "-n", "10", schemathesis.path, "run", document, "--url", base, "-H", header, "--checks", checks.joined(separator: ","), "--max-examples", "25", "--seed", "1",
                "--no-color",
            ]
        )
        let report = run.output.split(separator: "\n").filter { $0.contains("generated") || $0.contains("ST1") }.joined(separator: "; ")
        #expect(run.status == 0, "schemathesis against \(client)-bff: \(run.output.suffix(6000))")
        print("schemathesis \(client)-bff: \(report)")
        process.send(SIGTERM)
        #expect(await eventually(within: .seconds(10)) { !process.isRunning })
    }

    /// The executable `name` on PATH, if any.
    static func onPath(_ name: String) -> URL? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        return directories.map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }
}
