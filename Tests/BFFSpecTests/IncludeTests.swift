import BFFSpec
import Foundation
import Testing

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporarySpecDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("bffspec-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Writes `text` at `relativePath` (creating folders) and returns the file's path.
    @discardableResult
    func write(_ relativePath: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(relativePath)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}

@Suite("SpecLoader: includes")
struct IncludeTests {
    static let catalogue = """
        services:
          users:  { url: http://127.0.0.1:9101, timeout: 700ms }
          orders: { url: http://127.0.0.1:9102 }
        """

    static let endpoints = """
        endpoints:
          - route: GET /users/{id}
            calls:
              user:   { service: users, path: "/users/{path.id}" }
              orders: { service: orders, path: "/orders?user={path.id}" }
        """

    @Test(
        "included services are used and the including file's own services override them",
        arguments: [
            "include: [shared/services.yaml]\nservices:\n  orders: { url: http://127.0.0.1:7000, timeout: 200ms }",
            "services:\n  orders: { url: http://127.0.0.1:7000, timeout: 200ms }\ninclude: [shared/services.yaml]",
        ]
    )
    func includeMergesAndOverrides(includeAndServices: String) throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        let catalogue = try directory.write("shared/services.yaml", Self.catalogue)
        let main = try directory.write("main.yaml", "name: web\n\(includeAndServices)\n\(Self.endpoints)\n")

        let spec = try SpecLoader.load(file: main)

        #expect(spec.services.keys.sorted() == ["orders", "users"])
        let users = try #require(spec.services["users"])
        #expect(users.url.port == 9101)
        #expect(users.timeout == Duration.milliseconds(700))
        #expect(users.location.file == catalogue)
        let orders = try #require(spec.services["orders"])
        #expect(orders.url.port == 7000)
        #expect(orders.timeout == Duration.milliseconds(200))
        #expect(orders.location.file == main)
    }

    @Test("an included file's includes are relative to that file")
    func nestedIncludeIsRelativeToIncludedFile() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        try directory.write("shared/services.yaml", "include: [more/orders.yaml]\nservices:\n  users: { url: http://127.0.0.1:9101 }\n")
        try directory.write("shared/more/orders.yaml", "services:\n  orders: { url: http://127.0.0.1:9102 }\n")
        let main = try directory.write("main.yaml", "name: web\ninclude: [shared/services.yaml]\n\(Self.endpoints)\n")

        let spec = try SpecLoader.load(file: main)

        #expect(spec.services["users"]?.url.port == 9101)
        #expect(spec.services["orders"]?.url.port == 9102)
    }

    @Test("load(yaml:file:) resolves includes against the directory of `file`")
    func includeFromTextUsesFileDirectory() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        try directory.write("shared/services.yaml", Self.catalogue)
        let yaml = "name: web\ninclude: shared/services.yaml\n\(Self.endpoints)\n"

        let spec = try SpecLoader.load(yaml: yaml, file: directory.url.appendingPathComponent("virtual.yaml").path)

        #expect(spec.services.keys.sorted() == ["orders", "users"])
    }

    @Test("a missing include is reported at the include line, naming the file")
    func missingInclude() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        let main = try directory.write("main.yaml", "name: web\ninclude: [shared/missing.yaml]\n")

        let error = try #require(throws: SpecLoadError.self) { try SpecLoader.load(file: main) }

        #expect(error.diagnostics.count == 1)
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.location.file == main)
        #expect(diagnostic.location.line == 2)
        #expect(diagnostic.message.contains("shared/missing.yaml"))
        #expect(diagnostic.hint?.contains("relative") == true)
    }

    @Test("an include cycle is reported instead of looping")
    func includeCycle() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        try directory.write("shared/a.yaml", "include: [b.yaml]\nservices:\n  users: { url: http://127.0.0.1:9101 }\n")
        try directory.write("shared/b.yaml", "services:\n  orders: { url: http://127.0.0.1:9102 }\ninclude: [a.yaml, ../main.yaml]\n")
        let main = try directory.write("main.yaml", "name: web\ninclude: [shared/a.yaml]\n")

        let error = try #require(throws: SpecLoadError.self) { try SpecLoader.load(file: main) }

        let messages = error.diagnostics.map(\.message)
        #expect(error.diagnostics.count == 2, "\(messages)")
        #expect(error.diagnostics.allSatisfy { $0.location.file.hasSuffix("shared/b.yaml") && $0.location.line == 3 })
        #expect(messages.contains { $0.contains("cycle") && $0.contains("a.yaml -> b.yaml -> a.yaml") })
        #expect(messages.contains { $0.contains("cycle") && $0.contains("main.yaml -> a.yaml -> b.yaml -> main.yaml") })
    }

    @Test("a file reached through two includes (a diamond) is read once, without error")
    func diamondInclude() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        try directory.write("shared/base.yaml", "services:\n  users: { url: http://127.0.0.1:9101 }\n")
        try directory.write("shared/left.yaml", "include: [base.yaml]\nservices:\n  orders: { url: http://127.0.0.1:9102 }\n")
        try directory.write("shared/right.yaml", "include: [base.yaml]\nservices:\n  recs: { url: http://127.0.0.1:9107 }\n")
        let main = try directory.write("main.yaml", "name: web\ninclude: [shared/left.yaml, shared/right.yaml]\n")

        let spec = try SpecLoader.load(file: main)

        #expect(Set(spec.services.keys) == ["users", "orders", "recs"])
    }

    @Test("a file including itself is reported")
    func selfInclude() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        let main = try directory.write("main.yaml", "name: web\ninclude: [./main.yaml]\n")

        let error = try #require(throws: SpecLoadError.self) { try SpecLoader.load(file: main) }

        let diagnostic = try #require(error.diagnostics.first)
        #expect(error.diagnostics.count == 1)
        #expect(diagnostic.location.line == 2)
        #expect(diagnostic.message.contains("main.yaml"))
    }

    @Test("problems inside an included file name that file and line")
    func errorInIncludedFile() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        let catalogue = try directory.write("shared/services.yaml", "services:\n  users: { url: http://127.0.0.1:9101 }\n  orders: { url: http://127.0.0.1:9102, timout: 1s }\n")
        let main = try directory.write("main.yaml", "name: web\ninclude: [shared/services.yaml]\n")

        let error = try #require(throws: SpecLoadError.self) { try SpecLoader.load(file: main) }

        let diagnostic = try #require(error.diagnostics.first)
        #expect(error.diagnostics.count == 1)
        #expect(diagnostic.location.file == catalogue)
        #expect(diagnostic.location.line == 3)
        #expect(diagnostic.hint?.contains("'timeout'") == true)
    }

    @Test("an included file may only hold services and includes")
    func includedFileWithEndpoints() throws {
        let directory = try TemporarySpecDirectory()
        defer { directory.remove() }
        try directory.write("shared/services.yaml", "\(Self.catalogue)\nendpoints: []\n")
        let main = try directory.write("main.yaml", "name: web\ninclude: [shared/services.yaml]\n")

        let error = try #require(throws: SpecLoadError.self) { try SpecLoader.load(file: main) }

        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.location.line == 4)
        #expect(diagnostic.message.contains("endpoints"))
    }
}
