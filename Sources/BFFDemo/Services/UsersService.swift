import Hummingbird

/// The users service: customer profiles by id.
///
/// `GET /users/{id}` answers a ``User`` or a 404 problem.
struct UsersService: DemoBackend {
    let name = "users"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/users/{id}") { _, context in
            let id = try context.parameters.require("id")
            guard let user = DemoSeed.usersByID[id] else {
                throw DemoProblem.notFound("user", id: id, known: DemoSeed.knownUserIDs)
            }
            return user
        }
    }
}

/// A customer's loyalty tier, which decides their recommendations.
enum CustomerTier: String, Encodable, CaseIterable, Sendable {
    case gold, silver, basic
}

/// A customer profile.
struct User: ResponseEncodable, Sendable {
    let id: String
    let name: String
    let email: String
    let tier: CustomerTier
    let avatar: String
    /// ISO 3166 alpha-2 country code.
    let country: String
    let createdAt: String

    enum CodingKeys: String, CodingKey {
        case id, name, email, tier, avatar, country
        case createdAt = "created_at"
    }
}
