import BFFSpec
import Foundation
import NIOCore

/// `/admin/status.json`, what the admin page (`/admin/`) polls: the generation serving and the last
/// reload, each route's and each call's cumulative counts and latency histograms (``LiveTally``),
/// each service's breaker and instances, and the cache's look-ups.
///
/// Counts are cumulative since start; a reader works out rates, shares and quantiles of an interval
/// from two answers and `monotonic_ms`. Routes come in spec order (Swift endpoints after the spec's),
/// with their calls, even before their first request; routes only the tally knows (`unmatched`,
/// `/health`, a route a reload removed) follow.
enum AdminStatus {
    static func json(server: BFFServer, metrics: BFFMetrics) -> JSONValue {
        let generation = server.currentGeneration
        let live = metrics.live
        let declared = declaredRoutes(generation.spec, swiftEndpoints: server.swiftEndpointsForDescription)
        var routes = declared.map { route(declared: $0, tally: live.routes[$0.path]) }
        let declaredPaths = Set(declared.map(\.path))
        for (path, tally) in live.routes.sorted(by: { $0.key < $1.key }) where !declaredPaths.contains(path) {
            routes.append(route(declared: DeclaredRoute(path: path, methods: [], kind: "other"), tally: tally))
        }
        let clusters = generation.clusters
        let services: [JSONValue] = clusters.keys.sorted().map { name in
            guard case .object(let members) = clusters[name]!.statusJSON else { return .null }
            return .object([("name", .string(name))] + members)
        }
        let stamp = ISO8601DateFormatter()
        return .object([
            ("bff", .string(generation.spec.name)),
            ("now", .string(stamp.string(from: Date()))),
            ("monotonic_ms", .number(Double(NIODeadline.uptimeNow / 1_000_000))),
            ("generation", .number(Double(generation.number))),
            ("spec", .object([
                ("name", .string(generation.spec.name)),
                ("file", .string(generation.spec.file)),
                ("loaded_at", .string(stamp.string(from: generation.loadedAt))),
            ])),
            ("last_reload", server.lastReloadOutcome?.json ?? .null),
            ("latency_bounds_ms", .array(LatencyHistogram.upperBounds.map { .number(($0 * 10_000).rounded() / 10_000) })),
            ("rate_limited", count(live.routes.values.reduce(0) { $0 + $1.rateLimited })),
            ("cache", .object(
                [("enabled", .bool(generation.cache != nil))] + CacheResult.allCases.map { ($0.rawValue, count(live.cacheCount($0))) }
            )),
            ("services", .array(services)),
            ("routes", .array(routes)),
        ])
    }

    // MARK: - Routes

    /// A route as the spec (or a Swift endpoint) declares it, keyed by path as the metrics are.
    private struct DeclaredRoute {
        var path: String
        var methods: [String]
        /// aggregate, proxy, websocket, swift, or other (not declared now).
        var kind: String
        var service: String?
        var calls: [DeclaredCall] = []
    }

    private struct DeclaredCall {
        var name: String
        var service: String
        var required: Bool
        var timeout: Duration?
    }

    private static func declaredRoutes(_ spec: ClientSpec, swiftEndpoints: [SwiftEndpoint]) -> [DeclaredRoute] {
        func calls(_ aggregate: AggregateSpec) -> [DeclaredCall] {
            aggregate.calls.map { DeclaredCall(name: $0.name, service: $0.service, required: $0.required, timeout: $0.timeout ?? spec.services[$0.service]?.timeout) }
        }
        var routes: [DeclaredRoute] = []
        func add(_ route: DeclaredRoute) {
            if let index = routes.firstIndex(where: { $0.path == route.path }) {
                routes[index].methods.append(contentsOf: route.methods)
                routes[index].calls.append(contentsOf: route.calls.filter { call in !routes[index].calls.contains { $0.name == call.name } })
            } else {
                routes.append(route)
            }
        }
        for endpoint in spec.endpoints {
            let pattern = endpoint.route
            switch endpoint.kind {
            case .aggregate(let aggregate):
                add(DeclaredRoute(path: pattern.path, methods: [pattern.method], kind: "aggregate", calls: calls(aggregate)))
            case .proxy(let proxy):
                add(DeclaredRoute(path: pattern.path, methods: [pattern.method], kind: proxy.websocket == nil ? "proxy" : "websocket", service: proxy.service))
            }
        }
        for endpoint in swiftEndpoints {
            guard let (pattern, aggregate) = try? endpoint.spec() else { continue }
            add(DeclaredRoute(path: pattern.path, methods: [pattern.method], kind: "swift", calls: calls(aggregate)))
        }
        return routes
    }

    private static func route(declared: DeclaredRoute, tally: LiveTally.Route?) -> JSONValue {
        let tally = tally ?? LiveTally.Route()
        var members: [(String, JSONValue)] = [
            ("route", .string(declared.path)),
            ("methods", .array(declared.methods.map { .string($0) })),
            ("kind", .string(declared.kind)),
        ]
        if let service = declared.service { members.append(("service", .string(service))) }
        members += [
            ("requests", count(tally.requests)),
            ("status", .object([
                ("2xx", count(tally.statusClasses[2])), ("3xx", count(tally.statusClasses[3])),
                ("4xx", count(tally.statusClasses[4])), ("5xx", count(tally.statusClasses[5])),
                ("other", count(tally.statusClasses[0] + tally.statusClasses[1])),
            ])),
            ("rate_limited", count(tally.rateLimited)),
            ("latency", histogram(tally.latency)),
        ]
        var calls = declared.calls.map { call(name: $0.name, declared: $0, tally: tally.calls[$0.name]) }
        for (name, callTally) in tally.calls.sorted(by: { $0.key < $1.key }) where !declared.calls.contains(where: { $0.name == name }) {
            calls.append(call(name: name, declared: nil, tally: callTally))
        }
        members.append(("calls", .array(calls)))
        return .object(members)
    }

    private static func call(name: String, declared: DeclaredCall?, tally: LiveTally.Call?) -> JSONValue {
        let tally = tally ?? LiveTally.Call()
        var members: [(String, JSONValue)] = [("call", .string(name))]
        if let declared {
            members.append(("service", .string(declared.service)))
            members.append(("required", .bool(declared.required)))
            if let timeout = declared.timeout { members.append(("timeout_ms", .number(Double(timeout.milliseconds)))) }
        }
        members.append(("outcomes", .object(LiveTally.outcomes.map { ($0.rawValue, count(tally.count(of: $0))) })))
        members.append(("latency", histogram(tally.latency)))
        return .object(members)
    }

    private static func histogram(_ histogram: LatencyHistogram) -> JSONValue {
        .array(histogram.trimmedCounts.map(count))
    }

    private static func count(_ value: UInt64) -> JSONValue {
        .number(Double(value))
    }
}
