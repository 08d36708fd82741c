public import BFFRuntime

/// The four client types and their Swift-declared endpoints, for the executables and `bff demo`.
public enum ClientCatalogue {
    public static let clients: [(name: String, endpoints: [SwiftEndpoint])] = [
        ("mobile", MobileEndpoints.all),
        ("web", WebEndpoints.all),
        ("partner", PartnerEndpoints.all),
        ("admin", AdminEndpoints.all),
    ]

    /// The Swift-declared endpoints of `client`, empty for an unknown client.
    public static func endpoints(for client: String) -> [SwiftEndpoint] {
        clients.first { $0.name == client }?.endpoints ?? []
    }
}
