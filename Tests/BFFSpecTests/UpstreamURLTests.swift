import BFFSpec
import Testing

@Suite("UpstreamURL and HostPort")
struct UpstreamURLTests {
    @Test("http and https URLs with ports, IPv6 hosts and base paths")
    func parsesURLs() throws {
        let plain = try #require(UpstreamURL("http://127.0.0.1:9001"))
        #expect(plain.scheme == "http")
        #expect(plain.host == "127.0.0.1")
        #expect(plain.port == 9001)
        #expect(plain.basePath == "")
        #expect(!plain.isTLS)
        #expect(plain.hostHeader == "127.0.0.1:9001")

        let tls = try #require(UpstreamURL("https://api.example.com/v2//"))
        #expect(tls.port == 443)
        #expect(tls.isTLS)
        #expect(tls.basePath == "/v2")
        #expect(tls.hostHeader == "api.example.com")
        #expect(tls.description == "https://api.example.com/v2")

        let v6 = try #require(UpstreamURL("http://[::1]:8080/base"))
        #expect(v6.host == "::1")
        #expect(v6.port == 8080)
        #expect(v6.hostHeader == "[::1]:8080")
    }

    @Test("anything else is rejected", arguments: [
        "ftp://h", "127.0.0.1:9001", "http://", "http://user@h", "http://h/?q=1", "http://h#frag",
        "http://h:0", "http://h:70000", "http://h:port", "http://[::1", "http://[::1]x",
    ])
    func rejectsURL(text: String) {
        #expect(UpstreamURL(text) == nil)
    }

    @Test("listen addresses", arguments: [
        ("127.0.0.1:8081", HostPort(host: "127.0.0.1", port: 8081)),
        (":8081", HostPort(host: "0.0.0.0", port: 8081)),
        ("[::1]:8081", HostPort(host: "::1", port: 8081)),
    ])
    func parsesHostPort(text: String, expected: HostPort) {
        #expect(HostPort(text) == expected)
    }

    @Test("malformed listen addresses are rejected", arguments: ["8081", "host", "host:", "host:99999", "host:-1"])
    func rejectsHostPort(text: String) {
        #expect(HostPort(text) == nil)
    }
}
