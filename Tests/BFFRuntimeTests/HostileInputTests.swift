import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Values a client controls must never change which path or headers a service sees.
@Suite("Hostile input", .timeLimit(.minutes(1)))
struct HostileInputTests {
    static func endpoints() -> String {
        """
        - route: GET /files/{name}
          calls:
            file: { service: svc, path: "/files/{path.name}", required: true }
        - route: GET /lookup
          calls:
            item: { service: svc, path: "/items/{query.id}", required: true }
        - route: GET /search
          calls:
            results: { service: svc, path: "/search?q={query.q}&scope=public", required: true }
        - route: GET /tagged
          calls:
            item: { service: svc, path: /tagged, required: true, headers: { X-Tag: "{query.tag}" } }
        """
    }

    static func rawGET(_ target: String, port: Int) async throws -> RawResponse {
        try await RawHTTP.send("GET \(target) HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n", port: port)
    }

    @Test("encoded dot segments, encoded slashes and dot values never reach a service")
    func pathTraversalIsRefused() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/files/*", body: #"{"file":true}"#)
            stub.on("/items/*", body: #"{"item":true}"#)
            try await withGateway(spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let dotDot = try await Self.rawGET("/files/%2e%2e", port: gateway.port)
                #expect(dotDot.status == 400)
                #expect(dotDot.header("Content-Type") == "application/problem+json")
                let climb = try await Self.rawGET("/files/%2E%2E/%2e%2e/etc/passwd", port: gateway.port)
                #expect(climb.status == 400)
                let singleDot = try await Self.rawGET("/files/%2e", port: gateway.port)
                #expect(singleDot.status == 400)

                let encodedSlash = try await Self.rawGET("/files/a%2Fb", port: gateway.port)
                #expect(encodedSlash.status == 400)
                #expect(encodedSlash.header("Content-Type") == "application/problem+json")
                let encodedBackslash = try await Self.rawGET("/files/a%5c..%5cb", port: gateway.port)
                #expect(encodedBackslash.status == 400)
                let badEscape = try await Self.rawGET("/files/%zz", port: gateway.port)
                #expect(badEscape.status == 400)

                // A request value substituted as a whole path segment may not be `.` or `..`.
                let dotValue = try await gateway.get("/lookup?id=..")
                #expect(dotValue.status == 400)
                #expect(dotValue.header("Content-Type") == "application/problem+json")
                let encodedDotValue = try await gateway.get("/lookup?id=%2E%2E")
                #expect(encodedDotValue.status == 400)

                #expect(stub.requests.isEmpty, "a hostile request reached the service: \(stub.requests.map(\.uri))")

                let plain = try await Self.rawGET("/files/report.txt", port: gateway.port)
                #expect(plain.status == 200)
                #expect(stub.requests.map(\.uri) == ["/files/report.txt"])
            }
        }
    }

    @Test("query values are percent-encoded into the upstream query and cannot add parameters or headers")
    func queryValuesCannotInject() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/search", body: "[]")
            stub.on("/tagged", body: "{}")
            try await withGateway(spec(service: stub, endpoints: Self.endpoints())) { gateway in
                let smuggle = try await gateway.get("/search?q=%26role%3Dadmin")
                #expect(smuggle.status == 200)
                #expect(stub.requests(to: "/search").last?.uri == "/search?q=%26role%3Dadmin&scope=public")

                let crlf = try await gateway.get("/search?q=%0d%0aHost:%20x")
                #expect(crlf.status == 200)
                let seen = try #require(stub.requests(to: "/search").last)
                #expect(seen.uri == "/search?q=%0D%0AHost%3A%20x&scope=public")
                #expect(seen.headers["host"] == ["127.0.0.1:\(stub.port)"])

                // In a header value a control character is refused outright.
                let headerInjection = try await gateway.get("/tagged?tag=a%0d%0aX-Injected:%201")
                #expect(headerInjection.status == 400)
                #expect(headerInjection.header("Content-Type") == "application/problem+json")
                #expect(stub.requests(to: "/tagged").isEmpty)

                let fine = try await gateway.get("/tagged?tag=blue%20sky")
                #expect(fine.status == 200)
                #expect(stub.requests(to: "/tagged").first?.headers["x-tag"] == ["blue sky"])
                #expect(stub.requests.allSatisfy { !$0.headers.contains(name: "x-injected") })
            }
        }
    }
}
