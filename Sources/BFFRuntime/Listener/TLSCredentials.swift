import BFFSpec
import Foundation
import Logging
import NIOSSL
import ServiceLifecycle
import Synchronization
import SwiftASN1
import X509

/// The public listener's certificate, key and client CAs, as the TLS context every new connection
/// starts its handshake with.
///
/// A rotation (SIGHUP, or the files changing on disk) builds a new context and swaps it in: open
/// connections keep the one they were accepted with, new ones get the new one, so no connection is
/// dropped. A rotation whose files do not make a valid context (a half-written file, a key of
/// another certificate) is refused and logged, and the old context goes on serving.
final class TLSCredentials: Service, Sendable {
    private struct Loaded {
        var context: NIOSSLContext
        var stamps: [FileStamp]
    }

    let spec: TLSSpec
    /// Whether ALPN offers `h2` as well as `http/1.1`.
    let offerHTTP2: Bool
    /// How often the files are checked for changes.
    let watchInterval: Duration
    private let loaded: Mutex<Loaded>
    private let logger: Logger

    /// Reads the files `spec` names.
    /// - Throws: ``SpecLoadError`` at the spec's `tls:` line, naming the file at fault.
    init(spec: TLSSpec, offerHTTP2: Bool, watchInterval: Duration = .seconds(1), logger: Logger) throws(SpecLoadError) {
        self.spec = spec
        self.offerHTTP2 = offerHTTP2
        self.watchInterval = watchInterval
        self.logger = logger
        let stamps = spec.files.map(FileStamp.init(path:))
        do {
            loaded = Mutex(Loaded(context: try Self.context(spec: spec, offerHTTP2: offerHTTP2), stamps: stamps))
        } catch {
            throw SpecLoadError([SpecDiagnostic(spec.location, error.message, hint: error.hint)])
        }
    }

    /// The context new connections handshake with.
    var context: NIOSSLContext { loaded.withLock { $0.context } }

    /// Re-reads the files now, whether or not they changed (SIGHUP).
    /// - Returns: whether the new files were taken.
    @discardableResult
    func reload(reason: String) -> Bool {
        let stamps = spec.files.map(FileStamp.init(path:))
        do {
            let context = try Self.context(spec: spec, offerHTTP2: offerHTTP2)
            loaded.withLock { $0 = Loaded(context: context, stamps: stamps) }
            logger.notice("TLS certificate reloaded; new connections use it", metadata: ["cert_file": "\(spec.certFile)", "reason": "\(reason)"])
            return true
        } catch {
            // Remember the stamps, so a broken rotation is reported once, not every watch interval.
            loaded.withLock { $0.stamps = stamps }
            logger.error(
                "TLS certificate reload refused; the previous certificate goes on serving",
                metadata: ["cert_file": "\(spec.certFile)", "reason": "\(reason)", "error": "\(error.message)", "hint": "\(error.hint)"]
            )
            return false
        }
    }

    /// Reloads when any of the files changed since they were last read.
    func reloadIfChanged() {
        let stamps = spec.files.map(FileStamp.init(path:))
        guard loaded.withLock({ $0.stamps != stamps }) else { return }
        reload(reason: "file changed")
    }

    /// Watches the files until shutdown.
    func run() async throws {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: watchInterval)
            } catch {
                return
            }
            reloadIfChanged()
        }
    }

    // MARK: Building a context

    struct Failure: Error {
        let message: String
        let hint: String
    }

    static func context(spec: TLSSpec, offerHTTP2: Bool) throws(Failure) -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(spec.certFile)
        } catch {
            throw Failure(message: "tls.cert_file '\(spec.certFile)' is not a PEM certificate file", hint: "give the server certificate, then its intermediates, as PEM")
        }
        guard let leaf = chain.first else {
            throw Failure(message: "tls.cert_file '\(spec.certFile)' holds no certificate", hint: "give the server certificate, then its intermediates, as PEM")
        }
        let key: NIOSSLPrivateKey
        let keyPEM: String
        do {
            keyPEM = try String(contentsOfFile: spec.keyFile, encoding: .utf8)
            key = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
        } catch {
            throw Failure(message: "tls.key_file '\(spec.keyFile)' is not a PEM private key", hint: "give the certificate's unencrypted private key as PEM")
        }
        guard Self.matches(leaf: leaf, keyPEM: keyPEM) else {
            throw Failure(
                message: "tls.key_file '\(spec.keyFile)' is not the key of the certificate in '\(spec.certFile)'",
                hint: "give the key the certificate was issued for; when rotating, replace both files"
            )
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = spec.minVersion == .v1_3 ? .tlsv13 : .tlsv12
        configuration.applicationProtocols = offerHTTP2 ? ["h2", "http/1.1"] : ["http/1.1"]
        if let caFile = spec.clientCAFile {
            let authorities: [NIOSSLCertificate]
            do {
                authorities = try NIOSSLCertificate.fromPEMFile(caFile)
            } catch {
                throw Failure(message: "tls.client_ca_file '\(caFile)' is not a PEM certificate file", hint: "give the CA certificates that client certificates chain to, as PEM")
            }
            guard !authorities.isEmpty else {
                throw Failure(message: "tls.client_ca_file '\(caFile)' holds no certificate", hint: "give the CA certificates that client certificates chain to, as PEM")
            }
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(authorities)
            configuration.sendCANameList = true
        }
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(message: "the TLS settings were refused: \(error)", hint: "check that the certificate, key and CA files belong together")
        }
    }

    /// Whether the private key in `keyPEM` is the one `leaf` was issued for. A key or certificate
    /// this check cannot read is left to BoringSSL, which refuses a mismatch less clearly.
    private static func matches(leaf: NIOSSLCertificate, keyPEM: String) -> Bool {
        guard let certificate = try? Certificate(derEncoded: leaf.toDERBytes()),
            let key = try? Certificate.PrivateKey(pemEncoded: keyPEM)
        else { return true }
        return key.publicKey == certificate.publicKey
    }
}
