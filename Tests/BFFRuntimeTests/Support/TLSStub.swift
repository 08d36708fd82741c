import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import SwiftASN1
import X509

/// A self-signed certificate for 127.0.0.1, made fresh for each test run.
struct TestCertificate {
    let certificatePEM: String
    let privateKeyPEM: String

    static func make() throws -> TestCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("bff-test-upstream") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 3600,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectAlternativeNames([.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))])
            },
            issuerPrivateKey: .init(key)
        )
        return TestCertificate(certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: key.pemRepresentation)
    }

    /// Writes the certificate to a temporary PEM file, for a service's `ca_file`.
    func writeCertificate() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bff-test-ca-\(UUID().uuidString).pem").path
        try certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// An https upstream on 127.0.0.1: answers every request with a fixed JSON body, and echoes the
/// request body back for POST; `/early` is answered at once, before any of the body is read;
/// `/deadline` answers with the deadline header it was sent (`{"deadline_ms":"…"}`).
enum TLSStub {
    static func start(certificate: TestCertificate, body: String) async throws -> LoopbackServer {
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: Array(certificate.certificatePEM.utf8), format: .pem))],
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))
        )
        let context = try NIOSSLContext(configuration: tls)
        return try await LoopbackServer.start(
            beforeHTTP: { channel in try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) },
            configure: { channel in try channel.pipeline.syncOperations.addHandler(TLSStubHandler(body: body)) }
        )
    }
}

private final class TLSStubHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let body: String
    private var method: HTTPMethod = .GET
    private var received = ByteBuffer()
    private var early = false

    init(body: String) {
        self.body = body
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            method = head.method
            received.clear()
            early = head.uri == "/early" || head.uri == "/deadline"
            if head.uri == "/deadline" {
                let sent = head.headers.first(name: "X-Request-Deadline-Ms") ?? ""
                respond(ByteBuffer(string: #"{"deadline_ms":""# + sent + #""}"#), context: context)
            } else if early {
                respond(ByteBuffer(string: body), context: context)
            }
        case .body(var chunk):
            if !early { received.writeBuffer(&chunk) }
        case .end:
            guard !early else { return }
            respond(method == .POST ? received : ByteBuffer(string: body), context: context)
        }
    }

    private func respond(_ answer: ByteBuffer, context: ChannelHandlerContext) {
        let head = HTTPResponseHead(
            version: .http1_1,
            status: .ok,
            headers: ["content-type": "application/json", "content-length": String(answer.readableBytes), "server": "tls-stub"]
        )
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(answer))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
