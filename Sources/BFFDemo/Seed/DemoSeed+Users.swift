extension DemoSeed {
    /// Twenty customers, u1 ... u20.
    static let users: [User] = {
        let firstNames = [
            "Ada", "Bruno", "Chloe", "Dmitri", "Elena", "Farah", "Gustav", "Hana", "Ivan", "Jade",
            "Kofi", "Lena", "Mateo", "Nora", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara",
        ]
        let lastNames = [
            "Lindqvist", "Moreau", "Okafor", "Petrov", "Rossi", "Haddad", "Berg", "Tanaka", "Novak", "Whitfield",
            "Mensah", "Vogel", "Alvarez", "Keane", "Farouk", "Raman", "Delacroix", "Marino", "Holm", "Byrne",
        ]
        let countries = ["DE", "FR", "NL", "GB", "US", "ES", "IT", "SE"]
        var generator = SeededGenerator(label: "users")
        return firstNames.indices.map { index in
            let firstName = firstNames[index]
            let lastName = lastNames[(index * 7) % lastNames.count]
            let id = "u\(index + 1)"
            return User(
                id: id,
                name: "\(firstName) \(lastName)",
                email: "\(firstName.lowercased()).\(lastName.lowercased())@example.com",
                tier: generator.element(of: CustomerTier.allCases),
                avatar: "https://cdn.example.com/avatars/\(id).png",
                country: generator.element(of: countries),
                createdAt: SeedClock.timestamp(minutesFromNow: -generator.int(in: 30...900) * 24 * 60)
            )
        }
    }()

    /// ``users`` by id.
    static let usersByID = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) })

    /// The ids ``users`` covers, for error messages.
    static let knownUserIDs = "u1 ... u\(users.count)"
}
