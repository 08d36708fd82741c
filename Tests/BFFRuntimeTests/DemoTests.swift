import AsyncHTTPClient
import BFFDemo
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Testing

extension ExecutableTests {
    /// `bff demo` as a user runs it: the demo services on their fixed ports (9101-9108) and the BFFs
    /// on 8081-8084, so these tests take turns.
    @Suite(.serialized) struct Demo {
        @Test("bff demo --services-only serves the demo services and no BFF, and exits 0 on SIGTERM")
        func servicesOnly() async throws {
            let demo = try Self.start(["--services-only"])
            defer { demo.kill() }
            let up = await eventually(within: .seconds(10)) { await ExecutableTests.status(demo.base + "/users/u1") == 200 }
            #expect(up, "the demo's users service did not come up on 127.0.0.1:9101")
            #expect(await ExecutableTests.status("http://127.0.0.1:9107/health") == 200, "recommendations should answer too")
            #expect(await ExecutableTests.status("http://127.0.0.1:8081/health") == nil, "--services-only must not start mobile-bff")
            demo.terminate()
            #expect(try await demo.exitStatus(within: .seconds(5)) == 0)
        }

        @Test("web's product page reads stock from the demo's gRPC inventory: the same data as the JSON inventory, in proto3 JSON, degraded when the inventory is down")
        func productPageOverGRPC() async throws {
            let demo = try Self.start([])
            defer { demo.kill() }
            let page = "http://127.0.0.1:8082/products/"
            let up = await eventually(within: .seconds(20)) { await ExecutableTests.status(page + "p1") == 200 }
            try #require(up, "bff demo did not serve web's product page on 127.0.0.1:8082")
            #expect(DemoServices.catalogue().last.map { ($0.name, $0.port, $0.grpcService) } ?? ("", 0, nil) == ("inventory-grpc", 9108, "inventory.v1.Inventory"))

            // Every product the JSON inventory knows, compared field by field; one sold out at least.
            var soldOut = 0
            for id in ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10"] {
                let json = try JSONParser.parse(try await ExecutableTests.body("http://127.0.0.1:9105/stock/\(id)"))
                let answer = try await Self.get(page + id)
                #expect(answer.status == 200, "\(id): \(answer.body)")
                let body = try JSONParser.parse(answer.body)
                let stock = try #require(body.value(at: ["stock"]), "\(id): \(answer.body)")
                #expect(body.value(at: ["_meta", "calls", "stock", "status"]) == "ok", "\(answer.body)")
                #expect(stock.value(at: ["productId"]) == .string(id))
                #expect(stock.value(at: ["warehouse"]) == json.value(at: ["warehouse"]))
                #expect(stock.value(at: ["available"]) == json.value(at: ["available"]), "available is proto3 optional, so 0 reads 0: \(stock)")
                let restock = try #require(json.value(at: ["restock_eta"])?.templateText)
                #expect(stock.value(at: ["restockEta"]) == .string(restock), "a Timestamp reads as RFC 3339 text")
                let available = try #require(json.value(at: ["available"])?.numberValue)
                let expected = available == 0 ? "SOLD_OUT" : available < 10 ? "LOW_STOCK" : "IN_STOCK"
                #expect(stock.value(at: ["availability"]) == .string(expected), "an enum reads as its name: \(stock)")
                if available == 0 { soldOut += 1 }
            }
            #expect(soldOut > 0, "no sold-out product among p1-p10: the optional-field case went untested")

            // The JSON inventory's switch drives the gRPC one: down is UNAVAILABLE, a degraded section.
            #expect(try await Self.post("http://127.0.0.1:9105/_demo/mode?state=down") == 200)
            let degraded = try await Self.get(page + "p1")
            #expect(degraded.status == 200, "stock is optional: \(degraded.body)")
            let body = try JSONParser.parse(degraded.body)
            #expect(body.value(at: ["_meta", "calls", "stock", "status"]) == "error", "\(degraded.body)")
            #expect(body.value(at: ["stock"]) == .null)
            #expect(degraded.headers["x-bff-degraded"] == "true", "\(degraded.headers)")
            #expect(!degraded.body.contains("service unavailable"), "the service's own message stays out of the answer")
            #expect(try await Self.post("http://127.0.0.1:9105/_demo/mode?state=ok") == 200)
            let healed = try JSONParser.parse(try await Self.get(page + "p1").body)
            #expect(healed.value(at: ["_meta", "calls", "stock", "status"]) == "ok")

            demo.terminate()
            #expect(try await demo.exitStatus(within: .seconds(10)) == 0)
        }

        static func start(_ arguments: [String]) throws -> RunningBFF {
            let errorsFile = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(UUID().uuidString).stderr").path
            let process = try ChildProcess(
                executable: ExecutableTests.binary("bff").path,
                arguments: ["demo"] + arguments,
                workingDirectory: ExecutableTests.repositoryRoot.path,
                standardOutput: .discarded,
                standardError: .file(errorsFile)
            )
            return RunningBFF(process: process, base: "http://127.0.0.1:9101", errorsFile: errorsFile)
        }

        static func get(_ url: String) async throws -> (status: Int, headers: [String: String], body: String) {
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
            defer { _ = client.shutdown() }
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5))
            let headers = Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }) { "\($0), \($1)" }
            return (Int(response.status.code), headers, String(buffer: try await response.body.collect(upTo: 1 << 20)))
        }

        static func post(_ url: String) async throws -> Int {
            let client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
            defer { _ = client.shutdown() }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            return Int(try await client.execute(request, timeout: .seconds(5)).status.code)
        }
    }
}
