import BFFSpec
import Foundation
public import Logging
import Synchronization

/// Writes log events as one JSON object per line (to standard error by default), for log pipelines
/// that parse JSON, alongside the JSON access log on standard output.
///
/// Metadata is stored as given and rendered only when an event is written: Hummingbird attaches a
/// request id to the logger of every request, and a handler that formats metadata eagerly (like
/// swift-log's `StreamLogHandler`) pays for that on every request even when nothing is logged.
///
/// ```swift
/// LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
/// ```
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let sink: LogLineSink

    public init(label: String, level: Logger.Level = .info, descriptor: Int32 = 2) {
        self.label = label
        self.logLevel = level
        self.sink = descriptor == 2 ? .standardError : LogLineSink(descriptor: descriptor)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var timestamp: [UInt8] = []
        LogTimestamp.write(to: &timestamp)
        var line: [(String, JSONValue)] = [
            ("ts", .string(String(decoding: timestamp, as: UTF8.self))),
            ("level", .string(event.level.rawValue)),
            ("label", .string(label)),
            ("msg", .string(event.message.description)),
        ]
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            line.append((key, Self.json(value)))
        }
        var bytes: [UInt8] = []
        JSONValue.object(line).write(to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        sink.write(bytes)
    }

    private static func json(_ value: Logger.Metadata.Value) -> JSONValue {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let convertible): return .string(convertible.description)
        case .array(let items): return .array(items.map(json))
        case .dictionary(let members): return .object(members.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }
}

/// A file descriptor that whole lines are written to, one writer at a time.
public final class LogLineSink: Sendable {
    private let lock = Mutex(())
    private let descriptor: Int32

    public init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    public static let standardOutput = LogLineSink(descriptor: 1)
    public static let standardError = LogLineSink(descriptor: 2)

    func write(_ bytes: [UInt8]) {
        lock.withLock { _ in
            bytes.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }
}
