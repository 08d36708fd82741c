import BFFSpec
import NIOCore

/// A ``CacheEntry`` as the bytes a shared store keeps: exactly what the in-process entry holds, in
/// a compact binary form, with the time it was made on the wall clock so that every replica reads
/// the same age.
///
/// An answer (integers big-endian):
///
///     'R' 1 | status u16 | made at, Unix ms i64 | ttl ms i64 | stale_if_error ms i64
///           | stale_while_revalidate ms i64 | ETag length u16, ETag | body (the rest)
///
/// A `Vary` marker: `'V' 1 | count u16 | per name: length u16, name`. The first byte tells the
/// kinds apart without reading the rest (a purge counts answers by it); the second is the format
/// version, so a record some other version wrote reads as a miss, never as garbage.
enum CacheRecord {
    static let answerKind = UInt8(ascii: "R")
    static let varyKind = UInt8(ascii: "V")
    static let version: UInt8 = 1

    /// The record of `entry`.
    ///
    /// - Parameters:
    ///   - now: the monotonic instant `wallNow` was read at, to turn `storedAt` into wall time.
    ///   - wallNow: Unix time in nanoseconds.
    static func encode(_ entry: CacheEntry, now: NIODeadline, wallNow: Int64) -> ByteBuffer {
        var buffer = ByteBuffer()
        switch entry {
        case .response(let response):
            let etag = Array((response.entityTag ?? "").utf8.prefix(Int(UInt16.max)))
            buffer.reserveCapacity(44 + etag.count + response.body.readableBytes)
            buffer.writeInteger(answerKind)
            buffer.writeInteger(version)
            buffer.writeInteger(UInt16(clamping: response.status))
            let age = max(0, (now - response.storedAt).nanoseconds)
            buffer.writeInteger((wallNow - age) / 1_000_000)
            buffer.writeInteger(response.lifetime.ttl.milliseconds)
            buffer.writeInteger(response.lifetime.staleIfError.milliseconds)
            buffer.writeInteger(response.lifetime.staleWhileRevalidate.milliseconds)
            buffer.writeInteger(UInt16(etag.count))
            buffer.writeBytes(etag)
            buffer.writeImmutableBuffer(response.body)
        case .variants(let names):
            buffer.writeInteger(varyKind)
            buffer.writeInteger(version)
            buffer.writeInteger(UInt16(clamping: names.count))
            for name in names.prefix(Int(UInt16.max)) {
                let bytes = Array(name.utf8.prefix(Int(UInt16.max)))
                buffer.writeInteger(UInt16(bytes.count))
                buffer.writeBytes(bytes)
            }
        }
        return buffer
    }

    /// The entry `record` holds; nil when it is not a record of this version.
    ///
    /// An answer made longer ago than this process's monotonic clock reaches back (a host booted
    /// after it was stored) cannot be placed on that clock and reads as nil too: a miss, never
    /// an answer younger than it is.
    static func decode(_ record: ByteBuffer, now: NIODeadline, wallNow: Int64) -> CacheEntry? {
        var record = record
        guard let kind = record.readInteger(as: UInt8.self), record.readInteger(as: UInt8.self) == version else { return nil }
        switch kind {
        case answerKind:
            guard let status = record.readInteger(as: UInt16.self),
                let madeAt = record.readInteger(as: Int64.self),
                let ttl = record.readInteger(as: Int64.self),
                let staleIfError = record.readInteger(as: Int64.self),
                let staleWhileRevalidate = record.readInteger(as: Int64.self),
                let etagLength = record.readInteger(as: UInt16.self),
                let etag = record.readString(length: Int(etagLength))
            else { return nil }
            let age = max(0, wallNow / 1_000_000 - madeAt) * 1_000_000
            guard UInt64(age) <= now.uptimeNanoseconds else { return nil }
            return .response(
                CachedResponse(
                    status: Int(status),
                    body: record,
                    storedAt: now - .nanoseconds(age),
                    lifetime: CacheLifetime(ttl: .milliseconds(ttl), staleIfError: .milliseconds(staleIfError), staleWhileRevalidate: .milliseconds(staleWhileRevalidate)),
                    entityTag: etag.isEmpty ? nil : etag
                )
            )
        case varyKind:
            guard let count = record.readInteger(as: UInt16.self) else { return nil }
            var names: [String] = []
            for _ in 0..<count {
                guard let length = record.readInteger(as: UInt16.self), let name = record.readString(length: Int(length)) else { return nil }
                names.append(name)
            }
            return .variants(names)
        default:
            return nil
        }
    }

    /// How long a store should keep an entry: until the end of its last stale window, counted
    /// from now. Zero for an answer already past every window.
    static func retention(of response: CachedResponse, at now: NIODeadline) -> Duration {
        let lifetime = response.lifetime
        let whole = lifetime.ttl + max(lifetime.staleIfError, lifetime.staleWhileRevalidate)
        return max(.zero, whole - response.age(at: now))
    }
}
