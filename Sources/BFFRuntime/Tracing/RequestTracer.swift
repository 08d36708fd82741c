import BFFSpec
import Foundation
import HTTPTypes
import Instrumentation
import Logging
import NIOCore
import NIOHTTP1
import OTel
import ServiceContextModule
import ServiceLifecycle
import Tracing

/// One BFF's tracing (`tracing:`): W3C trace context taken from the request (from trusted proxies,
/// or from anyone with `trust_incoming`) or started here, a server span per request named by its
/// route pattern, a client span per call named by the call, each call's own `traceparent`, and
/// spans batched to an OTLP/HTTP collector by swift-otel.
///
/// Built per generation (a reload whose `tracing:` is unchanged keeps it). Without `tracing:` the
/// server has none and requests pay one nil check.
final class RequestTracer: Sendable {
    private let tracer: any Tracer
    /// Batches and exports spans; runs as the server's background work.
    let service: any Service
    private let trustIncoming: Bool
    private let trustedProxies: [CIDR]
    /// The share of new traces recorded.
    private let sample: Double

    /// - Throws: ``SpecLoadError`` at the `tracing:` line when swift-otel refuses the configuration.
    init(spec: TracingSpec, bff: String, trustedProxies: [CIDR], logger: Logger) throws(SpecLoadError) {
        var configuration = OTel.Configuration.default
        configuration.serviceName = spec.serviceName ?? "\(bff)-bff"
        configuration.metrics.enabled = false
        configuration.logs.enabled = false
        configuration.traces.exporter = .otlp
        configuration.traces.otlpExporter.protocol = .httpProtobuf
        configuration.traces.otlpExporter.endpoint = spec.tracesEndpoint
        configuration.traces.batchSpanProcessor.scheduleDelay = .seconds(1)
        // The sampling decision is made here, before swift-otel sees the request: only sampled
        // requests become its spans, so an unsampled one costs two random ids, not a span tree.
        configuration.traces.sampler = .parentBasedAlwaysOn
        configuration.diagnosticLogger = .custom(logger)
        configuration.diagnosticLogLevel = .warning
        do {
            let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
            self.tracer = tracer
            self.service = service
        } catch {
            throw SpecLoadError([SpecDiagnostic(spec.location, "tracing cannot be set up: \(error)", hint: "check tracing.otlp and tracing.sample")])
        }
        trustIncoming = spec.trustIncoming
        self.trustedProxies = trustedProxies
        sample = spec.sample
    }

    /// Asks the exporter to send what it holds now (at shutdown, before its work is cancelled).
    func flush() {
        tracer.forceFlush()
    }

    /// Starts the server span of a request: a child of the request's `traceparent` when it is
    /// trusted, else the root of a new trace.
    func start(method: String, path: Substring, headers: HTTPFields, peer: SocketAddress?) -> ServerTrace {
        let trusted = trustIncoming || ClientAddress.isTrusted(peer, trusted: trustedProxies)
        let parent = trusted ? headers[.traceparent].flatMap(TraceParent.init) : nil
        // A trusted parent decides for its trace; a new trace is recorded with the `sample` share.
        let sampled = parent?.sampled ?? (sample >= 1 || (sample > 0 && Double.random(in: 0..<1) < sample))
        guard sampled else {
            let traceID = parent?.traceID ?? TraceParent.randomID(digits: 32)
            return ServerTrace(unsampled: traceID, tracestate: trusted ? headers[.tracestate] : nil)
        }
        var context = ServiceContext.topLevel
        if trusted {
            tracer.extract(headers, into: &context, using: HTTPFieldsExtractor())
        }
        let span = tracer.startSpan(method, context: context, ofKind: .server)
        span.attributes["http.request.method"] = method
        span.attributes["url.path"] = String(path)
        if let peer = peer?.ipAddress { span.attributes["client.address"] = peer }
        return ServerTrace(tracer: tracer, span: span, method: method)
    }
}

/// A request's server span, from its head to its answer; its calls' spans are its children. An
/// unsampled request has no span: only the trace id its calls carry on.
final class ServerTrace: Sendable {
    private let tracer: (any Tracer)?
    private let span: (any Span)?
    private let method: String
    /// The trace's id (32 hex digits), for the access log.
    let traceID: String
    /// The server span's own trace headers.
    private let headers: TraceHeaders
    /// Whether the trace is sampled: an unsampled one records no spans at all.
    private let recording: Bool

    fileprivate init(tracer: any Tracer, span: any Span, method: String) {
        self.tracer = tracer
        self.span = span
        self.method = method
        var carrier = TraceHeaders()
        tracer.inject(span.context, into: &carrier, using: TraceHeaders.Injector())
        headers = carrier
        traceID = carrier.traceID ?? ""
        recording = span.isRecording
    }

    /// An unsampled request's trace: `traceID` goes on to every call, not sampled, with `tracestate`.
    fileprivate init(unsampled traceID: String, tracestate: String?) {
        tracer = nil
        span = nil
        method = ""
        self.traceID = traceID
        headers = TraceHeaders(traceparent: "00-\(traceID)-\(TraceParent.randomID(digits: 16))-00", tracestate: tracestate)
        recording = false
    }

    /// Starts the client span of one call; its `traceparent` (and `tracestate`) go to the service.
    ///
    /// In an unsampled trace no span is made: the call's `traceparent` carries the trace on, not
    /// sampled, with a span id of its own (what a span would have had), for a fraction of the cost.
    func startCall(_ name: String, service: String) -> CallTrace {
        guard recording, let tracer, let span else {
            let parent = headers.traceparent.map { "00-\(traceID)-\(TraceParent.randomID(digits: 16))-\($0.suffix(2))" }
            return CallTrace(span: nil, headers: TraceHeaders(traceparent: parent, tracestate: headers.tracestate))
        }
        let child = tracer.startSpan(name, context: span.context, ofKind: .client)
        child.attributes["bff.call"] = name
        child.attributes["peer.service"] = service
        var carrier = TraceHeaders()
        tracer.inject(child.context, into: &carrier, using: TraceHeaders.Injector())
        return CallTrace(span: child, headers: carrier)
    }

    /// A call that never went out (skipped, cancelled before it started): a span with its outcome.
    func recordUnsent(_ name: String, service: String, outcome: CallOutcome) {
        guard recording else { return }
        startCall(name, service: service).end(outcome)
    }

    /// Ends the server span, named by the route pattern that answered (`GET /dashboard/{id}`).
    func end(route: String?, status: Int) {
        guard let span else { return }
        guard recording else {
            span.end()
            return
        }
        if let route {
            span.operationName = "\(method) \(route)"
            span.attributes["http.route"] = route
        }
        span.attributes["http.response.status_code"] = status
        if status >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }
}

/// One call's client span (none in an unsampled trace) and the trace headers it sends.
final class CallTrace: Sendable {
    private let span: (any Span)?
    let traceparent: String?
    let tracestate: String?

    fileprivate init(span: (any Span)?, headers: TraceHeaders) {
        self.span = span
        traceparent = headers.traceparent
        tracestate = headers.tracestate
    }

    /// Adds this call's `traceparent` and `tracestate` to `headers`, replacing any.
    func addHeaders(to headers: inout HTTPHeaders) {
        if let traceparent { headers.replaceOrAdd(name: "traceparent", value: traceparent) }
        if let tracestate { headers.replaceOrAdd(name: "tracestate", value: tracestate) }
    }

    /// Ends the span with how the call ended: `bff.call.outcome` is ok, error, timeout, skipped,
    /// cancelled, circuit_open, fallback (failed, its fallback served) or cache_hit; the service's
    /// status and the answer's source ride along.
    func end(_ outcome: CallOutcome) {
        guard let span else { return }
        span.attributes["bff.call.outcome"] = Self.outcomeName(outcome)
        span.attributes["bff.call.source"] = outcome.source.rawValue
        if let http = outcome.http { span.attributes["http.response.status_code"] = http }
        if outcome.hedged { span.attributes["bff.call.hedged"] = true }
        if outcome.attempts > 1 { span.attributes["bff.call.attempts"] = outcome.attempts }
        if !outcome.succeeded && outcome.source != .fallback { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }

    /// Ends a proxied call's span at its answer's head (nil: no answer came).
    func endProxied(status: Int?) {
        guard let span else { return }
        span.attributes["bff.call.outcome"] = status == nil ? "error" : "ok"
        if let status { span.attributes["http.response.status_code"] = status }
        if status == nil || status! >= 500 { span.setStatus(SpanStatus(code: .error)) }
        span.end()
    }

    static func outcomeName(_ outcome: CallOutcome) -> String {
        switch outcome.source {
        case .cache: "cache_hit"
        case .fallback where !outcome.succeeded: "fallback"
        default: outcome.status.rawValue
        }
    }
}

/// A W3C `traceparent` as far as the sampling decision needs it: version 00, a trace id and a
/// parent id that are not all zero, and the sampled flag. Anything else is no parent.
struct TraceParent {
    let traceID: String
    let sampled: Bool

    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
            parts[1].utf8.allSatisfy(Self.isLowerHex), parts[2].utf8.allSatisfy(Self.isLowerHex), parts[3].utf8.allSatisfy(Self.isLowerHex),
            parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }), let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        traceID = String(parts[1])
        sampled = flags & 1 == 1
    }

    private static func isLowerHex(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
    }

    /// `digits` random lowercase hex digits (16 or 32), never all zero.
    static func randomID(digits: Int) -> String {
        var bytes = [UInt8](repeating: 0, count: digits)
        let alphabet = Array("0123456789abcdef".utf8)
        var index = 0
        while index < digits {
            var word = UInt64.random(in: 1...UInt64.max)
            for _ in 0..<16 where index < digits {
                bytes[index] = alphabet[Int(word & 0xF)]
                word >>= 4
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Reads `traceparent`/`tracestate` (and whatever else a propagator asks for) from a request's fields.
private struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from carrier: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { carrier[$0] }
    }
}

/// The trace headers a propagator writes for one span.
private struct TraceHeaders {
    var traceparent: String?
    var tracestate: String?

    /// `00-<trace id>-<span id>-<flags>`: the second part.
    var traceID: String? {
        traceparent?.split(separator: "-").dropFirst().first.map(String.init)
    }

    struct Injector: Instrumentation.Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout TraceHeaders) {
            switch key.lowercased() {
            case "traceparent": carrier.traceparent = value
            case "tracestate": carrier.tracestate = value
            default: break
            }
        }
    }
}

extension HTTPField.Name {
    static let traceparent = HTTPField.Name("traceparent")!
    static let tracestate = HTTPField.Name("tracestate")!
}
