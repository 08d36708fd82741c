import Hummingbird

/// The products service: the catalogue.
///
/// - `GET /products/{id}` answers a full ``Product`` or a 404 problem.
/// - `GET /products?category=X&limit=N` answers products in catalogue order, of one category with `category`
///   (default limit 20).
struct ProductsService: DemoBackend {
    let name = "products"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/products/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let product = DemoSeed.productsByID[id] else {
                throw DemoProblem.notFound("product", id: id, known: DemoSeed.knownProductIDs)
            }
            return product
        }
        router.get("/products") { request, _ in
            let limit = try request.limit(default: 20)
            let category = request.uri.queryParameters.get("category")
            let matching = DemoSeed.products.filter { category == nil || $0.category == category }
            return Array(matching.prefix(limit))
        }
    }
}

/// A catalogue product with everything a product page shows.
struct Product: ResponseEncodable, Sendable {
    let id: String
    let name: String
    let description: String
    let price: Double
    /// ISO 4217 currency code of ``price``.
    let currency: String
    let category: String
    /// Image URLs, the main image first.
    let images: [String]
    let attributes: ProductAttributes
}

/// The specification table of a product.
struct ProductAttributes: Encodable, Sendable {
    let brand: String
    let color: String
    let material: String
    let weightGrams: Int
    let warrantyYears: Int

    enum CodingKeys: String, CodingKey {
        case brand, color, material
        case weightGrams = "weight_g"
        case warrantyYears = "warranty_years"
    }
}
