import BFFRuntime
import BFFSpec
import Foundation
import Logging
import NIOHTTP1
import Testing

/// One JSON line per request, with what operators search logs for.
@Suite(.timeLimit(.minutes(1))) struct AccessLogTests {
    @Test("each request writes one JSON line with id, route, status, duration and degraded calls")
    func linePerRequest() async throws {
        let captured = try CapturedLines()
        let descriptor = captured.writeEnd
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/users/u1", body: #"{"id":"u1"}"#)
            stub.on("/orders", .internalServerError, body: "{}")
            let yaml = """
                name: logged
                services:
                  users: { url: "http://127.0.0.1:\(stub.port)" }
                endpoints:
                  - route: GET /dashboard/{id}
                    calls:
                      user: { service: users, path: "/users/{path.id}" }
                      orders: { service: users, path: "/orders", fallback: [] }
                """
            try await withGateway(yaml, accessLog: LogLineSink(descriptor: descriptor)) { gateway in
                _ = try await gateway.get("/dashboard/u1", headers: [("X-Request-ID", "trace-42")])
                _ = try await gateway.get("/nowhere")
            }
        }
        let lines = try captured.json()
        #expect(lines.count == 2)
        let first = try #require(lines.first)
        #expect(first["request_id"] == "trace-42")
        #expect(first["method"] == "GET")
        #expect(first["route"] == "/dashboard/{id}")
        #expect(first["path"] == "/dashboard/u1")
        #expect(first["status"]?.numberValue == 200)
        #expect(first["ms"]?.numberValue != nil)
        #expect(first["degraded"] == ["orders"])
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let stamp = try #require(first["ts"]?.templateText)
        #expect(stamp.count == 24, "\(stamp) is not YYYY-MM-DDTHH:MM:SS.mmmZ")
        let logged = try #require(formatter.date(from: stamp), "\(stamp) is not ISO 8601")
        #expect(abs(logged.timeIntervalSinceNow) < 60)
        let second = try #require(lines.last)
        #expect(second["status"]?.numberValue == 404)
        #expect(second["route"] == .null)
        #expect(second["degraded"] == nil)
    }
}

/// Why a section degraded is in the application log at debug level, with the request id.
@Suite(.timeLimit(.minutes(1))) struct DegradationLogTests {
    @Test("a degraded call logs its status and reason at debug level")
    func degradedCallReason() async throws {
        let captured = try CapturedLines()
        let logger = Logger(label: "bff.test") { JSONLogHandler(label: $0, level: .debug, descriptor: captured.writeEnd) }
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/orders", .serviceUnavailable, body: "{}")
            let yaml = """
                name: logged
                services:
                  orders: { url: "http://127.0.0.1:\(stub.port)" }
                endpoints:
                  - route: GET /home
                    calls:
                      orders: { service: orders, path: "/orders", fallback: [] }
                """
            try await withGateway(yaml, logger: logger) { gateway in
                _ = try await gateway.get("/home", headers: [("X-Request-ID", "trace-7")])
            }
        }
        let events = try captured.json()
        let degraded = try #require(events.first { $0["msg"] == "call degraded" })
        #expect(degraded["request_id"] == "trace-7")
        #expect(degraded["call"] == "orders")
        #expect(degraded["status"] == "error")
        #expect(degraded["reason"]?.templateText?.contains("503") == true)
    }
}
