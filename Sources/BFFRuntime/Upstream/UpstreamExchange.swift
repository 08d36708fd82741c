import NIOCore
import NIOHTTP1

/// One request/response on an upstream connection that speaks through NIO's HTTP/1.1 codec,
/// driven by ``UpstreamConnectionHandler``: a proxied exchange (``StreamingExchange``).
///
/// Lives on the connection's event loop; every method is called there.
protocol UpstreamExchange: AnyObject {
    func receiveHead(_ head: HTTPResponseHead)
    func receiveBody(_ buffer: ByteBuffer)
    func receiveEnd()
    func fail(_ error: UpstreamError)
}
