import Hummingbird

/// A demo backend service: a name and the routes that make up its API.
protocol DemoBackend: Sendable {
    /// The service name used in the catalogue, `/health` and `/stats`.
    var name: String { get }

    /// Adds the service's own API routes.
    ///
    /// - Parameter router: The router of the service's application.
    func addRoutes(to router: Router<DemoRequestContext>)
}

extension DemoBackend {
    /// Builds the service's router: the demo switch in front of the operational routes and the service's own API.
    ///
    /// - Parameter demoSwitch: The switch `/_demo/mode` sets; shared with the service's gRPC API, if any.
    func makeRouter(demoSwitch: DemoSwitch = DemoSwitch()) -> Router<DemoRequestContext> {
        let router = Router(context: DemoRequestContext.self)
        router.add(middleware: DemoSwitchMiddleware(demoSwitch: demoSwitch))
        OperationalRoutes(service: name, demoSwitch: demoSwitch).addRoutes(to: router)
        addRoutes(to: router)
        return router
    }
}
