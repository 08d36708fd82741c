public import Logging
public import ServiceLifecycle
import Hummingbird

/// One demo backend service as the BFF specs see it: a name and the local port it listens on.
public struct DemoService: Sendable {
    /// The service name, also reported by its `/health` and `/stats` routes.
    public let name: String
    /// The port the service listens on.
    public let port: Int
    /// The gRPC service it serves over HTTP/2 without TLS (e.g. `inventory.v1.Inventory`), or nil
    /// for a JSON service over HTTP/1.1.
    public let grpcService: String?
}

/// The seeded demo backends behind `bff demo`, the tests and the documentation examples: seven JSON
/// services and the inventory's gRPC API.
///
/// Every JSON service answers `GET /health`, `GET /stats` and `POST /_demo/mode?state=ok|slow|down&delay=MS`,
/// and honours `?_demo=slow|down` on a single request. The gRPC inventory follows the JSON inventory's switch.
///
/// ```swift
/// let services = DemoServices.makeServices(logger: logger)
/// let group = ServiceGroup(services: services, logger: logger)
/// try await group.run()
/// ```
public enum DemoServices {
    /// The JSON backends in catalogue order; a backend's position decides its port.
    static let backends: [any DemoBackend] = [
        UsersService(),
        OrdersService(),
        ProductsService(),
        ReviewsService(),
        InventoryService(),
        NotificationsService(),
        RecommendationsService(),
    ]

    /// The catalogue name of the inventory's gRPC API, on the port after the JSON services'.
    static let inventoryGRPC = DemoService(name: "inventory-grpc", port: 8, grpcService: "inventory.v1.Inventory")

    /// The services with ports base+1 ... base+8 (default base 9100 -> 9101..9108): users, orders,
    /// products, reviews, inventory, notifications, recommendations, then inventory-grpc.
    ///
    /// - Parameter basePort: The port just below the first service's port.
    public static func catalogue(basePort: Int = 9100) -> [DemoService] {
        backends.enumerated().map { offset, backend in
            DemoService(name: backend.name, port: basePort + offset + 1, grpcService: nil)
        } + [DemoService(name: inventoryGRPC.name, port: basePort + inventoryGRPC.port, grpcService: inventoryGRPC.grpcService)]
    }

    /// Every demo service, bound to host, ready to run in a ServiceGroup: one Hummingbird
    /// application per JSON service, then the gRPC inventory.
    ///
    /// - Parameters:
    ///   - host: The address every service binds to.
    ///   - basePort: The port just below the first service's port, as in ``catalogue(basePort:)``.
    ///   - logger: The logger each service logs to, tagged with `demo.service`.
    /// - Returns: The services in catalogue order.
    public static func makeServices(
        host: String = "127.0.0.1",
        basePort: Int = 9100,
        logger: Logger
    ) -> [any Service] {
        let catalogue = catalogue(basePort: basePort)
        let switches = backends.map { _ in DemoSwitch() }
        var services: [any Service] = zip(backends, zip(catalogue, switches)).map { backend, entry in
            let (service, demoSwitch) = entry
            return Application(
                router: backend.makeRouter(demoSwitch: demoSwitch),
                configuration: ApplicationConfiguration(
                    address: .hostname(host, port: service.port),
                    serverName: "demo-\(service.name)"
                ),
                logger: logger.tagged(service.name)
            )
        }
        let inventory = backends.firstIndex { $0.name == "inventory" }!
        services.append(
            InventoryGRPCServer(
                host: host, port: basePort + inventoryGRPC.port, demoSwitch: switches[inventory],
                logger: logger.tagged(inventoryGRPC.name)
            )
        )
        return services
    }
}

extension Logger {
    fileprivate func tagged(_ service: String) -> Logger {
        var logger = self
        logger[metadataKey: "demo.service"] = .string(service)
        return logger
    }
}
