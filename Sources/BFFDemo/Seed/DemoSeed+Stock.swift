extension DemoSeed {
    /// The stock level of every product id; about one product in seven is sold out.
    static let stockByProduct: [String: StockLevel] = {
        let warehouses = ["AMS-1", "FRA-2", "DUB-1"]
        var generator = SeededGenerator(label: "stock")
        return Dictionary(
            uniqueKeysWithValues: products.map { product in
                let soldOut = generator.percentChance(15)
                let level = StockLevel(
                    product: product.id,
                    available: soldOut ? 0 : generator.int(in: 1...120),
                    warehouse: generator.element(of: warehouses),
                    restockETA: SeedClock.timestamp(minutesFromNow: generator.int(in: 1...14) * 24 * 60)
                )
                return (product.id, level)
            }
        )
    }()
}
