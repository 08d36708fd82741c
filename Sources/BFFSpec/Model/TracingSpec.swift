/// `tracing:`: W3C trace context for every request and its calls, and spans exported over
/// OTLP/HTTP. Off when the spec has none.
///
/// ```yaml
/// tracing: { otlp: http://otel-collector:4318, sample: 10%, trust_incoming: false }
/// ```
public struct TracingSpec: Sendable {
    /// The OTLP/HTTP traces endpoint (`/v1/traces` is added to a URL without a path).
    public var otlp: UpstreamURL
    /// The share of traces started here that are recorded; a trusted incoming `traceparent`'s
    /// sampled flag decides for its trace.
    public var sample: Double = 1
    /// Take `traceparent`/`tracestate` from any client, not only from `trusted_proxies`.
    public var trustIncoming = false
    /// `service.name` on every span; `<name>-bff` by default.
    public var serviceName: String?
    public var location: SourceLocation

    public init(otlp: UpstreamURL, location: SourceLocation) {
        self.otlp = otlp
        self.location = location
    }

    /// The URL spans are posted to.
    public var tracesEndpoint: String {
        otlp.basePath.isEmpty || otlp.basePath == "/" ? "\(otlp.scheme)://\(otlp.hostHeader)/v1/traces" : otlp.description
    }
}
