import BFFSpec
import Testing

@Suite("SpecDuration.parse")
struct SpecDurationTests {
    @Test("a positive number with ms, s, m or h", arguments: [
        ("300ms", Duration.milliseconds(300)),
        ("1s", .seconds(1)),
        ("1.5s", .milliseconds(1500)),
        ("0.25ms", .microseconds(250)),
        (" 2s ", .seconds(2)),
        ("5m", .seconds(300)),
        ("1.5h", .seconds(5400)),
    ])
    func valid(text: String, expected: Duration) {
        #expect(SpecDuration.parse(text) == expected)
    }

    @Test("anything else is rejected", arguments: ["", "10", "-1s", "0s", "0ms", "1d", "25h", "ms", "m", "h", "s", "10 seconds", "1 s", "infs", "nans", "100000s"])
    func rejected(text: String) {
        #expect(SpecDuration.parse(text) == nil)
    }

    @Test("whole milliseconds of a duration round down")
    func milliseconds() {
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.microseconds(2999).milliseconds == 2)
        #expect(Duration.seconds(3).nanosecondsValue == 3_000_000_000)
    }
}
