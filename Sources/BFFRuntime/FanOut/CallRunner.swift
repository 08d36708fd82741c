import BFFSpec
import NIOCore
import NIOHTTP1

/// Runs one upstream call and turns whatever happens into a ``CallOutcome``: it never throws, so
/// one failing section can never fail a whole response by accident.
struct CallRunner: Sendable {
    let transport: UpstreamTransport

    /// - Parameters:
    ///   - target: the encoded path and query, relative to the service's base path.
    ///   - deadline: the earlier of the call's timeout and the endpoint's deadline.
    ///   - parse: whether to build a ``JSONValue`` (for dependents or shaping), beyond validating.
    func run(
        service: ServiceEndpoint,
        target: String,
        headers: HTTPHeaders,
        budget: Duration,
        deadline: NIODeadline,
        fallback: JSONValue?,
        parse: Bool,
        eventLoop: (any EventLoop)?
    ) async -> CallOutcome {
        let started = NIODeadline.now()
        func elapsed() -> Double { Double((NIODeadline.now() - started).nanoseconds) / 1e6 }
        if deadline <= started {
            return .failed(.skipped, milliseconds: 0, fallback: fallback, reason: "no time left before the endpoint deadline")
        }
        let request = UpstreamRequest(method: .GET, target: target, headers: headers)
        let response: UpstreamResponse
        do {
            response = try await transport.send(request, to: service, deadline: deadline, on: eventLoop)
        } catch {
            switch error {
            case .timeout:
                return .failed(.timeout, milliseconds: elapsed(), fallback: fallback, reason: error.description)
            case .cancelled:
                return .failed(.cancelled, milliseconds: elapsed(), fallback: fallback, reason: error.description)
            default:
                return .failed(.error, milliseconds: elapsed(), fallback: fallback, reason: error.description)
            }
        }
        let http = Int(response.status.code)
        guard response.isSuccess else {
            return .failed(.error, http: http, milliseconds: elapsed(), fallback: fallback, reason: "service '\(service.name)' answered \(http)")
        }
        do {
            let value: JSONValue? = try response.body.withUnsafeReadableBytes { bytes throws(JSONSyntaxError) in
                if parse { return try JSONParser.parse(bytes) }
                try JSONParser.validate(bytes)
                return nil
            }
            return .ok(http: http, milliseconds: elapsed(), body: response.body, value: value)
        } catch {
            return .failed(.error, http: http, milliseconds: elapsed(), fallback: fallback, reason: "service '\(service.name)' sent \(error)")
        }
    }
}
