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

    /// Whether `name`, in any letter case, is one of ``names``; told by its length first, so most
    /// names are passed over without looking at their letters.
    static func contains(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: HTTP1Syntax.namesEqual(name, "te")
        case 4: HTTP1Syntax.namesEqual(name, "host")
        case 7: HTTP1Syntax.namesEqual(name, "trailer") || HTTP1Syntax.namesEqual(name, "upgrade")
        case 10: HTTP1Syntax.namesEqual(name, "connection") || HTTP1Syntax.namesEqual(name, "keep-alive")
        case 14: HTTP1Syntax.namesEqual(name, "content-length")
        case 16: HTTP1Syntax.namesEqual(name, "proxy-connection")
        case 17: HTTP1Syntax.namesEqual(name, "transfer-encoding")
        case 18: HTTP1Syntax.namesEqual(name, "proxy-authenticate")
        case 19: HTTP1Syntax.namesEqual(name, "proxy-authorization")
        default: false
        }
    }

    /// Whether the name at `range` of `bytes`, in any letter case, is one of ``names``.
    static func contains(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        switch range.count {
        case 2: HTTP1Syntax.equalsIgnoringCase(bytes, range, "te")
        case 4: HTTP1Syntax.equalsIgnoringCase(bytes, range, "host")
        case 7: HTTP1Syntax.equalsIgnoringCase(bytes, range, "trailer") || HTTP1Syntax.equalsIgnoringCase(bytes, range, "upgrade")
        case 10: HTTP1Syntax.equalsIgnoringCase(bytes, range, "connection") || HTTP1Syntax.equalsIgnoringCase(bytes, range, "keep-alive")
        case 14: HTTP1Syntax.equalsIgnoringCase(bytes, range, "content-length")
        case 16: HTTP1Syntax.equalsIgnoringCase(bytes, range, "proxy-connection")
        case 17: HTTP1Syntax.equalsIgnoringCase(bytes, range, "transfer-encoding")
        case 18: HTTP1Syntax.equalsIgnoringCase(bytes, range, "proxy-authenticate")
        case 19: HTTP1Syntax.equalsIgnoringCase(bytes, range, "proxy-authorization")
        default: false
        }
    }

    /// The lowercased names that `Connection` field values list (other than the hop-by-hop ones,
    /// which go anyway): those fields describe the hop too.
    static func connectionNamed(_ values: some Sequence<String>) -> [String] {
        var named: [String] = []
        for value in values {
            for token in value.split(separator: ",") {
                let name = token.trimmingSpaces.lowercased()
                if !name.isEmpty, !contains(name) { named.append(name) }
            }
        }
        return named
    }

    /// Removes hop-by-hop headers and every header that `Connection` names, in one pass.
    static func strip(_ headers: inout HTTPHeaders) {
        let named = connectionNamed(headers["connection"])
        let dropped: (String) -> Bool = { name in contains(name) || !named.isEmpty && named.contains(name.lowercased()) }
        guard headers.contains(where: { dropped($0.name) }) else { return }
        var kept = HTTPHeaders()
        kept.reserveCapacity(headers.count)
        for (name, value) in headers where !dropped(name) { kept.add(name: name, value: value) }
        headers = kept
    }
}
