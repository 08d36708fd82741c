import BFFSpec
import Foundation

/// A pipe whose write end is handed to a log sink or handler; ``json()`` reads back every line
/// written, each parsed as JSON.
final class CapturedLines {
    let writeEnd: Int32
    private let readEnd: Int32

    struct PipeFailed: Error {}

    init() throws {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw PipeFailed() }
        readEnd = descriptors[0]
        writeEnd = descriptors[1]
    }

    /// Closes the write end and parses what was written, one JSON document per line.
    func json() throws -> [JSONValue] {
        close(writeEnd)
        let data = FileHandle(fileDescriptor: readEnd, closeOnDealloc: true).readDataToEndOfFile()
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { try JSONParser.parse(String($0)) }
    }
}
