import BFFProto
import BFFSpec

/// A gRPC method a call is compiled against: its HTTP/2 path and its request and reply messages.
final class GRPCMethod: Sendable {
    let path: String
    let input: MessageDescriptor
    let output: MessageDescriptor
    let pool: DescriptorPool

    /// `name` (`users.v1.Users/GetUser`) in `pool`; nil when the pool has no such method.
    init?(_ name: String, in pool: DescriptorPool) {
        guard let method = pool.method(name) else { return nil }
        path = "/" + method.path
        input = method.input
        output = method.output
        self.pool = pool
    }
}

/// A gRPC call's request message, compiled once: the JSON as written, its strings compiled as
/// templates, rendered per request and encoded by the method's request message.
indirect enum CompiledMessage: Sendable {
    case value(JSONValue)
    case text(CompiledTemplate)
    case array([CompiledMessage])
    case object([(String, CompiledMessage)])

    init(_ template: MessageTemplate) {
        switch template {
        case .value(let value): self = .value(value)
        case .text(let text): self = .text(CompiledTemplate(text))
        case .array(let items): self = .array(items.map(CompiledMessage.init))
        case .object(let members): self = .object(members.map { ($0.0, CompiledMessage($0.1)) })
        }
    }

    /// Refuses request input a template of the message refuses (control characters), before any call starts.
    func validateRequestInputs(_ inputs: RequestInputs) throws(TemplateFillError) {
        switch self {
        case .value: return
        case .text(let template): try template.validateRequestInputs(inputs, restCapture: nil)
        case .array(let items): for item in items { try item.validateRequestInputs(inputs) }
        case .object(let members): for (_, value) in members { try value.validateRequestInputs(inputs) }
        }
    }

    /// The message as JSON for this request; throws like a template when an input is missing.
    func render(inputs: RequestInputs, results: (String) -> JSONValue?) throws(TemplateFillError) -> JSONValue {
        switch self {
        case .value(let value): return value
        case .text(let template): return .string(try template.render(inputs: inputs, results: results))
        case .array(let items):
            var rendered: [JSONValue] = []
            for item in items { rendered.append(try item.render(inputs: inputs, results: results)) }
            return .array(rendered)
        case .object(let members):
            var rendered: [(String, JSONValue)] = []
            for (key, value) in members { rendered.append((key, try value.render(inputs: inputs, results: results))) }
            return .object(rendered)
        }
    }
}

/// What a compiled gRPC call sends: the method, and the message compiled from its `body:`.
struct GRPCCallPlan: Sendable {
    let method: GRPCMethod
    let body: CompiledMessage?

    /// The request message's bytes for this request.
    /// - Throws: ``TemplateFillError`` for a missing input, ``TranscodingError`` for values that do
    ///   not fit the request message.
    func message(inputs: RequestInputs, results: (String) -> JSONValue?) throws -> [UInt8] {
        let json = try body?.render(inputs: inputs, results: results) ?? .object([])
        return try ProtoJSON.encode(json, as: method.input, pool: method.pool)
    }
}

/// A gRPC call's request as the transport sends it.
struct GRPCRequest: Sendable {
    let method: GRPCMethod
    let message: [UInt8]
}
