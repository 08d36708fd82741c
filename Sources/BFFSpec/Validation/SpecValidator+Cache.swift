extension SpecValidator {
    /// Checks an endpoint's `cache:`: only aggregations compose a body to keep, and it needs a ttl
    /// because no upstream `Cache-Control` speaks for a composed body.
    static func validateCache(_ endpoint: EndpointSpec) -> [SpecDiagnostic] {
        guard let cache = endpoint.cache else { return [] }
        if case .proxy = endpoint.kind {
            return [
                SpecDiagnostic(cache.location, "proxy route \(endpoint.route) cannot have a cache", hint: "proxied answers stream through; cache the calls of an aggregation instead")
            ]
        }
        guard let ttl = cache.ttl else {
            return [SpecDiagnostic(cache.location, "the cache of endpoint \(endpoint.route) has no ttl", hint: "add e.g. 'ttl: 5s'")]
        }
        return ttl > .zero ? [] : [SpecDiagnostic(cache.location, "the cache ttl of endpoint \(endpoint.route) must be longer than zero", hint: "give e.g. 'ttl: 5s'")]
    }

    /// Checks a call's `cache:` (YAML durations are positive once read; Swift-declared ones may not be).
    static func validateCache(_ call: CallSpec) -> [SpecDiagnostic] {
        guard let cache = call.cache else { return [] }
        var diagnostics: [SpecDiagnostic] = []
        if let ttl = cache.ttl, ttl <= .zero {
            diagnostics.append(
                SpecDiagnostic(cache.location, "the cache ttl of call '\(call.name)' must be longer than zero", hint: "give e.g. 30 seconds, or nil to honour the service's Cache-Control max-age")
            )
        }
        if cache.staleIfError < .zero || cache.staleWhileRevalidate < .zero {
            diagnostics.append(
                SpecDiagnostic(cache.location, "the stale windows of call '\(call.name)' must not be negative", hint: "give zero to turn one off")
            )
        }
        return diagnostics
    }
}
