import NIOCore

/// A Redis command as its words: `["SET", "key", "value"]`, or bytes where a value is binary (a
/// cached body).
struct RedisCommand: Sendable, Hashable, ExpressibleByArrayLiteral {
    var arguments: [ByteBuffer]

    init(_ arguments: [String]) {
        self.arguments = arguments.map { ByteBuffer(string: $0) }
    }

    init(bytes arguments: [ByteBuffer]) {
        self.arguments = arguments
    }

    init(arrayLiteral elements: String...) {
        self.init(elements)
    }

    /// The command's name, for error messages (never its arguments, which may hold secrets).
    var name: String { arguments.first.map { String(buffer: $0).uppercased() } ?? "" }
}

/// Writes commands as RESP arrays of bulk strings, the only form Redis requires of clients.
struct RESPCommandEncoder: MessageToByteEncoder {
    typealias OutboundIn = RedisCommand

    func encode(data command: RedisCommand, out: inout ByteBuffer) {
        out.writeStaticString("*")
        out.writeString(String(command.arguments.count))
        out.writeStaticString("\r\n")
        for argument in command.arguments {
            out.writeStaticString("$")
            out.writeString(String(argument.readableBytes))
            out.writeStaticString("\r\n")
            out.writeImmutableBuffer(argument)
            out.writeStaticString("\r\n")
        }
    }
}
