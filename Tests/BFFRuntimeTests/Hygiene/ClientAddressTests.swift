import BFFRuntime
import BFFSpec
import NIOCore
import Testing

/// The client address for limits: the socket peer, forwarding headers only through trusted proxies.
@Suite("Client address")
struct ClientAddressTests {
    static let proxy = try! SocketAddress(ipAddress: "10.0.0.5", port: 443)
    static let client = try! SocketAddress(ipAddress: "198.51.100.7", port: 50000)
    static let trusted = [CIDR("10.0.0.0/8")!, CIDR("2001:db8:ffff::/48")!]

    static func resolve(_ peer: SocketAddress?, xff: [String] = [], forwarded: [String] = []) -> String {
        ClientAddress.resolve(peer: peer, forwardedFor: xff, forwarded: forwarded, trusted: trusted)
    }

    @Test("an untrusted peer is the client, whatever X-Forwarded-For or Forwarded claim")
    func untrustedPeerIgnoresHeaders() {
        for spoof in ["1.1.1.1", "10.0.0.1", "garbage", "1.1.1.1, 2.2.2.2"] {
            #expect(Self.resolve(Self.client, xff: [spoof], forwarded: ["for=\(spoof)"]) == "198.51.100.7")
        }
    }

    @Test("through a trusted proxy, the right-most untrusted hop is the client; hops left of it are ignored")
    func rightMostUntrustedHop() {
        #expect(Self.resolve(Self.proxy, xff: ["203.0.113.9"]) == "203.0.113.9")
        #expect(Self.resolve(Self.proxy, xff: ["6.6.6.6, 203.0.113.9"]) == "203.0.113.9")
        #expect(Self.resolve(Self.proxy, xff: ["6.6.6.6", "203.0.113.9, 10.1.2.3"]) == "203.0.113.9")
        #expect(Self.resolve(Self.proxy, xff: ["203.0.113.9:4711"]) == "203.0.113.9")
        #expect(Self.resolve(Self.proxy, xff: ["[2001:DB8::1]:80"]) == "2001:db8::1")
        #expect(Self.resolve(Self.proxy, xff: ["203.0.113.9, 2001:db8:ffff::2, 10.9.9.9"]) == "203.0.113.9")
    }

    @Test("a spoofing client behind a trusted proxy resolves to the same address on every request")
    func spoofingBehindProxy() {
        let answers = Set((0..<50).map { Self.resolve(Self.proxy, xff: ["\($0).\($0).\($0).\($0), 203.0.113.9"]) })
        #expect(answers == ["203.0.113.9"])
    }

    @Test("junk hops stop the walk at the last trusted address and are never returned")
    func malformedHopsStop() {
        #expect(Self.resolve(Self.proxy, xff: ["203.0.113.9, <script>"]) == "10.0.0.5")
        #expect(Self.resolve(Self.proxy, xff: ["203.0.113.9, 10.1.1.1, not-an-ip"]) == "10.0.0.5")
        #expect(Self.resolve(Self.proxy, xff: ["junk, 10.1.1.1"]) == "10.1.1.1")
        #expect(Self.resolve(Self.proxy, xff: ["1.2.3.4.5"]) == "10.0.0.5")
        #expect(Self.resolve(Self.proxy, forwarded: ["for=unknown"]) == "10.0.0.5")
        #expect(Self.resolve(Self.proxy, forwarded: ["for=_hidden, for=203.0.113.9"]) == "203.0.113.9")
    }

    @Test("only trusted hops all the way resolves to the left-most one")
    func allTrusted() {
        #expect(Self.resolve(Self.proxy, xff: ["10.3.3.3, 10.2.2.2"]) == "10.3.3.3")
        #expect(Self.resolve(Self.proxy) == "10.0.0.5")
    }

    @Test("RFC 7239 Forwarded for= is used when there is no X-Forwarded-For")
    func forwardedHeader() {
        #expect(Self.resolve(Self.proxy, forwarded: [#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https"#]) == "2001:db8:cafe::17")
        #expect(Self.resolve(Self.proxy, forwarded: ["proto=https;for=203.0.113.9;by=10.0.0.5"]) == "203.0.113.9")
        #expect(Self.resolve(Self.proxy, xff: ["203.0.113.1"], forwarded: ["for=203.0.113.2"]) == "203.0.113.1")
    }

    @Test("IPv4-mapped IPv6 peers are shown as IPv4, and no peer is unknown")
    func peerForms() throws {
        let mapped = try SocketAddress(ipAddress: "::ffff:198.51.100.7", port: 1)
        #expect(Self.resolve(mapped, xff: ["1.1.1.1"]) == "198.51.100.7")
        let mappedProxy = try SocketAddress(ipAddress: "::ffff:10.0.0.5", port: 1)
        #expect(Self.resolve(mappedProxy, xff: ["203.0.113.9"]) == "203.0.113.9")
        #expect(Self.resolve(nil, xff: ["1.1.1.1"]) == "unknown")
    }
}
