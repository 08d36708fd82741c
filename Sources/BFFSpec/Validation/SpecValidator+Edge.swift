extension SpecValidator {
    /// Checks how endpoints use the spec's auth: with auth declared, every endpoint says who may
    /// call it (so nothing is public by accident), and names only methods the spec configures.
    static func validateAuth(_ spec: ClientSpec) -> [SpecDiagnostic] {
        spec.endpoints.flatMap { endpoint in
            let variables: [TemplateVariable]
            switch endpoint.kind {
            case .aggregate(let aggregate): variables = aggregate.calls.flatMap(\.variables)
            case .proxy(let proxy): variables = proxy.path.variables
            }
            return validate(endpoint.auth, route: endpoint.route, at: endpoint.location, variables: variables, spec: spec.edge)
        }
    }

    /// Checks one endpoint's auth (also used for Swift-declared endpoints).
    public static func validate(
        _ auth: EndpointAuthSpec?,
        route: RoutePattern,
        at location: SourceLocation,
        variables: [TemplateVariable],
        spec edge: EdgeSpec
    ) -> [SpecDiagnostic] {
        var diagnostics: [SpecDiagnostic] = []
        if auth == nil && edge.auth != nil {
            diagnostics.append(
                SpecDiagnostic(location, "route \(route) does not say who may call it", hint: "add 'auth: jwt' or 'auth: api_key', or 'auth: none' to make it public on purpose")
            )
        }
        for method in auth?.methods ?? [] {
            switch method {
            case .jwt where edge.auth?.jwt == nil:
                diagnostics.append(SpecDiagnostic(location, "route \(route) takes jwt but the spec configures no auth.jwt", hint: "add 'auth: { jwt: { keys: [...] } }' at the top level"))
            case .apiKey where edge.auth?.apiKeys == nil:
                diagnostics.append(SpecDiagnostic(location, "route \(route) takes api_key but the spec configures no auth.api_keys", hint: "add 'auth: { api_keys: { file: ... } }' at the top level"))
            default:
                break
            }
        }
        let authenticated = auth.map { !$0.isPublic } ?? false
        for variable in variables {
            guard case .auth = variable.source, !authenticated else { continue }
            diagnostics.append(
                SpecDiagnostic(location, "route \(route) reads \(variable) but has no authenticated caller", hint: "set 'auth: jwt' (or api_key) on the route, or remove the variable")
            )
        }
        return diagnostics
    }
}
