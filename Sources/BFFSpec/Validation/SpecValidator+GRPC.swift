extension SpecValidator {
    /// A call to a gRPC service names its method (and only such a call does), has no cache yet (its
    /// key would not see the message), and a gRPC service is not proxied.
    static func validateGRPC(_ spec: ClientSpec) -> [SpecDiagnostic] {
        var diagnostics: [SpecDiagnostic] = []
        for endpoint in spec.endpoints {
            switch endpoint.kind {
            case .aggregate(let aggregate):
                for call in aggregate.calls {
                    guard let service = spec.services[call.service] else { continue }
                    diagnostics += validateGRPC(call, service: service)
                }
            case .proxy(let proxy):
                if spec.services[proxy.service]?.grpc != nil {
                    diagnostics.append(
                        SpecDiagnostic(endpoint.location, "route \(endpoint.route) proxies to gRPC service '\(proxy.service)'", hint: "call it from an aggregation with 'method:' and 'body:'")
                    )
                }
            }
        }
        return diagnostics
    }

    static func validateGRPC(_ call: CallSpec, service: ServiceSpec) -> [SpecDiagnostic] {
        switch (service.grpc != nil, call.method != nil) {
        case (true, false):
            return [SpecDiagnostic(call.location, "call '\(call.name)' to gRPC service '\(service.name)' names no method", hint: "add e.g. 'method: users.v1.Users/GetUser'")]
        case (false, true):
            return [SpecDiagnostic(call.location, "call '\(call.name)' names a method but service '\(service.name)' is not a gRPC service", hint: "add 'grpc: { descriptor_set: ... }' to the service, or use 'path:'")]
        case (false, false):
            guard call.body == nil else {
                return [SpecDiagnostic(call.location, "call '\(call.name)' has a body but no method", hint: "a body is the request message of a gRPC call")]
            }
            return []
        case (true, true):
            guard call.cache == nil else {
                return [SpecDiagnostic(call.location, "call '\(call.name)' to a gRPC service has a cache", hint: "gRPC calls are not cached yet; remove 'cache:'")]
            }
            return []
        }
    }
}
