public import NIOCore
public import NIOHTTP1

/// The body of a proxied response as an async sequence with backpressure: when the client reads
/// slowly, the upstream connection stops reading, so memory stays flat for bodies of any size.
public typealias UpstreamBodyStream = NIOThrowingAsyncSequenceProducer<
    ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, StreamingExchange.Delegate
>

/// A proxied exchange: the response head through a promise, the body through a producer.
///
/// Confined to the connection's event loop; `@unchecked Sendable` only because the producer's
/// delegate and the caller's cancellation reach it through `eventLoop.execute`.
public final class StreamingExchange: UpstreamExchange, @unchecked Sendable {
    let headPromise: EventLoopPromise<HTTPResponseHead>
    private let service: String
    private var source: UpstreamBodyStream.Source?
    private var headReceived = false
    private var finished = false
    private var timer: Scheduled<Void>?
    var connection: UpstreamConnectionHandler?

    init(headPromise: EventLoopPromise<HTTPResponseHead>, service: String) {
        self.headPromise = headPromise
        self.service = service
    }

    /// Makes the body sequence; must be called once, before the head can arrive.
    func makeBody(eventLoop: any EventLoop) -> UpstreamBodyStream {
        let result = UpstreamBodyStream.makeSequence(
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8),
            finishOnDeinit: true,
            delegate: Delegate(exchange: self, eventLoop: eventLoop)
        )
        source = result.source
        return result.sequence
    }

    /// Fails with a timeout unless the head arrives before `deadline`.
    func armHeadTimeout(deadline: NIODeadline, budget: Duration, on eventLoop: any EventLoop) {
        guard !headReceived, !finished else { return }
        timer = eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            if !headReceived { fail(.timeout(service: service, after: budget)) }
        }
    }

    func receiveHead(_ head: UpstreamResponseHead) {
        guard !finished else { return }
        headReceived = true
        timer?.cancel()
        headPromise.succeed(head.nioHead)
    }

    func receiveBody(_ buffer: ByteBuffer) {
        guard !finished, let source else { return }
        if case .stopProducing = source.yield(buffer) {
            connection?.pauseReading = true
        }
    }

    func receiveEnd() {
        guard !finished else { return }
        finished = true
        if !headReceived { headPromise.fail(UpstreamError.malformedResponse(service: service)) }
        source?.finish()
    }

    func fail(_ error: UpstreamError) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        connection?.channel?.close(promise: nil)
        if headReceived {
            source?.finish(error.attributed(to: service))
        } else {
            headPromise.fail(error.attributed(to: service))
            source?.finish()
        }
    }

    /// Resumes reading when the consumer catches up; closes the upstream if the consumer leaves early.
    public struct Delegate: NIOAsyncSequenceProducerDelegate {
        let exchange: StreamingExchange
        let eventLoop: any EventLoop

        public func produceMore() {
            eventLoop.execute { exchange.connection?.pauseReading = false }
        }

        public func didTerminate() {
            eventLoop.execute { exchange.fail(.cancelled(service: exchange.service)) }
        }
    }
}

/// A proxied response: head received, body still streaming, request body possibly still uploading.
public struct StreamedResponse: Sendable {
    public var head: HTTPResponseHead
    public var body: any AsyncSequence<ByteBuffer, any Error> & Sendable
    /// The request body's upload, which the caller ends (``UploadHandle/finishUpload()``) once the
    /// response is complete; nil when nothing uploads.
    public var upload: UploadHandle?

    public init(head: HTTPResponseHead, body: any AsyncSequence<ByteBuffer, any Error> & Sendable, upload: UploadHandle? = nil) {
        self.head = head
        self.body = body
        self.upload = upload
    }

    /// Drops the response unread (an answer that is retried elsewhere), ending any upload.
    ///
    /// The body is never iterated, so its producer ends the exchange once this response is
    /// released: a connection whose response has not arrived whole is closed, and only one that
    /// read its response to the end has gone back to the pool, so none is reused half-read.
    public consuming func discard() async {
        await upload?.finishUpload()
    }
}
