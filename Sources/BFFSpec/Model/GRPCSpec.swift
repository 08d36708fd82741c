/// A service called over gRPC: `grpc: { descriptor_set: protos/users.pb }`, a FileDescriptorSet
/// made by `protoc --include_imports --descriptor_set_out=protos/users.pb users.proto`.
public struct GRPCServiceSpec: Sendable {
    /// The descriptor set file, resolved against the spec's folder.
    public var descriptorSet: String
    public var location: SourceLocation

    public init(descriptorSet: String, location: SourceLocation) {
        self.descriptorSet = descriptorSet
        self.location = location
    }
}

/// A gRPC call's request message as proto3 JSON, whose strings may hold placeholders:
/// `body: { user_id: "{path.id}", read_mask: "displayName,age" }`. A string is rendered like a
/// header value (no percent-encoding); the JSON mapping takes numbers in strings for integer fields.
public indirect enum MessageTemplate: Sendable {
    case value(JSONValue)
    case text(Template)
    case array([MessageTemplate])
    case object([(String, MessageTemplate)])

    /// Every placeholder in the message, in document order.
    public var variables: [TemplateVariable] {
        switch self {
        case .value: []
        case .text(let template): template.variables
        case .array(let items): items.flatMap(\.variables)
        case .object(let members): members.flatMap(\.1.variables)
        }
    }

    /// Every call the message reads from.
    public var callDependencies: Set<String> {
        Set(variables.compactMap(\.callDependency))
    }
}
