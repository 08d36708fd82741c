import Crypto
import Foundation
import SwiftASN1
import X509

/// A test certificate authority in a temporary folder, with PEM files as a deployment keeps them:
/// the CA certificate, a server certificate for 127.0.0.1 and localhost, and client certificates
/// issued on request. Made fresh for each test, removed with ``remove()``.
struct TestPKI {
    let folder: URL
    let name: String
    private let caKey: P256.Signing.PrivateKey
    private let caName: DistinguishedName
    /// The CA certificate, the one file clients trust.
    let caFile: String
    let serverCertFile: String
    let serverKeyFile: String

    /// A new CA named `name`, and a server certificate it issued, in a new temporary folder.
    static func make(name: String = "bff-test-ca") throws -> TestPKI {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bff-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let key = P256.Signing.PrivateKey()
        let caName = try DistinguishedName {
            OrganizationName("BFF Tests")
            CommonName(name)
        }
        let now = Date()
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400, issuer: caName, subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key)
        )
        let caFile = folder.appendingPathComponent("\(name).pem").path
        try ca.serializeAsPEM().pemString.write(toFile: caFile, atomically: true, encoding: .utf8)
        let pki = TestPKI(
            folder: folder, name: name, caKey: key, caName: caName, caFile: caFile,
            serverCertFile: folder.appendingPathComponent("server.pem").path,
            serverKeyFile: folder.appendingPathComponent("server-key.pem").path
        )
        try pki.issueServerCertificate()
        return pki
    }

    /// Issues a new server certificate (new key, new serial, `commonName`) and writes it over the
    /// server files, as a rotation does: each file replaced whole by a rename.
    func issueServerCertificate(commonName: String = "bff-test-server") throws {
        let (certificate, key) = try issue(
            subject: try DistinguishedName { CommonName(commonName) },
            usage: .init([.serverAuth]),
            names: [.dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))]
        )
        try key.write(toFile: serverKeyFile, atomically: true, encoding: .utf8)
        try certificate.write(toFile: serverCertFile, atomically: true, encoding: .utf8)
    }

    /// Issues a client certificate for `CN=commonName,O=organization`; returns its certificate and key files.
    func issueClientCertificate(commonName: String, organization: String) throws -> (certFile: String, keyFile: String) {
        let (certificate, key) = try issue(
            subject: try DistinguishedName {
                OrganizationName(organization)
                CommonName(commonName)
            },
            usage: .init([.clientAuth]),
            names: []
        )
        let certFile = folder.appendingPathComponent("client-\(commonName).pem").path
        let keyFile = folder.appendingPathComponent("client-\(commonName)-key.pem").path
        try certificate.write(toFile: certFile, atomically: true, encoding: .utf8)
        try key.write(toFile: keyFile, atomically: true, encoding: .utf8)
        return (certFile, keyFile)
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }

    private func issue(subject: DistinguishedName, usage: ExtendedKeyUsage, names: [GeneralName]) throws -> (certificatePEM: String, keyPEM: String) {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400, issuer: caName, subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                usage
                if !names.isEmpty { SubjectAlternativeNames(names) }
            },
            issuerPrivateKey: .init(caKey)
        )
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}
