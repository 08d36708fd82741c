extension DemoSeed {
    /// How many products each tier's list holds.
    private static let recommendationsPerTier = 12

    /// Twelve scored products per tier: gold gets the premium end of the catalogue, silver the middle, basic the
    /// cheapest.
    static let recommendationsByTier: [CustomerTier: [Recommendation]] = {
        let byPrice = products.sorted { ($0.price, $0.id) < ($1.price, $1.id) }
        let medianPrice = byPrice[byPrice.count / 2].price
        var generator = SeededGenerator(label: "recommendations")
        var lists: [CustomerTier: [Recommendation]] = [:]
        for tier in CustomerTier.allCases {
            let ranked: [Product] =
                switch tier {
                case .gold:
                    Array(byPrice.reversed())
                case .silver:
                    byPrice.sorted { (abs($0.price - medianPrice), $0.id) < (abs($1.price - medianPrice), $1.id) }
                case .basic:
                    byPrice
                }
            lists[tier] = scored(ranked.prefix(recommendationsPerTier), generator: &generator)
        }
        return lists
    }()

    /// For every product id, the other products of its category, closest in price first.
    static let relatedByProduct: [String: [Recommendation]] = {
        var generator = SeededGenerator(label: "related")
        var lists: [String: [Recommendation]] = [:]
        for product in products {
            let ranked = products
                .filter { $0.category == product.category && $0.id != product.id }
                .sorted { (abs($0.price - product.price), $0.id) < (abs($1.price - product.price), $1.id) }
            lists[product.id] = scored(ranked, generator: &generator)
        }
        return lists
    }()

    /// Scores ranked products from a high start downwards, so the list reads best first.
    private static func scored(_ ranked: some Sequence<Product>, generator: inout SeededGenerator) -> [Recommendation] {
        var score = generator.int(in: 90...99)
        var recommendations: [Recommendation] = []
        for product in ranked {
            recommendations.append(Recommendation(product: product.id, score: decimal(hundredths: score)))
            score = max(score - generator.int(in: 1...6), 1)
        }
        return recommendations
    }
}
