public import BFFRuntime
import BFFSpec
import HTTPTypes

/// The partner BFF's Swift-declared endpoints.
public enum PartnerEndpoints {
    public static let all: [SwiftEndpoint] = [quote]

    struct Product: Decodable {
        let id: String
        let price: Double
        let currency: String
    }

    struct Stock: Decodable {
        let available: Int
    }

    /// Volume discount by quantity: 5% from 10 units, 10% from 50, 15% from 200.
    static let discountTiers: [(minimum: Int, percent: Double)] = [(200, 15), (50, 10), (10, 5), (1, 0)]

    /// `GET /v1/products/{id}/quote?quantity=N`: a price quote with volume discount, and whether
    /// stock covers it. Both calls are required: a partner must never get a quote on stale stock.
    static let quote = SwiftEndpoint(
        "GET /v1/products/{id}/quote",
        timeout: .seconds(1),
        calls: [
            SwiftCall("product", service: "products", path: "/products/{path.id}", required: true),
            SwiftCall("stock", service: "inventory", path: "/stock/{path.id}", required: true),
        ],
        auth: EndpointAuthSpec(methods: [.apiKey])
    ) { context in
        guard let quantity = Int(context.inputs.query["quantity"] ?? "1"), (1...100_000).contains(quantity) else {
            throw Problem(.badRequest, "quantity must be a whole number from 1 to 100000")
        }
        async let product = context.fetch("product", as: Product.self)
        async let stock = context.fetch("stock", as: Stock.self)
        guard let product = try await product, let stock = try await stock else {
            throw Problem(.badGateway, "product data is unavailable")
        }
        let percent = discountTiers.first { quantity >= $0.minimum }?.percent ?? 0
        let gross = product.price * Double(quantity)
        let net = (gross * (100 - percent)).rounded() / 100
        return [
            "product": .string(product.id),
            "quantity": .number(Double(quantity)),
            "unit_price": .number(product.price),
            "discount_percent": .number(percent),
            "total": .number(net),
            "currency": .string(product.currency),
            "fulfillable": .bool(stock.available >= quantity),
        ]
    }
}
