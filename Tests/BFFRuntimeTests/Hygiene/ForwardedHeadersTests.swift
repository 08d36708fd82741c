import BFFSpec
import HTTPTypes
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// The one-pass header rules both proxy paths share: hop-by-hop fields in any letter case, the
/// fields a `Connection` names, and the head a service gets.
@Suite("Forwarded headers")
struct ForwardedHeadersTests {
    @Test("hop-by-hop names are told in any letter case, and no other name is taken for one")
    func hopByHopNames() {
        for name in HopByHop.names {
            #expect(HopByHop.contains(name) && HopByHop.contains(name.uppercased()), "\(name)")
        }
        for name in ["t", "tee", "hosts", "trailers", "connections", "content-type", "proxy-connections", "x-upgrade", "Keep-Alive2", "transfer-encodinG "] {
            #expect(!HopByHop.contains(name), "\(name)")
        }
        #expect(HopByHop.connectionNamed(["X-Hop , keep-alive,", "\tX-Other"]) == ["x-hop", "x-other"])
    }

    @Test("strip removes hop-by-hop fields and those Connection names, in any letter case, and keeps the rest in order")
    func strip() {
        var headers = HTTPHeaders([
            ("Content-Type", "application/json"), ("CONNECTION", "X-Hop , keep-alive,"), ("x-hop", "1"), ("X-HOP", "2"),
            ("Keep-Alive", "timeout=5"), ("Transfer-Encoding", "chunked"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "3"),
        ])
        HopByHop.strip(&headers)
        #expect(headers.map { "\($0.name)=\($0.value)" } == ["Content-Type=application/json", "Set-Cookie=a=1", "Set-Cookie=b=2"])
        var untouched = HTTPHeaders([("A", "1"), ("B", "2")])
        HopByHop.strip(&untouched)
        #expect(untouched.map(\.name) == ["A", "B"])
    }

    @Test("a service's head: the client's fields in order, less hop-by-hop, Connection-named and checked credentials, then the gateway's own")
    func serviceHead() throws {
        let edge = EdgeSpec()
        let forwarding = ProxyForwarding(proxy: ProxySpec(service: "svc", path: try Template.parse("/{path.rest}", kind: .urlPath)), auth: EndpointAuthSpec(methods: [.jwt]), edge: edge)
        var fields = HTTPFields()
        fields.append(HTTPField(name: .accept, value: "application/json"))
        fields.append(HTTPField(name: .connection, value: "X-Client-Hop"))
        fields.append(HTTPField(name: HTTPField.Name("X-Client-Hop")!, value: "1"))
        fields.append(HTTPField(name: .authorization, value: "Bearer t"))
        fields.append(HTTPField(name: HTTPField.Name("X-Trace")!, value: "abc"))
        fields.append(HTTPField(name: .te, value: "trailers"))
        let headers = forwarding.headers(of: fields, peerAddress: "198.51.100.7", overTLS: true, requestID: "r1")
        #expect(headers.map { "\($0.name)=\($0.value)" } == [
            "Accept=application/json", "X-Trace=abc",
            "x-forwarded-for=198.51.100.7", "x-real-ip=198.51.100.7", "x-forwarded-proto=https", "x-request-id=r1",
        ])
        let v6 = forwarding.headers(of: HTTPFields(), peerAddress: "::ffff:198.51.100.7", overTLS: false, requestID: "r2")
        #expect(v6["x-real-ip"] == ["198.51.100.7"], "an IPv4-mapped peer is its IPv4 address, as for limits")
        #expect(v6["x-forwarded-for"] == ["::ffff:198.51.100.7"])
    }

    @Test("the event loop's field lines are the middleware path's headers, less the deadline header the try writes itself")
    func fieldLinesMatchHeaders() throws {
        let forwarding = ProxyForwarding(proxy: ProxySpec(service: "svc", path: try Template.parse("/{path.rest}", kind: .urlPath)), auth: nil, edge: EdgeSpec())
        var fields = HTTPFields()
        fields.append(HTTPField(name: .accept, value: "application/json"))
        fields.append(HTTPField(name: HTTPField.Name("x-request-deadline-ms")!, value: "999999"))
        fields.append(HTTPField(name: .connection, value: "X-Hop"))
        fields.append(HTTPField(name: HTTPField.Name("X-Hop")!, value: "1"))
        fields.append(HTTPField(name: HTTPField.Name("X-Trace")!, value: "abc"))
        var lines = ByteBuffer()
        forwarding.writeFieldLines(of: fields, peerAddress: "198.51.100.7", overTLS: false, requestID: "r1", leavingOut: "X-Request-Deadline-Ms", into: &lines)
        var headers = forwarding.headers(of: fields, peerAddress: "198.51.100.7", overTLS: false, requestID: "r1")
        headers.remove(name: "x-request-deadline-ms")
        #expect(String(buffer: lines) == headers.map { "\($0.name): \($0.value)\r\n" }.joined())
        #expect(String(buffer: lines).hasPrefix("Accept: application/json\r\nX-Trace: abc\r\nx-forwarded-for: 198.51.100.7\r\n"))

        let request = LoopProxyRequest(method: .post, target: "/items?x=1", fieldLines: lines)
        let instance = ServiceEndpoint(ServiceSpec(name: "svc", url: UpstreamURL("http://127.0.0.1:8081/base")!, location: SourceLocation(file: "test.yaml", line: 1)))
        let head = String(buffer: request.head(for: instance, deadline: ("X-Request-Deadline-Ms", .milliseconds(250))))
        #expect(head == "POST /base/items?x=1 HTTP/1.1\r\nhost: 127.0.0.1:8081\r\n" + String(buffer: lines) + "X-Request-Deadline-Ms: 250\r\ncontent-length: 0\r\n\r\n")
    }
}
