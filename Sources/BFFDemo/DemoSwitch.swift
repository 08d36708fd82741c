import Hummingbird
import Synchronization

/// How a demo service answers its API requests.
enum DemoMode: String, Encodable, Sendable {
    /// Answers normally, after the simulated latency.
    case ok
    /// Answers normally, after the simulated latency plus the slow delay.
    case slow
    /// Answers 503 with `{"error":"service unavailable"}`.
    case down
}

/// One service's demo mode and request counter, shared by its middleware and operational routes.
final class DemoSwitch: Sendable {
    /// The slow delay used when `POST /_demo/mode` gives none.
    static let defaultSlowDelayMilliseconds = 1500

    /// A consistent reading of the switch.
    struct Settings: Sendable {
        var mode: DemoMode = .ok
        var slowDelayMilliseconds = DemoSwitch.defaultSlowDelayMilliseconds
        var requests = 0
    }

    private let state = Mutex(Settings())

    /// The current mode, slow delay and request count.
    var settings: Settings {
        state.withLock { $0 }
    }

    /// Switches the service to a mode.
    ///
    /// - Parameters:
    ///   - mode: The mode every following API request gets.
    ///   - slowDelayMilliseconds: The delay added to each API request while the mode is `slow`.
    func set(mode: DemoMode, slowDelayMilliseconds: Int) {
        state.withLock { settings in
            settings.mode = mode
            settings.slowDelayMilliseconds = slowDelayMilliseconds
        }
    }

    /// Counts one API request and returns the settings it is served under.
    func countRequest() -> Settings {
        state.withLock { settings in
            settings.requests += 1
            return settings
        }
    }
}

/// Applies the demo switch: simulated latency, the slow delay and the down answer.
///
/// `/_demo/*` and `/stats` are never affected, so the demo can always be inspected and switched back.
/// `/health` fails while the service is down but stays fast while it is slow, like a real health check.
/// Every other route is an API route: counted, delayed and possibly refused.
/// `?_demo=ok|slow|down` on a request overrides the switch for that request alone.
struct DemoSwitchMiddleware<Context: RequestContext>: RouterMiddleware {
    let demoSwitch: DemoSwitch

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let path = request.uri.path
        if path == "/stats" || path.hasPrefix("/_demo/") {
            return try await next(request, context)
        }
        let override = try requestedMode(of: request)
        if path == "/health" {
            if (override ?? demoSwitch.settings.mode) == .down {
                return try unavailable(request, context: context)
            }
            return try await next(request, context)
        }
        let settings = demoSwitch.countRequest()
        let mode = override ?? settings.mode
        if mode == .down {
            return try unavailable(request, context: context)
        }
        var delay = SimulatedLatency.duration(forPath: path)
        if mode == .slow {
            delay += .milliseconds(settings.slowDelayMilliseconds)
        }
        try await Task.sleep(for: delay)
        return try await next(request, context)
    }

    /// The mode a request asks for with `?_demo=`, if any.
    private func requestedMode(of request: Request) throws(DemoProblem) -> DemoMode? {
        guard let value = request.uri.queryParameters.get("_demo") else {
            return nil
        }
        guard let mode = DemoMode(rawValue: value) else {
            throw DemoProblem.badRequest("query parameter '_demo' is '\(value)'; use ok, slow or down")
        }
        return mode
    }

    private func unavailable(_ request: Request, context: Context) throws -> Response {
        try EditedResponse(status: .serviceUnavailable, response: UnavailableBody())
            .response(from: request, context: context)
    }
}

/// The body a service in `down` mode answers with.
struct UnavailableBody: ResponseEncodable {
    let error = "service unavailable"
}
