import Hummingbird

/// The recommendations service: products to show a customer or next to a product.
///
/// - `GET /for/{tier}?limit=N` answers ``Recommendation``s for a customer tier, best first (default limit 10).
/// - `GET /related/{productId}?limit=N` answers products related to one product, best first (default limit 10).
struct RecommendationsService: DemoBackend {
    let name = "recommendations"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/for/{tier}") { request, context in
            let tierName = try context.parameters.require("tier")
            guard let tier = CustomerTier(rawValue: tierName) else {
                throw DemoProblem.notFound("tier", id: tierName, known: "gold, silver and basic")
            }
            let limit = try request.limit(default: 10)
            return Array(DemoSeed.recommendationsByTier[tier, default: []].prefix(limit))
        }
        router.get("/related/{productId}") { request, context in
            let productID = try context.parameters.require("productId")
            guard let related = DemoSeed.relatedByProduct[productID] else {
                throw DemoProblem.notFound("product", id: productID, known: DemoSeed.knownProductIDs)
            }
            let limit = try request.limit(default: 10)
            return Array(related.prefix(limit))
        }
    }
}

/// A recommended product and how strongly it is recommended.
struct Recommendation: Encodable, Sendable {
    /// The product id.
    let product: String
    /// From 0.01 to 0.99, higher is better.
    let score: Double
}
