import BFFSpec
import Foundation
import Testing

/// `ca_file` names the CA certificates an https service is checked against.
@Suite struct TLSServiceTests {
    @Test("ca_file is read relative to the spec and kept on the service")
    func relativeCAFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bff-ca-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "-----BEGIN CERTIFICATE-----\n".write(to: directory.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let spec = try SpecLoader.load(
            yaml: "name: t\nservices:\n  secure: { url: https://svc.internal, ca_file: ca.pem }\n",
            file: directory.appendingPathComponent("spec.yaml").path
        )
        let service = try #require(spec.services["secure"])
        #expect(service.caFile == directory.appendingPathComponent("ca.pem").path)
        #expect(service.url.isTLS)
        #expect(service.url.port == 443)
    }

    @Test("an unreadable ca_file is reported at its line")
    func missingCAFile() {
        let diagnostics = SpecFixtures.diagnostics("name: t\nservices:\n  secure: { url: https://svc.internal, ca_file: /nonexistent/ca.pem }\n")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.location.line == 3)
        #expect(diagnostics.first?.message.contains("cannot be read") == true)
    }

    @Test("a ca_file on an http service is refused")
    func caFileWithoutTLS() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ca-\(UUID().uuidString).pem").path
        try "x".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let diagnostics = SpecFixtures.diagnostics("name: t\nservices:\n  plain: { url: http://svc.internal, ca_file: \(file) }\n")
        #expect(diagnostics.count == 1)
        #expect(diagnostics.first?.message.contains("http url") == true)
    }
}
