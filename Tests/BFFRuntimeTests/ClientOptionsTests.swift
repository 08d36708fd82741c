import ArgumentParser
import BFFSpec
import Foundation
import Testing

@testable import BFFClients
@testable import BFFRuntime

/// The executables' flags and environment, read into server options the way a container sets them.
@Suite("Client options")
struct ClientOptionsTests {
    static let spec = ClientSpec(name: "partner", listen: HostPort(host: "127.0.0.1", port: 8083), services: [:], endpoints: [], file: "partner.yaml")

    static func options(_ arguments: [String], environment: [String: String] = [:], spec: ClientSpec = spec) throws -> ServerOptions {
        try ClientOptions.parse(arguments).serverOptions(spec: spec, environment: environment)
    }

    @Test("the admin listener defaults to loopback on the public port + 1000; flag, environment and spec override it; off turns it off")
    func adminListener() throws {
        #expect(try Self.options([]).adminListen == HostPort(host: "127.0.0.1", port: 9083))
        #expect(try Self.options(["--listen", "0.0.0.0:8080"]).adminListen == HostPort(host: "127.0.0.1", port: 9080))
        #expect(try Self.options([], environment: ["BFF_ADMIN_LISTEN": "0.0.0.0:9090"]).adminListen == HostPort(host: "0.0.0.0", port: 9090))
        #expect(try Self.options(["--admin-listen", "off"], environment: ["BFF_ADMIN_LISTEN": "0.0.0.0:9090"]).adminListen == nil)
        var withSpec = Self.spec
        withSpec.adminListen = .address(HostPort(host: "127.0.0.1", port: 7000))
        #expect(try Self.options([], spec: withSpec).adminListen == HostPort(host: "127.0.0.1", port: 7000))
        #expect(throws: ValidationError.self) { try Self.options(["--admin-listen", "metrics"]) }
    }

    @Test("pre-drain comes from the flag or BFF_PRE_DRAIN_SECONDS, defaults to none, and may not be negative")
    func preDrain() throws {
        #expect(try Self.options([]).preDrain == .zero)
        #expect(try Self.options(["--pre-drain-seconds", "2.5"]).preDrain == .milliseconds(2500))
        #expect(try Self.options([], environment: ["BFF_PRE_DRAIN_SECONDS": "5"]).preDrain == .seconds(5))
        #expect(throws: ValidationError.self) { try Self.options(["--pre-drain-seconds=-1"]) }
    }

    @Test("the event-loop aggregation path is on unless --no-fast-aggregations or BFF_FAST_AGGREGATIONS=off")
    func fastAggregations() throws {
        #expect(try Self.options([]).fastAggregations)
        #expect(try Self.options(["--no-fast-aggregations"]).fastAggregations == false)
        #expect(try Self.options([], environment: ["BFF_FAST_AGGREGATIONS": "off"]).fastAggregations == false)
        #expect(try Self.options([], environment: ["BFF_FAST_AGGREGATIONS": "on"]).fastAggregations)
    }

    @Test("--tls-cert and --tls-key (or BFF_TLS_CERT and BFF_TLS_KEY) replace the spec's files, go together and must be readable")
    func tlsFiles() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bff-tls-flags-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let cert = folder.appendingPathComponent("cert.pem").path, key = folder.appendingPathComponent("key.pem").path
        for file in [cert, key] { try "pem".write(toFile: file, atomically: true, encoding: .utf8) }
        func tls(_ arguments: [String], environment: [String: String] = [:], spec: ClientSpec = Self.spec) throws -> TLSSpec? {
            try ClientOptions.parse(arguments).tls(spec: spec, environment: environment)
        }
        #expect(try tls([]) == nil)
        let fromFlags = try #require(try tls(["--tls-cert", cert, "--tls-key", key]))
        #expect(fromFlags.certFile == cert && fromFlags.keyFile == key && fromFlags.minVersion == .v1_2)
        let fromEnvironment = try #require(try tls([], environment: ["BFF_TLS_CERT": cert, "BFF_TLS_KEY": key]))
        #expect(fromEnvironment.certFile == cert)
        var withTLS = Self.spec
        withTLS.tls = TLSSpec(certFile: "/spec/cert.pem", keyFile: "/spec/key.pem", minVersion: .v1_3, clientCAFile: "/spec/ca.pem", location: SourceLocation(file: "partner.yaml", line: 3))
        let replaced = try #require(try tls(["--tls-cert", cert, "--tls-key", key], spec: withTLS))
        #expect(replaced.certFile == cert && replaced.keyFile == key, "the flags win")
        #expect(replaced.minVersion == .v1_3 && replaced.clientCAFile == "/spec/ca.pem", "the spec's other tls settings stay")
        #expect(try tls([], spec: withTLS)?.certFile == "/spec/cert.pem")
        #expect(throws: ValidationError.self) { try tls(["--tls-cert", cert]) }
        #expect(throws: ValidationError.self) { try tls(["--tls-cert", cert, "--tls-key", folder.appendingPathComponent("missing.pem").path]) }
    }
}
