import Hummingbird

/// The inventory service: how many of a product the warehouses hold.
///
/// `GET /stock/{productId}` answers a ``StockLevel`` or a 404 problem.
struct InventoryService: DemoBackend {
    let name = "inventory"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/stock/{productId}") { _, context in
            let productID = try context.parameters.require("productId")
            guard let level = DemoSeed.stockByProduct[productID] else {
                throw DemoProblem.notFound("product", id: productID, known: DemoSeed.knownProductIDs)
            }
            return level
        }
    }
}

/// A product's stock in its warehouse.
struct StockLevel: ResponseEncodable, Sendable {
    /// The product id.
    let product: String
    /// Units ready to ship; 0 when sold out.
    let available: Int
    let warehouse: String
    /// When the next delivery reaches the warehouse.
    let restockETA: String

    enum CodingKeys: String, CodingKey {
        case product, available, warehouse
        case restockETA = "restock_eta"
    }
}
