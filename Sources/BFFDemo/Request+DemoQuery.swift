import Hummingbird

extension Request {
    /// The largest `limit` a list route accepts.
    static let maximumLimit = 100

    /// The value of a query parameter the route cannot answer without.
    ///
    /// - Parameters:
    ///   - name: The parameter name.
    ///   - example: A query that shows the parameter in use, quoted in the error.
    func requiredQueryParameter(_ name: String, example: String) throws(DemoProblem) -> String {
        guard let value = uri.queryParameters.get(name), !value.isEmpty else {
            throw .badRequest("\(uri.path) needs the query parameter '\(name)', for example \(uri.path)\(example)")
        }
        return value
    }

    /// A query parameter that must be a whole number of at least 1, or nil when absent.
    ///
    /// - Parameter name: The parameter name.
    func positiveIntegerQueryParameter(_ name: String) throws(DemoProblem) -> Int? {
        guard let value = uri.queryParameters.get(name) else {
            return nil
        }
        guard let number = Int(value), number >= 1 else {
            throw .badRequest("query parameter '\(name)' is '\(value)'; use a whole number of at least 1")
        }
        return number
    }

    /// How many items a list route returns: `?limit=N`, capped at ``maximumLimit``.
    ///
    /// - Parameter defaultLimit: The count when the query has no `limit`.
    func limit(default defaultLimit: Int) throws(DemoProblem) -> Int {
        min(try positiveIntegerQueryParameter("limit") ?? defaultLimit, Self.maximumLimit)
    }
}
