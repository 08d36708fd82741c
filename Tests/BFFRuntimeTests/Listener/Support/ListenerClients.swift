import BFFSpec
import Foundation
import NIOCore
import NIOPosix

/// Real clients of the listener tests, run as processes: curl (HTTP/1.1 and HTTP/2, TLS), h2load
/// (nghttp2-client) and `Tests/Scripts/edge_probe.py` (TLS versions, client certificates, rotation,
/// HTTP/2 rapid reset and drain).
enum ListenerClients {
    /// One answer as curl printed it.
    struct Answer: Sendable {
        /// `1.1` or `2`.
        let version: String
        let status: Int
        /// Lowercased names.
        let headers: [String: String]
        let body: String

        func json() throws -> JSONValue { try JSONParser.parse(Array(body.utf8)) }
    }

    struct ClientFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs curl with `arguments` and the URL, and parses the answer it printed with `-i`.
    static func curl(_ arguments: [String], _ url: String) async throws -> Answer {
        let child = try ChildProcess(
            executable: "/usr/bin/curl", arguments: ["-sS", "-i", "--max-time", "10"] + arguments + [url],
            standardOutput: .captured, standardError: .captured
        )
        let termination = await child.exit()
        guard termination == .exited(0) else {
            throw ClientFailed(description: "curl \(arguments.joined(separator: " ")) \(url): \(termination) \(child.errors)")
        }
        return try parse(child.output)
    }

    /// The last response in curl's `-i` output (after any 100 Continue).
    static func parse(_ output: String) throws -> Answer {
        var rest = Substring(output)
        while true {
            guard let split = rest.range(of: "\r\n\r\n") else { throw ClientFailed(description: "no HTTP head in curl's output: \(output.prefix(300))") }
            let head = rest[..<split.lowerBound]
            let lines = head.split(separator: "\r\n")
            let statusLine = lines.first?.split(separator: " ") ?? []
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw ClientFailed(description: "bad status line: \(lines.first ?? "")") }
            rest = rest[split.upperBound...]
            if status == 100 { continue }
            var headers: [String: String] = [:]
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return Answer(version: String(statusLine[0].dropFirst("HTTP/".count)), status: status, headers: headers, body: String(rest))
        }
    }

    /// Runs `edge_probe.py command` with `arguments`; the JSON object it printed.
    static func probe(_ command: String, _ arguments: [String]) async throws -> JSONValue {
        let child = try ChildProcess(
            executable: try executable("python3"), arguments: [script, command] + arguments,
            standardOutput: .captured, standardError: .captured
        )
        let termination = await child.exit()
        guard termination == .exited(0), let line = child.output.split(separator: "\n").last else {
            throw ClientFailed(description: "edge_probe.py \(command): \(termination) \(child.errors)")
        }
        return try JSONParser.parse(Array(line.utf8))
    }

    /// Runs h2load with `arguments` and the URL; its counts of requests done, succeeded, failed and errored.
    static func h2load(_ arguments: [String], _ url: String) async throws -> (done: Int, succeeded: Int, failed: Int, errored: Int, output: String) {
        let child = try ChildProcess(executable: try executable("h2load"), arguments: arguments + [url], standardOutput: .captured, standardError: .captured)
        let termination = await child.exit()
        guard termination == .exited(0), let line = child.output.split(separator: "\n").first(where: { $0.hasPrefix("requests:") }) else {
            throw ClientFailed(description: "h2load: \(termination) \(child.output) \(child.errors)")
        }
        // requests: 400 total, 400 started, 400 done, 400 succeeded, 0 failed, 0 errored, 0 timeout
        var counts: [String: Int] = [:]
        for part in line.dropFirst("requests:".count).split(separator: ",") {
            let words = part.split(separator: " ")
            if words.count == 2, let number = Int(words[0]) { counts[String(words[1])] = number }
        }
        func count(_ word: String) -> Int { counts[word] ?? -1 }
        return (count("done"), count("succeeded"), count("failed"), count("errored"), child.output)
    }

    /// Starts `edge_probe.py ws-echo-server` on a free loopback port and waits until it accepts
    /// connections; the caller kills it.
    static func startWebSocketEcho() async throws -> (process: ChildProcess, port: Int) {
        let port = try ExecutableTests.freePort()
        let process = try ChildProcess(
            executable: try executable("python3"), arguments: [script, "ws-echo-server", "--port", "\(port)"],
            standardOutput: .discarded, standardError: .discarded
        )
        let listening = await eventually(within: .seconds(10)) {
            (try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get())
                .map { $0.close(promise: nil) } != nil
        }
        guard listening else {
            _ = process.kill()
            throw ClientFailed(description: "the WebSocket echo service did not start")
        }
        return (process, port)
    }

    /// The elements of a JSON array; none for anything else.
    static func items(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let items)? = value { return items }
        return []
    }

    static var script: String {
        ExecutableTests.repositoryRoot.appendingPathComponent("Tests/Scripts/edge_probe.py").path
    }

    /// `name` found on PATH, as a shell would find it.
    static func executable(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ClientFailed(description: "\(name) is not on PATH; .ci/run installs it")
    }
}
