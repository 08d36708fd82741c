import BFFSpec
import NIOCore

/// A command on its way to Redis with the promise its reply completes.
struct RedisRequest: Sendable {
    var command: RedisCommand
    var promise: EventLoopPromise<RESPValue>
}

/// Matches replies to commands in order (Redis answers a connection's commands first in, first
/// out), so several commands may be in flight on one connection at once.
///
/// Anything that breaks the order (a reply too late, an unsolicited reply, a decoding error)
/// fails every waiting command and closes the connection: a later reply could otherwise be
/// handed to the wrong command.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = RedisCommand

    private struct Pending {
        var promise: EventLoopPromise<RESPValue>
        var deadline: Scheduled<Void>
    }

    private let commandTimeout: Duration
    private var pending = CircularBuffer<Pending>()
    /// Set once the connection is unusable; later commands fail with it at once.
    private var failure: RedisError?

    init(commandTimeout: Duration) {
        self.commandTimeout = commandTimeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        let name = request.command.name
        let timeout = commandTimeout
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(timeout.nanosecondsValue)) {
            self.fail(context: context, with: .timeout(command: name, after: timeout))
        }
        pending.append(Pending(promise: request.promise, deadline: deadline))
        context.write(wrapOutboundOut(request.command), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let reply = unwrapInboundIn(data)
        guard let head = pending.popFirst() else {
            fail(context: context, with: .protocolError("a reply arrived with no command waiting for it"))
            return
        }
        head.deadline.cancel()
        if case .error(let message) = reply {
            head.promise.fail(RedisError.server(message: message))
        } else {
            head.promise.succeed(reply)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, with: .closed(reason: "the server closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context: context, with: error as? RedisError ?? .closed(reason: "\(error)"))
    }

    /// Closes the connection and fails every waiting command.
    ///
    /// The connection is closed first so that a caller woken by the failure already sees it
    /// inactive and gets a new one from the pool, rather than this one's failure again.
    private func fail(context: ChannelHandlerContext, with error: RedisError) {
        guard failure == nil else { return }
        failure = error
        let waiting = pending
        pending.removeAll()
        context.close(promise: nil)
        for entry in waiting {
            entry.deadline.cancel()
            entry.promise.fail(error)
        }
    }
}
