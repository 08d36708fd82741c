import AsyncHTTPClient
import BFFRuntime
import BFFSpec
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// Services with https URLs go through TLS with certificate verification.
@Suite struct TLSUpstreamTests {
    private func spec(port: Int, caFile: String?) -> String {
        """
        name: tls
        services:
          secure: { url: "https://127.0.0.1:\(port)", timeout: 2s\(caFile.map { ", ca_file: \"\($0)\"" } ?? "") }
        endpoints:
          - route: GET /secure
            calls:
              profile: { service: secure, path: /profile, fallback: { unavailable: true } }
          - route: "* /tunnel/{rest*}"
            proxy: { service: secure, path: "/{rest}" }
        """
    }

    @Test func aggregatesAndProxiesOverTLSWhenTheCertificateIsTrusted() async throws {
        let certificate = try TestCertificate.make()
        let stub = try await TLSStub.start(certificate: certificate, body: #"{"id":"u1","tier":"gold"}"#)
        let caFile = try certificate.writeCertificate()
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        try await withGateway(spec(port: stub.port, caFile: caFile)) { gateway in
            let aggregated = try await gateway.get("/secure")
            #expect(aggregated.status == 200)
            let json = try aggregated.json()
            #expect(json["profile"] == ["id": "u1", "tier": "gold"])
            #expect(json["_meta"]?["calls"]?["profile"]?["status"] == "ok")

            let echoed = try await gateway.post("/tunnel/echo", body: "hello over tls")
            #expect(echoed.status == 200)
            #expect(echoed.text == "hello over tls")
            #expect(echoed.header("server") == nil)
        }
        try await stub.shutdown()
    }

    @Test("a call to an https service tells it how long it has, as calls over plain HTTP do")
    func deadlineHeaderOverTLS() async throws {
        let certificate = try TestCertificate.make()
        let stub = try await TLSStub.start(certificate: certificate, body: "{}")
        let caFile = try certificate.writeCertificate()
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        let yaml = """
            name: tls
            services:
              secure: { url: "https://127.0.0.1:\(stub.port)", timeout: 2s, ca_file: "\(caFile)" }
            endpoints:
              - route: GET /deadline
                calls:
                  sent: { service: secure, path: /deadline }
            """
        try await withGateway(yaml) { gateway in
            let json = try await gateway.get("/deadline").json()
            guard case .string(let text)? = json["sent"]?["deadline_ms"] else {
                Issue.record("no deadline_ms in \(json)")
                return
            }
            let sent = Int(text)
            #expect(sent.map { $0 > 1000 && $0 <= 2000 } == true, "the call's own 2 s, less what has passed: \(String(describing: sent))")
        }
        try await stub.shutdown()
    }

    /// AsyncHTTPClient uploads the body on a task of its own; the server must not read the rest of
    /// the body for the next request while that task still does (two reads at once are a crash).
    @Test("an https upstream that answers a proxied POST before reading its body: the answer gets through, and so does the next request")
    func earlyAnswerOverTLS() async throws {
        let certificate = try TestCertificate.make()
        let stub = try await TLSStub.start(certificate: certificate, body: #"{"early":true}"#)
        let caFile = try certificate.writeCertificate()
        defer { try? FileManager.default.removeItem(atPath: caFile) }
        try await withGateway(spec(port: stub.port, caFile: caFile)) { gateway in
            for _ in 0..<2 {
                let body = PatternBody(totalBytes: 2 << 20)
                var request = HTTPClientRequest(url: gateway.baseURL + "/tunnel/early")
                request.method = .POST
                request.body = .stream(body, length: .known(Int64(body.totalBytes)))
                let response = try await gateway.client.execute(request, timeout: .seconds(30))
                let answer = try await response.body.collect(upTo: 1 << 20)
                #expect(response.status == .ok)
                #expect(String(buffer: answer) == #"{"early":true}"#)
                let next = try await gateway.post("/tunnel/echo", body: "after")
                #expect(next.status == 200)
                #expect(next.text == "after")
            }
        }
        try await stub.shutdown()
    }

    @Test func refusesAnUpstreamWhoseCertificateIsNotTrusted() async throws {
        let certificate = try TestCertificate.make()
        let stub = try await TLSStub.start(certificate: certificate, body: #"{"id":"u1"}"#)
        try await withGateway(spec(port: stub.port, caFile: nil)) { gateway in
            let response = try await gateway.get("/secure")
            #expect(response.status == 200)
            let json = try response.json()
            #expect(json["profile"] == ["unavailable": true])
            #expect(json["_meta"]?["calls"]?["profile"]?["status"] == "error")
            #expect(!response.text.contains("127.0.0.1"))
        }
        try await stub.shutdown()
    }
}

extension TestGateway {
    /// POSTs a small text body and reads the whole answer.
    fileprivate func post(_ path: String, body: String) async throws -> TestResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: Array(bytes.readableBytesView))
    }
}
