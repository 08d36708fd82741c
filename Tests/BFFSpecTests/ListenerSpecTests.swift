import BFFSpec
import Foundation
import Testing

/// `tls:` and `http2:`: how the public listener speaks to clients.
@Suite struct ListenerSpecTests {
    /// A folder with empty stand-ins for the PEM files (the loader checks they can be read; the
    /// server reads what is in them).
    static func withFiles(_ body: (URL) throws -> Void) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bff-listener-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for name in ["cert.pem", "key.pem", "ca.pem"] {
            try "-----BEGIN CERTIFICATE-----\n".write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try body(directory)
    }

    @Test("tls files are read relative to the spec; min_version and client_ca_file are kept")
    func tlsSection() throws {
        try Self.withFiles { directory in
            let spec = try SpecLoader.load(
                yaml: "name: t\ntls:\n  cert_file: cert.pem\n  key_file: key.pem\n  min_version: \"1.3\"\n  client_ca_file: ca.pem\n",
                file: directory.appendingPathComponent("spec.yaml").path
            )
            let tls = try #require(spec.tls)
            #expect(tls.certFile == directory.appendingPathComponent("cert.pem").path)
            #expect(tls.keyFile == directory.appendingPathComponent("key.pem").path)
            #expect(tls.minVersion == .v1_3)
            #expect(tls.clientCAFile == directory.appendingPathComponent("ca.pem").path)
            #expect(tls.location.line == 2)
            #expect(spec.http2.overTLS)
            #expect(!spec.http2.priorKnowledge)
        }
    }

    @Test("an unreadable file, a missing key and an unknown version are each reported at their line")
    func tlsMistakes() throws {
        try Self.withFiles { directory in
            let file = directory.appendingPathComponent("spec.yaml").path
            let missing = SpecFixtures.diagnostics("name: t\ntls:\n  cert_file: cert.pem\n  key_file: nope.pem\n", file: file)
            #expect(missing.map(\.location.line) == [4])
            #expect(missing.first?.message.contains("tls.key_file") == true && missing.first?.message.contains("cannot be read") == true)
            let noKey = SpecFixtures.diagnostics("name: t\ntls:\n  cert_file: cert.pem\n", file: file)
            #expect(noKey.map(\.location.line) == [2])
            #expect(noKey.first?.message == "tls has no key_file")
            let version = SpecFixtures.diagnostics("name: t\ntls: { cert_file: cert.pem, key_file: key.pem, min_version: \"1.1\" }\n", file: file)
            #expect(version.map(\.location.line) == [2])
            #expect(version.first?.message.contains("'1.1'") == true)
            let unknown = SpecFixtures.diagnostics("name: t\ntls: { cert_file: cert.pem, key_file: key.pem, ciphers: all }\n", file: file)
            #expect(unknown.count == 1)
            #expect(unknown.first?.message.contains("ciphers") == true)
        }
    }

    @Test("http2 is a switch or a section of limits; a section turns it on")
    func http2Forms() throws {
        let off = try SpecLoader.load(yaml: "name: t\nhttp2: false\n", file: "t.yaml").http2
        #expect(!off.overTLS && !off.priorKnowledge)
        let on = try SpecLoader.load(yaml: "name: t\nhttp2: true\n", file: "t.yaml").http2
        #expect(on.overTLS && on.priorKnowledge)
        let limits = try SpecLoader.load(yaml: "name: t\nhttp2:\n  max_concurrent_streams: 20\n  max_resets: 50\n  reset_window: 10s\n", file: "t.yaml").http2
        #expect(limits.priorKnowledge)
        #expect(limits.maxConcurrentStreams == 20)
        #expect(limits.maxResets == 50)
        #expect(limits.resetWindow == .seconds(10))
        let bad = SpecFixtures.diagnostics("name: t\nhttp2:\n  max_concurrent_streams: 0\n")
        #expect(bad.map(\.location.line) == [3])
        let word = SpecFixtures.diagnostics("name: t\nhttp2: yes please\n")
        #expect(word.map(\.location.line) == [2])
    }

    @Test("{tls.subject} and require tls_subjects need client_ca_file; {tls.X} is no other value")
    func clientSubjects() throws {
        try Self.withFiles { directory in
            let file = directory.appendingPathComponent("spec.yaml").path
            let routes = """
                services:
                  users: { url: http://127.0.0.1:9 }
                endpoints:
                  - route: GET /a
                    require: { tls_subjects: ["CN=partner-a,O=Acme"] }
                    calls:
                      me: { service: users, path: "/subjects/{tls.subject}" }

                """
            let withCA = try SpecLoader.load(yaml: "name: t\ntls: { cert_file: cert.pem, key_file: key.pem, client_ca_file: ca.pem }\n" + routes, file: file)
            #expect(withCA.endpoints.first?.auth?.tlsSubjects == ["CN=partner-a,O=Acme"])
            #expect(withCA.endpoints.first?.auth?.isPublic == true)
            let withoutCA = SpecFixtures.diagnostics("name: t\ntls: { cert_file: cert.pem, key_file: key.pem }\n" + routes, file: file)
            #expect(withoutCA.count == 2, "\(withoutCA)")
            #expect(withoutCA.allSatisfy { $0.location.line == 6 && $0.message.contains("asks for no client certificate") })
            let other = SpecFixtures.diagnostics(
                "name: t\nservices:\n  users: { url: http://127.0.0.1:9 }\nendpoints:\n  - route: GET /a\n    calls:\n      me: { service: users, path: \"/s/{tls.version}\" }\n"
            )
            #expect(other.first?.message.contains("{tls.version}") == true, "\(other)")
        }
    }

    @Test("websocket on a proxy is a switch or its limits, on GET routes only")
    func websocketProxies() throws {
        let header = "name: t\nservices:\n  live: { url: http://127.0.0.1:9 }\nendpoints:\n"
        let on = try SpecLoader.load(yaml: header + "  - route: GET /ws\n    proxy: { service: live, path: /ws, websocket: true }\n", file: "t.yaml")
        guard case .proxy(let proxy) = on.endpoints[0].kind else { throw SpecTestFailure("not a proxy") }
        #expect(proxy.websocket?.maxMessageBytes == 4 * 1024 * 1024)
        let limits = try SpecLoader.load(yaml: header + "  - route: GET /ws\n    proxy: { service: live, path: /ws, websocket: { idle_timeout: 30s, max_message: 64KiB } }\n", file: "t.yaml")
        guard case .proxy(let limited) = limits.endpoints[0].kind else { throw SpecTestFailure("not a proxy") }
        #expect(limited.websocket?.idleTimeout == .seconds(30) && limited.websocket?.maxMessageBytes == 64 * 1024)
        let post = SpecFixtures.diagnostics(header + "  - route: POST /ws\n    proxy: { service: live, path: /ws, websocket: true }\n")
        #expect(post.map(\.location.line) == [5] && post.first?.message.contains("not a GET route") == true, "\(post)")
        let typo = SpecFixtures.diagnostics(header + "  - route: GET /ws\n    proxy: { service: live, path: /ws, websocket: { idle: 1s } }\n")
        #expect(typo.count == 1 && typo.first?.message.contains("idle") == true, "\(typo)")
    }
}

struct SpecTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
