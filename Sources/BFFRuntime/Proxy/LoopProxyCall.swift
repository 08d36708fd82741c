import BFFSpec
import HTTPTypes
import NIOCore
import NIOHTTP1
import Prometheus

/// Where a ``LoopProxyCall`` delivers the answer it passes on, on the call's event loop.
protocol LoopProxySink: AnyObject {
    /// The head of the answer passed on (the last try's); its body follows.
    func proxyHead(_ head: UpstreamResponseHead)
    func proxyBody(_ buffer: ByteBuffer)
    func proxyEnd()
    /// The call failed before a head was passed on: answer `problem`.
    func proxyRefused(_ problem: Problem)
    /// The service's answer broke off after its head was passed on.
    func proxyBrokeOff()
}

/// A body-less proxied request sent from the client connection's event loop, with the same
/// policy as ``ProxyEndpoint``'s async path (its retry decisions, breaker, instance choice and
/// timeouts), on the transport's pool of streaming connections of that loop: no task, no hop.
/// Each try's head is written as bytes around the client's field lines, written once
/// (``LoopProxyRequest``).
///
/// The answer streams to ``LoopProxySink`` as it is read; while the sink says it cannot take more
/// (``pause(_:)``), the service connection stops reading. Confined to its event loop.
final class LoopProxyCall {
    private let endpoint: ProxyEndpoint
    private let request: LoopProxyRequest
    private let replayable: Bool
    private let pool: UpstreamPool<UpstreamConnectionHandler>
    private let eventLoop: any EventLoop
    private weak var sink: (any LoopProxySink)?

    private var permit = CircuitBreaker.Permit.allowed
    private var deadline = NIODeadline.now()
    private var tried: [Int] = []
    /// The try in progress; nil between tries and once the call has ended.
    private var attempt: Attempt?
    private var retryTimer: Scheduled<Void>?
    private var ended = false

    /// One try on one connection; callbacks of a try given up are ignored. Its timeout is a
    /// deadline of the loop's queue (``LoopDeadlines``), which nearly every try beats.
    private final class Attempt: UpstreamExchange, LoopDeadlineOwner {
        unowned let call: LoopProxyCall
        let instance: UpstreamInstance
        let timeout: Duration
        var connection: UpstreamConnectionHandler?
        /// Whether the try's timeout still matters: until its head arrives, or it ends otherwise.
        var timed = false
        var headPassedOn = false
        var live = true

        init(call: LoopProxyCall, instance: UpstreamInstance, timeout: Duration) {
            self.call = call
            self.instance = instance
            self.timeout = timeout
        }

        func receiveHead(_ head: UpstreamResponseHead) { if live { call.received(head, on: self) } }
        func receiveBody(_ buffer: ByteBuffer) { if live, headPassedOn { call.sink?.proxyBody(buffer) } }
        func receiveEnd() { if live { call.receivedEnd(on: self) } }
        func fail(_ error: UpstreamError) { if live { call.failed(error, on: self) } }

        func isPast(deadline tag: Int) -> Bool { !timed }

        func deadlinePassed(_ tag: Int) {
            guard timed, live else { return }
            fail(.timeout(service: instance.endpoint.name, after: timeout))
        }

        /// Starts the timeout, on the pool's deadline queue.
        func startTimer(in pool: UpstreamPool<UpstreamConnectionHandler>) {
            timed = true
            pool.deadlines.add(self, at: .now() + .nanoseconds(timeout.nanosecondsValue))
        }

        /// The timeout no longer matters.
        func stopTimer() {
            guard timed else { return }
            timed = false
            call.pool.deadlines.finished()
        }

        /// Gives this try up: no callback of it counts any more, and its connection (if it still
        /// carries it) is closed, so a half-read answer is never reused.
        func abandon() {
            live = false
            stopTimer()
            connection?.abort(self)
        }
    }

    init(endpoint: ProxyEndpoint, request: LoopProxyRequest, replayable: Bool, pool: UpstreamPool<UpstreamConnectionHandler>, sink: any LoopProxySink) {
        self.endpoint = endpoint
        self.request = request
        self.replayable = replayable
        self.pool = pool
        self.eventLoop = pool.eventLoop
        self.sink = sink
    }

    private var service: ServiceCluster { endpoint.service }

    /// Sends the request: through the breaker, then to an instance.
    func start() {
        permit = service.breaker?.acquire(at: NIODeadline.uptimeNow) ?? .allowed
        if case .rejected(let retryAfter) = permit {
            service.metrics.breakerRejections.increment()
            end(refusing: .circuitOpen(service: service.name, retryAfter: retryAfter))
            return
        }
        deadline = .now() + .nanoseconds(endpoint.headTimeout.nanosecondsValue)
        service.retryBudget?.deposit()
        send()
    }

    /// Stops reading the service's answer while `paused` (the client cannot take more yet).
    func pause(_ paused: Bool) {
        attempt?.connection?.pauseReading = paused
    }

    /// The client went away: the try in progress is abandoned and the call ends without an answer.
    func cancel() {
        guard !ended else { return }
        ended = true
        retryTimer?.cancel()
        let headPassedOn = attempt?.headPassedOn ?? false
        if let attempt {
            if !headPassedOn { attempt.instance.finished() }
            attempt.abandon()
            self.attempt = nil
        }
        // An answer passed on has had its outcome recorded; a call cut short before one counts as neither.
        if !headPassedOn { service.breaker?.record(permit, .none, at: NIODeadline.uptimeNow) }
    }

    // MARK: Tries

    private func send() {
        let instance = service.pick(excluding: tried)
        tried.append(instance.index)
        let timeout = endpoint.tryTimeout(tries: tried.count, hasBody: false, deadline: deadline)
        let attempt = Attempt(call: self, instance: instance, timeout: timeout)
        self.attempt = attempt
        instance.started()
        let target = instance.endpoint
        let head = request.head(for: target, deadline: endpoint.deadlines.header.map { ($0, timeout) })
        attempt.startTimer(in: pool)
        if let connection = pool.idleConnection(to: target) {
            attempt.connection = connection
            connection.start(attempt, head: head, keepAlive: true, bodyAllowed: request.method != .head)
            return
        }
        let connectDeadline = min(deadline, .now() + .nanoseconds(target.connectTimeout.nanosecondsValue))
        pool.connect(target, connectDeadline: connectDeadline).assumeIsolated().whenComplete { result in
            switch result {
            case .success(let connection):
                guard attempt.live else {
                    connection.channel?.close(promise: nil)
                    return
                }
                attempt.connection = connection
                connection.start(attempt, head: head, keepAlive: true, bodyAllowed: self.request.method != .head)
            case .failure:
                attempt.fail(.connectFailed(service: target.name))
            }
        }
    }

    private func received(_ head: UpstreamResponseHead, on attempt: Attempt) {
        attempt.stopTimer()
        attempt.instance.finished()
        let failed = head.status.code >= 500
        service.report(attempt.instance, failed: failed)
        if let pause = endpoint.retryPause(afterAnswer: head.status.code, replayable: replayable, tries: tried.count, deadline: deadline) {
            attempt.abandon()
            self.attempt = nil
            retry(after: pause)
            return
        }
        service.breaker?.record(permit, failed ? .failure : .success, at: NIODeadline.uptimeNow)
        attempt.headPassedOn = true
        sink?.proxyHead(head)
    }

    private func receivedEnd(on attempt: Attempt) {
        guard attempt.headPassedOn else {
            // An end before any head: the answer was malformed.
            failed(.malformedResponse(service: attempt.instance.endpoint.name), on: attempt)
            return
        }
        attempt.live = false
        self.attempt = nil
        ended = true
        sink?.proxyEnd()
    }

    private func failed(_ error: UpstreamError, on attempt: Attempt) {
        let failure = error.attributed(to: service.name)
        if attempt.headPassedOn {
            attempt.abandon()
            self.attempt = nil
            ended = true
            sink?.proxyBrokeOff()
            return
        }
        attempt.instance.finished()
        attempt.abandon()
        self.attempt = nil
        service.report(attempt.instance, failed: true)
        let pause = endpoint.retryPause(
            after: failure, to: attempt.instance.endpoint, hasBody: false, replayable: replayable, tries: tried.count, deadline: deadline
        )
        if let pause {
            retry(after: pause)
            return
        }
        service.breaker?.record(permit, .failure, at: NIODeadline.uptimeNow)
        end(refusing: .upstream(failure))
    }

    /// Tries again after `pause`, counting the retry as the async path does.
    private func retry(after pause: Duration) {
        guard pause > .zero else {
            service.metrics.retries.increment()
            send()
            return
        }
        retryTimer = eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(pause.nanosecondsValue)) { [self] in
            retryTimer = nil
            guard !ended else { return }
            service.metrics.retries.increment()
            send()
        }
    }

    private func end(refusing problem: Problem) {
        ended = true
        sink?.proxyRefused(problem)
    }
}

/// A body-less proxied request as ``LoopProxyCall`` sends it: the client's fields, as the service
/// gets them (``ProxyForwarding``), already written as field lines.
struct LoopProxyRequest {
    let method: HTTPRequest.Method
    /// The request target, before the instance's base path.
    let target: String
    /// Field lines, each ending in CRLF; none of them `host`, framing or the deadline header.
    let fieldLines: ByteBuffer

    /// The head of one try to `instance`, as HTTP/1.1 bytes (``ByteSink/writeRequestHead(method:target:to:framing:fields:)``):
    /// the field lines, then the try's deadline header when the spec names one.
    func head(for instance: ServiceEndpoint, deadline: (header: String, timeout: Duration)?) -> ByteBuffer {
        let milliseconds = deadline.map { String($0.timeout.milliseconds) }
        let expected = fieldLines.readableBytes + target.utf8.count + instance.basePath.utf8.count + instance.hostHeader.utf8.count
            + (deadline?.header.utf8.count ?? 0) + (milliseconds?.utf8.count ?? 0) + 96
        var bytes = ByteBufferAllocator().buffer(capacity: expected)
        func write(to sink: inout some ByteSink) {
            sink.writeRequestHead(method: method.rawValue, target: target, to: instance, framing: .none) { sink in
                sink.write(fieldLines)
                if let deadline, let milliseconds { sink.writeFieldLine(deadline.header, milliseconds) }
            }
        }
        bytes.writeDirect(expecting: expected, { write(to: &$0) }, orElse: { write(to: &$0) })
        return bytes
    }
}
