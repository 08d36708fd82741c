/// The dependency DAG of an aggregation's calls: an edge `a -> b` when `b`'s templates read `a`'s result.
public struct CallGraph: Sendable {
    /// Call names in declaration order.
    public let names: [String]
    /// For each call (by index), the indices of the calls it reads from.
    public let dependencies: [[Int]]
    /// For each call (by index), the indices of the calls that read from it.
    public let dependents: [[Int]]

    /// Builds the graph; unknown call names are left out (the validator reports them).
    public init(calls: [CallSpec]) {
        names = calls.map(\.name)
        let index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
        let dependencies = calls.map { call in call.dependencies.compactMap { index[$0] }.sorted() }
        var dependents = Array(repeating: [Int](), count: calls.count)
        for (i, deps) in dependencies.enumerated() {
            for d in deps { dependents[d].append(i) }
        }
        self.dependencies = dependencies
        self.dependents = dependents
    }

    /// A cycle as a list of call names (first repeated at the end), or nil when the graph is a DAG.
    public func cycle() -> [String]? {
        enum Mark { case unvisited, inProgress, done }
        var marks = Array(repeating: Mark.unvisited, count: names.count)
        var stack: [Int] = []
        func visit(_ node: Int) -> [String]? {
            switch marks[node] {
            case .done: return nil
            case .inProgress:
                let start = stack.firstIndex(of: node) ?? 0
                return (stack[start...] + [node]).map { names[$0] }
            case .unvisited:
                marks[node] = .inProgress
                stack.append(node)
                for dep in dependencies[node] {
                    if let cycle = visit(dep) { return cycle }
                }
                stack.removeLast()
                marks[node] = .done
                return nil
            }
        }
        for node in names.indices {
            if let cycle = visit(node) { return cycle }
        }
        return nil
    }
}
