public import BFFSpec
public import Foundation

/// What one reload did: applied (with what carried over and what needs a restart), or refused with
/// every problem at file:line while the previous spec keeps serving.
public struct ReloadOutcome: Sendable {
    public enum Result: String, Sendable {
        /// The new spec serves every request from now on.
        case applied
        /// The spec did not load or compile; the previous one keeps serving.
        case invalid
        /// The server has no spec file to read again (its spec was given as text).
        case unavailable
    }

    public var result: Result
    /// What asked for the reload: `SIGHUP`, `admin`, `watch`.
    public var reason: String
    /// The generation serving afterwards (1 is the spec the server started with).
    public var generation: Int
    public var at: Date
    /// Why the spec was refused, each at file:line with what to do.
    public var diagnostics: [SpecDiagnostic] = []
    /// Changes that take effect only after a restart (the listener's address, TLS shape, thread
    /// count...); the rest of the spec was applied.
    public var restartNeeded: [String] = []
    public var servicesKept: [String] = []
    public var servicesRebuilt: [String] = []
    public var rateLimitsKept = false
    public var cacheKept = false
    public var milliseconds: Double = 0
    /// A sentence for logs and for `/admin/reload` when it is not applied.
    public var message: String = ""

    /// The outcome as `/admin/reload` and `/admin/spec` show it.
    var json: JSONValue {
        var members: [(String, JSONValue)] = [
            ("result", .string(result.rawValue)),
            ("reason", .string(reason)),
            ("generation", .number(Double(generation))),
            ("at", .string(ISO8601DateFormatter().string(from: at))),
            ("milliseconds", .number((milliseconds * 10).rounded() / 10)),
        ]
        if !message.isEmpty { members.append(("message", .string(message))) }
        if !diagnostics.isEmpty {
            members.append(("errors", .array(diagnostics.map(Self.json))))
        }
        if result == .applied {
            members.append(("restart_needed", .array(restartNeeded.map { .string($0) })))
            members.append(("services_kept", .array(servicesKept.map { .string($0) })))
            members.append(("services_rebuilt", .array(servicesRebuilt.map { .string($0) })))
            members.append(("rate_limits_kept", .bool(rateLimitsKept)))
            members.append(("cache_kept", .bool(cacheKept)))
        }
        return .object(members)
    }

    static func json(_ diagnostic: SpecDiagnostic) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("file", .string(diagnostic.location.file)),
            ("line", .number(Double(diagnostic.location.line))),
            ("message", .string(diagnostic.message)),
        ]
        if let hint = diagnostic.hint { members.append(("hint", .string(hint))) }
        return .object(members)
    }
}

extension ClientSpec {
    /// What differs between this spec (the one the listener was started with) and `next` that a
    /// running server cannot apply: each as a sentence saying what keeps its old value.
    func restartNeeded(toApply next: ClientSpec) -> [String] {
        var changes: [String] = []
        func differs(_ a: Any, _ b: Any) -> Bool { SpecFingerprint.of(a) != SpecFingerprint.of(b) }
        if name != next.name {
            changes.append("name '\(name)' -> '\(next.name)': metrics, logs and cache keys keep '\(name)' until a restart")
        }
        if listen != next.listen {
            changes.append("listen \(listen.map(\.description) ?? "(none)") -> \(next.listen.map(\.description) ?? "(none)"): the listener stays where it is until a restart")
        }
        if adminListen != next.adminListen {
            changes.append("admin_listen changed: the admin listener stays where it is until a restart")
        }
        switch (tls, next.tls) {
        case (nil, nil):
            break
        case (nil, .some):
            changes.append("tls added: the listener serves plaintext until a restart")
        case (.some, nil):
            changes.append("tls removed: the listener serves TLS until a restart")
        case (let old?, let new?):
            if old.certFile != new.certFile || old.keyFile != new.keyFile || old.clientCAFile != new.clientCAFile || differs(old.minVersion, new.minVersion) {
                changes.append("tls files or min_version changed: the listener keeps its certificate paths and TLS settings until a restart (new contents of the same files are taken on every reload)")
            }
        }
        if differs(http2, next.http2) {
            changes.append("http2 changed: the listener keeps its HTTP/2 settings until a restart")
        }
        var oldLimits = edge.limits
        var newLimits = next.edge.limits
        // The body limits of aggregation and proxy routes apply per route, live; the rest is the listener's.
        oldLimits.bodyBytes = 0
        newLimits.bodyBytes = 0
        oldLimits.proxyBodyBytes = 0
        newLimits.proxyBodyBytes = 0
        if differs(oldLimits, newLimits) {
            changes.append("limits (request line, headers, timeouts, connections) changed: the listener keeps its limits until a restart; body limits apply now")
        } else if max(edge.limits.bodyBytes, edge.limits.proxyBodyBytes) < max(next.edge.limits.bodyBytes, next.edge.limits.proxyBodyBytes) {
            changes.append("a larger body limit: the listener refuses bodies over \(max(edge.limits.bodyBytes, edge.limits.proxyBodyBytes)) bytes until a restart")
        }
        if differs(edge.trustedProxies, next.edge.trustedProxies) {
            changes.append("trusted_proxies changed: the listener keeps trusting the old list for X-Forwarded-* until a restart")
        }
        if Set(edge.hygiene.dropHeaders) != Set(next.edge.hygiene.dropHeaders) {
            changes.append("hygiene.drop_headers changed: the listener keeps removing the old list until a restart")
        }
        return changes
    }
}
