import BFFRuntime
import BFFSpec
import Foundation
import NIOHTTP1
import Testing

extension ListenerProtocolTests {
    /// TLS termination on the public listener, tried with real clients (curl, Python's ssl, h2load)
    /// against certificates a test CA issues for each test.
    @Suite(.timeLimit(.minutes(2))) struct TLSListenerTests {
        /// A spec serving an aggregation and a public proxy route over TLS with `pki`'s server
        /// certificate; `extra` follows the `tls:` keys: indented, it adds to them, unindented, it is a
        /// top-level section.
        static func tlsSpec(pki: TestPKI, upstream: String, extra: String = "") -> String {
            """
            name: tls
            tls:
              cert_file: \(pki.serverCertFile)
              key_file: \(pki.serverKeyFile)
            \(extra)
            services:
              # Generous: under a loaded CI machine a slow answer must not turn into a 504 here.
              users: { url: "\(upstream)", timeout: 10s, connect_timeout: 5s }
            endpoints:
              - route: GET /profile/{id}
                timeout: 20s
                calls:
                  user: { service: users, path: "/users/{path.id}", required: true }
                  orders: { service: users, path: "/orders/{path.id}" }
              - route: GET /api/{rest*}
                proxy: { service: users, path: "/{path.rest}", timeout: 20s }
            """
        }

        static func withTLSGateway(
            extra: String = "",
            fastAggregations: Bool = true,
            _ body: @Sendable (TestGateway, TestPKI, StubUpstream) async throws -> Void
        ) async throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            try await withStubs { stubs in
                stubs[0].on("/users/7", body: #"{"id":"7","name":"Ada"}"#)
                stubs[0].on("/orders/7", body: #"[{"id":"o1"}]"#)
                stubs[0].on("/items/7", body: #"{"id":"i7"}"#)
                try await withGateway(tlsSpec(pki: pki, upstream: stubs[0].url, extra: extra), fastAggregations: fastAggregations) { gateway in
                    try await body(gateway, pki, stubs[0])
                }
            }
        }

        @Test("TLS 1.2 and 1.3 clients reach aggregations and proxy routes over HTTP/1.1 and HTTP/2, with HSTS")
        func versionsAndProtocols() async throws {
            for fast in [true, false] {
                try await Self.withTLSGateway(fastAggregations: fast) { gateway, pki, _ in
                    let url = "https://127.0.0.1:\(gateway.port)"
                    for version in ["1.2", "1.3"] {
                        let probe = try await ListenerClients.probe(
                            "get", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--min-version", version, "--max-version", version, "--path", "/profile/7"]
                        )
                        #expect(probe["version"] == .string("TLSv\(version)"), "\(probe)")
                        #expect(probe["alpn"] == "http/1.1")
                        #expect(probe["status"] == 200, "\(probe)")
                    }
                    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
                        for path in ["/profile/7", "/api/users/7"] {
                            let answer = try await ListenerClients.curl([flag, "--cacert", pki.caFile], url + path)
                            #expect(answer.version == version)
                            #expect(answer.status == 200, "\(path) over \(version): \(answer.body)")
                            #expect(answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains", "\(path) over \(version), fast path \(fast)")
                        }
                        let profile = try await ListenerClients.curl([flag, "--cacert", pki.caFile], url + "/profile/7").json()
                        #expect(profile["user"]?["name"] == "Ada")
                        #expect(profile["_meta"]?["degraded"] == false)
                    }
                }
            }
        }

        @Test("a proxied request over TLS reaches the service with X-Forwarded-Proto: https")
        func forwardedProto() async throws {
            try await Self.withTLSGateway { gateway, pki, stub in
                let answer = try await ListenerClients.curl(["--cacert", pki.caFile, "-H", "X-Forwarded-Proto: http"], "https://127.0.0.1:\(gateway.port)/api/items/7")
                #expect(answer.status == 200)
                #expect(stub.requests(to: "/items/7").map { $0.headers.first(name: "x-forwarded-proto") } == ["https"])
            }
        }

        @Test("a client that connects and never completes the handshake is closed after header_timeout")
        func handshakeDeadline() async throws {
            try await Self.withTLSGateway(extra: "limits: { header_timeout: 1s }") { gateway, pki, _ in
                let silent = try await RawConnection.open(port: gateway.port)
                let start = ContinuousClock.now
                _ = try await silent.responsesUntilClosed(within: .seconds(8))
                #expect(ContinuousClock.now - start < .seconds(6))
                let answer = try await ListenerClients.curl(["--cacert", pki.caFile], "https://127.0.0.1:\(gateway.port)/profile/7")
                #expect(answer.status == 200)
            }
        }

        @Test("with http2: false ALPN offers HTTP/1.1 only")
        func http2Off() async throws {
            try await Self.withTLSGateway(extra: "http2: false") { gateway, pki, _ in
                let answer = try await ListenerClients.curl(["--http2", "--cacert", pki.caFile], "https://127.0.0.1:\(gateway.port)/profile/7")
                #expect(answer.version == "1.1" && answer.status == 200)
            }
        }

        @Test("min_version 1.3 refuses a TLS 1.2 client and serves a 1.3 one")
        func minimumVersion() async throws {
            try await Self.withTLSGateway(extra: "  min_version: \"1.3\"") { gateway, pki, _ in
                let old = try await ListenerClients.probe("get", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--max-version", "1.2", "--path", "/profile/7"])
                #expect(old["error"] != nil, "a TLS 1.2 client got through: \(old)")
                let new = try await ListenerClients.probe("get", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--path", "/profile/7"])
                #expect(new["version"] == "TLSv1.3")
                #expect(new["status"] == 200)
            }
        }

        @Test("a plaintext HTTP request on the TLS port gets no answer and the listener serves on")
        func plaintextOnTLSPort() async throws {
            try await Self.withTLSGateway { gateway, pki, _ in
                let child = try ChildProcess(
                    executable: "/usr/bin/curl", arguments: ["-sS", "--max-time", "5", "http://127.0.0.1:\(gateway.port)/profile/7"],
                    standardOutput: .captured, standardError: .captured
                )
                #expect(await child.exit() != .exited(0))
                #expect(!child.output.contains("Ada"))
                let answer = try await ListenerClients.curl(["--cacert", pki.caFile], "https://127.0.0.1:\(gateway.port)/profile/7")
                #expect(answer.status == 200)
            }
        }

        @Test("mTLS: a certificate from client_ca_file is accepted; none, or one from another CA, is refused")
        func clientCertificates() async throws {
            let partners = try TestPKI.make(name: "partners-ca")
            let strangers = try TestPKI.make(name: "strangers-ca")
            defer {
                partners.remove()
                strangers.remove()
            }
            let trusted = try partners.issueClientCertificate(commonName: "partner-a", organization: "Acme")
            let untrusted = try strangers.issueClientCertificate(commonName: "partner-a", organization: "Acme")
            try await Self.withTLSGateway(extra: "  client_ca_file: \(partners.caFile)") { gateway, pki, _ in
                let base = ["--port", "\(gateway.port)", "--ca", pki.caFile, "--path", "/profile/7"]
                let accepted = try await ListenerClients.probe("get", base + ["--cert", trusted.certFile, "--key", trusted.keyFile])
                #expect(accepted["status"] == 200, "\(accepted)")
                let anonymous = try await ListenerClients.probe("get", base)
                #expect(anonymous["status"] == nil, "a client without a certificate got an answer: \(anonymous)")
                let stranger = try await ListenerClients.probe("get", base + ["--cert", untrusted.certFile, "--key", untrusted.keyFile])
                #expect(stranger["status"] == nil, "a certificate of another CA got an answer: \(stranger)")
            }
        }

        @Test("the verified client subject is {tls.subject} to templates and tls_subjects to require, on both answer paths")
        func clientSubjectInTemplatesAndRequire() async throws {
            let partners = try TestPKI.make(name: "partners-ca")
            defer { partners.remove() }
            let acme = try partners.issueClientCertificate(commonName: "partner-a", organization: "Acme")
            let globex = try partners.issueClientCertificate(commonName: "partner-b", organization: "Globex")
            let pki = try TestPKI.make()
            defer { pki.remove() }
            for fast in [true, false] {
                try await withStubs { stubs in
                    stubs[0].on("/users/7", body: #"{"id":"7"}"#)
                    stubs[0].on("/subjects/*", body: #"{"known":true}"#)
                    let yaml = """
                        name: mtls
                        tls: { cert_file: \(pki.serverCertFile), key_file: \(pki.serverKeyFile), client_ca_file: \(partners.caFile) }
                        services:
                          users: { url: "\(stubs[0].url)", timeout: 10s, connect_timeout: 5s }
                        endpoints:
                          - route: GET /acme/{id}
                            require: { tls_subjects: ["CN=partner-a,O=Acme"] }
                            calls:
                              user: { service: users, path: "/users/{path.id}", headers: { X-Client: "{tls.subject}" } }
                          - route: GET /whoami
                            calls:
                              me: { service: users, path: "/subjects/{tls.subject}" }
                        """
                    try await withGateway(yaml, fastAggregations: fast) { gateway in
                        func get(_ path: String, as client: (certFile: String, keyFile: String)) async throws -> JSONValue {
                            try await ListenerClients.probe("get", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--cert", client.certFile, "--key", client.keyFile, "--path", path])
                        }
                        #expect(try await get("/acme/7", as: acme)["status"] == 200)
                        #expect(stubs[0].requests(to: "/users/7").last?.headers.first(name: "X-Client") == "CN=partner-a,O=Acme")
                        let refused = try await get("/acme/7", as: globex)
                        #expect(refused["status"] == 403, "fast path \(fast): \(refused)")
                        #expect(stubs[0].requests(to: "/users/7").count == 1, "a refused subject reached the service")
                        #expect(try await get("/whoami", as: globex)["status"] == 200)
                        #expect(stubs[0].requests.last?.uri == "/subjects/CN%3Dpartner-b%2CO%3DGlobex", "fast path \(fast)")
                        // The same over HTTP/2, where each stream carries its connection's subject.
                        let http2 = try await ListenerClients.curl(
                            ["--http2", "--cacert", pki.caFile, "--cert", acme.certFile, "--key", acme.keyFile], "https://127.0.0.1:\(gateway.port)/whoami"
                        )
                        #expect(http2.version == "2" && http2.status == 200)
                        #expect(stubs[0].requests.last?.uri == "/subjects/CN%3Dpartner-a%2CO%3DAcme")
                    }
                }
            }
        }

        @Test("a rotated certificate is served to new connections within the watch interval, with no failed request")
        func rotationUnderLoad() async throws {
            try await Self.withTLSGateway { gateway, pki, _ in
                let port = "\(gateway.port)"
                // New connections until both certificates were seen (or 30 s), beside two HTTP/2 connections
                // that stay open across the rotation.
                async let newConnections = ListenerClients.probe(
                    "rotation", ["--port", port, "--ca", pki.caFile, "--path", "/profile/7", "--seconds", "3", "--fingerprints", "2", "--timeout", "30"]
                )
                async let longLived = ListenerClients.h2load(["-c", "2", "-m", "4", "-D", "3", "--warm-up-time", "0"], "https://127.0.0.1:\(port)/profile/7")
                try await Task.sleep(for: .seconds(1))
                try pki.issueServerCertificate(commonName: "bff-test-server-rotated")
                let (rotation, load) = try await (newConnections, longLived)
                #expect(rotation["failed"] == 0, "\(rotation)")
                #expect((rotation["ok"]?.numberValue ?? 0) > 0)
                #expect(ListenerClients.items(rotation["fingerprints"]).count == 2, "the new certificate was not served: \(rotation)")
                #expect(load.failed == 0 && load.errored == 0 && load.succeeded == load.done && load.done > 0, "\(load.output)")
            }
        }

        @Test("a rotation by re-pointing symbolic links, as Kubernetes updates a mounted Secret, is picked up")
        func rotationThroughSymlinks() async throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            // tls.crt -> ..data/tls.crt, ..data -> first/, as the kubelet lays out a Secret volume.
            let mount = pki.folder.appendingPathComponent("mount")
            let files = FileManager.default
            for version in ["first", "second"] { try files.createDirectory(at: mount.appendingPathComponent(version), withIntermediateDirectories: true) }
            let install: @Sendable (String) throws -> Void = { version in
                try FileManager.default.copyItem(atPath: pki.serverCertFile, toPath: mount.appendingPathComponent("\(version)/tls.crt").path)
                try FileManager.default.copyItem(atPath: pki.serverKeyFile, toPath: mount.appendingPathComponent("\(version)/tls.key").path)
            }
            try install("first")
            try files.createSymbolicLink(atPath: mount.appendingPathComponent("..data").path, withDestinationPath: "first")
            for name in ["tls.crt", "tls.key"] {
                try files.createSymbolicLink(atPath: mount.appendingPathComponent(name).path, withDestinationPath: "..data/\(name)")
            }
            try await withStubs { stubs in
                stubs[0].on("/users/7", body: #"{"id":"7"}"#)
                let yaml = """
                    name: k8s
                    tls: { cert_file: \(mount.appendingPathComponent("tls.crt").path), key_file: \(mount.appendingPathComponent("tls.key").path) }
                    services:
                      users: { url: "\(stubs[0].url)", timeout: 10s }
                    endpoints:
                      - route: GET /u
                        calls:
                          user: { service: users, path: /users/7 }
                    """
                try await withGateway(yaml) { gateway in
                    let probe = ["--port", "\(gateway.port)", "--ca", pki.caFile, "--path", "/u"]
                    let before = try await ListenerClients.probe("get", probe)
                    try pki.issueServerCertificate(commonName: "bff-test-server-renewed")
                    try install("second")
                    // The kubelet's swap: a new ..data link renamed over the old one.
                    try FileManager.default.createSymbolicLink(atPath: mount.appendingPathComponent("..data_tmp").path, withDestinationPath: "second")
                    #expect(rename(mount.appendingPathComponent("..data_tmp").path, mount.appendingPathComponent("..data").path) == 0)
                    #expect(await eventually(within: .seconds(10)) {
                        (try? await ListenerClients.probe("get", probe))?["fingerprint"] != before["fingerprint"]
                    })
                }
            }
        }

        @Test("a rotation whose key does not match is refused and the old certificate goes on serving")
        func brokenRotationKeepsTheOldCertificate() async throws {
            try await Self.withTLSGateway { gateway, pki, _ in
                let before = try await ListenerClients.probe("get", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--path", "/profile/7"])
                let other = try TestPKI.make(name: "other-ca")
                defer { other.remove() }
                // The key of another certificate, then the reload SIGHUP would do.
                try FileManager.default.removeItem(atPath: pki.serverKeyFile)
                try FileManager.default.copyItem(atPath: other.serverKeyFile, toPath: pki.serverKeyFile)
                try await Task.sleep(for: .milliseconds(1500))
                let after = try await ListenerClients.probe("get", ["--port", "\(gateway.port)", "--ca", pki.caFile, "--path", "/profile/7"])
                #expect(after["status"] == 200, "\(after)")
                #expect(after["fingerprint"] == before["fingerprint"])
            }
        }

        @Test("a certificate or key that cannot be used is a load error at the tls: line, naming the file")
        func badFilesAreLoadErrors() async throws {
            let pki = try TestPKI.make()
            let other = try TestPKI.make(name: "other-ca")
            defer {
                pki.remove()
                other.remove()
            }
            let garbage = pki.folder.appendingPathComponent("garbage.pem").path
            try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
            let cases: [(cert: String, key: String, message: String)] = [
                (garbage, pki.serverKeyFile, "tls.cert_file '\(garbage)' is not a PEM certificate file"),
                (pki.serverCertFile, garbage, "tls.key_file '\(garbage)' is not a PEM private key"),
                (pki.serverCertFile, other.serverKeyFile, "is not the key of the certificate in '\(pki.serverCertFile)'"),
            ]
            for (cert, key, message) in cases {
                let yaml = "name: bad\ntls:\n  cert_file: \(cert)\n  key_file: \(key)\nendpoints: []\n"
                let spec = try SpecLoader.load(yaml: yaml, file: "bad.yaml")
                await #expect {
                    let server = try await BFFServer(spec: spec, options: ServerOptions(listen: HostPort(host: "127.0.0.1", port: 0)), logger: quietLogger)
                    await server.discard()
                } throws: { error in
                    let text = (error as? SpecLoadError)?.description ?? ""
                    return text.contains("bad.yaml:2") && text.contains(message)
                }
            }
        }

        @Test("bff routes describes the listener and client certificate requirements; bff validate checks the certificate")
        func toolKnowsTLS() async throws {
            let pki = try TestPKI.make()
            let partners = try TestPKI.make(name: "partners-ca")
            let other = try TestPKI.make(name: "other-ca")
            defer {
                pki.remove()
                partners.remove()
                other.remove()
            }
            func write(key: String) throws -> String {
                let file = pki.folder.appendingPathComponent("spec-\(UUID().uuidString).yaml").path
                try """
                name: edge
                tls: { cert_file: \(pki.serverCertFile), key_file: \(key), min_version: "1.3", client_ca_file: \(partners.caFile) }
                services:
                  products: { url: "http://127.0.0.1:9" }
                endpoints:
                  - route: GET /v1/items
                    require: { tls_subjects: ["CN=partner-a,O=Acme"] }
                    calls:
                      items: { service: products, path: /items }
                  - route: GET /v1/live
                    proxy: { service: products, path: /live, websocket: { idle_timeout: 90s, max_message: 1MiB } }
                """.write(toFile: file, atomically: true, encoding: .utf8)
                return file
            }
            let good = try write(key: pki.serverKeyFile)
            let routes = try await ExecutableTests.run(ExecutableTests.binary("bff"), ["routes", good])
            #expect(routes.status == 0, "\(routes.errors)")
            #expect(routes.output.contains("https, TLS 1.3+, client certificates from partners-ca.pem; HTTP/2 (ALPN) and HTTP/1.1"), "\(routes.output)")
            #expect(routes.output.contains("GET /v1/items  aggregate, deadline 2000 ms, client certificate CN=partner-a,O=Acme"), "\(routes.output)")
            #expect(routes.output.contains("GET /v1/live  proxy -> products /live (WebSocket, idle 90 s, messages up to 1048576 bytes)"), "\(routes.output)")
            let bad = try write(key: other.serverKeyFile)
            let validate = try await ExecutableTests.run(ExecutableTests.binary("bff"), ["validate", good, bad])
            #expect(validate.status == 1)
            #expect(validate.output.contains("\(good): ok"))
            #expect(validate.errors.contains("\(bad):2") && validate.errors.contains("is not the key of the certificate"), "\(validate.errors)")
        }

        /// Runs `partner-bff` serving `GET /v1/items` from a stub, with `tls` as its spec's `tls:`
        /// section (none when nil), its output in `folder`/partner.out; `body` gets its port, the
        /// process and the log's path once it serves.
        static func withPartnerProcess(
            tls: String?,
            in folder: URL,
            probe: @escaping @Sendable (Int) async -> Bool,
            _ body: @Sendable (Int, ChildProcess, String) async throws -> Void
        ) async throws {
            try await withStubs { stubs in
                stubs[0].on("/items", body: #"{"items":[]}"#)
                let specFile = folder.appendingPathComponent("partner.yaml")
                try """
                name: partner
                \(tls.map { "tls: \($0)" } ?? "")
                services:
                  products: { url: "\(stubs[0].url)" }
                  inventory: { url: "\(stubs[0].url)" }
                auth:
                  api_keys: { env: BFF_PARTNER_KEYS }
                endpoints:
                  - route: GET /v1/items
                    auth: none
                    calls:
                      items: { service: products, path: /items, required: true }
                """.write(to: specFile, atomically: true, encoding: .utf8)
                let port = try ExecutableTests.freePort()
                let log = folder.appendingPathComponent("partner.out").path
                let child = try ChildProcess(
                    executable: try ExecutableTests.binary("partner-bff").path,
                    arguments: ["--spec", specFile.path, "--listen", "127.0.0.1:\(port)", "--admin-listen", "off", "--threads", "1", "--no-access-log"],
                    environment: .inherited(adding: ["BFF_PARTNER_KEYS": ""]),
                    standardOutput: .file(log), standardError: .file(log)
                )
                defer { _ = child.kill() }
                let started = await eventually(within: .seconds(10)) { await probe(port) }
                try #require(started, "partner-bff did not serve: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
                try await body(port, child, log)
            }
        }

        @Test("SIGHUP to a BFF without tls: reloads its spec, is logged and leaves it serving")
        func sighupWithoutTLS() async throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bff-hup-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let serves: @Sendable (Int) async -> Bool = { port in (try? await ExecutableTests.body("http://127.0.0.1:\(port)/v1/items"))?.contains("items") == true }
            try await Self.withPartnerProcess(tls: nil, in: folder, probe: serves) { port, child, log in
                child.send(SIGHUP)
                #expect(await eventually(within: .seconds(5)) {
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains("reload (SIGHUP): generation 2 serves") == true
                })
                #expect(child.isRunning)
                #expect(await serves(port))
            }
        }

        @Test("SIGHUP reloads the certificate of a running BFF without stopping it")
        func sighupReloads() async throws {
            let pki = try TestPKI.make()
            defer { pki.remove() }
            let caFile = pki.caFile
            let get: @Sendable (Int) async throws -> JSONValue = { port in
                try await ListenerClients.probe("get", ["--port", "\(port)", "--ca", caFile, "--path", "/v1/items"])
            }
            let tls = "{ cert_file: \(pki.serverCertFile), key_file: \(pki.serverKeyFile) }"
            try await Self.withPartnerProcess(tls: tls, in: pki.folder, probe: { (try? await get($0))?["status"] == 200 }) { port, child, log in
                let before = try await get(port)
                try pki.issueServerCertificate(commonName: "bff-test-server-rotated")
                child.send(SIGHUP)
                #expect(await eventually(within: .seconds(5)) {
                    (try? String(contentsOfFile: log, encoding: .utf8))?.contains(#""reason":"SIGHUP""#) == true
                })
                let after = try await get(port)
                #expect(after["status"] == 200, "\(after)")
                #expect(after["fingerprint"] != before["fingerprint"])
                #expect(child.isRunning)
            }
        }
    }
}
