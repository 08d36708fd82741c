@testable import BFFSpec
import Foundation
import Testing

/// `SpecSchema`: the JSON Schema of the spec language accepts what the loader accepts and rejects
/// unknown keys and wrong types, checked with a real JSON Schema validator (Python's `jsonschema`,
/// through Tests/Scripts/validate_spec_schema.py).
@Suite("SpecSchema: the spec language as JSON Schema")
struct SpecSchemaTests {
    @Test("every shipped spec and every file they include validates against its schema")
    func shippedSpecsValidate() throws {
        let directory = Self.repositoryRoot.appendingPathComponent("bff-specs").resolvingSymlinksInPath()
        let files = try FileManager.default.subpathsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        // Specs sit at the top of bff-specs; the files they include sit in folders below it.
        let specs = files.filter { !$0.contains("/") }.map { directory.appendingPathComponent($0).path }
        let includes = files.filter { $0.contains("/") }.map { directory.appendingPathComponent($0).path }
        #expect(specs.count >= 4)
        #expect(!includes.isEmpty)

        for (paths, document) in [(specs, SpecSchema.Document.spec), (includes, .include)] {
            for (path, errors) in try Self.schemaErrors(paths, against: document) {
                #expect(errors.isEmpty, "\(path) does not validate against the \(document) schema:\n\(errors.joined(separator: "\n"))")
            }
        }
    }

    @Test("values in every form the loader reads are accepted by the schema")
    func loaderFormsAreAccepted() throws {
        let yaml = """
            name: t
            admin_listen: off
            http2: true
            deadlines: { header: off, min_remaining: 5ms }
            cache_store: { max_bytes: 64MiB, timeout: 200ms }
            services:
              users:
                urls: [http://127.0.0.1:9001, { url: http://127.0.0.1:9002, weight: "2" }]
                balance: weighted
                max_body: 1048576
                outlier: off
                circuit_breaker: { failure_rate: 0.5, min_requests: 10, open_for: 1.5s }
                retry: { attempts: 2, budget: 20%, min_per_second: 0 }
            plans:
              gold: { rate: 50/s, burst: "100", quota: [1_000_000/month, 5000/day] }
              silver: { rate: 600/min, quota: 100/day }
            rate_limits: { store: memory, on_store_error: deny, limits: { key: header.X-Client, rate: 10/s } }
            security_headers: { hsts_max_age: off }
            trusted_proxies: [10.0.0.0/8]
            endpoints:
              - route: GET /a/{id}
                auth: [jwt]
                require: { roles: admin, scopes: [read] }
                rate_limit: [{ key: ip, rate: 5/s }]
                meta: "false"
                calls:
                  user: { service: users, path: "/users/{path.id}", hedge: { after: p95 }, fallback: { name: null, tags: [] } }
                response:
                  id: user.id
                  name: { from: user.name }
              - route: GET /ws
                auth: none
                proxy: { service: users, path: /ws, websocket: true }
            auth:
              jwt: { keys: [{ kid: k, alg: HS256, secret_env: S }] }
              forward_claims: { sub: X-User-Id }
            """
        let diagnostics = SpecFixtures.diagnostics(yaml)
        #expect(diagnostics.isEmpty, "the loader refuses the spec: \(diagnostics.map(\.description))")
        let file = try Self.temporaryDirectory().appendingPathComponent("forms.yaml").path
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        let errors = try Self.schemaErrors([file], against: .spec)[file] ?? ["no result"]
        #expect(errors.isEmpty, "the schema refuses what the loader reads:\n\(errors.joined(separator: "\n"))")
    }

    /// Mistakes from the loader tests (ValidationTests, EdgeSpecTests, ResilienceSpecTests, CacheSpecTests,
    /// ListenerSpecTests), each appended to `name: t` with the loader's message for it.
    static let mistakes: [(yaml: String, message: String)] = [
        // Unknown keys.
        ("servces: {}\n", "unknown key 'servces' in the spec"),
        ("services:\n  users: { url: http://u, timout: 1s }\n", "unknown key 'timout'"),
        ("services:\n  s: { url: http://a:1, circuit_breaker: { failur_rate: 50% } }\n", "unknown key 'failur_rate'"),
        ("auth: { jwt: { keys: [{ alg: HS256, secret: hunter2 }] } }\n", "unknown key 'secret'"),
        ("cache_store: { max_byte: 1MiB }\n", "unknown key 'max_byte'"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    cache: { ttl: 5s, stale_if_error: 1m }\n    calls:\n      c: { service: s, path: /c }\n", "unknown key 'stale_if_error' in cache of the endpoint"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /c, cache: { ttl: 5s, stale_if_eror: 1m } }\n", "unknown key 'stale_if_eror'"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /c }\n    respone: {}\n", "unknown key 'respone'"),
        ("http2: { max_streams: 10 }\n", "unknown key 'max_streams' in http2"),
        // Values of the wrong type or form.
        ("listen: [a, b]\n", "listen must be a single value"),
        ("endpoints: { a: 1 }\n", "endpoints must be a list"),
        ("rate_limits: { timeout: soon }\n", "timeout 'soon' is not a duration"),
        ("rate_limits: { timeout: 0ms }\n", "timeout '0ms' is not a duration"),
        ("limits: { header_timeout: 10 }\n", "is not a duration"),
        ("services:\n  users: { url: http://127.0.0.1:9001, timeout: 1min }\n", "'1min' is not a duration"),
        ("limits: { body: lots }\n", "is not a size"),
        ("services:\n  users: { url: http://u, max_body: lots }\n", "'lots' is not a size"),
        ("rate_limits: { on_store_error: maybe }\n", "on_store_error must be allow or deny"),
        ("rate_limits: { store: mysql://x }\n", "neither 'memory' nor a redis:// URL"),
        ("rate_limits: { limits: [{ key: ip, rate: 10/day }] }\n", "rate '10/day' is not a rate"),
        ("rate_limits: { limits: [{ key: cookie, rate: 10/s }] }\n", "rate limit key 'cookie' is unknown"),
        ("plans: { gold: { quota: 5/week } }\n", "quota '5/week' is not a quota"),
        ("auth: { jwt: { keys: [{ alg: none, secret_env: S }] } }\n", "unknown JWT algorithm 'none'"),
        ("services:\n  s: { urls: [] }\n", "urls of service 's' is empty"),
        ("services:\n  s: { urls: [{ url: http://a:1, weight: 0 }] }\n", "weight must be a positive whole number"),
        ("services:\n  s: { url: http://a:1, balance: random }\n", "balance 'random' is not a strategy"),
        ("services:\n  s: { url: http://a:1, circuit_breaker: { failure_rate: 150% } }\n", "failure_rate '150%' is not a share"),
        ("services:\n  s: { url: http://a:1, retry: { attempts: 0 } }\n", "attempts must be a positive whole number"),
        ("http2:\n  max_concurrent_streams: 0\n", "must be a positive whole number"),
        ("http2: yes please\n", "http2 must be true or false"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: \"/x\", required: yes }\n", "required must be true or false"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /x }\n    response:\n      r: { from: c, limit: 0 }\n", "limit must be a positive whole number"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    auth: password\n    calls:\n      c: { service: s, path: /x }\n", "unknown auth method 'password'"),
        ("services:\n  s: { url: http://u }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /c, cache: { ttl: 1s, shared: maybe } }\n", "shared must be true or false"),
        // Keys the loader requires.
        ("endpoints:\n  - timeout: 1s\n", "endpoint has no route"),
        ("services:\n  s: { url: http://a:1 }\nendpoints:\n  - route: GET /a\n    calls:\n      c: { service: s, path: /c, hedge: { max: 1 } }\n", "hedge has no 'after'"),
    ]

    @Test("mistakes the loader refuses, the schema refuses too")
    func mistakesAreRejected() throws {
        let directory = try Self.temporaryDirectory()
        var files: [String] = []
        for (index, mistake) in Self.mistakes.enumerated() {
            let yaml = "name: t\n" + mistake.yaml
            let messages = SpecFixtures.diagnostics(yaml).map(\.message)
            #expect(messages.contains { $0.contains(mistake.message) }, "the loader does not say \"\(mistake.message)\" for:\n\(yaml)\nbut \(messages)")
            let file = directory.appendingPathComponent("mistake-\(index).yaml").path
            try yaml.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        let results = try Self.schemaErrors(files, against: .spec)
        for (file, mistake) in zip(files, Self.mistakes) {
            #expect(results[file]?.isEmpty == false, "the schema accepts what the loader refuses (\(mistake.message)):\nname: t\n\(mistake.yaml)")
        }
    }

    @Test("an included file with a key only a client's spec may have is refused by the loader and by the include schema", arguments: [
        ("name: shared\n", "unknown key 'name' in an included file"),
        ("endpoints: []\n", "unknown key 'endpoints' in an included file"),
        ("services:\n  s: { url: http://a:1, retry: { attempt: 2 } }\n", "unknown key 'attempt' in retry"),
    ])
    func includeMistakesAreRejected(included: String, message: String) throws {
        let directory = try Self.temporaryDirectory()
        let spec = directory.appendingPathComponent("client.yaml").path
        let include = directory.appendingPathComponent("shared.yaml").path
        try "name: client\ninclude: shared.yaml\n".write(toFile: spec, atomically: true, encoding: .utf8)
        try included.write(toFile: include, atomically: true, encoding: .utf8)

        let loaded: [SpecDiagnostic]
        do throws(SpecLoadError) {
            _ = try SpecLoader.load(file: spec)
            loaded = []
        } catch {
            loaded = error.diagnostics
        }
        #expect(loaded.contains { $0.message.contains(message) }, "\(loaded.map(\.description))")
        #expect(try Self.schemaErrors([include], against: .include)[include]?.isEmpty == false)
    }

    // MARK: Drift

    /// Every table of allowed keys the loader checks mappings against, with the schema section it is.
    static let loaderTables: [(section: String, keys: [String])] = [
        ("spec", SpecLoader.topLevelKeys), ("include", SpecLoader.includeKeys),
        ("service", SpecLoader.serviceKeys), ("grpc", SpecLoader.grpcKeys), ("tracing", SpecLoader.tracingKeys), ("instance", SpecLoader.instanceKeys),
        ("health_check", SpecLoader.healthCheckKeys), ("outlier", SpecLoader.outlierKeys), ("circuit_breaker", SpecLoader.breakerKeys),
        ("retry", SpecLoader.retryKeys), ("hedge", SpecLoader.hedgeKeys), ("deadlines", SpecLoader.deadlineKeys),
        ("endpoint", SpecLoader.endpointKeys), ("call", SpecLoader.callKeys), ("response_field", SpecLoader.responseKeys),
        ("proxy", SpecLoader.proxyKeys), ("websocket", SpecLoader.websocketKeys),
        ("call_cache", SpecLoader.callCacheKeys), ("endpoint_cache", SpecLoader.endpointCacheKeys), ("cache_store", SpecLoader.cacheStoreKeys),
        ("tls", SpecLoader.tlsKeys), ("http2", SpecLoader.http2Keys),
        ("auth", SpecLoader.authKeys), ("jwt", SpecLoader.jwtKeys), ("jwt_key", SpecLoader.jwtKeyKeys), ("jwks", SpecLoader.jwksKeys),
        ("api_keys", SpecLoader.apiKeyKeys), ("plan", SpecLoader.planKeys), ("rate_limits", SpecLoader.rateLimitsKeys),
        ("rate_limit", SpecLoader.rateLimitKeys), ("cors", SpecLoader.corsKeys), ("limits", SpecLoader.limitsKeys),
        ("security_headers", SpecLoader.securityHeadersKeys), ("hygiene", SpecLoader.hygieneKeys), ("require", SpecLoader.requireKeys),
    ]

    @Test("every key of every loader table is a property of its section in the schema, and nothing else is")
    func loaderTablesMatchSchema() throws {
        let spec = try JSONParser.parse(SpecSchema.json(for: .spec))
        let include = try JSONParser.parse(SpecSchema.json(for: .include))
        for (section, keys) in Self.loaderTables {
            let schema: JSONValue? =
                switch section {
                case "spec": spec
                case "include": include
                default: spec["$defs"]?[section]
                }
            let properties = try #require(schema.flatMap(Self.propertyNames), "no section '\(section)' in the schema")
            #expect(properties == keys, "section '\(section)'")
        }
        for edgeKey in EdgeSections.keys {
            #expect(SpecLoader.topLevelKeys.contains(edgeKey) && SpecLoader.includeKeys.contains(edgeKey))
        }
        #expect(SpecLoader.resilienceServiceKeys.allSatisfy(SpecLoader.serviceKeys.contains))
    }

    @Test("every section of the grammar is a closed object in $defs with the grammar's keys")
    func grammarSectionsAreClosed() throws {
        let schema = try JSONParser.parse(SpecSchema.json(for: .spec))
        let sections = SpecSchema.reachableSections(from: SpecGrammar.spec)
        #expect(Set(sections.map(\.name)) == Set(Self.loaderTables.map(\.section)).subtracting(["spec", "include"]))
        for section in sections {
            let definition = try #require(schema["$defs"]?[section.name], "no $defs entry for '\(section.name)'")
            #expect(Self.propertyNames(definition) == section.keys)
            #expect(definition["additionalProperties"] == false, "section '\(section.name)' is open")
        }
        #expect(schema["additionalProperties"] == false)
        #expect(SpecSchema.json(for: .spec) == SpecSchema.json(for: .spec))
    }

    // MARK: Helpers

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // BFFSpecTests
        .deletingLastPathComponent()  // Tests
        .deletingLastPathComponent()

    static func propertyNames(_ schema: JSONValue) -> [String]? {
        guard case .object(let members)? = schema["properties"] else { return nil }
        return members.map(\.0)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("spec-schema-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Each file's errors against the schema of `document`, from Tests/Scripts/validate_spec_schema.py.
    static func schemaErrors(_ files: [String], against document: SpecSchema.Document) throws -> [String: [String]] {
        guard !files.isEmpty else { return [:] }
        let schemaFile = try temporaryDirectory().appendingPathComponent("schema.json")
        try SpecSchema.json(for: document).write(to: schemaFile, atomically: true, encoding: .utf8)
        let script = repositoryRoot.appendingPathComponent("Tests/Scripts/validate_spec_schema.py").path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, schemaFile.path] + files
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = output.fileHandleForReading.readDataToEndOfFile()
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidatorFailed(reason: "validate_spec_schema.py exited \(process.terminationStatus) (needs python3 -m pip install jsonschema pyyaml): \(problems)")
        }
        guard case .object(let results) = try JSONParser.parse(String(decoding: text, as: UTF8.self)) else {
            throw ValidatorFailed(reason: "validate_spec_schema.py printed no JSON object")
        }
        return Dictionary(uniqueKeysWithValues: results.map { path, errors in
            guard case .array(let items) = errors else { return (path, ["unreadable result"]) }
            return (path, items.compactMap(\.templateText))
        })
    }

    struct ValidatorFailed: Error, CustomStringConvertible {
        let reason: String
        var description: String { reason }
    }
}
