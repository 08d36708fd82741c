import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Swift-declared endpoints run on the same engine as YAML ones: required and optional semantics,
/// `_meta`, `X-BFF-Degraded`.
@Suite("Swift endpoints", .timeLimit(.minutes(1)))
struct SwiftEndpointTests {
    static let summary = SwiftEndpoint(
        "GET /summary/{id}",
        calls: [
            SwiftCall("product", service: "svc", path: "/products/{path.id}", required: true),
            SwiftCall("reviews", service: "svc", path: "/reviews?product={path.id}", timeout: .milliseconds(300), fallback: []),
        ]
    ) { context in
        async let product = context.fetch("product")
        async let reviews = context.fetch("reviews")
        let reviewList = try await reviews
        guard case .array(let items) = reviewList else { return ["product": try await product, "reviewCount": nil] }
        return ["product": try await product, "reviewCount": .number(Double(items.count))]
    }

    static let services = """
        name: test
        services:
          svc: { url: "URL", timeout: 1s }
        """

    @Test("an optional call failing yields its fallback with _meta; a required one failing makes a 502")
    func requiredAndOptionalFailures() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/products/1", body: #"{"id":1,"name":"Lamp"}"#)
            stub.on("/products/2", .serviceUnavailable, body: #"{"error":"down"}"#)
            stub.on("/reviews", .internalServerError, body: "{}")
            let yaml = Self.services.replacingOccurrences(of: "URL", with: stub.url)
            try await withGateway(yaml, swiftEndpoints: [Self.summary]) { gateway in
                let degraded = try await gateway.get("/summary/1")
                #expect(degraded.status == 200)
                #expect(degraded.header("X-BFF-Degraded") == "true")
                let json = try degraded.json()
                #expect(json["product"] == ["id": 1, "name": "Lamp"])
                #expect(json["reviewCount"]?.numberValue == 0)
                #expect(json.value(at: ["_meta", "calls", "reviews", "status"]) == "error")
                #expect(json.value(at: ["_meta", "calls", "reviews", "source"]) == "fallback")
                #expect(json.value(at: ["_meta", "calls", "product", "status"]) == "ok")
                #expect(json.value(at: ["_meta", "degraded"]) == .bool(true))
                #expect(stub.requests(to: "/reviews").first?.uri == "/reviews?product=1")

                let failed = try await gateway.get("/summary/2", headers: [("X-Request-ID", "req-swift")])
                #expect(failed.status == 502)
                #expect(failed.header("Content-Type") == "application/problem+json")
                let problem = try failed.json()
                #expect(problem["request_id"] == "req-swift")
                #expect(problem.value(at: ["calls", "product", "status"]) == "error")
                #expect(!failed.text.contains("down"))
            }
        }
    }
}

/// Swift-declared endpoints are validated at start-up like YAML ones, pointing at the Swift source.
@Suite struct SwiftEndpointValidationTests {
    static let spec = """
        name: checked
        services:
          users: { url: "http://127.0.0.1:9" }
        endpoints:
          - route: GET /taken
            calls:
              user: { service: users, path: /users/1 }
        """

    @Test("bad templates, unknown services and clashing routes fail start-up with the Swift file and line")
    func invalidSwiftEndpoints() async throws {
        let spec = try SpecLoader.load(yaml: Self.spec, file: "checked.yaml")
        let badPath = SwiftEndpoint("GET /a", calls: [SwiftCall("x", service: "users", path: "users/{path.id")]) { _ in .null }
        let badService = SwiftEndpoint("GET /b", calls: [SwiftCall("x", service: "userz", path: "/u")]) { _ in .null }
        let clash = SwiftEndpoint("GET /taken", calls: [SwiftCall("x", service: "users", path: "/u")]) { _ in .null }
        let error = try await #require(throws: SpecLoadError.self) {
            try await BFFServer(
                spec: spec,
                swiftEndpoints: [badPath, badService, clash],
                options: ServerOptions(listen: HostPort(host: "127.0.0.1", port: 0), threads: 1, accessLog: nil)
            )
        }
        #expect(error.diagnostics.count == 3, "\(error)")
        #expect(error.diagnostics.allSatisfy { $0.location.file.hasSuffix("SwiftEndpointTests.swift") })
        let lines = Set(error.diagnostics.map(\.location.line))
        #expect(lines == [badPath.location.line, badService.location.line, clash.location.line])
        #expect(error.description.contains("did you mean 'users'?"))
        #expect(error.description.contains("clashes with GET /taken"))
    }
}
