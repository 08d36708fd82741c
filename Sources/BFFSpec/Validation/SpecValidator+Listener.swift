extension SpecValidator {
    /// `{tls.subject}` and `require: { tls_subjects }` need a listener that asks for client
    /// certificates; without `tls.client_ca_file` there is no subject to read.
    static func validateClientCertificates(_ spec: ClientSpec) -> [SpecDiagnostic] {
        guard spec.tls?.clientCAFile == nil else { return [] }
        var diagnostics: [SpecDiagnostic] = []
        let hint = "add 'tls: { ..., client_ca_file: ca.pem }' so clients present certificates, or remove it"
        for endpoint in spec.endpoints {
            if endpoint.auth?.tlsSubjects.isEmpty == false {
                diagnostics.append(SpecDiagnostic(endpoint.location, "route \(endpoint.route) requires tls_subjects but the listener asks for no client certificate", hint: hint))
            }
            let variables: [TemplateVariable]
            switch endpoint.kind {
            case .aggregate(let aggregate): variables = aggregate.calls.flatMap(\.variables)
            case .proxy(let proxy): variables = proxy.path.variables
            }
            if variables.contains(where: { $0.source == .tlsSubject }) {
                diagnostics.append(SpecDiagnostic(endpoint.location, "route \(endpoint.route) reads {tls.subject} but the listener asks for no client certificate", hint: hint))
            }
        }
        return diagnostics
    }
}
