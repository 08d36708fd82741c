import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The server around the endpoints: operational routes, routing errors, draining.
@Suite("Server", .timeLimit(.minutes(1)))
struct ServerTests {
    static let endpoints = """
        - route: GET /page
          calls:
            main: { service: svc, path: /main, required: true }
        """

    @Test("unknown paths are 404 and wrong methods 405, both problem+json; /health and /ready answer 200")
    func routingErrorsAndOperationalRoutes() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: "{}")
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                let missing = try await gateway.get("/nope", headers: [("X-Request-ID", "req-404")])
                #expect(missing.status == 404)
                #expect(missing.header("Content-Type") == "application/problem+json")
                #expect(try missing.json()["request_id"] == "req-404")
                #expect(try missing.json()["status"]?.numberValue == 404)

                let wrongMethod = try await gateway.request(.DELETE, "/page")
                #expect(wrongMethod.status == 405)
                #expect(wrongMethod.header("Content-Type") == "application/problem+json")
                #expect(wrongMethod.header("Allow") == "GET")
                #expect(try wrongMethod.json()["request_id"]?.templateText == wrongMethod.header("X-Request-ID"))

                let health = try await gateway.get("/health")
                #expect(health.status == 200)
                #expect(try health.json()["status"] == "ok")
                let ready = try await gateway.get("/ready")
                #expect(ready.status == 200)
                #expect(try ready.json()["status"] == "ready")

                #expect(stub.requests.isEmpty)
            }
        }
    }

    @Test("HEAD on an aggregation answers its headers without a body")
    func headOnAggregation() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"done":true}"#)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                let head = try await gateway.request(.HEAD, "/page")
                #expect(head.status == 200)
                #expect(head.body.isEmpty)
                #expect(head.header("X-BFF-Degraded") == "false")
                #expect(head.header("Content-Length").flatMap(Int.init).map { $0 > 0 } == true)
            }
        }
    }

    @Test("a request in flight when graceful shutdown starts still completes with 200")
    func gracefulShutdownDrainsInFlightRequests() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/main", body: #"{"done":true}"#, delay: .milliseconds(500))
            try await withGateway(spec(service: stub, endpoints: Self.endpoints)) { gateway in
                async let inFlight = timed { try await gateway.get("/page") }
                let reached = await stub.eventually(within: .seconds(5)) { $0.requests(to: "/main").count == 1 }
                #expect(reached, "the request had not reached the service before the drain")
                await gateway.triggerGracefulShutdown()
                let (response, elapsed) = try await inFlight
                #expect(response.status == 200)
                #expect(try response.json()["main"] == ["done": true])
                #expect(elapsed >= 450)
                #expect(stub.requests(to: "/main").first?.cancelledAt == nil)
            }
        }
    }
}
