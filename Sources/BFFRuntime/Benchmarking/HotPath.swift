public import BFFSpec
public import HTTPTypes
public import NIOCore

/// The request path's hot pieces, for the micro-benchmarks in `bench/micro`: another package, so
/// it cannot reach them where they are `internal`. The gateway itself never goes through here.
///
/// Each piece is prepared as the gateway prepares it at start-up (or once per connection), and each
/// call then runs exactly the code one request runs.
///
/// ```swift
/// @_spi(MicroBenchmarks) import BFFRuntime
///
/// let fill = HotPath.TemplateFill(try Template.parse("/users/{path.id}", kind: .urlPath))
/// let target = fill.render(inputs: RequestInputs(captures: ["id": "u1"])) { _ in nil }
/// ```
@_spi(MicroBenchmarks)
public enum HotPath {
    // MARK: Templates

    /// An upstream path or header template, compiled as a plan compiles its calls' (``CompiledTemplate``).
    public struct TemplateFill: Sendable {
        private let template: CompiledTemplate

        public init(_ template: Template) {
            self.template = CompiledTemplate(template)
        }

        /// Checks the request's values, as a plan does before any call starts, then fills the
        /// template, as the call does when it starts.
        /// - Parameter results: the parsed answers of finished calls, by call name.
        /// - Returns: the filled template; nil when a value is missing or unusable.
        public func render(inputs: RequestInputs, results: (String) -> JSONValue?) -> String? {
            do {
                try template.validateRequestInputs(inputs, restCapture: nil)
                return try template.render(inputs: inputs, results: results)
            } catch {
                return nil
            }
        }
    }

    // MARK: Heads

    /// A client connection's request heads, vetted as the listener vets them (``RequestHeadScanner``)
    /// and, when they are plain GETs, decoded straight to requests (``SimpleRequestDecoder``).
    public struct RequestHeads {
        /// One per connection, as in ``RequestHeadGuard``: its line buffer is reused head after head.
        private var scanner: RequestHeadScanner

        public init(edge: EdgeSpec) {
            scanner = RequestHeadScanner(policy: IngressPolicy(edge: edge))
        }

        /// Reads `head`, one whole head that arrived in one read.
        /// - Returns: the request; nil when the head breaks a rule, or is not a plain GET (which the
        ///   HTTP decoder would decode instead).
        public mutating func read(_ head: ByteBuffer) -> HTTPRequest? {
            let vetted = head.withUnsafeReadableBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let (end, event) = scanner.next(in: bytes, from: offset)
                    offset = end
                    switch event {
                    case .headStarted: continue
                    case .headEnded: return end == bytes.count
                    case .rejected, .bodyRefused, nil: return false
                    }
                }
                return false
            }
            return vetted ? SimpleRequestDecoder.decode(head) : nil
        }
    }

    /// A pooled upstream connection's responses, read from the socket's bytes (``HTTP1ResponseParser``).
    public struct UpstreamResponses {
        /// One per connection, as in ``BufferedConnectionHandler``.
        private var parser = HTTP1ResponseParser()
        private let maxBodyBytes: Int

        public init(maxBodyBytes: Int = ServiceSpec.defaultMaxBodyBytes) {
            self.maxBodyBytes = maxBodyBytes
        }

        /// Reads the answer to a GET that arrived whole in one read.
        /// - Returns: the response; nil when it is malformed, too large or not complete.
        public mutating func read(_ bytes: ByteBuffer) -> UpstreamResponse? {
            parser.expect(limit: maxBodyBytes, bodyAllowed: true)
            return try? parser.parse(bytes)?.response
        }
    }

    // MARK: Aggregated bodies

    /// An aggregation's answer body, built as an aggregation builds it once its calls have answered:
    /// each call's body validated, or parsed where it is shaped (``CallRunner``), then each section
    /// spliced byte for byte or shaped, and `_meta` written (``ResponseComposer``).
    public struct AggregateBody: Sendable {
        private let names: CallNames
        private let shape: ResponseShape
        private let includeMeta: Bool
        private let parsedAnswers: [Bool]

        public init(aggregate: AggregateSpec) {
            names = CallNames(aggregate.calls.map(\.name))
            shape = ResponseShape(aggregate: aggregate)
            includeMeta = aggregate.meta
            parsedAnswers = CompiledPlan.parsedAnswers(graph: CallGraph(calls: aggregate.calls), output: shape)
        }

        /// The body for `answers`, one 2xx answer per call in the order the spec declares them.
        public func compose(_ answers: [UpstreamResponse]) -> ByteBuffer {
            var outcomes: [CallOutcome] = []
            outcomes.reserveCapacity(answers.count)
            for (index, answer) in answers.enumerated() {
                let attempt = CallRunner.Attempt(result: .success(answer), instance: 0)
                outcomes.append(
                    CallRunner.outcome(of: attempt, service: names.names[index], milliseconds: 1.5, fallback: nil, parse: parsedAnswers[index])
                )
            }
            return ResponseComposer.body(names: names, outcomes: outcomes, shape: shape, includeMeta: includeMeta, allocator: ByteBufferAllocator()).buffer
        }
    }

    // MARK: JWTs

    /// Bearer tokens checked as the edge checks them (``JWTVerifier``): signature by the key the
    /// token's `kid` names, then the registered claims, then the principal built; or, for a token
    /// verified before, its entry in the verified-token cache.
    public struct JWTVerification: Sendable {
        private let verifier: JWTVerifier

        /// Loads the spec's keys now, as start-up does; there is no JWKS.
        /// - Parameters:
        ///   - environment: where `secret_env` keys are read.
        ///   - cached: false keeps no verified tokens, so every call checks the signature.
        public init(spec: JWTSpec, environment: [String: String], cached: Bool) async throws(SpecLoadError) {
            verifier = try await JWTVerifier(spec: spec, jwks: nil, environment: environment, cache: cached ? .init() : .init(entries: 0))
        }

        public func verify(_ token: String) async throws(AuthFailure) -> Principal {
            try await verifier.verify(token)
        }
    }
}
