public import BFFSpec
public import Foundation
public import OpenAPIKit

/// The OpenAPI 3.1 document of one BFF: every route of its spec, and the routes the runtime
/// declares in Swift, with their parameters, credentials, limits, sections and problems.
///
/// ```swift
/// let spec = try SpecLoader.load(file: "bff-specs/web.yaml")
/// let json = try OpenAPIDocument.jsonString(for: spec, version: "1.4.0", servers: ["https://shop.example.com"])
/// ```
public enum OpenAPIDocument {
    /// The document for `spec`.
    /// - Parameters:
    ///   - extraRoutes: routes the spec does not declare (Swift endpoints), described like its own.
    ///   - version: the API's version, `info.version`.
    ///   - servers: base URLs clients call, in order of preference.
    /// - Throws: ``OpenAPIDocumentError`` for a section schema or server URL the document cannot hold.
    public static func make(
        for spec: ClientSpec,
        extraRoutes: [RouteDescription] = [],
        version: String,
        servers: [String] = []
    ) throws(OpenAPIDocumentError) -> OpenAPI.Document {
        var builder = DocumentBuilder(spec: spec)
        for route in spec.endpoints.map(RouteDescription.init) + extraRoutes {
            try builder.add(route)
        }
        return try builder.document(version: version, servers: servers)
    }

    /// ``make(for:extraRoutes:version:servers:)`` as pretty-printed JSON with sorted keys, the same
    /// bytes for the same spec.
    public static func jsonData(
        for spec: ClientSpec,
        extraRoutes: [RouteDescription] = [],
        version: String,
        servers: [String] = []
    ) throws(OpenAPIDocumentError) -> Data {
        let document = try make(for: spec, extraRoutes: extraRoutes, version: version, servers: servers)
        let encoded: JSONValue
        do {
            encoded = try JSONParser.parse([UInt8](JSONEncoder().encode(document)))
        } catch {
            throw OpenAPIDocumentError(location: nil, message: "the OpenAPI document of '\(spec.name)' cannot be encoded: \(error)", hint: "report it with the spec that causes it")
        }
        var bytes: [UInt8] = []
        writeCanonical(encoded, indent: 0, to: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        return Data(bytes)
    }

    /// Pretty-printed JSON with object keys sorted and `required` lists sorted too: OpenAPIKit
    /// keeps a schema's required properties in the order its decoder met them, which varies from
    /// run to run.
    private static func writeCanonical(_ value: JSONValue, indent: Int, to bytes: inout [UInt8]) {
        let inner = [UInt8](repeating: UInt8(ascii: " "), count: indent + 2)
        switch value {
        case .object(let members) where !members.isEmpty:
            bytes.append(UInt8(ascii: "{"))
            for (index, (key, member)) in members.sorted(by: { $0.0 < $1.0 }).enumerated() {
                bytes += Array((index == 0 ? "\n" : ",\n").utf8) + inner
                JSONValue.writeString(key, to: &bytes)
                bytes += Array(": ".utf8)
                writeCanonical(key == "required" ? sortedStrings(member) : member, indent: indent + 2, to: &bytes)
            }
            bytes += [UInt8(ascii: "\n")] + inner.dropLast(2) + [UInt8(ascii: "}")]
        case .array(let items) where !items.isEmpty:
            bytes.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                bytes += Array((index == 0 ? "\n" : ",\n").utf8) + inner
                writeCanonical(item, indent: indent + 2, to: &bytes)
            }
            bytes += [UInt8(ascii: "\n")] + inner.dropLast(2) + [UInt8(ascii: "]")]
        default:
            value.write(to: &bytes)
        }
    }

    private static func sortedStrings(_ value: JSONValue) -> JSONValue {
        guard case .array(let items) = value else { return value }
        let names = items.compactMap { item -> String? in
            if case .string(let name) = item { return name }
            return nil
        }
        return names.count == items.count ? .array(names.sorted().map(JSONValue.string)) : value
    }

    /// ``jsonData(for:extraRoutes:version:servers:)`` as text.
    public static func jsonString(
        for spec: ClientSpec,
        extraRoutes: [RouteDescription] = [],
        version: String,
        servers: [String] = []
    ) throws(OpenAPIDocumentError) -> String {
        String(decoding: try jsonData(for: spec, extraRoutes: extraRoutes, version: version, servers: servers), as: UTF8.self)
    }
}

/// What keeps a BFF's OpenAPI document from being made: where it is written, and what to do.
public struct OpenAPIDocumentError: Error, Sendable, CustomStringConvertible {
    /// Where the spec (or a service's document) writes it; nil for an argument.
    public var location: SourceLocation?
    public var message: String
    public var hint: String

    public init(location: SourceLocation?, message: String, hint: String) {
        self.location = location
        self.message = message
        self.hint = hint
    }

    public var description: String {
        "\(location.map { "\($0): " } ?? "")error: \(message); \(hint)"
    }
}
