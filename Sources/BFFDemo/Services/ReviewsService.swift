import Hummingbird

/// The reviews service: what customers say about a product.
///
/// `GET /reviews?product=ID&limit=N` answers the product's ``Review``s (default limit 10).
struct ReviewsService: DemoBackend {
    let name = "reviews"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/reviews") { request, _ in
            let product = try request.requiredQueryParameter("product", example: "?product=p1&limit=5")
            let limit = try request.limit(default: 10)
            return Array(DemoSeed.reviewsByProduct[product, default: []].prefix(limit))
        }
    }
}

/// One customer review of a product.
struct Review: ResponseEncodable, Sendable {
    let id: String
    /// The id of the reviewed product.
    let product: String
    /// Stars from 1 to 5.
    let rating: Int
    let title: String
    let body: String
    /// The reviewer's display name.
    let author: String
}
