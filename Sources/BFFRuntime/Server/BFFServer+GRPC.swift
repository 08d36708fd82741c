import BFFProto
import BFFSpec
import Foundation

extension BFFServer {
    /// The descriptor set of every gRPC service, with every call to one checked against it: the
    /// method exists and is unary, and the `body:` sets only fields its request message has.
    /// - Throws: ``SpecLoadError`` listing each problem at the service's or the call's line.
    static func grpcPools(for spec: ClientSpec) throws(SpecLoadError) -> [String: DescriptorPool] {
        var pools: [String: DescriptorPool] = [:]
        var diagnostics: [SpecDiagnostic] = []
        for service in spec.services.values.sorted(by: { $0.name < $1.name }) {
            guard let grpc = service.grpc else { continue }
            do {
                pools[service.name] = try DescriptorPool(descriptorSet: Array(try Data(contentsOf: URL(fileURLWithPath: grpc.descriptorSet))))
            } catch {
                diagnostics.append(
                    SpecDiagnostic(
                        grpc.location, "grpc.descriptor_set '\(grpc.descriptorSet)' of service '\(service.name)' is not a usable FileDescriptorSet: \(error)",
                        hint: "make it with protoc --include_imports --descriptor_set_out=\((grpc.descriptorSet as NSString).lastPathComponent) your.proto"
                    )
                )
            }
        }
        for endpoint in spec.endpoints {
            guard case .aggregate(let aggregate) = endpoint.kind else { continue }
            for call in aggregate.calls {
                guard let name = call.method, let pool = pools[call.service] else { continue }
                guard let method = pool.method(name) else {
                    let closest = SpecDiagnostic.closest(to: name, in: pool.methodPaths)
                    diagnostics.append(
                        SpecDiagnostic(
                            call.location, "call '\(call.name)': service '\(call.service)' has no method \(name) in its descriptor set",
                            hint: closest.map { "did you mean \($0)?" } ?? "its methods: \(pool.methodPaths.joined(separator: ", "))"
                        )
                    )
                    continue
                }
                if method.clientStreaming || method.serverStreaming {
                    diagnostics.append(SpecDiagnostic(call.location, "call '\(call.name)': \(name) is a streaming method", hint: "an aggregation calls unary methods only"))
                }
                for field in unknownFields(of: call.body, in: method.input, pool: pool, at: "") {
                    diagnostics.append(
                        SpecDiagnostic(
                            call.location, "call '\(call.name)': body sets '\(field)', which \(method.input.fullName) does not have",
                            hint: "use the message's field names (proto or lowerCamelCase JSON names)"
                        )
                    )
                }
            }
        }
        guard diagnostics.isEmpty else { throw SpecLoadError(diagnostics) }
        return pools
    }

    /// The dotted paths of members of `body` that name no field of `message` (nested messages too).
    private static func unknownFields(of body: MessageTemplate?, in message: MessageDescriptor, pool: DescriptorPool, at prefix: String) -> [String] {
        guard case .object(let members)? = body else { return [] }
        return members.flatMap { key, value -> [String] in
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            guard let field = message.field(jsonKey: key) else { return [path] }
            guard field.type == .message, !field.isMap, !field.isRepeated, let type = field.typeName, let nested = pool.message(type),
                !type.hasPrefix(".google.protobuf.") && !type.hasPrefix("google.protobuf.")
            else { return [] }
            return unknownFields(of: value, in: nested, pool: pool, at: path)
        }
    }
}
