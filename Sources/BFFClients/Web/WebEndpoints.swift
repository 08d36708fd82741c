public import BFFRuntime
import BFFSpec

/// The web BFF's Swift-declared endpoints.
public enum WebEndpoints {
    public static let all: [SwiftEndpoint] = [productSummary]

    struct Review: Decodable {
        let rating: Int
        let title: String
    }

    struct Stock: Decodable {
        let available: Int
    }

    /// `GET /products/{id}/summary`: the product with a computed review summary (average, histogram,
    /// best review) and an in-stock flag; reviews and stock are optional and degrade separately.
    static let productSummary = SwiftEndpoint(
        "GET /products/{id}/summary",
        timeout: .seconds(1),
        calls: [
            SwiftCall("product", service: "products", path: "/products/{path.id}", required: true),
            SwiftCall("reviews", service: "reviews", path: "/reviews?product={path.id}&limit=100", fallback: []),
            SwiftCall("stock", service: "inventory", path: "/stock/{path.id}", timeout: .milliseconds(300)),
        ],
        auth: EndpointAuthSpec(methods: [.none])
    ) { context in
        async let product = context.fetch("product")
        async let reviews = context.fetch("reviews", as: [Review].self)
        async let stock = context.fetch("stock", as: Stock.self)
        return [
            "product": try await product,
            "reviews": ReviewSummary(try await reviews ?? []).json,
            "in_stock": try await stock.map { .bool($0.available > 0) } ?? .null,
        ]
    }

    /// Average, 1–5 star histogram and best-rated title of a product's reviews.
    struct ReviewSummary {
        let count: Int
        let average: Double?
        let histogram: [Int]
        let best: String?

        init(_ reviews: [Review]) {
            count = reviews.count
            average = reviews.isEmpty ? nil : (Double(reviews.map(\.rating).reduce(0, +)) / Double(reviews.count) * 10).rounded() / 10
            var histogram = Array(repeating: 0, count: 5)
            for review in reviews where (1...5).contains(review.rating) { histogram[review.rating - 1] += 1 }
            self.histogram = histogram
            best = reviews.max { $0.rating < $1.rating }?.title
        }

        var json: JSONValue {
            [
                "count": .number(Double(count)),
                "average": average.map(JSONValue.number) ?? .null,
                "stars": .array(histogram.map { .number(Double($0)) }),
                "best": best.map(JSONValue.string) ?? .null,
            ]
        }
    }
}
