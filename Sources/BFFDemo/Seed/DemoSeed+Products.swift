extension DemoSeed {
    /// One product category: its items and what its products are like.
    private struct Category {
        let name: String
        let items: [String]
        let blurb: String
        let euros: ClosedRange<Int>
        let materials: [String]
        let grams: ClosedRange<Int>
    }

    private static let categories = [
        Category(
            name: "audio",
            items: ["Studio Headphones", "Wireless Earbuds", "Bookshelf Speaker", "Portable Speaker", "USB Microphone", "Turntable"],
            blurb: "tuned for a balanced, detailed sound and built to last for years of daily listening",
            euros: 29...349,
            materials: ["aluminium", "walnut", "recycled plastic"],
            grams: 40...4_500
        ),
        Category(
            name: "kitchen",
            items: ["Espresso Machine", "Chef's Knife", "Cast Iron Skillet", "Pour-Over Kettle", "Stand Mixer", "Burr Grinder"],
            blurb: "made for cooks who use their tools every day and want them to stay sharp, hot or precise",
            euros: 19...599,
            materials: ["stainless steel", "cast iron", "carbon steel"],
            grams: 200...9_000
        ),
        Category(
            name: "outdoor",
            items: ["Trail Backpack", "Ultralight Tent", "Down Sleeping Bag", "Headlamp", "Trekking Poles", "Camp Stove"],
            blurb: "light enough for long days on the trail and tough enough for the weather at the end of them",
            euros: 15...449,
            materials: ["ripstop nylon", "titanium", "recycled polyester"],
            grams: 80...2_400
        ),
        Category(
            name: "home-office",
            items: ["Standing Desk", "Ergonomic Chair", "Mechanical Keyboard", "4K Monitor", "Desk Lamp", "Webcam"],
            blurb: "designed for long working days, with adjustments that make a desk feel like your own",
            euros: 39...699,
            materials: ["steel", "oak", "aluminium"],
            grams: 150...32_000
        ),
        Category(
            name: "books",
            items: [
                "Field Guide to Birds", "Sourdough Handbook", "Distributed Systems Primer",
                "Night Sky Atlas", "Pocket Italian Phrasebook", "Woodworking Basics",
            ],
            blurb: "clearly written, generously illustrated and printed on paper that takes a pencil note",
            euros: 9...49,
            materials: ["paperback", "hardcover"],
            grams: 180...1_200
        ),
    ]

    /// Thirty products, p1 ... p30, cycling through the categories so any short list mixes them.
    static let products: [Product] = {
        let brands = ["Northwind", "Acme", "Lumen", "Fjord", "Kestrel", "Orbit"]
        let colors = ["black", "white", "slate", "forest green", "sand", "navy"]
        var generator = SeededGenerator(label: "products")
        let itemCount = categories.count * categories[0].items.count
        return (0..<itemCount).map { index in
            let category = categories[index % categories.count]
            let id = "p\(index + 1)"
            let brand = generator.element(of: brands)
            let name = "\(brand) \(category.items[index / categories.count])"
            return Product(
                id: id,
                name: name,
                description: "\(name): \(category.blurb).",
                price: decimal(hundredths: generator.int(in: category.euros) * 100 + 99),
                currency: "EUR",
                category: category.name,
                images: (1...generator.int(in: 2...4)).map { "https://cdn.example.com/products/\(id)/\($0).jpg" },
                attributes: ProductAttributes(
                    brand: brand,
                    color: generator.element(of: colors),
                    material: generator.element(of: category.materials),
                    weightGrams: generator.int(in: category.grams),
                    warrantyYears: generator.int(in: 1...5)
                )
            )
        }
    }()

    /// ``products`` by id.
    static let productsByID = Dictionary(uniqueKeysWithValues: products.map { ($0.id, $0) })

    /// The ids ``products`` covers, for error messages.
    static let knownProductIDs = "p1 ... p\(products.count)"
}
