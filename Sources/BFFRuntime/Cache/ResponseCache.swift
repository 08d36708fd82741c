import NIOCore
import Synchronization

/// One stored answer: a call's body as the service sent it, or an endpoint's composed body.
struct CachedResponse: Sendable {
    /// The service's HTTP status (200 for composed bodies).
    var status: Int
    var body: ByteBuffer
    /// When the answer was made: when it arrived, less the `Age` the service reported.
    var storedAt: NIODeadline
    var lifetime: CacheLifetime
    /// The endpoint answer's ETag, kept so a hit answers `If-None-Match` without hashing again.
    var entityTag: String?

    func age(at now: NIODeadline) -> Duration {
        max(.zero, .nanoseconds((now - storedAt).nanoseconds))
    }

    /// Where `age` falls in the answer's lifetime.
    func freshness(at age: Duration) -> CacheFreshness {
        if age < lifetime.ttl { return .fresh }
        let stale = age - lifetime.ttl
        if stale < lifetime.staleWhileRevalidate { return .revalidate }
        if stale < lifetime.staleIfError { return .staleIfError }
        return .expired
    }

    /// Whole seconds, as `_meta` and the `Age` header report them.
    static func seconds(_ age: Duration) -> Int {
        Int(age.components.seconds)
    }
}

/// How usable a stored answer is at some moment.
enum CacheFreshness: Sendable {
    /// Serve it.
    case fresh
    /// Serve it, and refresh it in the background.
    case revalidate
    /// Serve it only in place of a failed call.
    case staleIfError
    /// Never serve it.
    case expired
}

/// What the store holds under a key.
enum CacheEntry: Sendable {
    case response(CachedResponse)
    /// The service's answers for this key vary by these request headers: each is stored under the
    /// key that adds their values.
    case variants([String])
}

/// The in-process response store: least recently used entries go first once `maxBytes` would be
/// exceeded, so a huge key space cannot grow memory.
///
/// Each entry is charged its body, its key and ``overheadBytes`` of bookkeeping. An answer bigger
/// than an eighth of the store is not kept, so one large body cannot flush everything else.
/// Bodies are copied into buffers of their own size when stored, so a stored slice never pins a
/// larger buffer the charge does not see.
final class ResponseCache: Sendable {
    /// The largest answer a store of `maxBytes` keeps: an eighth, so one answer cannot evict most
    /// of the others. The Redis store applies the same rule.
    static func largestEntry(within maxBytes: Int) -> Int { maxBytes / 8 }

    /// What one entry costs beyond its body and key: the node, the index slot and the entry's fields.
    static let overheadBytes = 128

    let maxBytes: Int
    private let now: @Sendable () -> NIODeadline
    private let onBytesChanged: @Sendable (Int) -> Void
    private let storage: Mutex<LRUStorage>

    /// - Parameters:
    ///   - now: the clock ages are measured with (tests move it by hand).
    ///   - onBytesChanged: told the new total after every change, under the store's lock so totals arrive in order.
    init(maxBytes: Int, now: @escaping @Sendable () -> NIODeadline = { .now() }, onBytesChanged: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.maxBytes = maxBytes
        self.now = now
        self.onBytesChanged = onBytesChanged
        storage = Mutex(LRUStorage())
    }

    var currentTime: NIODeadline { now() }

    /// Bytes charged for every entry held now.
    var bytes: Int { storage.withLock { $0.bytes } }

    /// Stored answers (not counting `Vary` markers).
    var count: Int { storage.withLock { $0.responses } }

    /// Counts purges; a fetch that started before one must not store what it brings back.
    var generation: UInt64 { storage.withLock { $0.generation } }

    /// The entry under `key`, marked as just used; answers past every window are dropped instead.
    func entry(_ key: String) -> CacheEntry? {
        let now = now()
        return storage.withLock { storage in
            guard let index = storage.index[key], let entry = storage.nodes[index].entry else { return nil }
            if case .response(let response) = entry, response.freshness(at: response.age(at: now)) == .expired {
                storage.remove(index)
                onBytesChanged(storage.bytes)
                return nil
            }
            storage.touch(index)
            return entry
        }
    }

    /// Stores `entry` under `key`, replacing what was there, then evicts the least recently used
    /// entries until the store fits. Ignored when a purge happened after `generation` was read, or
    /// when the entry alone would take more than an eighth of the store.
    func store(_ entry: CacheEntry, under key: String, generation: UInt64) {
        var entry = entry
        if case .response(var response) = entry {
            var body = ByteBuffer()
            body.reserveCapacity(response.body.readableBytes)
            body.writeImmutableBuffer(response.body)
            response.body = body
            entry = .response(response)
        }
        let cost = Self.cost(of: entry, key: key)
        storage.withLock { storage in
            guard storage.generation == generation else { return }
            if let existing = storage.index[key] { storage.remove(existing) }
            guard cost <= Self.largestEntry(within: maxBytes) else {
                onBytesChanged(storage.bytes)
                return
            }
            storage.insert(key: key, entry: entry, cost: cost)
            while storage.bytes > maxBytes, storage.oldest >= 0 {
                storage.remove(storage.oldest)
            }
            onBytesChanged(storage.bytes)
        }
    }

    /// Removes every entry whose key starts with `prefix` and returns how many answers went (an
    /// empty prefix empties the store); fetches already in flight will not store theirs.
    func purge(prefix: String) -> Int {
        storage.withLock { storage in
            storage.generation &+= 1
            var purged = 0
            for (key, index) in storage.index where key.hasPrefix(prefix) {
                if case .response = storage.nodes[index].entry { purged += 1 }
                storage.remove(index)
            }
            onBytesChanged(storage.bytes)
            return purged
        }
    }

    private static func cost(of entry: CacheEntry, key: String) -> Int {
        let payload: Int
        switch entry {
        case .response(let response): payload = response.body.readableBytes + (response.entityTag?.utf8.count ?? 0)
        case .variants(let names): payload = names.reduce(0) { $0 + $1.utf8.count }
        }
        return payload + key.utf8.count + overheadBytes
    }
}

/// A doubly linked list over an array, newest first, with an index by key: O(1) touch, insert and remove.
private struct LRUStorage {
    struct Node {
        var key: String
        var entry: CacheEntry?
        var cost: Int
        var older: Int
        var newer: Int
    }

    var nodes: [Node] = []
    var freeSlots: [Int] = []
    var index: [String: Int] = [:]
    var newest = -1
    var oldest = -1
    var bytes = 0
    var responses = 0
    var generation: UInt64 = 0

    mutating func insert(key: String, entry: CacheEntry, cost: Int) {
        let node = Node(key: key, entry: entry, cost: cost, older: newest, newer: -1)
        let slot: Int
        if let free = freeSlots.popLast() {
            nodes[free] = node
            slot = free
        } else {
            nodes.append(node)
            slot = nodes.count - 1
        }
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
        index[key] = slot
        bytes += cost
        if case .response = entry { responses += 1 }
    }

    mutating func remove(_ slot: Int) {
        unlink(slot)
        let node = nodes[slot]
        index[node.key] = nil
        bytes -= node.cost
        if case .response = node.entry { responses -= 1 }
        nodes[slot] = Node(key: "", entry: nil, cost: 0, older: -1, newer: -1)
        freeSlots.append(slot)
    }

    mutating func touch(_ slot: Int) {
        guard slot != newest else { return }
        unlink(slot)
        nodes[slot].older = newest
        nodes[slot].newer = -1
        if newest >= 0 { nodes[newest].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private mutating func unlink(_ slot: Int) {
        let (older, newer) = (nodes[slot].older, nodes[slot].newer)
        if older >= 0 { nodes[older].newer = newer } else { oldest = newer }
        if newer >= 0 { nodes[newer].older = older } else { newest = older }
    }
}
