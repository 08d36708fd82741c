import BFFSpec
import Testing

/// `tracing:`: its endpoint, sampling share and trust, and the mistakes reported at their line.
@Suite struct TracingSpecTests {
    static func yaml(_ tracing: String) -> String {
        """
        name: t
        \(tracing)
        services:
          users: { url: "http://127.0.0.1:9" }
        endpoints:
          - route: GET /u
            calls:
              user: { service: users, path: /u }
        """
    }

    @Test("tracing reads its OTLP endpoint (adding /v1/traces to a bare URL), sample share, trust and service name; no tracing: none")
    func reads() throws {
        let spec = try SpecLoader.load(yaml: Self.yaml("tracing: { otlp: http://collector:4318, sample: 10%, trust_incoming: true, service_name: shop }"), file: "t.yaml")
        let tracing = try #require(spec.tracing)
        #expect(tracing.tracesEndpoint == "http://collector:4318/v1/traces")
        #expect(tracing.sample == 0.1)
        #expect(tracing.trustIncoming && tracing.serviceName == "shop")
        let withPath = try SpecLoader.load(yaml: Self.yaml("tracing: { otlp: https://otel.example.com/custom/traces }"), file: "t.yaml")
        #expect(withPath.tracing?.tracesEndpoint == "https://otel.example.com/custom/traces")
        #expect(withPath.tracing?.sample == 1 && withPath.tracing?.trustIncoming == false)
        #expect(try SpecLoader.load(yaml: Self.yaml(""), file: "t.yaml").tracing == nil)
    }

    @Test(
        "tracing mistakes are reported at their line with what to do",
        arguments: [
            ("tracing: { sample: 10% }", "tracing has no otlp endpoint"),
            ("tracing: { otlp: collector:4318 }", "is not an http:// or https:// URL"),
            ("tracing: { otlp: http://c:4318, sample: 150% }", "is not a share"),
            ("tracing: { otlp: http://c:4318, trust_incomming: true }", "unknown key 'trust_incomming'"),
        ]
    )
    func mistakes(tracing: String, message: String) {
        #expect {
            try SpecLoader.load(yaml: Self.yaml(tracing), file: "t.yaml")
        } throws: { error in
            guard let error = error as? SpecLoadError else { return false }
            return error.diagnostics.contains { $0.message.contains(message) && $0.location.line == 2 }
        }
    }
}
