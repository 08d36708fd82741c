import NIOCore

extension EventLoopFuture where Value: Sendable {
    /// Awaits the future as a `RedisError`-typed result, giving up at once when the task is
    /// cancelled (the work behind the future goes on; its result is dropped).
    func redisValue() async throws(RedisError) -> Value {
        let waiter = eventLoop.makePromise(of: Value.self)
        cascade(to: waiter)
        do {
            return try await withTaskCancellationHandler {
                try await waiter.futureResult.get()
            } onCancel: {
                waiter.fail(RedisError.cancelled)
            }
        } catch let error as RedisError {
            throw error
        } catch {
            throw .closed(reason: "\(error)")
        }
    }
}
