public import BFFRuntime
import BFFSpec

/// The mobile BFF's Swift-declared endpoints.
public enum MobileEndpoints {
    public static let all: [SwiftEndpoint] = [badges]

    struct Order: Decodable {
        let status: String
    }

    struct Inbox: Decodable {
        let unread: Int
    }

    /// `GET /v1/badges/{userId}`: the numbers an app icon and tab bar show, computed from orders and
    /// notifications so the phone downloads a few bytes instead of two lists.
    static let badges = SwiftEndpoint(
        "GET /v1/badges/{userId}",
        timeout: .milliseconds(800),
        calls: [
            SwiftCall("orders", service: "orders", path: "/orders?user={path.userId}&limit=50", fallback: []),
            SwiftCall("inbox", service: "notifications", path: "/notifications?user={path.userId}"),
        ],
        auth: EndpointAuthSpec(methods: [.jwt])
    ) { context in
        async let orders = context.fetch("orders", as: [Order].self)
        async let inbox = context.fetch("inbox", as: Inbox.self)
        let active = (try await orders ?? []).filter { $0.status == "placed" || $0.status == "shipped" }.count
        let unread = try await inbox?.unread
        return [
            "active_orders": .number(Double(active)),
            "unread": unread.map { .number(Double($0)) } ?? .null,
        ]
    }
}
