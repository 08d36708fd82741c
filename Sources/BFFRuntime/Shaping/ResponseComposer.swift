public import BFFSpec
public import NIOCore

extension ByteBuffer: JSONByteSink {
    public mutating func writeJSONBytes(_ bytes: some Collection<UInt8>) { writeBytes(bytes) }
    public mutating func writeJSONByte(_ byte: UInt8) { writeInteger(byte) }
}

/// The names of an endpoint's calls with the bytes that report them, rendered once per endpoint.
struct CallNames: Sendable {
    let names: [String]
    /// `"name":{"status":"` for each call, for `_meta`.
    let metaKeys: [[UInt8]]
    /// `name;dur=` for each call, for `Server-Timing`.
    let timingPrefixes: [String]

    init(_ names: [String]) {
        self.names = names
        metaKeys = names.map { name in
            var bytes: [UInt8] = []
            JSONValue.writeString(name, to: &bytes)
            bytes += Array(#":{"status":""#.utf8)
            return bytes
        }
        timingPrefixes = names.map { "\($0);dur=" }
        metaSize = metaKeys.reduce(32) { $0 + $1.count + Self.metaEntrySize }
        timingSize = timingPrefixes.reduce(0) { $0 + $1.utf8.count + Self.timingEntrySize }
    }

    /// Room for the rest of one call's `_meta` entry and `Server-Timing` entry: every optional
    /// part at its longest (a status, 20-digit numbers, a source), with room to spare.
    private static let metaEntrySize = 224
    private static let timingEntrySize = 64
    /// Room for the whole `_meta` object and for the whole `Server-Timing` value.
    let metaSize: Int
    let timingSize: Int
}

/// An aggregated response body, and how many of its first bytes hold the sections (what the ETag covers).
struct ComposedBody {
    var buffer: ByteBuffer
    var contentBytes: Int
}

/// Writes an aggregated response body: each section spliced or shaped, then `_meta`.
///
/// Sections that need no shaping are copied byte-for-byte from the service's (validated) answer,
/// never parsed and re-serialised; keys come from the spec, so no service can overwrite another's.
enum ResponseComposer {
    static func body(
        names: CallNames,
        outcomes: [CallOutcome],
        shape: ResponseShape,
        includeMeta: Bool,
        allocator: ByteBufferAllocator
    ) -> ComposedBody {
        // Room for every section and for `_meta`'s own room, so writing `_meta` never grows the buffer.
        let sections = outcomes.reduce(256) { $0 + ($1.body?.readableBytes ?? 16) }
        var buffer = allocator.buffer(capacity: sections + (includeMeta ? names.metaSize : 0))
        buffer.writeStaticString("{")
        for (i, field) in shape.fields.enumerated() {
            if i > 0 { buffer.writeStaticString(",") }
            buffer.writeBytes(field.keyPrefix)
            let outcome = outcomes[field.callIndex]
            if field.isPassThrough, outcome.hasServiceData, let body = outcome.body {
                buffer.writeImmutableBuffer(body)
            } else {
                let value = outcome.value ?? outcome.body.flatMap(parse) ?? .null
                ResponseShape.shape(value, path: field.path, fields: field.fields, limit: field.limit).write(to: &buffer)
            }
        }
        let contentBytes = buffer.readableBytes
        if includeMeta {
            if !shape.fields.isEmpty { buffer.writeStaticString(",") }
            buffer.writeStaticString("\"_meta\":")
            buffer.writeDirect(
                expecting: names.metaSize,
                { writeMeta(names: names, outcomes: outcomes, to: &$0) },
                orElse: { writeMeta(names: names, outcomes: outcomes, to: &$0) }
            )
        }
        buffer.writeStaticString("}")
        return ComposedBody(buffer: buffer, contentBytes: contentBytes)
    }

    /// `{"degraded":…,"calls":{"name":{"status":…,"ms":…,"http":…,"source":…,"age_s":…,"attempts":…,"hedged":…}}}`
    static func writeMeta(names: CallNames, outcomes: [CallOutcome], to buffer: inout some ByteSink) {
        if isDegraded(outcomes) {
            buffer.write("{\"degraded\":true,\"calls\":{")
        } else {
            buffer.write("{\"degraded\":false,\"calls\":{")
        }
        for (i, outcome) in outcomes.enumerated() {
            if i > 0 { buffer.write(",") }
            buffer.write(names.metaKeys[i])
            buffer.write(outcome.status.rawValue)
            buffer.write("\",\"ms\":")
            buffer.write(formatMilliseconds(outcome.milliseconds))
            if let http = outcome.http {
                buffer.write(",\"http\":")
                buffer.write(decimal: http)
            }
            if outcome.source != .upstream {
                buffer.write(",\"source\":\"")
                buffer.write(outcome.source.rawValue)
                buffer.write("\"")
            }
            if let age = outcome.ageSeconds {
                buffer.write(",\"age_s\":")
                buffer.write(decimal: age)
            }
            if outcome.attempts > 1 {
                buffer.write(",\"attempts\":")
                buffer.write(decimal: outcome.attempts)
            }
            if outcome.hedged {
                buffer.write(",\"hedged\":true")
            }
            buffer.write("}")
        }
        buffer.write("}}")
    }

    static func isDegraded(_ outcomes: [CallOutcome]) -> Bool {
        outcomes.contains { !$0.succeeded }
    }

    /// `Server-Timing` with one entry per call: `user;dur=2.1;desc="ok"`.
    static func serverTiming(names: CallNames, outcomes: [CallOutcome]) -> String {
        var header = ByteBuffer()
        writeServerTiming(names: names, outcomes: outcomes, to: &header)
        return String(buffer: header)
    }

    /// ``serverTiming(names:outcomes:)`` written straight into `buffer` (for answers written whole).
    static func writeServerTiming(names: CallNames, outcomes: [CallOutcome], to buffer: inout some ByteSink) {
        for (i, outcome) in outcomes.enumerated() {
            if i > 0 { buffer.write(", ") }
            buffer.write(names.timingPrefixes[i])
            buffer.write(formatMilliseconds(outcome.milliseconds))
            buffer.write(";desc=\"")
            buffer.write(outcome.status.rawValue)
            buffer.write("\"")
        }
    }

    /// Milliseconds with one decimal, or none when whole.
    static func formatMilliseconds(_ ms: Double) -> String {
        let tenths = (max(ms, 0) * 10).rounded()
        let whole = Int(tenths / 10)
        let fraction = Int(tenths) % 10
        var text = String(whole)
        if fraction != 0 {
            text.append(".")
            text.append(Character(Unicode.Scalar(UInt8(ascii: "0") + UInt8(fraction))))
        }
        return text
    }

    private static func parse(_ buffer: ByteBuffer) -> JSONValue? {
        buffer.withUnsafeReadableBytes { try? JSONParser.parse($0) }
    }
}
