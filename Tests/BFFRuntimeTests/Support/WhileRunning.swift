import ServiceLifecycle

/// Runs `service` (a key file watcher, a JWKS refresher) in the background while `body` runs,
/// then cancels it.
func whileRunning<T: Sendable>(_ service: some Service, _ body: @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await service.run()
            return nil
        }
        defer { group.cancelAll() }
        return try await body()
    }
}
