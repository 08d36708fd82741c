import NIOCore

/// Work started on an event loop that can be abandoned from that loop: it then reports a
/// cancelled result through its own completion, exactly once as always.
protocol LoopCancellable: AnyObject {
    func cancel()
}

/// Carries a task's cancellation to work it started on an event loop. Touched only on that loop.
final class LoopCancellation: @unchecked Sendable {
    private var isCancelled = false
    /// The work once started; cancelled at once if the task was cancelled before it started.
    var work: (any LoopCancellable)? {
        didSet { if isCancelled { work?.cancel() } }
    }

    func cancel() {
        isCancelled = true
        work?.cancel()
    }
}

extension EventLoop {
    /// Starts callback-driven work on this loop and awaits what it reports; cancelling the task
    /// cancels the work, which still reports (a cancelled result) before this returns.
    ///
    /// This is how structured concurrency reaches the event-loop state machines of the fan-out:
    /// the awaiting task is the work's scope and its cancellation reaches every call in flight.
    func awaitWork<T: Sendable>(_ start: @escaping @Sendable (_ completion: @escaping (T) -> Void) -> any LoopCancellable) async -> T {
        let cancellation = LoopCancellation()
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                if self.inEventLoop {
                    cancellation.work = start { continuation.resume(returning: $0) }
                } else {
                    self.execute { cancellation.work = start { continuation.resume(returning: $0) } }
                }
            }
        } onCancel: {
            self.execute { cancellation.cancel() }
        }
    }
}
