public import BFFSpec
public import NIOCore

/// Who the client is, for rate limits and logs: the socket peer, unless that peer is a trusted
/// proxy, in which case the right-most forwarding hop that is not itself trusted.
///
/// Hops left of an untrusted one were written by the client and prove nothing, so a client that
/// rewrites `X-Forwarded-For` on every request still resolves to the same address.
///
/// ```swift
/// // peer 10.0.0.5 is a trusted load balancer; the client claims to be 1.1.1.1
/// ClientAddress.resolve(peer: peer, forwardedFor: ["1.1.1.1, 203.0.113.9"], forwarded: [], trusted: [CIDR("10.0.0.0/8")!])
/// // "203.0.113.9"
/// ```
public enum ClientAddress {
    /// The client's address as canonical text (`203.0.113.9`, `2001:db8::1`), never text copied
    /// from a header.
    /// - Parameters:
    ///   - peer: the socket peer; nil (or a non-IP socket) resolves to `unknown`.
    ///   - forwardedFor: every `X-Forwarded-For` value, in header order.
    ///   - forwarded: every RFC 7239 `Forwarded` value, in header order; used when there is no
    ///     `X-Forwarded-For`.
    ///   - trusted: the `trusted_proxies` networks.
    public static func resolve(peer: SocketAddress?, forwardedFor: [String], forwarded: [String], trusted: [CIDR]) -> String {
        resolve(peerAddress: peer?.ipAddress, forwardedFor: forwardedFor, forwarded: forwarded, trusted: trusted)
    }

    /// ``resolve(peer:forwardedFor:forwarded:trusted:)`` for a peer given as the text
    /// `SocketAddress.ipAddress` spells it (which a connection can keep instead of making it per request).
    static func resolve(peerAddress: String?, forwardedFor: [String], forwarded: [String], trusted: [CIDR]) -> String {
        guard let peerAddress else { return "unknown" }
        // With no trusted proxy the peer is the client; a dotted IPv4 address, as
        // `SocketAddress.ipAddress` spells one, is its canonical text already.
        if trusted.isEmpty, !peerAddress.utf8.contains(UInt8(ascii: ":")) { return peerAddress }
        guard let peerBytes = CIDR.parseAddress(peerAddress) else { return "unknown" }
        var current = peerBytes
        guard isTrusted(current, trusted) else { return text(of: current) }
        let hops = forwardedFor.isEmpty ? forwarded.flatMap(forwardedForHops) : forwardedFor.flatMap { $0.split(separator: ",") }
        for hop in hops.reversed() {
            // Junk written by the client (or an `unknown`/obfuscated hop) ends the walk at the last
            // proxy we trust, which is the best address we can vouch for.
            guard let address = parseHop(hop) else { break }
            current = address
            if !isTrusted(address, trusted) { break }
        }
        return text(of: current)
    }

    /// Whether `peer` is inside one of the `trusted` networks.
    static func isTrusted(_ peer: SocketAddress?, trusted: [CIDR]) -> Bool {
        guard !trusted.isEmpty, let bytes = peer.flatMap(bytes(of:)) else { return false }
        return isTrusted(bytes, trusted)
    }

    private static func isTrusted(_ address: [UInt8], _ trusted: [CIDR]) -> Bool {
        trusted.contains { $0.contains(address) }
    }

    private static func bytes(of address: SocketAddress) -> [UInt8]? {
        address.ipAddress.flatMap(CIDR.parseAddress)
    }

    /// Canonical text; an IPv4-mapped IPv6 address is shown as IPv4, so both spellings of one
    /// client share a rate limit.
    private static func text(of bytes: [UInt8]) -> String {
        var bytes = bytes
        if bytes.count == 16 && bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
            bytes = Array(bytes[12...])
        }
        let address = try? SocketAddress(packedIPAddress: ByteBuffer(bytes: bytes), port: 0)
        return address?.ipAddress ?? "unknown"
    }

    /// One hop as an address: `203.0.113.9`, `203.0.113.9:4711`, `2001:db8::1`, `[2001:db8::1]:4711`.
    private static func parseHop(_ hop: Substring) -> [UInt8]? {
        var hop = hop.trimmingSpaces
        if hop.hasPrefix("\"") && hop.hasSuffix("\"") && hop.count >= 2 { hop = hop.dropFirst().dropLast() }
        if hop.hasPrefix("[") {
            guard let close = hop.firstIndex(of: "]") else { return nil }
            let rest = hop[hop.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber) && rest.count > 1 else { return nil }
            return CIDR.parseAddress(String(hop[hop.index(after: hop.startIndex)..<close])).flatMap { $0.count == 16 ? $0 : nil }
        }
        let colons = hop.filter { $0 == ":" }.count
        if colons == 1, let colon = hop.firstIndex(of: ":") {
            let port = hop[hop.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isNumber) else { return nil }
            hop = hop[..<colon]
        }
        guard !hop.isEmpty, hop.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else { return nil }
        return CIDR.parseAddress(String(hop))
    }

    /// The `for=` values of one `Forwarded` header value, in order (`for=1.2.3.4;proto=https, for="[::1]"`).
    private static func forwardedForHops(_ value: String) -> [Substring] {
        value.split(separator: ",").map { element in
            let pair = element.split(separator: ";").first { $0.trimmingSpaces.lowercased().hasPrefix("for=") }
            // An element without `for=` is a hop we cannot place: it stops the walk like junk does.
            return pair.map { $0.trimmingSpaces.dropFirst(4) } ?? "unknown"
        }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (optional whitespace around list elements).
    var trimmingSpaces: Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
