import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// `tracing:` against a real OTLP/HTTP receiver (Tests/Scripts/otlp_receiver.py, decoding with
/// opentelemetry-proto) and real stubs, on both answer paths.
@Suite("Tracing", .timeLimit(.minutes(1)))
struct TracingTests {
    /// A running receiver: its port and the spans it has decoded so far.
    final class Receiver: Sendable {
        let process: ChildProcess
        let port: Int
        let spansFile: String

        init() async throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            spansFile = folder.appendingPathComponent("spans.jsonl").path
            let stdout = folder.appendingPathComponent("stdout").path
            let script = ExecutableTests.repositoryRoot.appendingPathComponent("Tests/Scripts/otlp_receiver.py").path
            process = try ChildProcess(
                executable: "/usr/bin/env", arguments: ["python3", script, spansFile],
                standardOutput: .file(stdout), standardError: .discarded
            )
            var port: Int?
            _ = await eventually(within: .seconds(10)) {
                let text = (try? String(contentsOfFile: stdout, encoding: .utf8)) ?? ""
                port = text.split(separator: "\n").first { $0.hasPrefix("PORT ") }.flatMap { Int($0.dropFirst(5)) }
                return port != nil
            }
            guard let port else {
                _ = process.kill()
                throw ReceiverDidNotStart()
            }
            self.port = port
        }

        struct ReceiverDidNotStart: Error {}

        func spans() -> [JSONValue] {
            let text = (try? String(contentsOfFile: spansFile, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        }

        /// The spans of `traceID`, once there are at least `count` of them.
        func spans(of traceID: String, count: Int) async -> [JSONValue] {
            await spans(of: traceID) { $0.count >= count }
        }

        /// The spans of `traceID`, once `enough` says so (or 15 s have passed).
        func spans(of traceID: String, until enough: ([JSONValue]) -> Bool) async -> [JSONValue] {
            var found: [JSONValue] = []
            _ = await eventually(within: .seconds(15)) {
                found = spans().filter { $0["trace_id"] == .string(traceID) }
                return enough(found)
            }
            return found
        }

        func stop() { _ = process.kill() }
    }

    static func spec(_ stub: StubUpstream, receiver: Int, trustIncoming: Bool = false) -> String {
        """
        name: traced
        tracing: { otlp: "http://127.0.0.1:\(receiver)", sample: 100%, trust_incoming: \(trustIncoming) }
        services:
          items: { url: "\(stub.url)", timeout: 1s }
        endpoints:
          - route: GET /screen/{id}
            calls:
              a: { service: items, path: "/a/{path.id}" }
              b: { service: items, path: /b }
              c: { service: items, path: /c, timeout: 100ms, fallback: null }
              d: { service: items, path: /d, fallback: [] }
          - route: GET /pass/{rest*}
            proxy: { service: items, path: "/{rest}" }
        """
    }

    @Test(
        "a 4-call aggregation gives 1 server span named by its route and 4 client spans under it, each upstream saw its own span's traceparent, the access log has the trace id",
        arguments: [true, false]
    )
    func fourCallAggregation(fastAggregations: Bool) async throws {
        let receiver = try await Receiver()
        defer { receiver.stop() }
        let captured = try CapturedLines()
        let descriptor = captured.writeEnd
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/a/7", body: #"{"a":1}"#)
            stub.on("/b", body: #"{"b":1}"#)
            stub.on("/c", body: #"{"c":1}"#, delay: .milliseconds(400))
            stub.on("/d", .internalServerError, body: "{}")
            try await withGateway(
                Self.spec(stub, receiver: receiver.port), accessLog: LogLineSink(descriptor: descriptor), fastAggregations: fastAggregations
            ) { gateway in
                let answer = try await gateway.get("/screen/7")
                #expect(answer.status == 200, "\(answer.text)")
                let sent = ["a": "/a/7", "b": "/b", "c": "/c", "d": "/d"].mapValues { stub.requests(to: $0).first?.headers.first(name: "traceparent") }
                let parents = try sent.mapValues { try #require($0, "every call carries a traceparent: \(sent)") }
                let traceID = String(parents["a"]!.split(separator: "-")[1])
                #expect(Set(parents.values.map { $0.split(separator: "-")[1] }).count == 1, "one trace: \(parents)")
                #expect(Set(parents.values.map { $0.split(separator: "-")[2] }).count == 4, "each call its own span id: \(parents)")

                let spans = await receiver.spans(of: traceID, count: 5)
                #expect(spans.count == 5, "\(spans)")
                let servers = spans.filter { $0["kind"] == .number(2) }
                let clients = spans.filter { $0["kind"] == .number(3) }
                try #require(servers.count == 1 && clients.count == 4, "\(spans)")
                let server = servers[0]
                #expect(server["name"] == .string("GET /screen/{id}"))
                #expect(server["parent_span_id"] == .string(""), "a new trace: no parent")
                #expect(server["service"] == .string("traced-bff"))
                #expect(server["attributes"]?["http.response.status_code"] == .number(200))
                for client in clients {
                    #expect(client["parent_span_id"] == server["span_id"])
                    let name = client["name"]?.templateText ?? ""
                    #expect(parents[name].map { String($0.split(separator: "-")[2]) } == client["span_id"]?.templateText, "\(name): \(client)")
                }
                func outcome(_ call: String) -> JSONValue? { clients.first { $0["name"] == .string(call) }?["attributes"]?["bff.call.outcome"] }
                #expect(outcome("a") == .string("ok") && outcome("b") == .string("ok"))
                #expect(outcome("c") == .string("fallback"), "a timed-out call served by its fallback: \(clients)")
                #expect(outcome("d") == .string("fallback"))
                #expect(clients.first { $0["name"] == .string("c") }?["attributes"]?["bff.call.source"] == .string("fallback"))
            }
        }
        let lines = try captured.json()
        let traced = lines.first { $0["route"] == .string("/screen/{id}") }
        #expect(traced?["trace_id"]?.templateText?.count == 32, "the access log carries the trace id: \(lines)")
    }

    @Test("an incoming traceparent is continued only when trusted (trust_incoming), and a proxied call gets a span of its own")
    func incomingContextAndProxy() async throws {
        let receiver = try await Receiver()
        defer { receiver.stop() }
        let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        for trust in [false, true] {
            try await withStubs { stubs in
                let stub = stubs[0]
                for path in ["/a/7", "/b", "/c", "/d", "/echo"] { stub.on(path, body: "{}") }
                try await withGateway(Self.spec(stub, receiver: receiver.port, trustIncoming: trust)) { gateway in
                    _ = try await gateway.get("/screen/7", headers: [("traceparent", incoming), ("tracestate", "vendor=1")])
                    let sent = try #require(stub.requests(to: "/b").first?.headers.first(name: "traceparent"))
                    let traceID = String(sent.split(separator: "-")[1])
                    if trust {
                        #expect(traceID == "0af7651916cd43dd8448eb211c80319c", "continued: \(sent)")
                        #expect(stub.requests(to: "/b").first?.headers.first(name: "tracestate") == "vendor=1")
                        let spans = await receiver.spans(of: traceID, count: 5)
                        #expect(spans.first { $0["kind"] == .number(2) }?["parent_span_id"] == .string("b7ad6b7169203331"))
                    } else {
                        #expect(traceID != "0af7651916cd43dd8448eb211c80319c", "an untrusted client cannot choose the trace: \(sent)")
                    }

                    _ = try await gateway.get("/pass/echo", headers: [("traceparent", incoming)])
                    let proxied = try #require(stub.requests(to: "/echo").first?.headers.first(name: "traceparent"))
                    #expect(proxied != incoming, "the service's parent is the proxied call's span: \(proxied)")
                    let proxyTrace = String(proxied.split(separator: "-")[1])
                    let spans = await receiver.spans(of: proxyTrace) { $0.contains { $0["name"] == .string("GET /pass/{rest*}") } }
                    #expect(spans.contains { $0["name"] == .string("GET /pass/{rest*}") }, "\(spans) \(proxied)")
                    #expect(spans.contains { $0["name"] == .string("proxy items") && $0["span_id"]?.templateText == String(proxied.split(separator: "-")[2]) }, "\(spans)")
                }
            }
        }
    }

    @Test("an unsampled trace (sample: 0%) still carries its trace id to every call, each with a span id of its own and not sampled, and records no span")
    func unsampledPropagates() async throws {
        let receiver = try await Receiver()
        defer { receiver.stop() }
        try await withStubs { stubs in
            let stub = stubs[0]
            for path in ["/a/7", "/b", "/c", "/d"] { stub.on(path, body: "{}") }
            let yaml = Self.spec(stub, receiver: receiver.port).replacingOccurrences(of: "sample: 100%", with: "sample: 0%")
            try await withGateway(yaml) { gateway in
                #expect(try await gateway.get("/screen/7").status == 200)
                let parents = ["/a/7", "/b", "/c", "/d"].compactMap { stub.requests(to: $0).first?.headers.first(name: "traceparent") }
                #expect(parents.count == 4, "\(parents)")
                #expect(Set(parents.map { $0.split(separator: "-")[1] }).count == 1, "one trace: \(parents)")
                #expect(Set(parents.map { $0.split(separator: "-")[2] }).count == 4, "a span id per call: \(parents)")
                #expect(parents.allSatisfy { $0.hasSuffix("-00") && $0.split(separator: "-")[2].count == 16 }, "not sampled: \(parents)")
                // A sampled request after it shows the exporter works, so the unsampled one's absence means something.
                try await withGateway(Self.spec(stub, receiver: receiver.port)) { traced in
                    _ = try await traced.get("/screen/7")
                    let sampled = stub.requests(to: "/b").last?.headers.first(name: "traceparent") ?? ""
                    let sampledTrace = String(sampled.split(separator: "-").dropFirst().first ?? "")
                    #expect(await receiver.spans(of: sampledTrace, count: 5).count == 5)
                }
                let unsampledTrace = String(parents[0].split(separator: "-")[1])
                #expect(receiver.spans().filter { $0["trace_id"] == .string(unsampledTrace) }.isEmpty)
            }
        }
    }

    @Test("at sample 0% a trusted sampled parent still decides for its trace, and a malformed or all-zero traceparent starts a new trace")
    func parentDecidesSampling() async throws {
        let receiver = try await Receiver()
        defer { receiver.stop() }
        try await withStubs { stubs in
            let stub = stubs[0]
            for path in ["/a/7", "/b", "/c", "/d"] { stub.on(path, body: "{}") }
            let yaml = Self.spec(stub, receiver: receiver.port, trustIncoming: true).replacingOccurrences(of: "sample: 100%", with: "sample: 0%")
            try await withGateway(yaml) { gateway in
                _ = try await gateway.get("/screen/7", headers: [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
                let sent = try #require(stub.requests(to: "/b").last?.headers.first(name: "traceparent"))
                #expect(sent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-") && sent.hasSuffix("-01"), "\(sent)")
                #expect(await receiver.spans(of: "4bf92f3577b34da6a3ce929d0e0e4736", count: 5).count == 5)
                for bad in ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "garbage"] {
                    _ = try await gateway.get("/screen/7", headers: [("traceparent", bad)])
                    let next = try #require(stub.requests(to: "/b").last?.headers.first(name: "traceparent"))
                    #expect(!next.contains("4bf92f3577b34da6") && !next.contains("00000000000000000000000000000000") && next.hasSuffix("-00"), "\(bad) -> \(next)")
                }
            }
        }
    }

    @Test("without tracing: no traceparent is made up, and a client's passes a proxy route unchanged")
    func offByDefault() async throws {
        try await withStubs { stubs in
            let stub = stubs[0]
            stub.on("/b", body: "{}")
            stub.on("/echo", body: "{}")
            let yaml = """
                name: untraced
                services:
                  items: { url: "\(stub.url)" }
                endpoints:
                  - route: GET /screen
                    calls:
                      b: { service: items, path: /b }
                  - route: GET /pass/{rest*}
                    proxy: { service: items, path: "/{rest}" }
                """
            try await withGateway(yaml) { gateway in
                _ = try await gateway.get("/screen")
                #expect(stub.requests(to: "/b").first?.headers.first(name: "traceparent") == nil)
                _ = try await gateway.get("/pass/echo", headers: [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
                #expect(stub.requests(to: "/echo").first?.headers.first(name: "traceparent") == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            }
        }
    }
}
