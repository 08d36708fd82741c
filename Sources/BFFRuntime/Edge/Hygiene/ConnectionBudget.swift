import Synchronization

/// How many connections the server serves at once, shared by every event loop.
final class ConnectionBudget: Sendable {
    let limit: Int
    private let open = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot for a new connection; false (and no slot taken) when all are in use.
    func admit() -> Bool {
        if open.wrappingAdd(1, ordering: .relaxed).newValue <= limit { return true }
        open.wrappingSubtract(1, ordering: .relaxed)
        return false
    }

    /// Gives back the slot of a closed connection that ``admit()`` let in.
    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }
}
