import Hummingbird

/// The routes every demo service shares: its health check, its request counter and the demo mode switch.
struct OperationalRoutes: Sendable {
    /// The name the routes report.
    let service: String
    /// The switch `/stats` reads and `/_demo/mode` sets.
    let demoSwitch: DemoSwitch

    /// Adds `GET /health`, `GET /stats` and `POST /_demo/mode`.
    ///
    /// - Parameter router: The router of the service's application.
    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/health") { _, _ in
            HealthReport(service: service)
        }
        router.get("/stats") { _, _ in
            let settings = demoSwitch.settings
            return StatsReport(service: service, requests: settings.requests, mode: settings.mode)
        }
        router.post("/_demo/mode") { request, _ in
            let state = try request.requiredQueryParameter("state", example: "?state=slow&delay=1500")
            guard let mode = DemoMode(rawValue: state) else {
                throw DemoProblem.badRequest("query parameter 'state' is '\(state)'; use ok, slow or down")
            }
            let delay = try request.positiveIntegerQueryParameter("delay") ?? DemoSwitch.defaultSlowDelayMilliseconds
            demoSwitch.set(mode: mode, slowDelayMilliseconds: delay)
            return ModeReport(service: service, mode: mode, slowDelayMilliseconds: delay)
        }
    }
}

/// The body of `GET /health`.
struct HealthReport: ResponseEncodable {
    /// Always `ok`: a service that is down answers 503 before reaching the route.
    let status = "ok"
    let service: String
}

/// The body of `GET /stats`.
struct StatsReport: ResponseEncodable {
    let service: String
    /// API requests received since start, including those the demo switch answered with 503.
    let requests: Int
    let mode: DemoMode
}

/// The body of `POST /_demo/mode`: the mode now in force.
struct ModeReport: ResponseEncodable {
    let service: String
    let mode: DemoMode
    let slowDelayMilliseconds: Int

    enum CodingKeys: String, CodingKey {
        case service, mode
        case slowDelayMilliseconds = "slow_delay_ms"
    }
}
