import BFFSpec
import Foundation
import Testing

/// `grpc:` on services and `method:` / `body:` on calls.
@Suite struct GRPCSpecTests {
    static func withDescriptorFile(_ body: (String) throws -> Void) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bff-\(UUID().uuidString).pb").path
        try "descriptor bytes".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        try body(file)
    }

    static func yaml(descriptor: String, call: String, extra: String = "") -> String {
        """
        name: t
        services:
          users: { url: "http://127.0.0.1:9", grpc: { descriptor_set: \(descriptor) } }
          plain: { url: "http://127.0.0.1:9" }
        endpoints:
          - route: GET /u/{id}
            calls:
              \(call)
        \(extra)
        """
    }

    @Test("a gRPC call's method is its path, and its body's strings are templates its dependencies count")
    func methodAndBody() throws {
        try Self.withDescriptorFile { file in
            let spec = try SpecLoader.load(
                yaml: Self.yaml(
                    descriptor: file,
                    call: "user: { service: users, method: users.v1.Users/GetUser, body: { id: \"{path.id}\", mask: { paths: [a, b] }, n: 3 } }\n      other: { service: plain, path: \"/o/{user.id}\" }"
                ),
                file: "t.yaml"
            )
            #expect(spec.services["users"]?.grpc?.descriptorSet == file)
            guard case .aggregate(let aggregate) = spec.endpoints[0].kind else { throw SpecTestFailure("not an aggregation") }
            let user = aggregate.calls[0]
            #expect(user.method == "users.v1.Users/GetUser" && user.path.text == "/users.v1.Users/GetUser")
            #expect(user.variables.map(\.text) == ["{path.id}"])
            #expect(aggregate.calls[1].dependencies == ["user"])
        }
    }

    @Test("each misuse of method, body, grpc, cache and proxy is reported at its line")
    func mistakes() throws {
        try Self.withDescriptorFile { file in
            func messages(_ call: String, extra: String = "") -> [String] {
                SpecFixtures.diagnostics(Self.yaml(descriptor: file, call: call, extra: extra)).map(\.message)
            }
            #expect(messages("user: { service: users, method: users.v1.Users/GetUser, path: /x }").contains { $0.contains("both 'method' and 'path'") })
            #expect(messages("user: { service: users, method: GetUser }").contains { $0.contains("is not package.Service/Method") })
            #expect(messages("user: { service: users, path: /x }").contains { $0.contains("names no method") })
            #expect(messages("user: { service: plain, method: users.v1.Users/GetUser }").contains { $0.contains("is not a gRPC service") })
            #expect(messages("user: { service: plain, path: /x, body: { a: 1 } }").contains { $0.contains("has a body but no method") })
            #expect(messages("user: { service: users, method: users.v1.Users/GetUser, cache: { ttl: 5s } }").contains { $0.contains("has a cache") })
            #expect(
                messages("user: { service: plain, path: /x }", extra: "  - route: GET /p/{rest*}\n    proxy: { service: users, path: \"/{rest}\" }")
                    .contains { $0.contains("proxies to gRPC service 'users'") }
            )
            let missing = SpecFixtures.diagnostics(Self.yaml(descriptor: "/nonexistent/users.pb", call: "user: { service: users, method: a.B/C }"))
            #expect(missing.contains { $0.location.line == 3 && $0.message.contains("cannot be read") })
        }
    }
}
