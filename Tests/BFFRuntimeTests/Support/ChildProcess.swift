import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A process a test starts (a BFF executable, redis-server, a script) with `posix_spawn`, reaped on
/// a thread of its own.
///
/// Foundation's `Process.run` on Linux crashed the whole test run (a segfault in memcpy while it
/// built the child's arguments and environment) when the runner's other threads were busy, even
/// with every launch behind one lock. Here the arguments and the environment are C strings this
/// type copies and frees, the child starts with default signal handling and an empty signal mask,
/// and it inherits no descriptor but standard input, output and error.
///
/// ```swift
/// let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "echo hi"], standardOutput: .captured)
/// #expect(await child.exit() == .exited(0))
/// #expect(child.output == "hi\n")
/// ```
final class ChildProcess: Sendable {
    /// Where one of the child's output streams goes.
    enum Output: Sendable {
        /// The test runner's own stream.
        case inherited
        /// /dev/null.
        case discarded
        /// A pipe read to its end on a thread of its own, so a chatty child never blocks on a full
        /// pipe; the text is in ``output`` or ``errors`` once ``exit()`` returns.
        case captured
        /// A file, created or truncated.
        case file(String)
    }

    /// The child's environment.
    enum Environment: Sendable {
        /// The test runner's environment, with `additions` replacing variables of the same name.
        case inherited(adding: [String: String])
        /// These variables and no others.
        case exactly([String: String])
    }

    /// How the child ended.
    enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signalled(Int32)

        /// What a shell reports as `$?`: the exit code, or 128 plus the signal.
        var status: Int32 {
            switch self {
            case .exited(let code): code
            case .signalled(let signal): 128 + signal
            }
        }
    }

    let pid: pid_t
    private let state: Mutex<Termination?>
    /// What the child wrote to each captured stream, by its descriptor in the child.
    private let captured: Mutex<[Int32: [UInt8]]>
    private let reaped = DispatchGroup()
    /// Left once the child is reaped and every captured stream has ended.
    private let finished = DispatchGroup()

    /// Starts `executable` (a path; `PATH` is not searched) with `arguments`.
    ///
    /// - Parameter workingDirectory: where the child starts; nil keeps the test runner's.
    init(
        executable: String,
        arguments: [String],
        environment: Environment = .inherited(adding: [:]),
        workingDirectory: String? = nil,
        standardOutput: Output = .inherited,
        standardError: Output = .inherited
    ) throws {
        var actions = posix_spawn_file_actions_t()
        try Self.check(posix_spawn_file_actions_init(&actions), "posix_spawn_file_actions_init", executable)
        defer { posix_spawn_file_actions_destroy(&actions) }

        // The parent's ends, by the child's descriptor they feed.
        var readEnds: [Int32: Int32] = [:]
        var writeEnds: [Int32] = []
        defer { writeEnds.forEach { _ = close($0) } }
        do {
            for (descriptor, output) in [(STDOUT_FILENO, standardOutput), (STDERR_FILENO, standardError)] {
                switch output {
                case .inherited:
                    break
                case .discarded:
                    try Self.check(posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0), "posix_spawn_file_actions_addopen /dev/null", executable)
                case .file(let path):
                    try Self.check(posix_spawn_file_actions_addopen(&actions, descriptor, path, O_WRONLY | O_CREAT | O_TRUNC, 0o644), "posix_spawn_file_actions_addopen \(path)", executable)
                case .captured:
                    var ends: [Int32] = [-1, -1]
                    guard pipe(&ends) == 0 else { throw ChildProcessError(executable: executable, call: "pipe", code: errno) }
                    // Close-on-exec, so no other child inherits them; one spawned between `pipe` and
                    // here still closes them, as every child closes all but 0, 1 and 2.
                    ends.forEach { _ = fcntl($0, F_SETFD, FD_CLOEXEC) }
                    readEnds[descriptor] = ends[0]
                    writeEnds.append(ends[1])
                    try Self.check(posix_spawn_file_actions_adddup2(&actions, ends[1], descriptor), "posix_spawn_file_actions_adddup2", executable)
                }
            }
            if let workingDirectory {
                try Self.check(GNUSpawnActions.addChdir(&actions, workingDirectory), "posix_spawn_file_actions_addchdir_np \(workingDirectory)", executable)
            }
            // NIO's sockets and CapturedLines' pipes are open in the runner; a child holding one
            // would keep a port bound or a reader waiting after the test closed its end.
            try Self.check(GNUSpawnActions.addCloseFrom(&actions, STDERR_FILENO + 1), "posix_spawn_file_actions_addclosefrom_np", executable)

            var attributes = posix_spawnattr_t()
            try Self.check(posix_spawnattr_init(&attributes), "posix_spawnattr_init", executable)
            defer { posix_spawnattr_destroy(&attributes) }
            // The runner ignores SIGPIPE and its threads block signals; a child must not inherit either.
            var noSignals = sigset_t(), allSignals = sigset_t()
            sigemptyset(&noSignals)
            sigfillset(&allSignals)
            try Self.check(posix_spawnattr_setsigmask(&attributes, &noSignals), "posix_spawnattr_setsigmask", executable)
            try Self.check(posix_spawnattr_setsigdefault(&attributes, &allSignals), "posix_spawnattr_setsigdefault", executable)
            try Self.check(posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)), "posix_spawnattr_setflags", executable)

            let argv = CStrings([executable] + arguments)
            let envp = CStrings(environment.variables)
            var pid = pid_t()
            let spawned = argv.withPointers { argv in
                envp.withPointers { envp in posix_spawn(&pid, argv[0]!, &actions, &attributes, argv, envp) }
            }
            try Self.check(spawned, "posix_spawn", executable)
            self.pid = pid
        } catch {
            readEnds.values.forEach { _ = close($0) }
            throw error
        }

        state = Mutex(nil)
        captured = Mutex(readEnds.mapValues { _ in [] })
        reaped.enter()
        finished.enter()
        Thread.detachNewThread { self.reap() }
        for (descriptor, readEnd) in readEnds {
            finished.enter()
            Thread.detachNewThread { self.read(readEnd, as: descriptor) }
        }
    }

    /// How the child ended; nil while it runs.
    var termination: Termination? { state.withLock { $0 } }

    var isRunning: Bool { termination == nil }

    /// What the child wrote to a ``Output/captured`` standard output, complete once ``exit()`` returns.
    var output: String { text(STDOUT_FILENO) }

    /// What the child wrote to a ``Output/captured`` standard error, complete once ``exit()`` returns.
    var errors: String { text(STDERR_FILENO) }

    /// Sends `signal` (SIGTERM, SIGINT, SIGKILL) unless the child has been reaped, so a pid the
    /// kernel has since given to another process never gets it.
    func send(_ signal: Int32) {
        state.withLock { termination in
            if termination == nil { _ = Glibc.kill(pid, signal) }
        }
    }

    /// Waits, without holding a thread of the cooperative pool, until the child has exited and its
    /// captured streams have ended.
    func exit() async -> Termination {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            finished.notify(queue: .global()) { continuation.resume() }
        }
        return reapedTermination()
    }

    /// Sends SIGKILL and blocks until the child is reaped, which takes a moment: for cleanup in a
    /// `defer`, which cannot await.
    @discardableResult
    func kill() -> Termination {
        send(SIGKILL)
        reaped.wait()
        return reapedTermination()
    }

    // MARK: Threads of its own

    private func reap() {
        var info = siginfo_t()
        // Waits without reaping: until `state` is set, `send` may still signal the pid.
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) == -1 && errno == EINTR {}
        state.withLock { termination in
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, 0) } while result == -1 && errno == EINTR
            guard result == pid else {
                fatalError("waitpid(\(pid)) failed: \(String(cString: strerror(errno))); something else in the test runner reaps children (is SIGCHLD ignored?)")
            }
            // The low seven bits are the signal that ended the child, or 0 when it exited.
            termination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signalled(status & 0x7f)
        }
        reaped.leave()
        finished.leave()
    }

    private func read(_ readEnd: Int32, as descriptor: Int32) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(readEnd, $0.baseAddress, $0.count) }
            if count > 0 {
                captured.withLock { $0[descriptor, default: []].append(contentsOf: buffer[..<count]) }
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(readEnd)
        finished.leave()
    }

    private func reapedTermination() -> Termination {
        guard let termination else { preconditionFailure("\(pid) was waited for but not reaped") }
        return termination
    }

    private func text(_ descriptor: Int32) -> String {
        String(decoding: captured.withLock { $0[descriptor] ?? [] }, as: UTF8.self)
    }

    private static func check(_ result: Int32, _ call: String, _ executable: String) throws {
        guard result == 0 else { throw ChildProcessError(executable: executable, call: call, code: result) }
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    let executable: String
    let call: String
    let code: Int32

    var description: String { "could not start \(executable): \(call): \(String(cString: strerror(code)))" }
}

extension ChildProcess.Environment {
    /// `NAME=value` for each variable.
    fileprivate var variables: [String] {
        let variables = switch self {
        case .inherited(let additions): ProcessInfo.processInfo.environment.merging(additions) { $1 }
        case .exactly(let variables): variables
        }
        return variables.map { "\($0.key)=\($0.value)" }
    }
}

/// Copies of strings as a null-terminated array of C strings, the shape of `argv` and `envp`,
/// freed when it goes.
private struct CStrings: ~Copyable {
    private let pointers: [UnsafeMutablePointer<CChar>?]

    init(_ strings: [String]) {
        pointers = strings.map { strdup($0) } + [nil]
    }

    deinit { pointers.forEach { free($0) } }

    func withPointers<T>(_ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> T) -> T {
        pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

/// glibc's `posix_spawn_file_actions_addchdir_np` and `posix_spawn_file_actions_addclosefrom_np`
/// (glibc 2.29 and 2.34), which its header declares only under `_GNU_SOURCE`, so Swift's Glibc
/// module leaves them out.
private enum GNUSpawnActions {
    typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32

    static func addChdir(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32 {
        symbol("posix_spawn_file_actions_addchdir_np", as: AddChdir.self)(actions, path)
    }

    static func addCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32 {
        symbol("posix_spawn_file_actions_addclosefrom_np", as: AddCloseFrom.self)(actions, lowest)
    }

    private static func symbol<Function>(_ name: String, as type: Function.Type) -> Function {
        guard let address = dlsym(dlopen(nil, RTLD_NOW), name) else {
            fatalError("\(name) is missing from this C library; the tests need glibc 2.34 or later")
        }
        return unsafeBitCast(address, to: type)
    }
}
