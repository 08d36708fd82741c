import AsyncHTTPClient
import BFFSpec
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Calls to `https` services, through AsyncHTTPClient (TLS, SNI, certificate verification), with the
/// same deadlines, body cap, no redirects and error mapping as the plain-HTTP pools.
///
/// One client per trust setting and connect timeout, created at start-up for the services that need it.
final class TLSUpstream: Sendable {
    struct ClientKey: Hashable {
        let caFile: String?
        let connectTimeout: Duration
    }

    private let clients: [ClientKey: HTTPClient]

    init(group: any EventLoopGroup, services: some Sequence<ServiceEndpoint>) throws {
        var clients: [ClientKey: HTTPClient] = [:]
        for service in services where service.isTLS {
            let key = ClientKey(caFile: service.caFile, connectTimeout: service.connectTimeout)
            guard clients[key] == nil else { continue }
            var tls = TLSConfiguration.makeClientConfiguration()
            if let caFile = service.caFile {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            }
            var configuration = HTTPClient.Configuration(
                tlsConfiguration: tls,
                redirectConfiguration: .disallow,
                timeout: .init(connect: .nanoseconds(service.connectTimeout.nanosecondsValue))
            )
            configuration.decompression = .disabled
            clients[key] = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        }
        self.clients = clients
    }

    /// Whether every https service among `services` has its client here (a reloaded spec whose
    /// https services need no new trust setting keeps this transport).
    func covers(_ services: some Sequence<ServiceEndpoint>) -> Bool {
        services.allSatisfy { !$0.isTLS || clients[ClientKey(caFile: $0.caFile, connectTimeout: $0.connectTimeout)] != nil }
    }

    private func client(for service: ServiceEndpoint) -> HTTPClient {
        clients[ClientKey(caFile: service.caFile, connectTimeout: service.connectTimeout)]!
    }

    func send(_ request: UpstreamRequest, to service: ServiceEndpoint, deadline: NIODeadline) async throws(UpstreamError) -> UpstreamResponse {
        var outgoing = HTTPClientRequest(url: service.origin + request.target)
        outgoing.method = request.method
        outgoing.headers = request.allHeaders
        let budget = Duration.nanoseconds(max(0, (deadline - .now()).nanoseconds))
        do {
            let response = try await client(for: service).execute(outgoing, deadline: deadline)
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > service.maxBodyBytes {
                throw UpstreamError.bodyTooLarge(service: service.name, limit: service.maxBodyBytes)
            }
            let body = try await withDeadline(deadline, budget: budget, service: service) {
                try await response.body.collect(upTo: service.maxBodyBytes)
            }
            return UpstreamResponse(status: response.status, headers: response.headers, body: body)
        } catch {
            throw Self.map(error, service: service, budget: budget)
        }
    }

    func stream<Body: AsyncSequence & Sendable>(
        head: HTTPRequestHead,
        body: Body?,
        to service: ServiceEndpoint,
        headTimeout: Duration
    ) async throws(UpstreamError) -> StreamedResponse where Body.Element == ByteBuffer {
        var outgoing = HTTPClientRequest(url: service.origin + head.uri)
        outgoing.method = head.method
        var headers = head.headers
        let length = headers.first(name: "content-length").flatMap(Int64.init)
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        outgoing.headers = headers
        // AsyncHTTPClient uploads on a task of its own; the body is taken back before the request ends.
        let lease = body.map { _ in BodyLease() }
        if let body, let lease {
            outgoing.body = .stream(LentBody(base: body, lease: lease), length: length.map { .known($0) } ?? .unknown)
        }
        do {
            let response = try await client(for: service).execute(outgoing, deadline: .now() + .nanoseconds(headTimeout.nanosecondsValue))
            var responseHeaders = response.headers
            if let length = response.headers.first(name: "content-length") { responseHeaders.replaceOrAdd(name: "content-length", value: length) }
            return StreamedResponse(
                head: HTTPResponseHead(version: .http1_1, status: response.status, headers: responseHeaders),
                body: response.body,
                upload: lease.map { UploadHandle(lease: $0) }
            )
        } catch {
            await lease?.reclaim()
            throw Self.map(error, service: service, budget: headTimeout)
        }
    }

    /// Body reads after the head are bounded by the same deadline as the rest of the call.
    private func withDeadline<T: Sendable>(
        _ deadline: NIODeadline,
        budget: Duration,
        service: ServiceEndpoint,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: .nanoseconds((deadline - .now()).nanoseconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw UpstreamError.timeout(service: service.name, after: budget)
            }
            return value
        }
    }

    static func map(_ error: any Error, service: ServiceEndpoint, budget: Duration) -> UpstreamError {
        switch error {
        case let error as UpstreamError:
            return error.attributed(to: service.name)
        case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout:
            return .timeout(service: service.name, after: budget)
        case let error as HTTPClientError where error == .cancelled:
            return .cancelled(service: service.name)
        case let error as HTTPClientError where error == .connectTimeout:
            return .connectFailed(service: service.name)
        case let error as HTTPClientError where error == .remoteConnectionClosed:
            return .connectionClosed(service: service.name)
        case is CancellationError:
            return .cancelled(service: service.name)
        case is NIOTooManyBytesError:
            return .bodyTooLarge(service: service.name, limit: service.maxBodyBytes)
        case is NIOSSLError, is NIOConnectionError, is IOError:
            return .connectFailed(service: service.name)
        default:
            return .connectionClosed(service: service.name)
        }
    }

    func shutdown() async {
        for client in clients.values {
            try? await client.shutdown()
        }
    }
}
