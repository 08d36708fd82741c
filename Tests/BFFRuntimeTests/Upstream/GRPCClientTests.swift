import BFFProto
import BFFSpec
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import BFFRuntime

/// Unary gRPC calls against a real gRPC service (grpcio, Tests/Scripts/grpc_stub.py).
@Suite(.serialized, .timeLimit(.minutes(1))) struct GRPCClientTests {
    static func withService(_ body: @Sendable (GRPCClient, ServiceEndpoint, any EventLoop) async throws -> Void) async throws {
        let port = try ExecutableTests.freePort()
        let script = ExecutableTests.repositoryRoot.appendingPathComponent("Tests/Scripts/grpc_stub.py").path
        let service = try ChildProcess(
            executable: try ListenerClients.executable("python3"), arguments: [script, "--port", "\(port)"],
            standardOutput: .discarded, standardError: .discarded
        )
        defer { _ = service.kill() }
        let listening = await eventually(within: .seconds(15)) {
            (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
                .map { $0.close(promise: nil) } != nil
        }
        try #require(listening, "the gRPC stub did not start")
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = GRPCClient()
        let endpoint = ServiceEndpoint(ServiceSpec(name: "users", url: UpstreamURL("http://127.0.0.1:\(port)")!, location: SourceLocation(file: "t.yaml", line: 1)))
        do {
            // Listening is not serving yet: one call must come back before the test's own.
            _ = try await Self.call(client, "Echo", to: endpoint, on: group.next())
            try await body(client, endpoint, group.next())
        } catch {
            await client.shutdown()
            try await group.shutdownGracefully()
            throw error
        }
        await client.shutdown()
        try await group.shutdownGracefully()
    }

    /// One call; the deadline is generous unless a test is about deadlines, since a loaded CI machine
    /// can keep the Python service from answering for seconds.
    static func call(_ client: GRPCClient, _ method: String, _ message: [UInt8] = [], to endpoint: ServiceEndpoint, within: TimeAmount = .seconds(20), on loop: any EventLoop, metadata: [(String, String)] = []) async throws(UpstreamError) -> GRPCClient.Reply {
        try await client.unary("/bfftest.v1.Users/\(method)", message: message, metadata: metadata, to: endpoint, deadline: .now() + within, maxReplyBytes: 1 << 20, on: loop)
    }

    @Test("a reply comes back whole with status OK; 50 calls at once share one connection")
    func replies() async throws {
        try await Self.withService { client, endpoint, loop in
            let message = Array("hello \u{1F44B}".utf8)
            let reply = try await Self.call(client, "Echo", message, to: endpoint, on: loop)
            #expect(reply == GRPCClient.Reply(status: .ok, message: "", payload: message))
            let replies = try await withThrowingTaskGroup(of: GRPCClient.Reply.self) { group in
                for index in 0..<50 { group.addTask { try await Self.call(client, "Echo", [UInt8(index)], to: endpoint, on: loop) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(Set(replies.compactMap { $0.payload?.first }) == Set((0..<50).map(UInt8.init)))
        }
    }

    @Test("a status without a reply carries its percent-decoded message")
    func statuses() async throws {
        try await Self.withService { client, endpoint, loop in
            let missing = try await Self.call(client, "Missing", to: endpoint, on: loop)
            #expect(missing == GRPCClient.Reply(status: .notFound, message: "no user 7 — ünknown", payload: nil))
            let down = try await Self.call(client, "Unavailable", to: endpoint, on: loop)
            #expect(down.status == .unavailable && down.message == "down for maintenance")
            let unknown = try await Self.call(client, "NoSuchMethod", to: endpoint, on: loop)
            #expect(unknown.status == .unimplemented)
        }
    }

    @Test("grpc-timeout carries the time left; past the deadline the call is a timeout and the connection serves on")
    func deadlines() async throws {
        try await Self.withService { client, endpoint, loop in
            let left = try await Self.call(client, "Deadline", to: endpoint, within: .seconds(10), on: loop)
            let milliseconds = Int(String(decoding: left.payload ?? [], as: UTF8.self)) ?? -1
            #expect((1..<10_000).contains(milliseconds), "the service saw \(milliseconds) ms left")
            let start = NIODeadline.now()
            // Whichever sees the deadline first ends the call: our timer (a timeout), or the service
            // itself from grpc-timeout (DEADLINE_EXCEEDED, which `send` reports as a timeout too).
            do {
                let reply = try await Self.call(client, "Slow", to: endpoint, within: .milliseconds(300), on: loop)
                #expect(reply.status == .deadlineExceeded, "\(reply)")
            } catch {
                guard case .timeout(let service, let after) = error as? UpstreamError else {
                    Issue.record("not a timeout: \(error)")
                    return
                }
                #expect(service == "users" && after <= .milliseconds(300))
            }
            #expect(NIODeadline.now() - start < .seconds(2), "the call waited for the service")
            #expect(try await Self.call(client, "Echo", [1], to: endpoint, on: loop).payload == [1])
        }
    }

    @Test("metadata reaches the service; a cancelled call ends at once")
    func metadataAndCancellation() async throws {
        try await Self.withService { client, endpoint, loop in
            let reply = try await Self.call(client, "Headers", to: endpoint, on: loop, metadata: [("x-request-id", "r-1")])
            let headers = try JSONParser.parse(reply.payload ?? [])
            #expect(headers["x-request-id"] == "r-1")
            #expect(headers["user-agent"]?.templateText?.contains("swift-bff") == true)
            let slow = Task { try await Self.call(client, "Slow", to: endpoint, within: .seconds(10), on: loop) }
            try await Task.sleep(for: .milliseconds(200))
            slow.cancel()
            let start = NIODeadline.now()
            await #expect(throws: UpstreamError.cancelled(service: "users")) { try await slow.value }
            #expect(NIODeadline.now() - start < .seconds(1))
        }
    }

    @Test("a service that is not there is a connect failure")
    func unreachable() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let client = GRPCClient()
        let port = try ExecutableTests.freePort()
        let endpoint = ServiceEndpoint(ServiceSpec(name: "users", url: UpstreamURL("http://127.0.0.1:\(port)")!, location: SourceLocation(file: "t.yaml", line: 1)))
        await #expect(throws: UpstreamError.connectFailed(service: "users")) {
            try await Self.call(client, "Echo", to: endpoint, on: group.next())
        }
        await client.shutdown()
        try await group.shutdownGracefully()
    }
}
