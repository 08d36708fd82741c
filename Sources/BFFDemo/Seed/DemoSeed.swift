/// The seeded demo data, built once on first use; each kind lives in its own `DemoSeed+Kind.swift`.
///
/// Data that refers to other data (orders to users, reviews to products) is built from the seeded
/// lists themselves, so every reference resolves.
enum DemoSeed {
    /// A two-decimal number from a whole number of hundredths, so 2999 encodes as 29.99 rather than 29.990000000000002.
    static func decimal(hundredths: Int) -> Double {
        Double(hundredths) / 100
    }
}
