public import BFFSpec
import NIOCore

/// A service resolved for sending: where to connect, what Host to send, and its limits.
///
/// Built once at start-up from a ``ServiceSpec``; IP literals are pre-parsed so the hot path
/// never resolves names.
public struct ServiceEndpoint: Sendable, Hashable {
    public let name: String
    public let host: String
    public let port: Int
    public let hostHeader: String
    public let basePath: String
    public let timeout: Duration
    public let connectTimeout: Duration
    public let maxBodyBytes: Int
    public let isTLS: Bool
    /// CA certificates trusted for TLS instead of the system's, when set.
    public let caFile: String?
    /// `https://host:port/base` for the TLS client.
    let origin: String
    let address: SocketAddress?

    public init(_ spec: ServiceSpec) {
        name = spec.name
        host = spec.url.host
        port = spec.url.port
        hostHeader = spec.url.hostHeader
        basePath = spec.url.basePath
        timeout = spec.timeout
        connectTimeout = spec.connectTimeout
        maxBodyBytes = spec.maxBodyBytes
        isTLS = spec.url.isTLS
        caFile = spec.caFile
        origin = "\(spec.url.scheme)://\(spec.url.hostHeader)\(spec.url.basePath)"
        address = try? SocketAddress(ipAddress: spec.url.host, port: spec.url.port)
    }

    /// Connections are pooled per destination; two services on one host:port share a pool.
    var poolKey: PoolKey { PoolKey(host: host, port: port) }

    struct PoolKey: Hashable {
        let host: String
        let port: Int
    }
}
