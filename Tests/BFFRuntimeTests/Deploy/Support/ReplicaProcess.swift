import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One BFF executable run as a replica on fixed loopback ports, so it can be stopped and started
/// again where the load balancer expects it. Its output goes to files in `folder`, one pair per start.
final class ReplicaProcess: Sendable {
    let name: String
    let executable: URL
    let arguments: [String]
    let environment: [String: String]
    let folder: URL
    private let state = Mutex<(process: ChildProcess?, starts: Int)>((nil, 0))

    init(name: String, executable: URL, arguments: [String], environment: [String: String], folder: URL) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.folder = folder
    }

    /// Starts the executable; a replica still running is an error in the test, not restarted.
    func start() throws {
        try state.withLock { state in
            if state.process?.isRunning == true { throw AlreadyRunning(name: name) }
            state.starts += 1
            state.process = try ChildProcess(
                executable: executable.path,
                arguments: arguments,
                environment: .inherited(adding: environment),
                standardOutput: .file(folder.appendingPathComponent("\(name)-\(state.starts).out").path),
                standardError: .file(folder.appendingPathComponent("\(name)-\(state.starts).err").path)
            )
        }
    }

    /// Sends SIGTERM, as an orchestrator stopping the replica does.
    func terminate() {
        state.withLock { $0.process }?.send(SIGTERM)
    }

    /// Waits for the current process to exit; its exit status, or nil if it is still running at the deadline.
    func waitForExit(within timeout: Duration) async -> Int32? {
        guard let process = state.withLock({ $0.process }) else { return nil }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.termination?.status
    }

    /// Kills the process at once if it still runs and reaps it; safe to call in every path.
    func stop() {
        guard let process = state.withLock({ state in defer { state.process = nil }; return state.process }) else { return }
        process.kill()
    }

    /// The standard error of every start so far, for failure messages.
    func errors() -> String {
        let starts = state.withLock { $0.starts }
        return (0..<starts).map { start in
            let text = (try? String(contentsOf: folder.appendingPathComponent("\(name)-\(start + 1).err"), encoding: .utf8)) ?? ""
            return "\(name) start \(start + 1): \(text.suffix(2000))"
        }.joined(separator: "\n")
    }
}

struct AlreadyRunning: Error, CustomStringConvertible {
    let name: String
    var description: String { "\(name) is still running; stop it before starting it again" }
}
