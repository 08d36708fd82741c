import NIOCore

/// A Redis command as its words: `["SET", "key", "value"]`.
struct RedisCommand: Sendable, Hashable, ExpressibleByArrayLiteral {
    var arguments: [String]

    init(_ arguments: [String]) {
        self.arguments = arguments
    }

    init(arrayLiteral elements: String...) {
        arguments = elements
    }

    /// The command's name, for error messages (never its arguments, which may hold secrets).
    var name: String { arguments.first?.uppercased() ?? "" }
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
            out.writeString(String(argument.utf8.count))
            out.writeStaticString("\r\n")
            out.writeString(argument)
            out.writeStaticString("\r\n")
        }
    }
}
