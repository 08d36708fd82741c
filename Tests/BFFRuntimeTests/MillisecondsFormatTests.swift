import Testing

@testable import BFFRuntime

@Suite("Call timings in _meta and Server-Timing")
struct MillisecondsFormatTests {
    @Test("milliseconds have one decimal, none when whole, and never go below zero")
    func format() {
        #expect(ResponseComposer.formatMilliseconds(0) == "0")
        #expect(ResponseComposer.formatMilliseconds(0.04) == "0")
        #expect(ResponseComposer.formatMilliseconds(0.05) == "0.1")
        #expect(ResponseComposer.formatMilliseconds(2.1) == "2.1")
        #expect(ResponseComposer.formatMilliseconds(2.96) == "3")
        #expect(ResponseComposer.formatMilliseconds(300) == "300")
        #expect(ResponseComposer.formatMilliseconds(1234.56) == "1234.6")
        #expect(ResponseComposer.formatMilliseconds(-3) == "0")
    }
}
