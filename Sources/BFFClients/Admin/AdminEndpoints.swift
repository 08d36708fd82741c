public import BFFRuntime
import BFFSpec

/// The admin BFF's Swift-declared endpoints.
public enum AdminEndpoints {
    public static let all: [SwiftEndpoint] = [customerValue]

    struct Order: Decodable {
        let total: Double
        let status: String
    }

    /// `GET /customers/{id}/value`: lifetime value figures computed over the customer's orders
    /// (cancelled orders excluded), with the profile for context.
    static let customerValue = SwiftEndpoint(
        "GET /customers/{id}/value",
        timeout: .seconds(2),
        calls: [
            SwiftCall("user", service: "users", path: "/users/{path.id}", required: true),
            SwiftCall("orders", service: "orders", path: "/orders?user={path.id}&limit=100", required: true),
        ],
        auth: EndpointAuthSpec(methods: [.jwt], roles: ["admin"])
    ) { context in
        async let user = context.fetch("user")
        async let orders = context.fetch("orders", as: [Order].self)
        let kept = (try await orders ?? []).filter { $0.status != "cancelled" }
        let total = (kept.reduce(0) { $0 + $1.total } * 100).rounded() / 100
        return [
            "user": try await user,
            "orders": .number(Double(kept.count)),
            "lifetime_value": .number(total),
            "average_order": kept.isEmpty ? .null : .number((total / Double(kept.count) * 100).rounded() / 100),
        ]
    }
}
