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
        abstract: "Start the seven demo services and all four BFFs in one process."
    )

    @Option(help: "Folder holding mobile.yaml, web.yaml, partner.yaml, admin.yaml and shared/.")
    var specs: String?

    @Flag(help: "Also write each BFF's JSON access log to standard output.")
    var accessLog = false

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = label.hasPrefix("bff.") ? .notice : .warning
            return handler
        }
        let folder = try SpecsFolder.locate(specs)
        let logger = Logger(label: "bff.demo")
        var services: [any Service] = DemoServices.makeApplications(logger: logger)
        var servers: [BFFServer] = []
        for (client, endpoints) in ClientCatalogue.clients {
            let path = "\(folder)/\(client).yaml"
            do {
                let spec = try SpecLoader.load(file: path)
                guard let listen = spec.listen else { throw ValidationError("\(path) has no listen address") }
                let server = try await BFFServer(
                    spec: spec,
                    swiftEndpoints: endpoints,
                    options: ServerOptions(listen: listen, threads: 1, drainTimeout: .seconds(5), accessLog: accessLog ? .standardOutput : nil)
                )
                servers.append(server)
            } catch let error as SpecLoadError {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode(1)
            }
        }
        services += servers
        printWelcome(servers: servers)
        var configuration = ServiceGroupConfiguration(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        try await ServiceGroup(configuration: configuration).run()
        for server in servers { try await server.shutdownEventLoops() }
    }

    private func printWelcome(servers: [BFFServer]) {
        var lines = ["", "Demo services:"]
        for service in DemoServices.catalogue() {
            lines.append("  \(service.name.padding(toLength: 16, withPad: " ", startingAt: 0)) http://127.0.0.1:\(service.port)")
        }
        lines.append("")
        lines.append("BFFs:")
        for server in servers {
            lines.append("  \((server.spec.name + "-bff").padding(toLength: 16, withPad: " ", startingAt: 0)) http://\(server.options.listen)")
        }
        lines += [
            "",
            "Try:",
            "  curl -s http://127.0.0.1:8081/v1/home/u1            # mobile: compact home screen",
            "  curl -s http://127.0.0.1:8081/v1/badges/u1          # mobile: Swift-declared badge counts",
            "  curl -s http://127.0.0.1:8082/dashboard/u1          # web: user -> (orders || recommendations)",
            "  curl -s http://127.0.0.1:8082/products/p1/summary   # web: Swift-declared review summary",
            "  curl -s http://127.0.0.1:8083/v1/catalogue/p1       # partner: proxied catalogue",
            "  curl -s 'http://127.0.0.1:8083/v1/products/p1/quote?quantity=60'   # partner: Swift price quote",
            "  curl -s http://127.0.0.1:8084/overview              # admin: every service's health and counts",
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
        print(lines.joined(separator: "\n"))
    }
}
