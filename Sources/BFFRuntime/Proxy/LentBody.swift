import NIOCore
import Synchronization

/// A client's request body lent to a library that uploads it on a task of its own
/// (AsyncHTTPClient, for https services), and taken back before the request ends.
///
/// The server reads what is left of a body after its handler returns, with the same iterator, so
/// the library must be done reading first: two reads at once are a crash. ``BodyLease/reclaim()``
/// ends the loan (later reads see the end of the body) and waits out a read in progress.
struct LentBody<Base: AsyncSequence & Sendable>: AsyncSequence, Sendable where Base.Element == ByteBuffer {
    typealias Element = ByteBuffer

    let base: Base
    let lease: BodyLease

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: Base.AsyncIterator
        let lease: BodyLease

        mutating func next() async throws -> ByteBuffer? {
            guard lease.beginRead() else { return nil }
            defer { lease.endRead() }
            return try await base.next()
        }
    }

    func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: base.makeAsyncIterator(), lease: lease)
    }
}

/// Who may read a ``LentBody`` now: the library, until the body is reclaimed.
final class BodyLease: Sendable {
    private struct State {
        var reading = false
        var reclaimed = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Starts one read; false once the body is reclaimed.
    func beginRead() -> Bool {
        state.withLock { state in
            guard !state.reclaimed else { return false }
            state.reading = true
            return true
        }
    }

    func endRead() {
        let waiters = state.withLock { state in
            state.reading = false
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Ends the loan and returns once no read is in progress. A read waiting for the client's next
    /// part ends when that part (or the end of the body, or of the connection) arrives.
    func reclaim() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                state.reclaimed = true
                guard state.reading else { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
