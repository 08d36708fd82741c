@testable import BFFRuntime
import Testing

@Suite("Request ids")
struct RequestIDTests {
    @Test("generated ids never repeat within a process, even from the same seed's neighbourhood, and look random")
    func generatedIDsAreDistinct() {
        let sequence = RequestIDSequence(seed: 0)
        var seen = Set<UInt64>()
        for _ in 0..<200_000 { seen.insert(sequence.next()) }
        #expect(seen.count == 200_000)
        // A plain counter would leave the high bits all zero; the scrambled ids spread over all 64.
        let highBitsSet = seen.prefix(1_000).filter { $0 >> 63 == 1 }.count
        #expect((350...650).contains(highBitsSet))
    }

    @Test("two sequences with different seeds give different ids")
    func seedsDiffer() {
        let a = RequestIDSequence(seed: 1), b = RequestIDSequence(seed: 2)
        #expect(a.next() != b.next())
    }
}
