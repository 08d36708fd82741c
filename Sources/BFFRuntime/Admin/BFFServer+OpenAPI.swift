public import BFFOpenAPI
import BFFSpec
public import Foundation

extension BFFServer {
    /// The OpenAPI 3.1 document of every route this server answers now: its spec's and its Swift
    /// endpoints', as `bff openapi` prints it and the admin listener serves it at `/openapi.json`.
    /// - Parameters:
    ///   - version: the API's version, `info.version`.
    ///   - servers: base URLs clients call; by default none (tools take the URL they were given).
    /// - Throws: ``OpenAPIDocumentError`` for a section schema the document cannot hold.
    public func openAPIDocument(version: String, servers: [String] = []) throws(OpenAPIDocumentError) -> Data {
        let generation = currentGeneration
        return try OpenAPIDocument.jsonData(for: generation.spec, extraRoutes: swiftRouteDescriptions, version: version, servers: servers)
    }

    /// The Swift endpoints, described like spec routes (their calls tell the query and header inputs).
    private var swiftRouteDescriptions: [RouteDescription] {
        swiftEndpointsForDescription.compactMap { endpoint in
            guard let (route, aggregate) = try? endpoint.spec() else { return nil }
            return RouteDescription(route: route, auth: endpoint.auth, rateLimits: endpoint.rateLimits, body: .handler(calls: aggregate.calls))
        }
    }
}
