import Foundation

/// How the public listener speaks to clients: TLS, and HTTP/2 beside HTTP/1.1.
///
/// ```yaml
/// tls:
///   cert_file: certs/web.pem        # PEM chain, leaf first
///   key_file: certs/web-key.pem
///   min_version: "1.2"              # or "1.3"
///   client_ca_file: certs/partners-ca.pem   # optional: require client certificates (mTLS)
/// http2:
///   max_concurrent_streams: 100
///   max_resets: 200                 # per reset_window; more and the connection gets GOAWAY
///   reset_window: 30s
/// ```
public struct TLSSpec: Sendable {
    /// PEM file with the server certificate first, then any intermediates.
    public var certFile: String
    /// PEM file with the certificate's private key.
    public var keyFile: String
    public var minVersion: TLSVersion = .v1_2
    /// PEM file of the CAs whose client certificates are accepted; set, every client must present one.
    public var clientCAFile: String?
    public var location: SourceLocation

    public init(certFile: String, keyFile: String, minVersion: TLSVersion = .v1_2, clientCAFile: String? = nil, location: SourceLocation) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.minVersion = minVersion
        self.clientCAFile = clientCAFile
        self.location = location
    }

    /// The files a certificate rotation replaces, watched for changes.
    public var files: [String] { [certFile, keyFile] + (clientCAFile.map { [$0] } ?? []) }
}

/// The oldest TLS version the listener accepts.
public enum TLSVersion: String, Sendable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"
}

/// HTTP/2 on the public listener and the limits each connection keeps to.
public struct HTTP2Spec: Sendable {
    /// `http2: true` or `false`; nil (unset) offers h2 over TLS by ALPN and speaks only HTTP/1.1 on
    /// a plaintext listener.
    public var enabled: Bool?
    /// Streams a client may have open at once on one connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    public var maxConcurrentStreams: Int = 100
    /// Streams a client may reset within ``resetWindow`` before the connection is closed with GOAWAY
    /// (the rapid-reset attack, CVE-2023-44487).
    public var maxResets: Int = 200
    public var resetWindow: Duration = .seconds(30)

    public init() {}

    /// Whether ALPN offers `h2` on a TLS listener.
    public var overTLS: Bool { enabled ?? true }
    /// Whether a plaintext listener also takes HTTP/2 with prior knowledge (h2c), told apart from
    /// HTTP/1.1 by the client's connection preface.
    public var priorKnowledge: Bool { enabled ?? false }
}

extension ClientSpec {
    /// How the public listener speaks, for `bff routes` and start-up logs:
    /// `https, TLS 1.2+, client certificates from ca.pem; HTTP/2 (ALPN) and HTTP/1.1`.
    public var listenerSummary: String {
        guard let tls else {
            return http2.priorKnowledge ? "http; HTTP/2 with prior knowledge (h2c) and HTTP/1.1" : "http; HTTP/1.1"
        }
        let clients = tls.clientCAFile.map { ", client certificates from \(($0 as NSString).lastPathComponent)" } ?? ""
        return "https, TLS \(tls.minVersion.rawValue)+\(clients); " + (http2.overTLS ? "HTTP/2 (ALPN) and HTTP/1.1" : "HTTP/1.1")
    }
}
