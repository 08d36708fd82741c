import Foundation
import Synchronization

private let launching = Mutex(())

extension Process {
    /// `run()`, one process at a time across the whole test run.
    ///
    /// Foundation's `Process.run` on Linux has crashed (a segfault in memcpy while it builds the
    /// child's arguments and environment) when tests in parallel suites launched processes at the
    /// same moment; launching takes a millisecond, so one lock around it costs nothing.
    func runSerially() throws {
        try launching.withLock { _ in try run() }
    }
}
