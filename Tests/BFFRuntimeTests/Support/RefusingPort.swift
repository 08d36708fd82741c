#if canImport(Glibc)
import Glibc
#endif

/// A loopback port that refuses every connection for as long as this value lives.
///
/// A socket bound but never listening holds the port: connecting gets ECONNREFUSED, and no other
/// test running in parallel can be handed the same port for its own server meanwhile (as it could
/// be a port found free and closed again).
final class RefusingPort {
    let port: Int
    private let descriptor: Int32

    init() throws {
        (descriptor, port) = try boundLoopbackSocket()
    }

    deinit { close(descriptor) }
}

/// A TCP socket bound to a free port of 127.0.0.1, and that port.
private func boundLoopbackSocket() throws -> (descriptor: Int32, port: Int) {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw RefusingPortError(step: "socket") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard bound == 0, named == 0 else {
        close(descriptor)
        throw RefusingPortError(step: bound != 0 ? "bind" : "getsockname")
    }
    return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
}

struct RefusingPortError: Error, CustomStringConvertible {
    let step: String
    var description: String { "could not hold a refusing loopback port: \(step) failed" }
}

/// Runs `body` with a loopback port that refuses connections until `body` returns.
func withRefusingPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let refusing = try RefusingPort()
    defer { withExtendedLifetime(refusing) {} }
    return try await body(refusing.port)
}

/// A loopback port whose connects stall: it listens with a backlog of none, never accepts, and its
/// queue is filled at once, so the kernel drops every further SYN and a connect waits for its own
/// timeout (as one to a host that has gone away does).
final class StalledPort {
    let port: Int
    private let descriptors: [Int32]

    init() throws {
        let (listener, port) = try boundLoopbackSocket()
        guard listen(listener, 0) == 0 else {
            close(listener)
            throw RefusingPortError(step: "listen")
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        var held = [listener]
        for _ in 0..<3 {
            let filler = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard filler >= 0 else { continue }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(filler, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            held.append(filler)
        }
        descriptors = held
        self.port = port
    }

    deinit { descriptors.forEach { close($0) } }
}

/// Runs `body` with a loopback port whose connects stall until `body` returns.
func withStalledPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let stalled = try StalledPort()
    defer { withExtendedLifetime(stalled) {} }
    // The fillers' handshakes finish in the kernel's own time; give them a moment to fill the queue.
    try await Task.sleep(for: .milliseconds(100))
    return try await body(stalled.port)
}
