import BFFRuntime
import BFFSpec
import Foundation
import NIOHTTP1
import Testing

/// One JSON line per request, with what operators search logs for.
@Suite(.timeLimit(.minutes(1))) struct AccessLogTests {
    @Test("each request writes one JSON line with id, route, status, duration and degraded calls")
    func linePerRequest() async throws {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        let (readEnd, writeEnd) = (descriptors[0], descriptors[1])
        defer { close(readEnd) }
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
            try await withGateway(yaml, accessLog: LogLineSink(descriptor: writeEnd)) { gateway in
                _ = try await gateway.get("/dashboard/u1", headers: [("X-Request-ID", "trace-42")])
                _ = try await gateway.get("/nowhere")
            }
        }
        close(writeEnd)
        let text = String(decoding: FileHandle(fileDescriptor: readEnd).readDataToEndOfFile(), as: UTF8.self)
        let lines = try text.split(separator: "\n").map { try JSONParser.parse(String($0)) }
        #expect(lines.count == 2)
        let first = try #require(lines.first)
        #expect(first["request_id"] == "trace-42")
        #expect(first["method"] == "GET")
        #expect(first["route"] == "/dashboard/{id}")
        #expect(first["path"] == "/dashboard/u1")
        #expect(first["status"]?.numberValue == 200)
        #expect(first["ms"]?.numberValue != nil)
        #expect(first["degraded"] == ["orders"])
        #expect(first["ts"]?.templateText?.hasPrefix("20") == true)
        let second = try #require(lines.last)
        #expect(second["status"]?.numberValue == 404)
        #expect(second["route"] == .null)
        #expect(second["degraded"] == nil)
    }
}
