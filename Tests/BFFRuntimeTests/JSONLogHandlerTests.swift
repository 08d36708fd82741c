import BFFRuntime
import BFFSpec
import Foundation
import Logging
import Testing

@Suite struct JSONLogHandlerTests {
    @Test("events are JSON lines with level, label, message and merged metadata; lower levels are dropped")
    func writesJSONLines() throws {
        let captured = try CapturedLines()
        var logger = Logger(label: "bff.test") { JSONLogHandler(label: $0, level: .info, descriptor: captured.writeEnd) }
        logger[metadataKey: "request_id"] = "r-1"
        logger.debug("not written")
        logger.warning("upstream slow", metadata: ["service": "orders", "ms": .stringConvertible(312)])
        let lines = try captured.json()
        #expect(lines.count == 1)
        let event = try #require(lines.first)
        #expect(event["level"] == "warning")
        #expect(event["label"] == "bff.test")
        #expect(event["msg"] == "upstream slow")
        #expect(event["request_id"] == "r-1")
        #expect(event["service"] == "orders")
        #expect(event["ms"] == "312")
    }
}
