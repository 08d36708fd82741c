import BFFSpec

/// Specs and helpers shared by the loader and validation tests.
enum SpecFixtures {
    /// The documented example: two endpoints, an A -> (B || C) shaped aggregation and a rest proxy.
    static let example = """
        name: mobile
        listen: 127.0.0.1:8081
        services:
          users:  { url: http://127.0.0.1:9001, timeout: 800ms }
          orders: { url: http://127.0.0.1:9002 }
          recs:   { url: http://127.0.0.1:9004 }
        endpoints:
          - route: GET /dashboard/{id}
            timeout: 1s
            calls:
              user:   { service: users,  path: "/users/{path.id}", required: true }
              orders: { service: orders, path: "/orders?user={path.id}&limit={query.limit:5}", timeout: 300ms, fallback: [] }
              recs:   { service: recs,   path: "/for/{user.tier}" }
            response:
              profile: { from: user, fields: [id, name, avatar] }
              orders:  { from: orders, limit: 3 }
              tier:    { from: user.tier }
              recs:    { from: recs }
          - route: GET /api/users/{rest*}
            proxy: { service: users, path: "/users/{rest}" }
        """

    /// Six lines declaring three services, so the first line of `endpoints` passed to ``diagnostics(endpoints:)`` is line 7.
    static let header = """
        name: test
        services:
          users:  { url: http://127.0.0.1:9001 }
          orders: { url: http://127.0.0.1:9002 }
          recs:   { url: http://127.0.0.1:9004 }
        endpoints:

        """

    static let file = "test.yaml"

    /// The diagnostics of loading `yaml`, or none when it loads.
    static func diagnostics(_ yaml: String, file: String = file) -> [SpecDiagnostic] {
        do throws(SpecLoadError) {
            _ = try SpecLoader.load(yaml: yaml, file: file)
            return []
        } catch {
            return error.diagnostics
        }
    }

    /// The diagnostics of a spec made of ``header`` followed by `endpoints` (whose first line is line 7).
    static func diagnostics(endpoints: String) -> [SpecDiagnostic] {
        diagnostics(header + endpoints)
    }
}

extension EndpointSpec {
    var aggregate: AggregateSpec? {
        if case .aggregate(let aggregate) = kind { return aggregate }
        return nil
    }

    var proxy: ProxySpec? {
        if case .proxy(let proxy) = kind { return proxy }
        return nil
    }
}
