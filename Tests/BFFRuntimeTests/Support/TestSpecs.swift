/// A spec named `test` whose one service, `svc`, is `stub`; `endpoints` is the YAML list that follows.
func spec(service stub: StubUpstream, serviceTimeout: String = "1s", endpoints: String) -> String {
    """
    name: test
    services:
      svc: { url: "\(stub.url)", timeout: \(serviceTimeout) }
    endpoints:
    \(endpoints)
    """
}

/// Runs `body` and fails with ``TimeLimitExceeded`` if it takes longer than `limit`, so no test can hang CI.
func withTimeLimit<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeLimitExceeded(limit: limit)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

struct TimeLimitExceeded: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "the test did not finish within \(limit)" }
}

/// Wall time of `body` in milliseconds, with its result.
func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let value = try await body()
    let elapsed = clock.now - start
    return (value, Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
}
