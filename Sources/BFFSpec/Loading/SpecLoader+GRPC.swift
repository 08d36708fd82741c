import Foundation
import Yams

extension SpecLoader {
    static func readGRPC(_ node: Node, reader: YAMLReader) -> GRPCServiceSpec? {
        guard let fields = reader.mapping(node, what: "grpc", allowed: grpcKeys) else { return nil }
        guard let (_, _, value) = fields.first(where: { $0.key == "descriptor_set" }) else {
            reader.report(node, "grpc has no descriptor_set", hint: "add 'descriptor_set: protos/users.pb', made by protoc --include_imports --descriptor_set_out")
            return nil
        }
        guard let relative = reader.string(value, what: "grpc.descriptor_set") else { return nil }
        let path = resolve(relative, reader: reader)
        guard FileManager.default.isReadableFile(atPath: path) else {
            reader.report(value, "grpc.descriptor_set '\(path)' cannot be read", hint: "give the FileDescriptorSet protoc wrote, relative to this spec")
            return nil
        }
        return GRPCServiceSpec(descriptorSet: path, location: reader.location(of: value))
    }

    /// A gRPC call's `body:`: any YAML, whose strings are templates.
    static func messageTemplate(_ node: Node, reader: YAMLReader) -> MessageTemplate? {
        if let items = node.sequence {
            return .array(items.compactMap { messageTemplate($0, reader: reader) })
        }
        if node.mapping != nil {
            let members = reader.mapping(node, what: "body", allowed: []) ?? []
            return .object(members.compactMap { key, _, value in messageTemplate(value, reader: reader).map { (key, $0) } })
        }
        let value = reader.json(node)
        guard case .string(let text) = value, text.contains("{") else { return .value(value) }
        return template(node, kind: .headerValue, reader: reader).map(MessageTemplate.text)
    }
}

extension GRPCServiceSpec {
    /// Whether `text` is a gRPC method name: `package.Service/Method`.
    public static func isMethodName(_ text: String) -> Bool {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return false }
        return parts.allSatisfy { $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "." } }
    }
}
