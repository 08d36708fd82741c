import ArgumentParser
import BFFClients
import BFFDemo
import BFFRuntime
import BFFSpec
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the demo services (seven JSON, one gRPC) and all four BFFs in one process."
    )

    @Option(help: "Folder holding mobile.yaml, web.yaml, partner.yaml, admin.yaml and shared/.")
    var specs: String?

    @Flag(help: "Also write each BFF's JSON access log to standard output.")
    var accessLog = false

    @Flag(help: "Start only the demo services, for BFFs run as their own processes (compose, systemd).")
    var servicesOnly = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = label.hasPrefix("bff.") ? .notice : .warning
            return handler
        }
        let folder = try SpecsFolder.locate(specs)
        let logger = Logger(label: "bff.demo")
        let credentials = try await DemoCredentials.make()
        var services: [any Service] = DemoServices.makeServices(logger: logger)
        var servers: [BFFServer] = []
        for (client, endpoints) in servicesOnly ? [] : ClientCatalogue.clients {
            let path = "\(folder)/\(client).yaml"
            do {
                let spec = try SpecLoader.load(file: path)
                guard let listen = spec.listen else { throw ValidationError("\(path) has no listen address") }
                let server = try await BFFServer(
                    spec: spec,
                    swiftEndpoints: endpoints,
                    options: ServerOptions(
                        listen: listen,
                        threads: 1,
                        drainTimeout: .seconds(5),
                        accessLog: accessLog ? .standardOutput : nil,
                        adminListen: HostPort(host: "127.0.0.1", port: listen.port + 1000)
                    )
                )
                servers.append(server)
            } catch let error as SpecLoadError {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode(1)
            }
        }
        services += servers
        if servicesOnly {
            printServices()
        } else {
            printWelcome(servers: servers, credentials: credentials)
        }
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        try await ServiceGroup(configuration: configuration).run()
        for server in servers { try await server.shutdownEventLoops() }
    }

    private func serviceLines() -> [String] {
        var lines = ["", "Demo services:"]
        for service in DemoServices.catalogue() {
            let api = service.grpcService.map { "   gRPC \($0), HTTP/2 without TLS" } ?? ""
            lines.append("  \(service.name.padding(toLength: 16, withPad: " ", startingAt: 0)) http://127.0.0.1:\(service.port)\(api)")
        }
        return lines
    }

    private func printServices() {
        let lines = serviceLines() + ["", "Ctrl-C stops them.", ""]
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    private func printWelcome(servers: [BFFServer], credentials: DemoCredentials) {
        var lines = serviceLines()
        lines.append("")
        lines.append("BFFs (metrics on each admin listener):")
        for server in servers {
            let admin = server.options.adminListen.map { "   metrics http://\($0)/metrics" } ?? ""
            lines.append("  \((server.spec.name + "-bff").padding(toLength: 16, withPad: " ", startingAt: 0)) http://\(server.options.listen)\(admin)")
        }
        lines += [
            "",
            "Credentials for this run (a fresh secret and key each start):",
            "  export USER_TOKEN=\(credentials.userToken)",
            "  export ADMIN_TOKEN=\(credentials.adminToken)",
            "  export PARTNER_KEY=\(credentials.partnerKey)",
            "",
            "Try:",
            "  curl -s -H \"Authorization: Bearer $USER_TOKEN\" http://127.0.0.1:8081/v1/me              # mobile: who am I ({auth.sub})",
            "  curl -s -H \"Authorization: Bearer $USER_TOKEN\" http://127.0.0.1:8081/v1/home/u1         # mobile: compact home screen",
            "  curl -s -H \"Authorization: Bearer $USER_TOKEN\" http://127.0.0.1:8081/v1/badges/u1       # mobile: Swift-declared badge counts",
            "  curl -s -H \"Authorization: Bearer $USER_TOKEN\" http://127.0.0.1:8082/dashboard/u1       # web: user -> (orders || recommendations)",
            "  curl -s http://127.0.0.1:8082/products/p1/summary                                       # web: public, Swift-declared",
            "  curl -s -H \"X-Api-Key: $PARTNER_KEY\" http://127.0.0.1:8083/v1/catalogue/p1              # partner: API key, gold plan",
            "  curl -s -H \"X-Api-Key: $PARTNER_KEY\" 'http://127.0.0.1:8083/v1/products/p1/quote?quantity=60'",
            "  curl -s -H \"Authorization: Bearer $ADMIN_TOKEN\" http://127.0.0.1:8084/overview          # admin: needs the admin role",
            "  curl -si -H \"Authorization: Bearer $USER_TOKEN\" http://127.0.0.1:8084/overview          # ... so a customer gets 403",
            "  curl -si http://127.0.0.1:8081/v1/me                                                     # no token: 401",
            "",
            "Degrade a section (then curl again and read _meta and X-BFF-Degraded):",
            "  curl -s -X POST 'http://127.0.0.1:9107/_demo/mode?state=slow&delay=1500'   # recommendations slow",
            "  curl -s -X POST 'http://127.0.0.1:9102/_demo/mode?state=down'              # orders down",
            "  curl -s -X POST 'http://127.0.0.1:9101/_demo/mode?state=down'              # users down: required call -> 502",
            "  curl -s -X POST 'http://127.0.0.1:9102/_demo/mode?state=ok'                # back to normal",
            "",
            "Ctrl-C stops everything (in-flight requests finish first).",
            "",
        ]
        // Written unbuffered: scripts read these lines from a pipe while the demo keeps running.
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}

/// The demo's credentials: a fresh JWT secret (unless BFF_JWT_SECRET is set), a customer and an
/// admin token signed with it, and a partner key on the gold plan, put where the shipped specs
/// read them (BFF_JWT_SECRET, BFF_PARTNER_KEYS) before the BFFs start.
struct DemoCredentials {
    let userToken: String
    let adminToken: String
    let partnerKey: String

    static func make() async throws -> DemoCredentials {
        let environment = ProcessInfo.processInfo.environment
        var secret = environment["BFF_JWT_SECRET"] ?? ""
        if secret.utf8.count < TokenMinter.minimumSecretBytes {
            var generator = SystemRandomNumberGenerator()
            secret = (0..<48).map { _ in String(UInt8.random(in: 0...15, using: &generator), radix: 16) }.joined()
            setenv("BFF_JWT_SECRET", secret, 1)
        }
        let partner = APIKeyLine.generate(client: "demo-partner", plan: "gold")
        setenv("BFF_PARTNER_KEYS", ([partner.line] + [environment["BFF_PARTNER_KEYS"]].compactMap { $0 }).joined(separator: ";"), 1)
        func token(_ sub: String, _ roles: [String]) async throws -> String {
            try await TokenMinter.mint(
                secret: secret, kid: "demo",
                claims: .init(sub: sub, roles: roles, scope: nil, issuer: "bff-demo", audience: "bff-family", ttl: 8 * 3600)
            )
        }
        return DemoCredentials(userToken: try await token("u1", ["customer"]), adminToken: try await token("staff1", ["admin"]), partnerKey: partner.key)
    }
}
