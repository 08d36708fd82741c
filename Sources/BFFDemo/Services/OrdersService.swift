import Hummingbird

/// The orders service: each customer's order history.
///
/// - `GET /orders?user=ID&limit=N` answers the user's ``Order``s, newest first (default limit 10).
/// - `GET /orders/count` answers `{"count":N}`, for one user with `?user=ID`.
struct OrdersService: DemoBackend {
    let name = "orders"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/orders") { request, _ in
            let user = try request.requiredQueryParameter("user", example: "?user=u1&limit=5")
            let limit = try request.limit(default: 10)
            return Array(DemoSeed.ordersByUser[user, default: []].prefix(limit))
        }
        router.get("/orders/count") { request, _ in
            guard let user = request.uri.queryParameters.get("user") else {
                return OrderCount(count: DemoSeed.orderCount)
            }
            return OrderCount(count: DemoSeed.ordersByUser[user, default: []].count)
        }
    }
}

/// One order in a customer's history.
struct Order: ResponseEncodable, Sendable {
    let id: String
    /// The id of the user who placed it.
    let user: String
    let total: Double
    /// ISO 4217 currency code of ``total``.
    let currency: String
    /// `placed`, `shipped`, `delivered` or `cancelled`.
    let status: String
    /// How many items the order holds.
    let items: Int
    let placedAt: String

    enum CodingKeys: String, CodingKey {
        case id, user, total, currency, status, items
        case placedAt = "placed_at"
    }
}

/// The body of `GET /orders/count`.
struct OrderCount: ResponseEncodable {
    let count: Int
}
