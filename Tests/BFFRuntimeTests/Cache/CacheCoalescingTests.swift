import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import BFFRuntime

/// The coalescer and its workers on their own: one fetch per key however many wait, and waiters
/// that leave (cancelled, out of time) disturb no one.
@Suite("Cache: request coalescing", .timeLimit(.minutes(1)))
struct CacheCoalescingTests {
    /// Runs `body` with workers running, as the server runs them, and stops them afterwards.
    func withWorkers<T: Sendable>(_ body: @Sendable (CacheWorkers) async throws -> T) async throws -> T {
        let workers = CacheWorkers()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await workers.run() }
            defer { group.cancelAll() }
            return try await body(workers)
        }
    }

    static let loop = MultiThreadedEventLoopGroup.singleton.any()

    @Test("1,000 concurrent waiters for one key make one fetch, and every one gets its result")
    func oneFetchForAThousand() async throws {
        try await withWorkers { workers in
            let coalescer = RequestCoalescer<Int>(workers: workers)
            let fetches = Tally()
            let gate = Gate()
            let deadline = NIODeadline.now() + .seconds(20)
            let results = await withTaskGroup(of: (RequestCoalescer<Int>.Wait, Bool).self, returning: [(RequestCoalescer<Int>.Wait, Bool)].self) { group in
                for _ in 0..<1000 {
                    group.addTask {
                        await coalescer.value(for: "k", deadline: deadline, eventLoop: Self.loop) {
                            fetches.add()
                            await gate.wait()
                            return 42
                        }
                    }
                }
                // Every waiter has joined before the one fetch may finish.
                #expect(await eventually(within: .seconds(5)) { coalescer.waiting(for: "k") >= 1000 })
                gate.open()
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(fetches.count == 1)
            #expect(results.count == 1000)
            #expect(results.allSatisfy { if case .value(42) = $0.0 { return true } else { return false } })
            #expect(results.filter { !$0.1 }.count == 1, "one waiter started the fetch; 999 joined it")
            #expect(coalescer.waiting(for: "k") == 0, "the flight is over")
        }
    }

    @Test("cancelling the waiter that started the fetch cancels neither the fetch nor the other waiters")
    func cancelledWaiterLeavesAlone() async throws {
        try await withWorkers { workers in
            let coalescer = RequestCoalescer<String>(workers: workers)
            let gate = Gate()
            let fetchCancelled = Tally()
            let deadline = NIODeadline.now() + .seconds(20)
            let fetch: @Sendable () async -> String = {
                await gate.wait()
                if Task.isCancelled { fetchCancelled.add() }
                return "shared"
            }
            let starter = Task { await coalescer.value(for: "k", deadline: deadline, eventLoop: Self.loop, fetch: fetch) }
            #expect(await eventually(within: .seconds(5)) { coalescer.waiting(for: "k") >= 1 })
            let other = Task { await coalescer.value(for: "k", deadline: deadline, eventLoop: Self.loop, fetch: fetch) }
            #expect(await eventually(within: .seconds(5)) { coalescer.waiting(for: "k") >= 2 })

            starter.cancel()
            let cancelled = await starter.value
            guard case .cancelled = cancelled.wait else {
                Issue.record("the cancelled waiter got \(cancelled.wait)")
                return
            }
            gate.open()
            let joined = await other.value
            guard case .value("shared") = joined.wait else {
                Issue.record("the other waiter got \(joined.wait)")
                return
            }
            #expect(joined.joined)
            #expect(fetchCancelled.count == 0)
        }
    }

    @Test("a waiter whose deadline comes before the fetch's leaves on time; the fetch still finishes")
    func waiterDeadline() async throws {
        try await withWorkers { workers in
            let coalescer = RequestCoalescer<String>(workers: workers)
            let gate = Gate()
            let finished = Tally()
            let fetch: @Sendable () async -> String = {
                await gate.wait()
                finished.add()
                return "late"
            }
            let starter = Task { await coalescer.value(for: "k", deadline: .now() + .seconds(20), eventLoop: Self.loop, fetch: fetch) }
            #expect(await eventually(within: .seconds(5)) { coalescer.waiting(for: "k") >= 1 })
            let clock = ContinuousClock()
            let start = clock.now
            let hurried = await coalescer.value(for: "k", deadline: .now() + .milliseconds(100), eventLoop: Self.loop, fetch: fetch)
            let waited = clock.now - start
            guard case .timedOut = hurried.wait else {
                Issue.record("the hurried waiter got \(hurried.wait)")
                return
            }
            #expect(waited < .seconds(2))
            gate.open()
            guard case .value("late") = await starter.value.wait else {
                Issue.record("the starter did not get the result")
                return
            }
            #expect(finished.count == 1)
        }
    }

    @Test("a refresh with no one waiting runs once per key, and a waiter arriving meanwhile joins it")
    func refreshJoins() async throws {
        try await withWorkers { workers in
            let coalescer = RequestCoalescer<Int>(workers: workers)
            let fetches = Tally()
            let gate = Gate()
            let fetch: @Sendable () async -> Int = {
                fetches.add()
                await gate.wait()
                return 7
            }
            coalescer.refresh("k", deadline: .now() + .seconds(20), fetch: fetch)
            coalescer.refresh("k", deadline: .now() + .seconds(20), fetch: fetch)
            let waiter = Task { await coalescer.value(for: "k", deadline: .now() + .seconds(20), eventLoop: Self.loop, fetch: fetch) }
            #expect(await eventually(within: .seconds(5)) { coalescer.waiting(for: "k") >= 1 })
            gate.open()
            let result = await waiter.value
            guard case .value(7) = result.wait else {
                Issue.record("the waiter got \(result.wait)")
                return
            }
            #expect(result.joined)
            #expect(fetches.count == 1)
        }
    }

    @Test("when the workers stop, queued and running fetches end cancelled and their waiters hear back")
    func workersStop() async throws {
        let workers = CacheWorkers()
        let coalescer = RequestCoalescer<Bool>(workers: workers)
        let running = Task { await workers.run() }
        let waiter = Task {
            await coalescer.value(for: "k", deadline: .now() + .seconds(20), eventLoop: Self.loop) {
                (try? await Task.sleep(for: .seconds(30))) != nil
            }
        }
        #expect(await eventually(within: .seconds(5)) { coalescer.waiting(for: "k") >= 1 })
        running.cancel()
        await running.value
        guard case .value(false) = await waiter.value.wait else {
            Issue.record("the fetch was not cancelled with the workers")
            return
        }
        #expect(workers.submit({}) == false, "stopped workers take no more jobs")
        let late = await coalescer.value(for: "other", deadline: .now() + .seconds(20), eventLoop: Self.loop) { true }
        guard case .cancelled = late.wait else {
            Issue.record("a fetch nobody can run must not hang its waiter: got \(late.wait)")
            return
        }
    }
}

/// A count shared between tasks.
final class Tally: Sendable {
    private let value = Mutex(0)
    var count: Int { value.withLock { $0 } }
    func add() { value.withLock { $0 += 1 } }
}

/// A one-shot latch that async code can wait on.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
