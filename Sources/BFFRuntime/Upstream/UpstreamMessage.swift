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

    /// Removes hop-by-hop headers and every header that `Connection` names.
    static func strip(_ headers: inout HTTPHeaders) {
        let named = headers[canonicalForm: "connection"].map { $0.lowercased() }
        headers.remove(name: "connection")
        for name in named { headers.remove(name: String(name)) }
        for name in names { headers.remove(name: name) }
    }
}
