import HummingbirdCore
import Logging
import NIOCore

/// Runs Swift tasks on a NIO event loop, so a connection's request handling, its fan-out and its
/// upstream I/O all happen on one thread with no hops between the task and the loop.
final class EventLoopExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}

/// Hummingbird's HTTP/1 child channel, with each connection's task pinned to its event loop.
struct EventLoopPinnedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let inner: HTTP1Channel
    let executors: [ObjectIdentifier: EventLoopExecutor]

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        guard let executor = executors[ObjectIdentifier(value.channel.eventLoop)] else {
            await inner.handle(value: value, logger: logger)
            return
        }
        await withTaskExecutorPreference(executor) {
            await inner.handle(value: value, logger: logger)
        }
    }
}
