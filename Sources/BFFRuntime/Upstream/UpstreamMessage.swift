public import NIOCore
public import NIOHTTP1

/// A request to a service, with its target (path and query) already encoded and validated.
public struct UpstreamRequest: Sendable {
    public var method: HTTPMethod
    public var target: String
    public var headers: HTTPHeaders
    /// A field written after `headers`, in place of any of theirs with the same name (the deadline
    /// header of a call on the gateway's own codec), so adding it copies no headers.
    var lastField: (name: String, value: String)?
    /// Set, the request is a gRPC call: `target` is the method's path and this its message.
    var grpc: GRPCRequest?

    /// `headers` with ``lastField`` in them, for clients that take headers whole (the TLS client).
    var allHeaders: HTTPHeaders {
        guard let lastField else { return headers }
        var headers = headers
        headers.replaceOrAdd(name: lastField.name, value: lastField.value)
        return headers
    }

    public init(method: HTTPMethod = .GET, target: String, headers: HTTPHeaders = [:]) {
        self.method = method
        self.target = target
        self.headers = headers
    }
}

/// A complete, buffered response from a service.
public struct UpstreamResponse: Sendable {
    public var status: HTTPResponseStatus
    /// The response's headers, built from the bytes received on each read (``ResponseFields``):
    /// read them once and keep the value.
    public var headers: HTTPHeaders {
        get { fields.headers }
        set { fields = ResponseFields(newValue) }
    }
    public var body: ByteBuffer
    /// The headers as received, for passing on without building them.
    var fields: ResponseFields

    public var isSuccess: Bool { (200..<300).contains(status.code) }

    init(status: HTTPResponseStatus, fields: ResponseFields, body: ByteBuffer) {
        self.status = status
        self.fields = fields
        self.body = body
    }

    init(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        self.init(status: status, fields: ResponseFields(headers), body: body)
    }
}

/// Headers that describe one hop, never copied from one connection to another (RFC 9110 7.6.1),
/// plus framing headers the gateway always recomputes.
enum HopByHop {
    static let names: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-connection", "proxy-authenticate", "proxy-authorization", "content-length", "host",
    ]

    /// Whether `name` (lowercased, as `HTTPField.Name.canonicalName` is) is one of ``names``.
    static func contains(canonical name: String) -> Bool {
        switch name {
        case "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
            "proxy-connection", "proxy-authenticate", "proxy-authorization", "content-length", "host":
            true
        default:
            false
        }
    }

    /// Whether `name`, in any letter case, is one of ``names``; told by its length first, so most
    /// names are passed over without looking at their letters.
    static func contains(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: equalsIgnoringCase(name, "te")
        case 4: equalsIgnoringCase(name, "host")
        case 7: equalsIgnoringCase(name, "trailer") || equalsIgnoringCase(name, "upgrade")
        case 10: equalsIgnoringCase(name, "connection") || equalsIgnoringCase(name, "keep-alive")
        case 14: equalsIgnoringCase(name, "content-length")
        case 16: equalsIgnoringCase(name, "proxy-connection")
        case 17: equalsIgnoringCase(name, "transfer-encoding")
        case 18: equalsIgnoringCase(name, "proxy-authenticate")
        case 19: equalsIgnoringCase(name, "proxy-authorization")
        default: false
        }
    }

    /// Whether `name` spells `lowercased` (ASCII, lowercase) in any letter case.
    static func equalsIgnoringCase(_ name: String, _ lowercased: String) -> Bool {
        guard name.utf8.count == lowercased.utf8.count else { return false }
        for (byte, expected) in zip(name.utf8, lowercased.utf8) {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            guard folded == expected else { return false }
        }
        return true
    }

    /// The lowercased names a `Connection` header lists (other than the hop-by-hop ones, which go
    /// anyway): those headers describe the hop too.
    static func connectionNamed(_ headers: HTTPHeaders) -> [String] {
        var named: [String] = []
        for (name, value) in headers where equalsIgnoringCase(name, "connection") {
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingASCII(" \t")
                if !trimmed.isEmpty, !contains(trimmed) { named.append(trimmed.lowercased()) }
            }
        }
        return named
    }

    /// Removes hop-by-hop headers and every header that `Connection` names, in one pass.
    static func strip(_ headers: inout HTTPHeaders) {
        let named = connectionNamed(headers)
        guard headers.contains(where: { contains($0.name) || !named.isEmpty && named.contains($0.name.lowercased()) }) else { return }
        var kept = HTTPHeaders()
        kept.reserveCapacity(headers.count)
        for (name, value) in headers where !contains(name) && (named.isEmpty || !named.contains(name.lowercased())) {
            kept.add(name: name, value: value)
        }
        headers = kept
    }
}

extension StringProtocol {
    /// Without the leading and trailing characters in `characters` (ASCII only).
    fileprivate func trimmingASCII(_ characters: String) -> String {
        var text = Substring(self)
        while let first = text.first, characters.contains(first) { text = text.dropFirst() }
        while let last = text.last, characters.contains(last) { text = text.dropLast() }
        return String(text)
    }
}
