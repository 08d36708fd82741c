/// A deterministic pseudo-random sequence (SplitMix64) seeded from a label.
///
/// The seeded data and the simulated latencies come from here rather than from the standard library's
/// random APIs, whose algorithms may change, so every run and platform sees the same demo.
///
/// ```swift
/// var generator = SeededGenerator(label: "users")
/// let tier = generator.element(of: CustomerTier.allCases)
/// ```
struct SeededGenerator {
    private var state: UInt64

    /// Starts the sequence belonging to a label; equal labels give equal sequences.
    ///
    /// - Parameter label: Any text, hashed with 64-bit FNV-1a into the seed.
    init(label: String) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in label.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        state = hash
    }

    /// The next 64 random bits.
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
        return mixed ^ (mixed >> 31)
    }

    /// A whole number in a range.
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// One element of a non-empty array.
    mutating func element<Element>(of elements: [Element]) -> Element {
        elements[int(in: 0...(elements.count - 1))]
    }

    /// True with the given chance in percent.
    mutating func percentChance(_ percent: Int) -> Bool {
        int(in: 1...100) <= percent
    }
}
