import BFFSpec
import Foundation
import NIOHTTP1
import Testing

/// What a failed required call makes of the whole answer, on both answer paths: a service's 404 or
/// 410 is the client's (what the screen is about does not exist), a refusal of the request's own
/// values is a 400, anything else the gateway's 502.
@Suite("Required call status")
struct RequiredCallStatusTests {
    static func spec(_ upstream: String) -> String {
        """
        name: status-test
        services:
          items: { url: "\(upstream)", timeout: 1s }
        endpoints:
          - route: GET /item/{id}
            calls:
              item: { service: items, path: "/items/{path.id}", required: true }
          - route: GET /search
            calls:
              found: { service: items, path: "/search?q={query.q}", required: true }
          - route: GET /fixed
            calls:
              fixed: { service: items, path: /fixed, required: true }
        """
    }

    @Test("a required call's 404 or 410 is the answer's status; a 400 or 422 for the request's values is a 400; a 400 the request did not cause is a 502", arguments: [true, false])
    func requiredCallStatus(fastAggregations: Bool) async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/items/missing", .notFound, body: #"{"error":"no such item","table":"items_v2"}"#)
            stub.on("/items/retired", .gone, body: "{}")
            stub.on("/search*", .unprocessableEntity, body: #"{"error":"q too short"}"#)
            stub.on("/fixed", .badRequest, body: "{}")
            try await withGateway(Self.spec(stub.url), fastAggregations: fastAggregations) { gateway in
                let missing = try await gateway.get("/item/missing")
                #expect(missing.status == 404, "\(missing.text)")
                #expect(missing.header("content-type") == "application/problem+json")
                #expect(missing.text.contains("found nothing") && !missing.text.contains("items_v2"), "no upstream internals: \(missing.text)")
                #expect(try missing.json()["calls"]?["item"]?["http"] == .number(404))
                #expect(try await gateway.get("/item/retired").status == 410)
                let refused = try await gateway.get("/search?q=a")
                #expect(refused.status == 400 && !refused.text.contains("too short"), "\(refused.text)")
                let fixed = try await gateway.get("/fixed")
                #expect(fixed.status == 502, "a call without request values that is refused is the gateway's fault: \(fixed.text)")
            }
        }
    }
}
