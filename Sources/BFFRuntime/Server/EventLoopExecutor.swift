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
