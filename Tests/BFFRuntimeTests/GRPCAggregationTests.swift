import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOPosix
import Testing

/// gRPC calls in aggregations, beside HTTP calls, against a real gRPC service (grpcio,
/// Tests/Scripts/grpc_stub.py) serving the bfftest.v1 messages of BFFProto's test descriptor set.
@Suite(.serialized, .timeLimit(.minutes(1))) struct GRPCAggregationTests {
    static var descriptorSet: String {
        ExecutableTests.repositoryRoot.appendingPathComponent("Tests/BFFProtoTests/Resources/test.pb").path
    }

    static func spec(grpcPort: Int, stub: StubUpstream, calls: String = "") -> String {
        """
        name: grpc
        services:
          users:
            url: "http://127.0.0.1:\(grpcPort)"
            timeout: 15s
            connect_timeout: 5s
            grpc: { descriptor_set: \(descriptorSet) }
            retry: { attempts: 2, backoff: 10ms, budget: 100%, min_per_second: 100 }
          orders: { url: "\(stub.url)", timeout: 15s, connect_timeout: 5s }
        endpoints:
          # Generous deadlines: on a loaded CI machine a slow answer must not turn into a timeout here.
          - route: GET /profile/{id}
            timeout: 20s
            calls:
              user: { service: users, method: bfftest.v1.Users/GetUser, body: { user_id: "{path.id}" }, required: true }
              orders: { service: orders, path: "/orders/{user.id}" }
          - route: GET /optional/{id}
            timeout: 20s
            calls:
              user: { service: users, method: bfftest.v1.Users/GetUser, body: { userId: "{path.id}" }, fallback: { id: none } }
              orders: { service: orders, path: /orders/7 }
          - route: GET /quick/{id}
            calls:
              user: { service: users, method: bfftest.v1.Users/GetUser, body: { userId: "{path.id}" }, timeout: 300ms, fallback: { id: none } }
              orders: { service: orders, path: /orders/7 }
        \(calls)
        """
    }

    /// Starts the grpcio stub on a free port, waits until it accepts connections, runs `body` with
    /// its port, and stops it.
    static func withGRPCStub(_ body: (Int) async throws -> Void) async throws {
        let port = try ExecutableTests.freePort()
        let script = ExecutableTests.repositoryRoot.appendingPathComponent("Tests/Scripts/grpc_stub.py").path
        let service = try ChildProcess(
            executable: try ListenerClients.executable("python3"), arguments: [script, "--port", "\(port)", "--descriptor-set", descriptorSet],
            standardOutput: .discarded, standardError: .discarded
        )
        defer { _ = service.kill() }
        let listening = await eventually(within: .seconds(15)) {
            (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
                .map { $0.close(promise: nil) } != nil
        }
        try #require(listening, "the gRPC stub did not start")
        try await body(port)
    }

    static func withGRPCGateway(_ body: @Sendable (TestGateway, StubUpstream) async throws -> Void) async throws {
        try await withGRPCStub { port in try await withGRPCGateway(port: port, body) }
    }

    private static func withGRPCGateway(port: Int, _ body: @Sendable (TestGateway, StubUpstream) async throws -> Void) async throws {
        try await withStubs { stubs in
            stubs[0].on("/orders/7", body: #"[{"id":"o1"}]"#)
            stubs[0].on("/orders/flaky", body: #"[{"id":"o2"}]"#)
            try await withGateway(spec(grpcPort: port, stub: stubs[0])) { gateway in
                try await body(gateway, stubs[0])
            }
        }
    }

    @Test("a gRPC reply is a section in the proto3 JSON mapping, and a call after it reads its fields")
    func replyAsSection() async throws {
        try await Self.withGRPCGateway { gateway, stub in
            let answer = try await gateway.get("/profile/7")
            #expect(answer.status == 200, "\(answer.text)")
            let json = try answer.json()
            #expect(json["user"] == ["id": "7", "displayName": "User 7", "age": 42, "balance": "9007199254740993"], "\(answer.text)")
            #expect(json["orders"] == [["id": "o1"]])
            #expect(json.value(at: ["_meta", "calls", "user", "status"]) == "ok")
            #expect(stub.requests(to: "/orders/7").count == 1, "the HTTP call read the gRPC reply's id")
        }
    }

    @Test("deadline exceeded degrades an optional call to its fallback; a required call's NOT_FOUND is a 404")
    func failures() async throws {
        try await Self.withGRPCGateway { gateway, _ in
            let slow = try await gateway.get("/quick/slow")
            #expect(slow.status == 200)
            let degraded = try slow.json()
            #expect(degraded["user"] == ["id": "none"])
            #expect(degraded.value(at: ["_meta", "calls", "user", "status"]) == "timeout", "\(slow.text)")
            #expect(slow.header("X-BFF-Degraded") == "true")
            let gone = try await gateway.get("/profile/gone")
            #expect(gone.status == 404, "a required call that finds nothing is a 404: \(gone.text)")
            #expect(try gone.json()["calls"]?["user"]?["http"] == 404, "\(gone.text)")
            let garbage = try await gateway.get("/optional/garbage")
            #expect(try garbage.json().value(at: ["_meta", "calls", "user", "status"]) == "error", "a reply that is no User is a call error")
        }
    }

    @Test("a call's deadline covers waiting for its connection: a connect that stalls is a timeout at the call's deadline, not a connect failure at connect_timeout")
    func deadlineCoversTheConnect() async throws {
        try await withStalledPort { port in
            try await withStubs { stubs in
                stubs[0].on("/orders/7", body: #"[{"id":"o1"}]"#)
                // connect_timeout (5 s) is far past the call's 300 ms: the answer must not wait for it.
                try await withGateway(Self.spec(grpcPort: port, stub: stubs[0])) { gateway in
                    let answer = try await gateway.get("/quick/7")
                    #expect(answer.status == 200)
                    let json = try answer.json()
                    #expect(json["user"] == ["id": "none"], "\(answer.text)")
                    #expect(json.value(at: ["_meta", "calls", "user", "status"]) == "timeout", "\(answer.text)")
                    #expect(json["orders"] == [["id": "o1"]])
                }
            }
        }
    }

    @Test("a connection on which the service went silent is dropped when a call times out on it, and the next call opens a new one")
    func silentConnectionIsReplaced() async throws {
        try await Self.withGRPCStub { port in try await Self.silentConnection(stubPort: port) }
    }

    private static func silentConnection(stubPort port: Int) async throws {
        let proxy = try await SilentFirstProxy(target: port)
        try await withStubs { stubs in
            stubs[0].on("/orders/7", body: #"[{"id":"o1"}]"#)
            let yaml = spec(grpcPort: proxy.port, stub: stubs[0]).replacingOccurrences(of: "retry: { attempts: 2, backoff: 10ms, budget: 100%, min_per_second: 100 }", with: "")
            try await withGateway(yaml) { gateway in
                let first = try await gateway.get("/quick/7")
                #expect(try first.json().value(at: ["_meta", "calls", "user", "status"]) == "timeout", "the first connection never answers: \(first.text)")
                var answered = false
                for _ in 0..<5 where !answered {
                    let next = try await gateway.get("/quick/7")
                    answered = try next.json().value(at: ["_meta", "calls", "user", "status"]) == "ok"
                }
                #expect(answered, "a call after the timeout reaches the service over a new connection")
                #expect(proxy.acceptedConnections >= 2)
            }
        }
        await proxy.close()
    }

    @Test("UNAVAILABLE is retried within the service's retry budget")
    func retriesUnavailable() async throws {
        try await Self.withGRPCGateway { gateway, _ in
            let answer = try await gateway.get("/profile/flaky")
            #expect(answer.status == 200, "\(answer.text)")
            #expect(try answer.json().value(at: ["_meta", "calls", "user", "attempts"]) == 2, "\(answer.text)")
            let down = try await gateway.get("/profile/down")
            #expect(down.status == 502)
        }
    }

    @Test("an unknown method, a streaming one, or a body field the request message lacks is a load error at the call's line")
    func loadErrors() async throws {
        func problems(_ call: String) async -> String {
            let yaml = """
                name: grpc
                services:
                  users: { url: "http://127.0.0.1:9", grpc: { descriptor_set: \(Self.descriptorSet) } }
                endpoints:
                  - route: GET /x
                    calls:
                      \(call)
                """
            do {
                let spec = try SpecLoader.load(yaml: yaml, file: "grpc.yaml")
                let server = try await BFFServer(spec: spec, options: ServerOptions(listen: HostPort(host: "127.0.0.1", port: 0)), logger: quietLogger, validateOnly: true)
                await server.discard()
                return ""
            } catch {
                return error.description
            }
        }
        let unknown = await problems("user: { service: users, method: bfftest.v1.Users/GetUsr }")
        #expect(unknown.contains("grpc.yaml:7") && unknown.contains("has no method bfftest.v1.Users/GetUsr") && unknown.contains("did you mean bfftest.v1.Users/GetUser?"), "\(unknown)")
        let streaming = await problems("user: { service: users, method: bfftest.v1.Users/ListUsers }")
        #expect(streaming.contains("is a streaming method"), "\(streaming)")
        let field = await problems("user: { service: users, method: bfftest.v1.Users/GetUser, body: { user: u1 } }")
        #expect(field.contains("body sets 'user', which bfftest.v1.GetUserRequest does not have"), "\(field)")
        let path = await problems("user: { service: users, path: /users/1 }")
        #expect(path.contains("names no method"), "\(path)")
        #expect(await problems("user: { service: users, method: bfftest.v1.Users/GetUser, body: { userId: \"{path.id}\" } }").isEmpty == false, "{path.id} names no capture of GET /x")
        #expect(await problems("user: { service: users, method: bfftest.v1.Users/GetUser, body: { userId: u1 } }").isEmpty)
    }
}
