import BFFSpec
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// Active health checks for every service that declares `health_check`: a background service of
/// the BFF, beside the server, that asks each instance its path every interval and moves it in
/// or out of rotation after the configured number of answers in a row.
///
/// A check passes on a 2xx answer within its timeout; anything else fails it. It runs until
/// cancelled, which the server does once it has drained.
final class HealthChecker: Service, Sendable {
    let clusters: [ServiceCluster]
    private let transport: UpstreamTransport
    private let logger: Logger

    init(clusters: [ServiceCluster], transport: UpstreamTransport, logger: Logger) {
        self.clusters = clusters.filter { $0.spec.healthCheck != nil }
        self.transport = transport
        self.logger = logger
    }

    func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            for cluster in clusters {
                guard let check = cluster.spec.healthCheck else { continue }
                for instance in cluster.instances {
                    group.addTask { await self.watch(instance, of: cluster, check: check) }
                }
            }
            await group.waitForAll()
        }
    }

    private func watch(_ instance: UpstreamInstance, of cluster: ServiceCluster, check: HealthCheckSpec) async {
        var passes = 0
        var failures = 0
        let request = UpstreamRequest(method: .GET, target: check.path, headers: ["user-agent": "bff-health-check"])
        while !Task.isCancelled {
            let passed: Bool
            do {
                let deadline = NIODeadline.now() + .nanoseconds(check.timeout.nanosecondsValue)
                // The base path of the service is prefixed by the transport, as for every call.
                passed = try await transport.send(request, to: instance.endpoint, deadline: deadline, on: nil).isSuccess
            } catch {
                if case .cancelled = error { return }
                passed = false
            }
            if passed {
                passes += 1
                failures = 0
                if passes >= check.healthyThreshold, instance.setHealthy(true) {
                    logger.notice("instance back in rotation after passing its health checks", metadata: ["service": "\(cluster.name)", "instance": "\(instance.index)"])
                }
            } else {
                failures += 1
                passes = 0
                if failures >= check.unhealthyThreshold, instance.setHealthy(false) {
                    logger.warning(
                        "instance out of rotation after failing \(failures) health checks in a row",
                        metadata: ["service": "\(cluster.name)", "instance": "\(instance.index)", "path": "\(check.path)"]
                    )
                }
            }
            do { try await Task.sleep(for: check.interval) } catch { return }
        }
    }
}
