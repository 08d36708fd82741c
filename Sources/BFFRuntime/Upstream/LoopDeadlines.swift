import NIOCore

/// Something with a deadline on an event loop that it usually beats: a call's timeout, a request
/// head's. Asked only on that loop.
protocol LoopDeadlineOwner: AnyObject {
    /// Whether the deadline with `tag` no longer matters (the work it guards has finished).
    func isPast(deadline tag: Int) -> Bool
    /// The deadline with `tag` passed while its work was still running.
    func deadlinePassed(_ tag: Int)
}

/// The deadlines of one event loop (or one connection), kept in deadline order under one NIO timer.
///
/// Call timeouts are set and beaten thousands of times a second and almost never fire. A NIO
/// scheduled task costs a promise, and cancelling one searches the loop's whole timer heap; here a
/// deadline costs an append, beating it costs nothing (its owner says so when asked), and entries
/// whose work has finished are dropped from the front whenever the queue is touched, or all at
/// once when they outnumber the live ones. Confined to its event loop.
///
/// ```swift
/// deadlines.add(exchange, at: .now() + .milliseconds(300))   // exchange.deadlinePassed(0) unless it finishes first
/// ```
final class LoopDeadlines {
    private struct Entry {
        let deadline: NIODeadline
        let owner: any LoopDeadlineOwner
        let tag: Int

        var isPast: Bool { owner.isPast(deadline: tag) }
    }

    private let eventLoop: any EventLoop
    /// Ordered by deadline; new deadlines nearly always belong at the back.
    private var entries = CircularBuffer<Entry>(initialCapacity: 64)
    /// Entries added and not yet reported finished through ``finished()``.
    private var live = 0
    private var timer: (deadline: NIODeadline, task: Scheduled<Void>)?
    private var closed = false

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    /// How many deadlines are kept, finished or not (for tests).
    var count: Int { entries.count }

    /// Calls `owner.deadlinePassed(tag)` at `deadline` unless `owner.isPast(deadline: tag)` by then.
    func add(_ owner: some LoopDeadlineOwner, tag: Int = 0, at deadline: NIODeadline) {
        guard !closed else { return }
        dropFinishedFront()
        live += 1
        let entry = Entry(deadline: deadline, owner: owner, tag: tag)
        if let last = entries.last, last.deadline > deadline {
            var index = entries.endIndex
            while index > entries.startIndex, entries[entries.index(before: index)].deadline > deadline {
                index = entries.index(before: index)
            }
            entries.insert(entry, at: index)
        } else {
            entries.append(entry)
        }
        arm(at: entries.first!.deadline)
    }

    /// Tells the queue that one deadline added with ``add(_:tag:at:)`` no longer matters, so that
    /// finished entries stuck behind a slow one are swept before they pile up.
    func finished() {
        live -= 1
        if entries.count > 256 && entries.count > 4 * max(live, 0) {
            entries.removeAll(where: \.isPast)
        }
    }

    /// Drops every deadline and the timer; later ``add(_:tag:at:)`` calls are ignored.
    func close() {
        closed = true
        timer?.task.cancel()
        timer = nil
        entries.removeAll()
    }

    private func dropFinishedFront() {
        while let first = entries.first, first.isPast { entries.removeFirst() }
    }

    /// Makes the timer fire no later than `deadline`.
    private func arm(at deadline: NIODeadline) {
        if let timer {
            if timer.deadline <= deadline { return }
            timer.task.cancel()
        }
        let task = eventLoop.assumeIsolatedUnsafeUnchecked().scheduleTask(deadline: deadline) { [self] in fire() }
        timer = (deadline, task)
    }

    private func fire() {
        timer = nil
        let now = eventLoop.now
        while let first = entries.first, first.deadline <= now {
            entries.removeFirst()
            if !first.isPast { first.owner.deadlinePassed(first.tag) }
        }
        dropFinishedFront()
        if let first = entries.first, !closed { arm(at: first.deadline) }
    }
}
