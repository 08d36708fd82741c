import Yams

extension SpecLoader {
    static func readTracing(_ node: Node, reader: YAMLReader) -> TracingSpec? {
        guard let fields = reader.mapping(node, what: "tracing", allowed: tracingKeys) else { return nil }
        guard let (_, _, endpoint) = fields.first(where: { $0.key == "otlp" }) else {
            reader.report(node, "tracing has no otlp endpoint", hint: "add 'otlp: http://otel-collector:4318', the collector's OTLP/HTTP address")
            return nil
        }
        guard let text = reader.string(endpoint, what: "tracing.otlp") else { return nil }
        guard let url = UpstreamURL(text) else {
            reader.report(endpoint, "tracing.otlp '\(text)' is not an http:// or https:// URL", hint: "write e.g. http://otel-collector:4318")
            return nil
        }
        var spec = TracingSpec(otlp: url, location: reader.location(of: node))
        for (key, _, value) in fields {
            switch key {
            case "sample": spec.sample = reader.share(value, what: "tracing.sample") ?? spec.sample
            case "trust_incoming": spec.trustIncoming = reader.bool(value, what: "tracing.trust_incoming") ?? false
            case "service_name": spec.serviceName = reader.string(value, what: "tracing.service_name")
            default: break
            }
        }
        return spec
    }
}
