import NIOCore

/// Collects a whole response in memory, up to the service's body limit, with a deadline.
///
/// Used for aggregation calls and health checks, over a ``BufferedConnectionHandler``. Confined to its event loop (hence `@unchecked Sendable`: other
/// threads only ever reach it through `eventLoop.execute`). Calls its completion exactly once: with the response, or with the
/// first failure (timeout, cancellation, size, reset), closing the connection on any failure so a
/// half-read response can never be handed to the next request.
final class BufferedExchange: LoopCancellable, LoopDeadlineOwner, @unchecked Sendable {
    /// Called directly with the result (no promise or future in between); nil once called.
    private var completion: ((Result<UpstreamResponse, UpstreamError>) -> Void)?
    private let service: String
    /// The largest body accepted: the service's `max_body`.
    let limit: Int
    private var done = false
    /// Where its deadline is kept once armed, and the time it was given (for the timeout's message).
    private var deadlines: LoopDeadlines?
    private var budget = Duration.zero
    /// Set once a connection carries this exchange, so failures can close it. (The handler, not
    /// its channel: asking the handler's context for the channel costs two reference counts, and
    /// only a failure needs it.)
    var connection: BufferedConnectionHandler?

    init(service: String, limit: Int, completion: @escaping (Result<UpstreamResponse, UpstreamError>) -> Void) {
        self.service = service
        self.limit = limit
        self.completion = completion
    }

    /// Fails the exchange with a timeout when `deadline` passes, kept in its loop's `deadlines`.
    func arm(deadline: NIODeadline, budget: Duration, in deadlines: LoopDeadlines) {
        self.budget = budget
        self.deadlines = deadlines
        deadlines.add(self, at: deadline)
    }

    func isPast(deadline tag: Int) -> Bool { done }

    func deadlinePassed(_ tag: Int) {
        fail(.timeout(service: service, after: budget))
    }

    /// Completes with the complete response, unless the exchange has already failed.
    func succeed(_ response: UpstreamResponse) {
        guard !done else { return }
        done = true
        finish(.success(response))
    }

    func fail(_ error: UpstreamError) {
        guard !done else { return }
        done = true
        connection?.channel?.close(promise: nil)
        finish(.failure(error.attributed(to: service)))
    }

    /// Abandons the exchange: it fails as cancelled and its connection is closed.
    func cancel() {
        fail(.cancelled(service: service))
    }

    private func finish(_ result: Result<UpstreamResponse, UpstreamError>) {
        deadlines.take()?.finished()
        connection = nil
        let completion = self.completion
        self.completion = nil
        completion?(result)
    }

    /// Whether the exchange has already completed (so a late connection goes back to the pool unused).
    var isFinished: Bool { done }
}
