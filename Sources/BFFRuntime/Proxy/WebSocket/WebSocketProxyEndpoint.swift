import BFFSpec
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Prometheus

/// A proxy route with `websocket: true`: takes WebSocket handshakes only, and after the route's
/// admission (auth, roles, rate limits, which ran before this) and an `Origin` check against
/// `cors.origins`, forwards the handshake to the service and, once it answers 101, relays the
/// socket both ways (``WebSocketPipe``).
///
/// Anything but an RFC 6455 handshake over HTTP/1.1 (including any request over HTTP/2) is
/// answered 426. A service that answers the handshake with anything but a correct 101 is a 502,
/// and nothing is switched.
struct WebSocketProxyEndpoint: EndpointHandler {
    let route: RoutePattern
    let service: ServiceCluster
    let target: CompiledTemplate
    let headTimeout: Duration
    let spec: WebSocketSpec
    /// `cors.origins`, which a browser's `Origin` must match; nil when the BFF declares no CORS.
    let allowedOrigins: [String]?
    let forwarding: ProxyForwarding

    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response {
        context.record.note(route: route.path)
        guard request.method == .get, request.headers[.upgrade]?.lowercased() == "websocket",
            let key = request.headers[.secWebSocketKey], request.headers[.secWebSocketVersion] == "13"
        else {
            throw Problem(
                HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"),
                "this route takes WebSocket connections only: send a WebSocket handshake over HTTP/1.1 (Upgrade: websocket, Sec-WebSocket-Version: 13)",
                headers: [.secWebSocketVersion: "13"]
            )
        }
        if let allowedOrigins, let origin = request.headers[.origin], !allowedOrigins.contains(where: { CORSOriginPattern.matches(origin, pattern: $0) }) {
            throw Problem(.forbidden, "WebSocket connections from origin '\(origin)' are refused")
        }
        let uri = try ProxyEndpoint.upstreamTarget(target, route: route, request: request, context: context, captures: captures)
        let permit = service.breaker?.acquire(at: NIODeadline.uptimeNow) ?? .allowed
        if case .rejected(let retryAfter) = permit {
            service.metrics.breakerRejections.increment()
            throw Problem.circuitOpen(service: service.name, retryAfter: retryAfter)
        }
        let instance = service.pick()
        var headers = forwarding.headers(of: request, context: context)
        headers.replaceOrAdd(name: "host", value: instance.endpoint.hostHeader)
        headers.add(name: "upgrade", value: "websocket")
        headers.add(name: "connection", value: "Upgrade")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: uri, headers: headers)
        instance.started()
        let handshake: WebSocketUpstream.Handshake
        do {
            handshake = try await WebSocketUpstream.open(head, to: instance.endpoint, headTimeout: headTimeout, on: context.eventLoop)
        } catch {
            instance.finished()
            service.report(instance, failed: true)
            service.breaker?.record(permit, .failure, at: NIODeadline.uptimeNow)
            throw Problem.upstream(error)
        }
        instance.finished()
        let accept = WebSocketUpstream.accept(for: key)
        guard handshake.status == 101, handshake.headers.first(name: "sec-websocket-accept") == accept else {
            handshake.channel.close(promise: nil)
            service.report(instance, failed: handshake.status >= 500)
            service.breaker?.record(permit, handshake.status >= 500 ? .failure : .success, at: NIODeadline.uptimeNow)
            context.logger.info(
                "WebSocket handshake refused by the service",
                metadata: ["request_id": "\(context.requestID)", "service": "\(service.name)", "status": "\(handshake.status)"]
            )
            throw Problem(.badGateway, "service '\(service.name)' did not accept the WebSocket handshake")
        }
        service.report(instance, failed: false)
        service.breaker?.record(permit, .success, at: NIODeadline.uptimeNow)
        let pipe = try await install(between: context.channel, and: handshake.channel, eventLoop: context.eventLoop)
        var fields: HTTPFields = [.upgrade: "websocket", .connection: "Upgrade", .secWebSocketAccept: accept]
        for name in [HTTPField.Name.secWebSocketProtocol, .secWebSocketExtensions] {
            if let value = handshake.headers.first(name: name.rawName) { fields[name] = value }
        }
        let reader = handshake.reader
        let upstream = handshake.channel
        return Response(
            status: .switchingProtocols,
            headers: fields,
            body: ResponseBody { _ in
                // The 101 has been written by now: relay until both sides have closed.
                try await upstream.eventLoop.flatSubmit {
                    pipe.value.start(serviceSentFirst: reader.take(from: upstream))
                    return pipe.value.closed
                }.get()
            }
        )
    }

    /// Puts the pipe's ends into both pipelines, on the client's connection in front of its HTTP
    /// handlers; until it starts, it holds what either side sends.
    private func install(between client: any Channel, and upstream: any Channel, eventLoop: any EventLoop) async throws -> NIOLoopBound<WebSocketPipe> {
        let spec = self.spec
        do {
            return try await eventLoop.submit {
                let pipe = WebSocketPipe(spec: spec, eventLoop: eventLoop)
                let operations = client.pipeline.syncOperations
                try operations.addHandler(pipe.handler(for: .client), position: .before(try operations.handler(type: RequestHeadGuard.self)))
                try upstream.pipeline.syncOperations.addHandler(pipe.handler(for: .upstream))
                return NIOLoopBound(pipe, eventLoop: eventLoop)
            }.get()
        } catch {
            upstream.close(promise: nil)
            throw Problem(.badGateway, "the WebSocket connection could not be switched")
        }
    }
}

extension HTTPField.Name {
    static let secWebSocketKey = Self("Sec-WebSocket-Key")!
    static let secWebSocketVersion = Self("Sec-WebSocket-Version")!
    static let secWebSocketAccept = Self("Sec-WebSocket-Accept")!
    static let secWebSocketProtocol = Self("Sec-WebSocket-Protocol")!
    static let secWebSocketExtensions = Self("Sec-WebSocket-Extensions")!
}
