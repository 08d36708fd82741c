import BFFSpec
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Prometheus

/// The operator's listener, apart from the public one: `/metrics` (Prometheus text),
/// `/admin/breakers` (each service's breaker and instances), `POST /admin/cache/purge?prefix=`
/// (drops cached answers whose key starts with the prefix, in the Redis every replica shares when
/// the cache keeps them there), `POST /admin/reload` (reads the spec again and swaps it in, or
/// answers 422 with every problem), `/admin/spec` (the generation serving and the last reload),
/// `/admin/` (a live page of routes, calls, services and the cache; ``AdminPage``) and the
/// `/admin/status.json` it polls (``AdminStatus``), `/openapi.json` (the OpenAPI 3.1 document of
/// the routes serving), `/health` and `/ready`. Bound to loopback unless told otherwise, so metrics
/// never leave the machine (or the pod) by accident.
enum AdminListener {
    /// The admin application for one BFF; it runs beside the public one and stops with it.
    ///
    /// - Parameter onListening: called with the bound port once it accepts connections.
    static func application(
        address: HostPort,
        name: String,
        metrics: BFFMetrics,
        readiness: Readiness,
        server: BFFServer,
        group: any EventLoopGroup,
        logger: Logger,
        onListening: (@Sendable (Int) async -> Void)?
    ) -> some ApplicationProtocol {
        let router = Hummingbird.Router(context: BasicRequestContext.self)
        let openConnections = metrics.registry.gauge(
            "bff_upstream_connections_open",
            help: "Plain-HTTP connections to services open right now, pooled or busy (TLS services are pooled by AsyncHTTPClient)."
        )
        router.get("metrics") { _, _ -> Response in
            let generation = server.currentGeneration
            for cluster in generation.clusters.values { cluster.refreshGauges() }
            openConnections.set(Double(generation.transport.connections.count))
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
        router.get("admin/breakers") { _, _ -> Response in
            let clusters = server.currentGeneration.clusters
            var body: [UInt8] = []
            JSONValue.object(clusters.keys.sorted().map { ($0, clusters[$0]!.statusJSON) }).write(to: &body)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        router.post("admin/cache/purge") { request, _ -> Response in
            // The query is read like a route's, so `+` and `%20` both stand for the spaces keys hold.
            guard let prefix = RequestInputs.parseQuery(request.uri.query.map { Substring($0) })["prefix"] else {
                var body: [UInt8] = []
                JSONValue.object([
                    ("error", "say which keys to purge: POST /admin/cache/purge?prefix=<key prefix>, e.g. prefix=call+users+ (an empty prefix purges everything)")
                ]).write(to: &body)
                return Response(status: .badRequest, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            let purged: Int
            do {
                purged = try await server.currentGeneration.cache?.store.purge(prefix: prefix) ?? 0
            } catch {
                logger.error("cache purge failed", metadata: ["prefix": .string(prefix), "error": "\(error)"])
                var body: [UInt8] = []
                JSONValue.object([
                    ("error", .string("the cache store could not be purged (\(error)); entries may remain: purge again once it is reachable"))
                ]).write(to: &body)
                return Response(status: .serviceUnavailable, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
            }
            logger.notice("cache purge", metadata: ["prefix": .string(prefix), "purged": .stringConvertible(purged)])
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"purged":\#(purged)}"#))
            )
        }
        router.post("admin/reload") { request, _ -> Response in
            let outcome = await server.reload(reason: "admin")
            return reloadAnswer(outcome, requestID: RequestIDMiddleware.requestID(sent: request.headers[.requestID]))
        }
        router.get("admin/spec") { _, _ -> Response in
            let generation = server.currentGeneration
            var members: [(String, JSONValue)] = [
                ("name", .string(generation.spec.name)),
                ("file", .string(generation.spec.file)),
                ("generation", .number(Double(generation.number))),
                ("loaded_at", .string(ISO8601DateFormatter().string(from: generation.loadedAt))),
                ("routes", .array(generation.router.descriptions.map { .string($0) })),
            ]
            members.append(("last_reload", server.lastReloadOutcome?.json ?? .null))
            return json(.ok, .object(members))
        }
        router.get("admin/status.json") { _, _ -> Response in
            json(.ok, AdminStatus.json(server: server, metrics: metrics))
        }
        // The router takes /admin and /admin/ for the same path; the page fetches its status by an
        // absolute path, so it works at either.
        router.get("admin") { _, _ -> Response in
            Response(status: .ok, headers: AdminPage.headers, body: .init(byteBuffer: AdminPage.body))
        }
        router.get("openapi.json") { request, _ -> Response in
            do {
                let document = try server.openAPIDocument(version: "generation-\(server.currentGeneration.number)")
                return Response(
                    status: .ok,
                    headers: [.contentType: "application/json", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: document))
                )
            } catch {
                var problem = Problem(.internalServerError, "the OpenAPI document cannot be made: \(error)")
                problem.headers[.cacheControl] = "no-store"
                let requestID = RequestIDMiddleware.requestID(sent: request.headers[.requestID])
                let (fields, body) = problem.encoded(requestID: requestID, instance: "/openapi.json")
                return Response(status: .internalServerError, headers: fields, body: .init(byteBuffer: body))
            }
        }
        router.get("health") { _, _ in status(.ok, "ok") }
        router.get("ready") { _, _ in readiness.isReady ? status(.ok, "ready") : status(.serviceUnavailable, "draining") }
        return Application(
            router: router,
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: nil, reuseAddress: true),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("\(name)-bff admin listener (metrics) on \(HostPort(host: address.host, port: port))")
                await onListening?(port)
            },
            eventLoopGroupProvider: .shared(group),
            logger: logger
        )
    }

    /// `/admin/reload`'s answer: 200 with what was kept and what needs a restart, 422 problem+json
    /// listing each problem at file:line when the spec was refused, 409 when there is no file to read.
    private static func reloadAnswer(_ outcome: ReloadOutcome, requestID: String) -> Response {
        switch outcome.result {
        case .applied:
            return json(.ok, outcome.json)
        case .invalid, .unavailable:
            let status: HTTPResponse.Status = outcome.result == .invalid ? .unprocessableContent : .conflict
            var problem = Problem(status, outcome.message, extensions: outcome.diagnostics.isEmpty ? [] : [("errors", .array(outcome.diagnostics.map(ReloadOutcome.json)))])
            problem.headers[.cacheControl] = "no-store"
            let (fields, body) = problem.encoded(requestID: requestID, instance: "/admin/reload")
            var headers = fields
            headers[.requestID] = requestID
            return Response(status: status, headers: headers, body: .init(byteBuffer: body))
        }
    }

    private static func json(_ code: HTTPResponse.Status, _ value: JSONValue) -> Response {
        var body: [UInt8] = []
        value.write(to: &body)
        return Response(status: code, headers: [.contentType: "application/json", .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private static func status(_ code: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: code,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"status":"\#(text)"}"#))
        )
    }
}
