import BFFSpec
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1

/// Forwards a route to one service, streaming bodies both ways.
///
/// Hop-by-hop headers (and any header `Connection` names) are dropped in both directions before
/// the gateway adds its own `X-Forwarded-*` and `X-Request-ID`.
struct ProxyEndpoint: EndpointHandler {
    let route: RoutePattern
    let service: ServiceEndpoint
    let target: CompiledTemplate
    let headTimeout: Duration
    let transport: UpstreamTransport

    func handle(_ request: Request, context: BFFRequestContext, captures: [String: String]) async throws -> Response {
        context.record.note(route: route.path)
        let inputs = RequestInputs(request: request, context: context, captures: captures)
        var uri: String
        do {
            try target.validateRequestInputs(inputs, restCapture: route.restCapture)
            uri = try target.render(inputs: inputs, restCapture: route.restCapture) { _ in nil }
        } catch {
            throw Problem.badRequest(error.clientMessage)
        }
        if let query = request.uri.query, !query.isEmpty {
            uri += uri.contains("?") ? "&" : "?"
            uri += query
        }
        var headers = HTTPHeaders(request.headers)
        let hasBody = headers.first(name: "content-length").map { $0 != "0" } ?? headers.contains(name: "transfer-encoding")
        let contentLength = headers.first(name: "content-length")
        HopByHop.strip(&headers)
        if hasBody {
            if let contentLength {
                headers.add(name: "content-length", value: contentLength)
            } else {
                headers.add(name: "transfer-encoding", value: "chunked")
            }
        }
        if let peer = context.remoteAddress?.ipAddress {
            let prior = headers.first(name: "x-forwarded-for")
            headers.replaceOrAdd(name: "x-forwarded-for", value: prior.map { "\($0), \(peer)" } ?? peer)
        }
        headers.replaceOrAdd(name: "x-forwarded-proto", value: "http")
        headers.replaceOrAdd(name: "x-request-id", value: context.requestID)
        let head = HTTPRequestHead(
            version: .http1_1,
            method: HTTPMethod(rawValue: request.method.rawValue),
            uri: uri,
            headers: headers
        )
        let upstream: StreamedResponse
        do {
            upstream = try await transport.stream(
                head: head,
                body: hasBody ? request.body : nil,
                to: service,
                headTimeout: headTimeout,
                on: context.eventLoop
            )
        } catch let error as UpstreamError {
            throw Problem.upstream(error)
        }
        var responseHeaders = upstream.head.headers
        let upstreamLength = responseHeaders.first(name: "content-length").flatMap(Int.init)
        HopByHop.strip(&responseHeaders)
        for name in ["server", "x-powered-by"] { responseHeaders.remove(name: name) }
        var fields = HTTPFields(responseHeaders, splitCookie: false)
        if let upstreamLength { fields[.contentLength] = String(upstreamLength) }
        let body = upstream.body
        let upload = upstream.upload
        return Response(
            status: .init(code: Int(upstream.head.status.code), reasonPhrase: upstream.head.status.reasonPhrase),
            headers: fields,
            body: ResponseBody(contentLength: upstreamLength) { writer in
                do {
                    for try await chunk in body {
                        try await writer.write(chunk)
                    }
                } catch {
                    await upload?.finishUpload()
                    throw error
                }
                await upload?.finishUpload()
                try await writer.finish(nil)
            }
        )
    }
}
