import BFFSpec
import Foundation
import Testing

/// Every way a spec can fail to load: each problem is reported at its file:line with a message and hint
/// that say what to do. In the specs below the endpoint text starts at line 7 (after ``SpecFixtures/header``).
@Suite("SpecLoader: diagnostics")
struct ValidationTests {
    /// The only diagnostic whose message contains `text`.
    func diagnostic(_ text: String, in diagnostics: [SpecDiagnostic]) throws -> SpecDiagnostic {
        let matching = diagnostics.filter { $0.message.contains(text) }
        #expect(matching.count == 1, "expected one diagnostic containing \"\(text)\" in \(diagnostics.map(\.description))")
        return try #require(matching.first)
    }

    @Test("an unknown key is reported where it is written, suggesting the key meant")
    func unknownKeyTypo() throws {
        let line9 = #"      user: { service: users, path: "/users/{path.id}", timout: 300ms }"#
        let diagnostics = SpecFixtures.diagnostics(endpoints: "  - route: GET /a/{id}\n    calls:\n\(line9)\n")

        #expect(diagnostics.count == 1)
        let d = try diagnostic("unknown key 'timout'", in: diagnostics)
        #expect(d.location.file == SpecFixtures.file)
        #expect(d.location.line == 9)
        #expect(d.location.column == line9.distance(from: line9.startIndex, to: line9.range(of: "timout")!.lowerBound) + 1)
        #expect(d.message.contains("call 'user'"))
        #expect(d.hint == "did you mean 'timeout'?")
        #expect(d.description.hasPrefix("test.yaml:9:"))
    }

    @Test("unknown top-level and endpoint keys are reported too")
    func unknownKeysAtOtherLevels() throws {
        let yaml = """
            name: test
            servces:
              users: { url: http://127.0.0.1:9001 }
            endpoints:
              - route: GET /a/{id}
                respone: {}
                proxy: { service: users, path: "/x" }
            """
        let diagnostics = SpecFixtures.diagnostics(yaml)

        let top = try diagnostic("unknown key 'servces'", in: diagnostics)
        #expect(top.location.line == 2)
        #expect(top.hint?.contains("'services'") == true)
        let endpoint = try diagnostic("unknown key 'respone'", in: diagnostics)
        #expect(endpoint.location.line == 6)
        #expect(endpoint.hint?.contains("'response'") == true)
    }

    @Test("an unknown service is reported at its call, suggesting the nearest declared service")
    func unknownService() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: user, path: "/users/{path.id}" }
                  other: { service: billing, path: "/b" }
            """)

        #expect(diagnostics.count == 2)
        let near = try diagnostic("unknown service 'user'", in: diagnostics)
        #expect(near.location.line == 9)
        #expect(near.hint == "did you mean 'users'?")
        let far = try diagnostic("unknown service 'billing'", in: diagnostics)
        #expect(far.location.line == 10)
        #expect(far.hint?.contains("services:") == true)
    }

    @Test("an unknown service in a proxy is reported at its endpoint")
    func unknownProxyService() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /api/{rest*}
                proxy: { service: userz, path: "/users/{rest}" }
            """)

        let d = try diagnostic("unknown service 'userz'", in: diagnostics)
        #expect(diagnostics.count == 1)
        #expect(d.location.line == 7)
        #expect(d.hint == "did you mean 'users'?")
    }

    @Test("a call reading an unknown variable is reported with the nearest call name")
    func unknownVariable() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                  recs: { service: recs, path: "/for/{usr.tier}" }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("unknown variable '{usr", in: diagnostics)
        #expect(d.location.line == 10)
        #expect(d.message.contains("call 'recs'"))
        #expect(d.hint == "did you mean 'user'?")
    }

    @Test("a response field reading an unknown call is reported with the nearest call name")
    func unknownCallInResponse() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                response:
                  name: { from: user.name }
                  tier: { from: usr.tier }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("unknown call 'usr'", in: diagnostics)
        #expect(d.location.line == 12)
        #expect(d.message.contains("'tier'"))
        #expect(d.hint == "did you mean 'user'?")
    }

    @Test("a path variable naming no route capture is reported with the captures")
    func pathVariableWithoutCapture() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.userId}" }
                  same: { service: users, path: "/users/{path.ib}" }
              - route: GET /b/{rest*}
                proxy: { service: users, path: "/users/{tail}" }
            """)

        #expect(diagnostics.count == 3)
        let noMatch = try diagnostic("{path.userId} names no capture", in: diagnostics)
        #expect(noMatch.location.line == 9)
        #expect(noMatch.message.contains("GET /a/{id}"))
        #expect(noMatch.hint?.contains("id") == true)
        let typo = try diagnostic("{path.ib} names no capture", in: diagnostics)
        #expect(typo.location.line == 10)
        #expect(typo.hint == "did you mean '{path.id}'?")
        let proxy = try diagnostic("{tail} names no capture", in: diagnostics)
        #expect(proxy.location.line == 11)
        #expect(proxy.hint?.contains("rest") == true)
    }

    @Test("a cycle between calls is reported with its path")
    func callCycle() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  a: { service: users, path: "/a/{b.id}" }
                  b: { service: users, path: "/b/{a.id}" }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("cycle", in: diagnostics)
        #expect(d.message.contains("a -> b -> a"))
        #expect(d.location.line == 9)
        #expect(d.hint?.contains("DAG") == true)
    }

    @Test("a call reading its own result is reported")
    func selfReference() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                  a: { service: users, path: "/a?next={a.next}" }
            """)

        let d = try diagnostic("reads its own result", in: diagnostics)
        #expect(d.location.line == 10)
        #expect(d.message.contains("'a'"))
        #expect(diagnostics.allSatisfy { $0.location.line == 10 })
    }

    @Test("a malformed duration is reported with the expected form", arguments: [
        ("    timeout: 10 seconds\n    calls:\n      user: { service: users, path: \"/u\" }\n", 8),
        ("    calls:\n      user: { service: users, path: \"/u\", timeout: 10 seconds }\n", 9),
        ("    proxy: { service: users, path: \"/u\", timeout: 10 seconds }\n", 8),
    ])
    func badDuration(endpointBody: String, line: Int) throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: "  - route: GET /a\n" + endpointBody)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("'10 seconds' is not a duration", in: diagnostics)
        #expect(d.location.line == line)
        #expect(d.hint?.contains("300ms") == true)
    }

    @Test("a malformed service timeout is reported at the service")
    func badServiceDuration() throws {
        let diagnostics = SpecFixtures.diagnostics("name: t\nservices:\n  users: { url: http://127.0.0.1:9001, timeout: 1min }\n")

        let d = try diagnostic("'1min' is not a duration", in: diagnostics)
        #expect(d.location.line == 3)
    }

    @Test("duplicate YAML keys are a syntax error naming the key")
    func duplicateKeys() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                  user: { service: users, path: "/users/{path.id}" }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("duplicate key", in: diagnostics)
        #expect(d.message.contains("user"))
        #expect(d.location.line == 9)
        #expect(d.hint?.contains("YAML") == true)
    }

    @Test("a YAML syntax error is reported at its line")
    func yamlSyntaxError() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: service: users
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("YAML syntax error", in: diagnostics)
        #expect(d.location.line == 9)
        #expect(d.hint?.contains("YAML syntax") == true)
    }

    @Test("an empty spec is reported")
    func emptySpec() throws {
        let d = try diagnostic("empty", in: SpecFixtures.diagnostics("# nothing here\n"))
        #expect(d.location.line == 1)
    }

    @Test("an endpoint with both calls and proxy is reported at the endpoint")
    func callsAndProxy() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                proxy: { service: users, path: "/users/{path.id}" }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("both 'calls' and 'proxy'", in: diagnostics)
        #expect(d.location.line == 7)
        #expect(d.message.contains("GET /a/{id}"))
        #expect(d.hint != nil)
    }

    @Test("an endpoint with neither calls nor proxy is reported")
    func neitherCallsNorProxy() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: "  - route: GET /a\n    timeout: 1s\n")

        let d = try diagnostic("neither 'calls' nor 'proxy'", in: diagnostics)
        #expect(d.location.line == 7)
    }

    @Test("an aggregation route must use GET", arguments: ["POST", "DELETE", "*"])
    func aggregationNotGet(method: String) throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: "\(method) /a/{id}"
                calls:
                  user: { service: users, path: "/users/{path.id}" }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("must use GET", in: diagnostics)
        #expect(d.location.line == 7)
        #expect(d.hint?.contains("proxy") == true)
    }

    @Test("a proxy route may use any method")
    func proxyWithOtherMethod() {
        #expect(SpecFixtures.diagnostics(endpoints: "  - route: POST /api/{rest*}\n    proxy: { service: users, path: \"/{rest}\" }\n").isEmpty)
    }

    @Test("a required call with a fallback is reported")
    func requiredWithFallback() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  orders: { service: orders, path: "/orders", fallback: [] }
                  user: { service: users, path: "/users/{path.id}", required: true, fallback: {} }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("has a fallback", in: diagnostics)
        #expect(d.location.line == 10)
        #expect(d.message.contains("'user'"))
        #expect(d.hint?.contains("fallback") == true)
    }

    @Test("'_meta' is a reserved response key")
    func metaResponseKey() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                response:
                  _meta: { from: user }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("'_meta' is reserved", in: diagnostics)
        #expect(d.location.line == 11)
        #expect(d.hint?.contains("another key") == true)
    }

    @Test("a 'from' path with an empty step is reported")
    func emptyFromStep() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
                response:
                  tier: { from: user. }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("empty step", in: diagnostics)
        #expect(d.location.line == 11)
    }

    @Test("reserved call names are reported", arguments: ["path", "query", "header", "_private"])
    func reservedCallName(name: String) throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  \(name): { service: users, path: "/users/{path.id}" }
            """)

        let d = try diagnostic("call name '\(name)' is reserved", in: diagnostics)
        #expect(d.location.line == 9)
    }

    @Test("two routes matching the same requests clash; the later one is reported")
    func routeClash() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}" }
              - route: GET /a/{key}
                calls:
                  user: { service: users, path: "/users/{path.key}" }
              - route: GET /a/static
                calls:
                  user: { service: users, path: "/users/static" }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("clashes", in: diagnostics)
        #expect(d.location.line == 10)
        #expect(d.message.contains("GET /a/{key} clashes with GET /a/{id}"))
        #expect(d.message.contains("test.yaml:7"))
    }

    @Test("a wildcard-method proxy clashes with a GET route of the same shape")
    func wildcardMethodClash() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /api/{rest*}
                proxy: { service: users, path: "/{rest}" }
              - route: "* /api/{rest*}"
                proxy: { service: users, path: "/{rest}" }
            """)

        let d = try diagnostic("clashes", in: diagnostics)
        #expect(d.location.line == 9)
    }

    @Test("two rest routes with different capture names clash")
    func restRouteClash() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /api/{rest*}
                proxy: { service: users, path: "/{rest}" }
              - route: GET /api/{tail*}
                proxy: { service: orders, path: "/{tail}" }
            """)

        let d = try diagnostic("clashes", in: diagnostics)
        #expect(d.location.line == 9)
    }

    @Test("a spec without a name is reported at its first line")
    func missingName() throws {
        let diagnostics = SpecFixtures.diagnostics("listen: 127.0.0.1:8081\nservices: {}\n")

        #expect(diagnostics.count == 1)
        let d = try diagnostic("no 'name'", in: diagnostics)
        #expect(d.location.line == 1)
        #expect(d.hint?.contains("name: mobile") == true)
    }

    @Test("a missing name does not hide the other problems")
    func missingNameWithOtherProblems() throws {
        let diagnostics = SpecFixtures.diagnostics("""
            services:
              users: { url: http://127.0.0.1:9001 }
            endpoints:
              - route: GET /a/{id}
                calls:
                  user: { service: userz, path: "/users/{path.id}", timout: 1s }
            """)

        #expect(diagnostics.map(\.location.line).sorted() == [1, 6, 6])
        _ = try diagnostic("no 'name'", in: diagnostics)
        _ = try diagnostic("unknown key 'timout'", in: diagnostics)
        _ = try diagnostic("unknown service 'userz'", in: diagnostics)
    }

    @Test("missing or malformed values are reported", arguments: [
        ("name: t\nlisten: nowhere\n", 2, "listen 'nowhere' is not host:port"),
        ("name: t\nlisten: 127.0.0.1:8081\nadmin_listen: public\n", 3, "admin_listen 'public' is neither host:port nor 'off'"),
        ("name: t\nservices:\n  users: { timeout: 1s }\n", 3, "service 'users' has no url"),
        ("name: t\nservices:\n  users: { url: ftp://x }\n", 3, "is not an http(s) URL"),
        ("name: t\nservices:\n  users: { url: http://u, max_body: lots }\n", 3, "'lots' is not a size"),
        ("name: t\nendpoints:\n  - timeout: 1s\n", 3, "endpoint has no route"),
        ("name: t\nendpoints:\n  - route: GET a/b\n    proxy: { service: s, path: /x }\n", 3, "does not start with '/'"),
        ("name: t\nservices:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s }\n", 7, "call 'c' has no path"),
        ("name: t\nservices:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: \"/x\", required: yes }\n", 7, "required must be true or false"),
        ("name: t\nservices:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: \"x/{path.id\" }\n", 7, "does not start with '/'"),
        ("name: t\nservices:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /x }\n    response:\n      r: { from: c, limit: 0 }\n", 9, "limit must be a positive whole number"),
    ])
    func malformedValue(yaml: String, line: Int, message: String) throws {
        let d = try diagnostic(message, in: SpecFixtures.diagnostics(yaml))
        #expect(d.location.line == line)
    }

    @Test("an invalid header name is reported at its call")
    func badHeaderName() throws {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                calls:
                  user: { service: users, path: "/users/{path.id}", headers: { "x token": "{path.id}" } }
            """)

        #expect(diagnostics.count == 1)
        let d = try diagnostic("'x token' is not a valid header name", in: diagnostics)
        #expect(d.location.line == 9)
    }

    @Test("several problems in one file are all reported, each at its own line")
    func severalErrors() {
        let diagnostics = SpecFixtures.diagnostics(endpoints: """
              - route: GET /a/{id}
                timeout: 10 seconds
                calls:
                  user: { service: user, path: "/users/{path.id}", timout: 1s }
              - route: POST /b
                calls:
                  x: { service: users, path: "/x/{x.id}" }
                response:
                  _meta: { from: x }
            """)

        #expect(diagnostics.map(\.location.line).sorted() == [8, 10, 10, 11, 13, 13, 15])
        #expect(diagnostics.allSatisfy { $0.hint != nil })
    }

    @Test("the error's description lists every diagnostic as file:line:column: error: message; hint")
    func errorDescription() throws {
        let error = try #require(throws: SpecLoadError.self) {
            try SpecLoader.load(yaml: "name: t\nlisten: nowhere\nservces: {}\n", file: "specs/t.yaml")
        }
        #expect(
            error.description.split(separator: "\n").sorted() == [
                "specs/t.yaml:2:9: error: listen 'nowhere' is not host:port; write e.g. 127.0.0.1:8081",
                "specs/t.yaml:3:1: error: unknown key 'servces' in the spec; did you mean 'services'?",
            ]
        )
    }
}
