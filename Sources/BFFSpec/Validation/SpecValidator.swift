/// Checks the rules that span several parts of a spec: references between calls, services and
/// routes, the call DAG, and route clashes. Reading problems (types, unknown keys) are found earlier.
public enum SpecValidator {
    /// Every cross-reference problem in `spec`, each with file:line and a hint.
    public static func validate(_ spec: ClientSpec) -> [SpecDiagnostic] {
        var diagnostics: [SpecDiagnostic] = []
        for (i, endpoint) in spec.endpoints.enumerated() {
            for earlier in spec.endpoints[..<i] where earlier.route.overlaps(endpoint.route) {
                diagnostics.append(
                    SpecDiagnostic(
                        endpoint.location,
                        "route \(endpoint.route) clashes with \(earlier.route) declared at \(earlier.location)",
                        hint: "remove one, or change its path"
                    )
                )
            }
            switch endpoint.kind {
            case .aggregate(let aggregate):
                diagnostics += validate(aggregate, route: endpoint.route, at: endpoint.location, services: spec.services)
            case .proxy(let proxy):
                diagnostics += validateService(proxy.service, at: endpoint.location, services: spec.services)
                diagnostics += validatePathVariables(proxy.path.variables, route: endpoint.route, at: endpoint.location)
                if proxy.websocket != nil && endpoint.route.method != "GET" {
                    diagnostics.append(
                        SpecDiagnostic(endpoint.location, "WebSocket route \(endpoint.route) is not a GET route", hint: "a WebSocket handshake is a GET: write 'route: GET \(endpoint.route.path)'")
                    )
                }
                for variable in proxy.path.variables where variable.callDependency != nil {
                    diagnostics.append(
                        SpecDiagnostic(endpoint.location, "proxy path reads \(variable) but a proxy route has no calls", hint: "use {path.X}, {query.X} or {header.X}")
                    )
                }
            }
        }
        diagnostics += validateAuth(spec)
        diagnostics += validateClientCertificates(spec)
        diagnostics += validateGRPC(spec)
        diagnostics += spec.endpoints.flatMap(validateCache)
        return diagnostics
    }

    /// Checks one aggregation (also used for Swift-declared endpoints).
    public static func validate(
        _ aggregate: AggregateSpec,
        route: RoutePattern,
        at location: SourceLocation,
        services: [String: ServiceSpec]
    ) -> [SpecDiagnostic] {
        var diagnostics: [SpecDiagnostic] = []
        if route.method != "GET" {
            diagnostics.append(
                SpecDiagnostic(location, "aggregation route \(route) must use GET", hint: "aggregations are read-only; use a proxy route for other methods")
            )
        }
        if aggregate.calls.isEmpty {
            diagnostics.append(SpecDiagnostic(location, "aggregation \(route) has no calls", hint: "add at least one call under 'calls:'"))
        }
        let callNames = Set(aggregate.calls.map(\.name))
        for call in aggregate.calls {
            if TemplateVariable.reservedPrefixes.contains(call.name) || !TemplateVariable.isIdentifier(call.name) || call.name.hasPrefix("_") {
                diagnostics.append(
                    SpecDiagnostic(call.location, "call name '\(call.name)' is reserved or not a plain name", hint: "rename it; path, query, header and auth are reserved")
                )
            }
            diagnostics += validateService(call.service, at: call.location, services: services)
            diagnostics += validateCache(call)
            let variables = call.variables
            diagnostics += validatePathVariables(variables, route: route, at: call.location)
            for case .call(let target, _) in variables.map(\.source) {
                if target == call.name {
                    diagnostics.append(SpecDiagnostic(call.location, "call '\(call.name)' reads its own result", hint: "a call can only read calls that finish before it"))
                } else if !callNames.contains(target) {
                    let suggestion = YAMLReader.closest(to: target, in: callNames.union(TemplateVariable.reservedPrefixes))
                    diagnostics.append(
                        SpecDiagnostic(
                            call.location,
                            "call '\(call.name)' reads unknown variable '{\(target)...}'",
                            hint: suggestion.map { "did you mean '\($0)'?" } ?? "variables are path.X, query.X, header.X or <call>.<field>"
                        )
                    )
                }
            }
            for header in call.headers where !SpecLoader.isHeaderName(header.name) {
                diagnostics.append(SpecDiagnostic(call.location, "'\(header.name)' is not a valid header name", hint: "use letters, digits and '-'"))
            }
            if call.required && call.fallback != nil {
                diagnostics.append(
                    SpecDiagnostic(call.location, "required call '\(call.name)' has a fallback that can never be used", hint: "drop 'fallback' or 'required: true'")
                )
            }
        }
        if let cycle = CallGraph(calls: aggregate.calls).cycle(), let first = aggregate.calls.first(where: { $0.name == cycle[0] }) {
            diagnostics.append(
                SpecDiagnostic(first.location, "calls form a cycle: \(cycle.joined(separator: " -> "))", hint: "calls must form a DAG; remove one of the references")
            )
        }
        for field in aggregate.response ?? [] {
            if field.key == "_meta" {
                diagnostics.append(SpecDiagnostic(field.location, "'_meta' is reserved for the gateway's report", hint: "choose another key"))
            }
            if field.path.contains(where: \.isEmpty) {
                diagnostics.append(
                    SpecDiagnostic(field.location, "response field '\(field.key)' has an empty step in its 'from' path", hint: "write e.g. 'from: user.address.city'")
                )
            }
            if !callNames.contains(field.call) {
                let suggestion = YAMLReader.closest(to: field.call, in: callNames)
                diagnostics.append(
                    SpecDiagnostic(
                        field.location,
                        "response field '\(field.key)' reads unknown call '\(field.call)'",
                        hint: suggestion.map { "did you mean '\($0)'?" } ?? "calls here: \(callNames.sorted().joined(separator: ", "))"
                    )
                )
            }
        }
        return diagnostics
    }

    private static func validateService(_ name: String, at location: SourceLocation, services: [String: ServiceSpec]) -> [SpecDiagnostic] {
        guard services[name] == nil else { return [] }
        let suggestion = YAMLReader.closest(to: name, in: services.keys)
        return [
            SpecDiagnostic(
                location,
                "unknown service '\(name)'",
                hint: suggestion.map { "did you mean '\($0)'?" } ?? "declare it under 'services:' or in an included catalogue"
            )
        ]
    }

    private static func validatePathVariables(_ variables: [TemplateVariable], route: RoutePattern, at location: SourceLocation) -> [SpecDiagnostic] {
        let captures = Set(route.captureNames)
        return variables.compactMap { variable in
            guard case .path(let name) = variable.source, !captures.contains(name) else { return nil }
            let suggestion = YAMLReader.closest(to: name, in: captures)
            return SpecDiagnostic(
                location,
                "\(variable) names no capture of route \(route)",
                hint: suggestion.map { "did you mean '{path.\($0)}'?" } ?? "the route captures: \(captures.sorted().joined(separator: ", "))"
            )
        }
    }
}
