extension DemoSeed {
    /// One to eight reviews per product id, written by seeded users, mostly favourable.
    static let reviewsByProduct: [String: [Review]] = {
        // Indexed by rating - 1.
        let titles = [
            ["Disappointed", "Would not buy again"],
            ["Not for me", "Expected more"],
            ["Decent for the price", "Does the job"],
            ["Very good", "Happy with it"],
            ["Excellent", "Best purchase this year", "Exactly as described"],
        ]
        let bodies: [(String) -> String] = [
            { "The \($0) stopped working properly within a few weeks and support was slow to answer." },
            { "The \($0) looks nice but feels cheaper than the photos suggest." },
            { "The \($0) is fine. Nothing special, nothing wrong, delivery was quick." },
            { "I use the \($0) almost every day. A couple of small quirks, but I would recommend it." },
            { "The \($0) is superb: well made, easy to use and it arrived well packed." },
        ]
        let ratings = [5, 5, 5, 4, 4, 4, 3, 2, 1]
        var generator = SeededGenerator(label: "reviews")
        var nextNumber = 1
        var reviews: [String: [Review]] = [:]
        for product in products {
            var productReviews: [Review] = []
            for _ in 0..<generator.int(in: 1...8) {
                let rating = generator.element(of: ratings)
                productReviews.append(
                    Review(
                        id: "r\(nextNumber)",
                        product: product.id,
                        rating: rating,
                        title: generator.element(of: titles[rating - 1]),
                        body: bodies[rating - 1](product.name),
                        author: generator.element(of: users).name
                    )
                )
                nextNumber += 1
            }
            reviews[product.id] = productReviews
        }
        return reviews
    }()
}
