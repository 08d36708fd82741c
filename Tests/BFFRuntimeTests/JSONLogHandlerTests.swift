import BFFRuntime
import BFFSpec
import Foundation
import Logging
import Testing

@Suite struct JSONLogHandlerTests {
    @Test("events are JSON lines with level, label, message and merged metadata; lower levels are dropped")
    func writesJSONLines() throws {
        var descriptors: [Int32] = [0, 0]
        #expect(pipe(&descriptors) == 0)
        defer { close(descriptors[0]) }
        var logger = Logger(label: "bff.test") { JSONLogHandler(label: $0, level: .info, descriptor: descriptors[1]) }
        logger[metadataKey: "request_id"] = "r-1"
        logger.debug("not written")
        logger.warning("upstream slow", metadata: ["service": "orders", "ms": .stringConvertible(312)])
        close(descriptors[1])
        let text = String(decoding: FileHandle(fileDescriptor: descriptors[0]).readDataToEndOfFile(), as: UTF8.self)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 1)
        let event = try JSONParser.parse(String(try #require(lines.first)))
        #expect(event["level"] == "warning")
        #expect(event["label"] == "bff.test")
        #expect(event["msg"] == "upstream slow")
        #expect(event["request_id"] == "r-1")
        #expect(event["service"] == "orders")
        #expect(event["ms"] == "312")
    }
}
