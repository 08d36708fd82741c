import BFFSpec
import Foundation
import Testing

@Suite("SpecLoader: valid specs")
struct SpecLoaderTests {
    @Test("the example spec loads with services, defaults and both endpoints")
    func loadsExampleSpec() throws {
        let spec = try SpecLoader.load(yaml: SpecFixtures.example, file: "mobile.yaml")

        #expect(spec.name == "mobile")
        #expect(spec.file == "mobile.yaml")
        #expect(spec.listen == HostPort(host: "127.0.0.1", port: 8081))
        #expect(spec.services.keys.sorted() == ["orders", "recs", "users"])
        let users = try #require(spec.services["users"])
        #expect(users.url == UpstreamURL("http://127.0.0.1:9001"))
        #expect(users.timeout == Duration.milliseconds(800))
        #expect(users.location.line == 4)
        #expect(spec.services["orders"]?.timeout == ServiceSpec.defaultTimeout)
        #expect(spec.services["recs"]?.url.port == 9004)

        #expect(spec.endpoints.map(\.route.description) == ["GET /dashboard/{id}", "GET /api/users/{rest*}"])
    }

    @Test("admin_listen is an address or off, and absent unless set")
    func adminListen() throws {
        #expect(try SpecLoader.load(yaml: SpecFixtures.example, file: "mobile.yaml").adminListen == nil)
        let set = try SpecLoader.load(yaml: "name: t\nadmin_listen: 0.0.0.0:9090\n", file: "t.yaml")
        #expect(set.adminListen == .address(HostPort(host: "0.0.0.0", port: 9090)))
        #expect(try SpecLoader.load(yaml: "name: t\nadmin_listen: off\n", file: "t.yaml").adminListen == .off)
    }

    @Test("aggregation calls keep their order, timeouts, required flags and fallbacks")
    func loadsCalls() throws {
        let spec = try SpecLoader.load(yaml: SpecFixtures.example, file: "mobile.yaml")
        let dashboard = spec.endpoints[0]
        #expect(dashboard.timeout == Duration.seconds(1))
        #expect(dashboard.location.line == 8)
        let aggregate = try #require(dashboard.aggregate)
        #expect(aggregate.meta)
        #expect(aggregate.calls.map(\.name) == ["user", "orders", "recs"])

        let user = aggregate.calls[0]
        #expect(user.service == "users")
        #expect(user.path.text == "/users/{path.id}")
        #expect(user.path.variables.map(\.source) == [.path("id")])
        #expect(user.required)
        #expect(user.timeout == nil)
        #expect(user.fallback == nil)
        #expect(user.location.line == 11)

        let orders = aggregate.calls[1]
        #expect(orders.service == "orders")
        #expect(orders.timeout == Duration.milliseconds(300))
        #expect(!orders.required)
        #expect(orders.fallback == .array([]))
        #expect(orders.path.variables.map(\.source) == [.path("id"), .query("limit")])
        #expect(orders.path.variables.map(\.defaultValue) == [nil, "5"])
        #expect(orders.dependencies.isEmpty)

        let recs = aggregate.calls[2]
        #expect(recs.path.variables.map(\.source) == [.call("user", path: ["tier"])])
        #expect(recs.dependencies == ["user"])
        #expect(!recs.required)
        #expect(recs.fallback == nil)
    }

    @Test("response fields read fields, limit and dotted from paths")
    func loadsResponse() throws {
        let spec = try SpecLoader.load(yaml: SpecFixtures.example, file: "mobile.yaml")
        let response = try #require(spec.endpoints[0].aggregate?.response)
        #expect(response.map(\.key) == ["profile", "orders", "tier", "recs"])

        #expect(response[0].call == "user")
        #expect(response[0].path.isEmpty)
        #expect(response[0].fields == ["id", "name", "avatar"])
        #expect(response[0].limit == nil)
        #expect(response[0].location.line == 15)

        #expect(response[1].call == "orders")
        #expect(response[1].limit == 3)
        #expect(response[1].fields == nil)

        #expect(response[2].call == "user")
        #expect(response[2].path == ["tier"])
        #expect(!response[2].isPassThrough)

        #expect(response[3].call == "recs")
        #expect(response[3].isPassThrough)
    }

    @Test("a proxy route captures the rest of the path")
    func loadsProxy() throws {
        let spec = try SpecLoader.load(yaml: SpecFixtures.example, file: "mobile.yaml")
        let endpoint = spec.endpoints[1]
        #expect(endpoint.route.method == "GET")
        #expect(endpoint.route.segments == [.literal("api"), .literal("users"), .rest("rest")])
        #expect(endpoint.route.restCapture == "rest")
        #expect(endpoint.timeout == EndpointSpec.defaultTimeout)
        let proxy = try #require(endpoint.proxy)
        #expect(proxy.service == "users")
        #expect(proxy.path.variables.map(\.source) == [.path("rest")])
        #expect(proxy.timeout == nil)
    }

    @Test("fallbacks keep YAML scalars, lists and mappings as JSON")
    func loadsStructuredFallback() throws {
        let yaml = SpecFixtures.header + """
              - route: GET /a/{id}
                meta: false
                calls:
                  user: { service: users, path: "/users/{path.id}", fallback: { unread: 0, items: [], name: "n", ok: true, gone: null } }
            """
        let spec = try SpecLoader.load(yaml: yaml, file: SpecFixtures.file)
        let aggregate = try #require(spec.endpoints.first?.aggregate)
        #expect(!aggregate.meta)
        #expect(aggregate.response == nil)
        #expect(aggregate.calls[0].fallback == ["unread": 0, "items": [], "name": "n", "ok": true, "gone": nil])
    }

    @Test("call headers are header-value templates, in declaration order")
    func loadsCallHeaders() throws {
        let yaml = SpecFixtures.header + """
              - route: GET /a/{id}
                calls:
                  user:
                    service: users
                    path: "/users/{path.id}"
                    headers:
                      Authorization: "Bearer {header.X-Token}"
                      Accept-Language: "{header.accept-language:en}"
            """
        let spec = try SpecLoader.load(yaml: yaml, file: SpecFixtures.file)
        let headers = try #require(spec.endpoints.first?.aggregate?.calls.first?.headers)
        #expect(headers.map(\.name) == ["Authorization", "Accept-Language"])
        #expect(headers.map(\.value.text) == ["Bearer {header.X-Token}", "{header.accept-language:en}"])
        #expect(headers[0].value.variables.map(\.source) == [.header("x-token")])
        #expect(headers[1].value.variables.map(\.defaultValue) == ["en"])
    }

    @Test("each shipped spec loads without diagnostics", arguments: ["mobile", "web", "partner", "admin"])
    func shippedSpecLoads(name: String) throws {
        let repositoryRoot = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // BFFSpecTests
            .deletingLastPathComponent()  // Tests
            .deletingLastPathComponent()
        let path = repositoryRoot.appendingPathComponent("bff-specs/\(name).yaml").path
        do {
            let spec = try SpecLoader.load(file: path)
            #expect(spec.name == name)
            #expect(spec.services.count == 8, "every shipped spec includes the shared catalogue")
            #expect(!spec.endpoints.isEmpty)
        } catch {
            Issue.record("\(name).yaml did not load:\n\(error)")
        }
    }

    @Test("a missing spec file is a diagnostic naming the file, not a crash")
    func missingFile() throws {
        let path = "/nonexistent-\(UUID().uuidString)/spec.yaml"

        let error = try #require(throws: SpecLoadError.self) { try SpecLoader.load(file: path) }

        #expect(error.diagnostics.count == 1)
        #expect(error.diagnostics.first?.location.file == path)
        #expect(error.diagnostics.first?.message.contains("cannot read") == true)
    }
}
