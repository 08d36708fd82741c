extension DemoSeed {
    /// Up to twelve orders per user id, newest first, in the currency of the user's country.
    ///
    /// Order ids grow with time within each user's history.
    static let ordersByUser: [String: [Order]] = {
        let currencyByCountry = ["GB": "GBP", "US": "USD", "SE": "SEK"]
        var generator = SeededGenerator(label: "orders")
        var nextNumber = 1001
        var histories: [String: [Order]] = [:]
        for user in users {
            var ages: [Int] = []
            var minutesAgo = generator.int(in: 30...600)
            for _ in 0..<generator.int(in: 0...12) {
                ages.append(minutesAgo)
                minutesAgo += generator.int(in: 6...20) * 24 * 60
            }
            var history: [Order] = []
            for minutesAgo in ages.reversed() {
                let daysAgo = minutesAgo / (24 * 60)
                let status =
                    if daysAgo < 2 { "placed" }
                    else if generator.percentChance(8) { "cancelled" }
                    else if daysAgo < 7 { "shipped" }
                    else { "delivered" }
                history.append(
                    Order(
                        id: "o\(nextNumber)",
                        user: user.id,
                        total: decimal(hundredths: generator.int(in: 999...49_999)),
                        currency: currencyByCountry[user.country, default: "EUR"],
                        status: status,
                        items: generator.int(in: 1...6),
                        placedAt: SeedClock.timestamp(minutesFromNow: -minutesAgo)
                    )
                )
                nextNumber += 1
            }
            histories[user.id] = history.reversed()
        }
        return histories
    }()

    /// How many orders ``ordersByUser`` holds in all.
    static let orderCount = ordersByUser.values.reduce(0) { $0 + $1.count }
}
