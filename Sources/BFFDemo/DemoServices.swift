public import Hummingbird
public import Logging

/// One demo backend service as the BFF specs see it: a name and the local port it listens on.
public struct DemoService: Sendable {
    /// The service name, also reported by its `/health` and `/stats` routes.
    public let name: String
    /// The port the service listens on.
    public let port: Int
}

/// The seven seeded demo backends behind `bff demo`, the tests and the documentation examples.
///
/// Every service answers `GET /health`, `GET /stats` and `POST /_demo/mode?state=ok|slow|down&delay=MS`,
/// and honours `?_demo=slow|down` on a single request.
///
/// ```swift
/// let applications = DemoServices.makeApplications(logger: logger)
/// let group = ServiceGroup(services: applications, logger: logger)
/// try await group.run()
/// ```
public enum DemoServices {
    /// The backends in catalogue order; a backend's position decides its port.
    static let backends: [any DemoBackend] = [
        UsersService(),
        OrdersService(),
        ProductsService(),
        ReviewsService(),
        InventoryService(),
        NotificationsService(),
        RecommendationsService(),
    ]

    /// The seven services with ports base+1 ... base+7 (default base 9100 -> 9101..9107), in the order above.
    ///
    /// - Parameter basePort: The port just below the first service's port.
    /// - Returns: users, orders, products, reviews, inventory, notifications and recommendations.
    public static func catalogue(basePort: Int = 9100) -> [DemoService] {
        backends.enumerated().map { offset, backend in
            DemoService(name: backend.name, port: basePort + offset + 1)
        }
    }

    /// One Hummingbird application per service, bound to host, ready to run in a ServiceGroup.
    ///
    /// - Parameters:
    ///   - host: The address every service binds to.
    ///   - basePort: The port just below the first service's port, as in ``catalogue(basePort:)``.
    ///   - logger: The logger each application logs to, tagged with `demo.service`.
    /// - Returns: The applications in catalogue order.
    public static func makeApplications(
        host: String = "127.0.0.1",
        basePort: Int = 9100,
        logger: Logger
    ) -> [any ApplicationProtocol] {
        zip(backends, catalogue(basePort: basePort)).map { backend, service in
            var serviceLogger = logger
            serviceLogger[metadataKey: "demo.service"] = .string(service.name)
            return Application(
                router: backend.makeRouter(),
                configuration: ApplicationConfiguration(
                    address: .hostname(host, port: service.port),
                    serverName: "demo-\(service.name)"
                ),
                logger: serviceLogger
            )
        }
    }
}
