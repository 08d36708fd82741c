import Foundation
import Yams

/// Loads a client spec from YAML: reads the file and its includes, fills defaults, and validates
/// everything once, so the runtime only ever compiles a spec that is known to be servable.
///
/// ```swift
/// let spec = try SpecLoader.load(file: "bff-specs/mobile.yaml")
/// ```
public enum SpecLoader {
    static let topLevelKeys = SpecGrammar.spec.keys
    static let includeKeys = SpecGrammar.include.keys
    static let serviceKeys = SpecGrammar.service.keys
    static let grpcKeys = SpecGrammar.grpc.keys
    static let tracingKeys = SpecGrammar.tracing.keys
    static let endpointKeys = SpecGrammar.endpoint.keys
    static let callKeys = SpecGrammar.call.keys
    static let responseKeys = SpecGrammar.responseField.keys
    static let proxyKeys = SpecGrammar.proxy.keys
    static let websocketKeys = SpecGrammar.websocket.keys

    /// Loads and validates the spec at `path`.
    /// - Throws: ``SpecLoadError`` listing every problem, each with file:line and what to do.
    public static func load(file path: String) throws(SpecLoadError) -> ClientSpec {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpecLoadError([SpecDiagnostic(SourceLocation(file: path, line: 1), "cannot read the spec file", hint: "check the path and its permissions")])
        }
        return try load(yaml: text, file: path)
    }

    /// Loads and validates a spec given as text; `file` names it in messages and anchors relative includes.
    public static func load(yaml: String, file: String) throws(SpecLoadError) -> ClientSpec {
        let reader = YAMLReader(file: file)
        guard let root = compose(yaml, reader: reader, file: file) else { throw SpecLoadError(reader.diagnostics) }
        let spec = read(root: root, reader: reader)
        if let spec { reader.absorb(SpecValidator.validate(spec)) }
        guard let spec, reader.diagnostics.isEmpty else { throw SpecLoadError(reader.diagnostics) }
        return spec
    }

    // MARK: Reading

    static func compose(_ yaml: String, reader: YAMLReader, file: String) -> Node? {
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                reader.report(SourceLocation(file: file, line: 1), "the spec is empty", hint: "start with 'name:' and 'endpoints:'")
                return nil
            }
            return node
        } catch let error as YamlError {
            reader.report(yamlErrorLocation(error, file: file), "YAML syntax error: \(yamlErrorSummary(error))", hint: "fix the YAML syntax at that line")
        } catch {
            reader.report(SourceLocation(file: file, line: 1), "YAML syntax error", hint: "fix the YAML syntax")
        }
        return nil
    }

    private static func read(root: Node, reader: YAMLReader) -> ClientSpec? {
        guard let members = reader.mapping(root, what: "the spec", allowed: topLevelKeys) else { return nil }
        var name: String?
        var listen: HostPort?
        var adminListen: AdminListen?
        var tls: TLSSpec?
        var http2 = HTTP2Spec()
        var deadlines: DeadlineSpec?
        var cacheStore: CacheStoreSpec?
        var tracing: TracingSpec?
        var services: [String: ServiceSpec] = [:]
        var endpointsNode: Node?
        var loaded: Set<String> = []
        var edge = EdgeSections()
        var included = EdgeSections()
        for (key, keyNode, value) in members {
            switch key {
            case "name":
                name = reader.string(value, what: "name")
                if name?.isEmpty == true { reader.report(value, "name is empty", hint: "name the client, e.g. 'name: mobile'") }
            case "listen":
                if let text = reader.string(value, what: "listen") {
                    listen = HostPort(text)
                    if listen == nil { reader.report(value, "listen '\(text)' is not host:port", hint: "write e.g. 127.0.0.1:8081") }
                }
            case "admin_listen":
                if let text = reader.string(value, what: "admin_listen") {
                    adminListen = AdminListen(text)
                    if adminListen == nil { reader.report(value, "admin_listen '\(text)' is neither host:port nor 'off'", hint: "write e.g. 127.0.0.1:9081, or 'off' for no admin listener") }
                }
            case "tls":
                tls = readTLS(value, key: keyNode, reader: reader)
            case "http2":
                http2 = readHTTP2(value, reader: reader)
            case "deadlines":
                deadlines = readDeadlines(value, reader: reader)
            case "cache_store":
                cacheStore = readCacheStore(value, reader: reader)
            case "tracing":
                tracing = readTracing(value, reader: reader)
            case "include":
                for file in includeFiles(value, reader: reader) {
                    mergeInclude(file, chain: [canonicalPath(reader.file)], into: &services, edge: &included, reader: reader, loaded: &loaded)
                }
            case "services":
                for service in readServices(value, reader: reader) { services[service.name] = service }
            case "endpoints":
                endpointsNode = value
            default:
                readEdgeSection(key, value, into: &edge, reader: reader)
            }
        }
        edge.fillMissing(from: included)
        if name == nil {
            reader.report(root, "the spec has no 'name'", hint: "add e.g. 'name: mobile' at the top")
        }
        let endpoints = endpointsNode.map { readEndpoints($0, reader: reader) } ?? []
        // Without a name the spec is still read and validated, so every other problem is listed too; load() then throws.
        var spec = ClientSpec(name: name ?? "", listen: listen, services: services, endpoints: endpoints, edge: edge.spec, file: reader.file)
        spec.adminListen = adminListen
        spec.includedFiles = loaded.sorted()
        spec.tls = tls
        spec.http2 = http2
        if let deadlines { spec.deadlines = deadlines }
        if let cacheStore { spec.cacheStore = cacheStore }
        spec.tracing = tracing
        return spec
    }

    private static func includeFiles(_ node: Node, reader: YAMLReader) -> [(path: String, node: Node)] {
        let items = node.sequence.map(Array.init) ?? [node]
        let directory = (reader.file as NSString).deletingLastPathComponent
        return items.compactMap { item in
            guard let relative = reader.string(item, what: "include") else { return nil }
            let path = relative.hasPrefix("/") ? relative : (directory as NSString).appendingPathComponent(relative)
            return (path, item)
        }
    }

    /// Reads an included catalogue's services; the including file's own services override them.
    ///
    /// A file reached twice by different paths (a diamond) is read once; a file that includes one of
    /// its own includers (`chain`) is a cycle and an error.
    private static func mergeInclude(
        _ include: (path: String, node: Node),
        chain: [String],
        into services: inout [String: ServiceSpec],
        edge: inout EdgeSections,
        reader: YAMLReader,
        loaded: inout Set<String>
    ) {
        let canonical = canonicalPath(include.path)
        if chain.contains(canonical) {
            let cycle = (chain.drop { $0 != canonical } + [canonical]).map { ($0 as NSString).lastPathComponent }
            reader.report(include.node, "includes form a cycle: \(cycle.joined(separator: " -> "))", hint: "remove one of these includes")
            return
        }
        guard loaded.insert(canonical).inserted else { return }
        guard let text = try? String(contentsOfFile: include.path, encoding: .utf8) else {
            reader.report(include.node, "cannot read included file '\(include.path)'", hint: "paths are relative to the including file")
            return
        }
        let included = YAMLReader(file: include.path)
        if let root = compose(text, reader: included, file: include.path),
            let members = included.mapping(root, what: "an included file", allowed: includeKeys)
        {
            var own = EdgeSections()
            var nestedEdge = EdgeSections()
            for (key, _, value) in members {
                switch key {
                case "include":
                    for nested in includeFiles(value, reader: included) {
                        mergeInclude(nested, chain: chain + [canonical], into: &services, edge: &nestedEdge, reader: included, loaded: &loaded)
                    }
                case "services":
                    for service in readServices(value, reader: included) where services[service.name] == nil {
                        services[service.name] = service
                    }
                default:
                    readEdgeSection(key, value, into: &own, reader: included)
                }
            }
            own.fillMissing(from: nestedEdge)
            edge.fillMissing(from: own)
        }
        reader.absorb(included.diagnostics)
    }

    private static func readServices(_ node: Node, reader: YAMLReader) -> [ServiceSpec] {
        guard let members = reader.mapping(node, what: "services", allowed: []) else { return [] }
        return members.compactMap { name, keyNode, value in
            guard TemplateVariable.isIdentifier(name) else {
                reader.report(keyNode, "service name '\(name)' is not a plain name", hint: "use letters, digits, '_' or '-'")
                return nil
            }
            guard let fields = reader.mapping(value, what: "service '\(name)'", allowed: serviceKeys) else { return nil }
            var url: UpstreamURL?
            var instances: [ServiceInstanceSpec]?
            var service = ServiceSpec(name: name, url: UpstreamURL("http://invalid")!, location: reader.location(of: keyNode))
            for (key, _, field) in fields {
                switch key {
                case "url":
                    let text = reader.string(field, what: "url") ?? ""
                    url = UpstreamURL(text)
                    if url == nil {
                        reader.report(field, "url '\(text)' of service '\(name)' is not an http(s) URL", hint: "write e.g. http://127.0.0.1:9001 (no user, query or fragment)")
                    }
                case "urls":
                    instances = readInstances(field, service: name, reader: reader)
                case "timeout": service.timeout = reader.duration(field, what: "timeout") ?? service.timeout
                case "connect_timeout": service.connectTimeout = reader.duration(field, what: "connect_timeout") ?? service.connectTimeout
                case "max_body": service.maxBodyBytes = reader.byteSize(field, what: "max_body") ?? service.maxBodyBytes
                case "ca_file":
                    if let relative = reader.string(field, what: "ca_file") {
                        let path = relative.hasPrefix("/") ? relative : ((reader.file as NSString).deletingLastPathComponent as NSString).appendingPathComponent(relative)
                        if FileManager.default.isReadableFile(atPath: path) {
                            service.caFile = path
                        } else {
                            reader.report(field, "ca_file '\(path)' cannot be read", hint: "give a PEM file of CA certificates, relative to this spec")
                        }
                    }
                case "grpc":
                    service.grpc = readGRPC(field, reader: reader)
                case "openapi":
                    service.openAPI = readServiceOpenAPI(field, reader: reader)
                default:
                    readResilience(key, field, into: &service, reader: reader)
                }
            }
            if url != nil && instances != nil {
                reader.report(keyNode, "service '\(name)' has both url and urls", hint: "keep one: 'url' for one instance, 'urls' for several")
            }
            guard let first = url ?? instances?.first?.url else {
                if !fields.contains(where: { $0.key == "url" || $0.key == "urls" }) {
                    reader.report(keyNode, "service '\(name)' has no url", hint: "add e.g. 'url: http://127.0.0.1:9001', or 'urls: [...]' for several instances")
                }
                return nil
            }
            service.url = first
            service.instances = instances ?? [ServiceInstanceSpec(url: first)]
            if Set(service.instances.map(\.url.isTLS)).count > 1 {
                reader.report(keyNode, "service '\(name)' mixes http and https instances", hint: "give every instance of one service the same scheme")
            }
            if service.caFile != nil && !first.isTLS {
                reader.report(keyNode, "service '\(name)' has a ca_file but an http url", hint: "use an https:// url, or drop ca_file")
            }
            return service
        }
    }

    private static func readEndpoints(_ node: Node, reader: YAMLReader) -> [EndpointSpec] {
        guard let items = reader.sequence(node, what: "endpoints") else { return [] }
        return items.compactMap { readEndpoint($0, reader: reader) }
    }

    private static func readEndpoint(_ node: Node, reader: YAMLReader) -> EndpointSpec? {
        guard let fields = reader.mapping(node, what: "an endpoint", allowed: endpointKeys) else { return nil }
        let location = reader.location(of: node)
        var route: RoutePattern?
        var timeout = EndpointSpec.defaultTimeout
        var callsNode: Node?, responseNode: Node?, proxyNode: Node?
        var meta = true
        var authMethods: [EndpointAuthSpec.Method]?
        var required: (roles: [String], scopes: [String], tlsSubjects: [String])?
        var requireNode: Node?
        var rateLimits: [RateLimitSpec] = []
        var cache: CacheSpec?
        for (key, _, value) in fields {
            switch key {
            case "route":
                guard let text = reader.string(value, what: "route") else { continue }
                do {
                    route = try RoutePattern.parse(text)
                } catch {
                    reader.report(value, error.message, hint: error.hint)
                }
            case "timeout": timeout = reader.duration(value, what: "timeout") ?? timeout
            case "calls": callsNode = value
            case "response": responseNode = value
            case "proxy": proxyNode = value
            case "meta": meta = reader.bool(value, what: "meta") ?? meta
            case "auth": authMethods = readEndpointAuth(value, reader: reader)
            case "require":
                required = readRequire(value, reader: reader)
                requireNode = value
            case "rate_limit": rateLimits = readRateLimitList(value, reader: reader)
            case "cache": cache = readCache(value, at: .endpoint, reader: reader)
            default: break
            }
        }
        var auth = authMethods.map { EndpointAuthSpec(methods: $0) }
        if let required, let requireNode {
            if (auth == nil || auth?.isPublic == true) && !(required.roles.isEmpty && required.scopes.isEmpty) {
                reader.report(requireNode, "'require' on a route without credentials names roles or scopes", hint: "add 'auth: jwt' (or api_key), or drop them")
            }
            // A client certificate is a credential of its own, so a route may require one with or without `auth:`.
            if auth == nil && !required.tlsSubjects.isEmpty { auth = EndpointAuthSpec(methods: [.none]) }
            auth?.roles = required.roles
            auth?.scopes = required.scopes
            auth?.tlsSubjects = required.tlsSubjects
        }
        guard let route else {
            if !fields.contains(where: { $0.key == "route" }) {
                reader.report(node, "endpoint has no route", hint: "add e.g. 'route: GET /dashboard/{id}'")
            }
            return nil
        }
        switch (callsNode, proxyNode) {
        case (let calls?, nil):
            let aggregate = AggregateSpec(
                calls: readCalls(calls, reader: reader),
                response: responseNode.map { readResponse($0, reader: reader) },
                meta: meta
            )
            return EndpointSpec(route: route, timeout: timeout, kind: .aggregate(aggregate), auth: auth, rateLimits: rateLimits, cache: cache, location: location)
        case (nil, let proxy?):
            if let responseNode { reader.report(responseNode, "a proxy route has no 'response'", hint: "remove it, or turn the route into calls") }
            guard let proxy = readProxy(proxy, reader: reader) else { return nil }
            return EndpointSpec(route: route, timeout: timeout, kind: .proxy(proxy), auth: auth, rateLimits: rateLimits, cache: cache, location: location)
        case (.some, .some):
            reader.report(node, "endpoint \(route) has both 'calls' and 'proxy'", hint: "an endpoint either aggregates calls or proxies to one service")
            return nil
        case (nil, nil):
            reader.report(node, "endpoint \(route) has neither 'calls' nor 'proxy'", hint: "add 'calls:' to aggregate or 'proxy:' to forward")
            return nil
        }
    }

    private static func readCalls(_ node: Node, reader: YAMLReader) -> [CallSpec] {
        guard let members = reader.mapping(node, what: "calls", allowed: []) else { return [] }
        return members.compactMap { name, keyNode, value in
            guard let fields = reader.mapping(value, what: "call '\(name)'", allowed: callKeys) else { return nil }
            var service: String?
            var path: Template?
            var call = CallSpec(name: name, service: "", path: Template(text: "/", parts: []), location: reader.location(of: keyNode))
            for (key, keyField, field) in fields {
                switch key {
                case "service": service = reader.string(field, what: "service")
                case "path": path = template(field, kind: .urlPath, reader: reader)
                case "method":
                    guard let method = reader.string(field, what: "method") else { continue }
                    guard GRPCServiceSpec.isMethodName(method) else {
                        reader.report(field, "method '\(method)' of call '\(name)' is not package.Service/Method", hint: "write e.g. 'method: users.v1.Users/GetUser'")
                        continue
                    }
                    call.method = method
                    if path != nil || fields.contains(where: { $0.key == "path" }) {
                        reader.report(keyField, "call '\(name)' has both 'method' and 'path'", hint: "a gRPC call names its method; its path follows from it")
                    }
                    path = Template(text: "/" + method, parts: [.literal("/" + method)])
                case "body": call.body = messageTemplate(field, reader: reader)
                case "timeout": call.timeout = reader.duration(field, what: "timeout")
                case "required": call.required = reader.bool(field, what: "required") ?? false
                case "fallback": call.fallback = reader.json(field)
                case "hedge": call.hedge = readHedge(field, reader: reader)
                case "cache": call.cache = readCache(field, at: .call(name), reader: reader)
                case "schema": call.schema = readCallSchema(field, call: name, reader: reader)
                case "headers":
                    for (header, _, headerValue) in reader.mapping(field, what: "headers of call '\(name)'", allowed: []) ?? [] {
                        if let value = template(headerValue, kind: .headerValue, reader: reader) {
                            call.headers.append((header, value))
                        }
                    }
                default: break
                }
            }
            guard let service, let path else {
                if service == nil && !fields.contains(where: { $0.key == "service" }) {
                    reader.report(keyNode, "call '\(name)' has no service", hint: "add 'service: <name from services>'")
                }
                if path == nil && !fields.contains(where: { $0.key == "path" || $0.key == "method" }) {
                    reader.report(keyNode, "call '\(name)' has no path", hint: "add e.g. 'path: /users/{path.id}', or 'method:' for a gRPC service")
                }
                return nil
            }
            call.service = service
            call.path = path
            return call
        }
    }

    private static func readResponse(_ node: Node, reader: YAMLReader) -> [ResponseFieldSpec] {
        guard let members = reader.mapping(node, what: "response", allowed: []) else { return [] }
        return members.compactMap { key, keyNode, value in
            var fromText: String?
            var field = ResponseFieldSpec(key: key, call: "", location: reader.location(of: keyNode))
            if value.scalar != nil {
                fromText = reader.string(value, what: "response field '\(key)'")
            } else {
                for (name, _, member) in reader.mapping(value, what: "response field '\(key)'", allowed: responseKeys) ?? [] {
                    switch name {
                    case "from": fromText = reader.string(member, what: "from")
                    case "limit": field.limit = reader.positiveInt(member, what: "limit")
                    case "fields":
                        field.fields = reader.sequence(member, what: "fields")?.compactMap { reader.string($0, what: "a field name") }
                    default: break
                    }
                }
            }
            guard let fromText, !fromText.isEmpty else {
                reader.report(keyNode, "response field '\(key)' has no 'from'", hint: "write e.g. 'from: user' or 'from: user.tier'")
                return nil
            }
            let components = fromText.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            field.call = components[0]
            field.path = Array(components.dropFirst())
            return field
        }
    }

    private static func readProxy(_ node: Node, reader: YAMLReader) -> ProxySpec? {
        guard let fields = reader.mapping(node, what: "proxy", allowed: proxyKeys) else { return nil }
        var service: String?, path: Template?, timeout: Duration?, websocket: WebSocketSpec?, forwardCredentials = false
        for (key, _, value) in fields {
            switch key {
            case "service": service = reader.string(value, what: "service")
            case "path": path = template(value, kind: .urlPath, reader: reader)
            case "timeout": timeout = reader.duration(value, what: "timeout")
            case "websocket": websocket = readWebSocket(value, reader: reader)
            case "forward_credentials": forwardCredentials = reader.bool(value, what: "forward_credentials") ?? false
            default: break
            }
        }
        guard let service else {
            reader.report(node, "proxy has no service", hint: "add 'service: <name from services>'")
            return nil
        }
        guard let path else {
            if !fields.contains(where: { $0.key == "path" }) {
                reader.report(node, "proxy has no path", hint: "add e.g. 'path: /users/{rest}'")
            }
            return nil
        }
        var proxy = ProxySpec(service: service, path: path, timeout: timeout)
        proxy.websocket = websocket
        proxy.forwardCredentials = forwardCredentials
        return proxy
    }

    private static func readWebSocket(_ node: Node, reader: YAMLReader) -> WebSocketSpec? {
        if node.scalar != nil { return reader.bool(node, what: "websocket") == true ? WebSocketSpec() : nil }
        guard let fields = reader.mapping(node, what: "websocket", allowed: websocketKeys) else { return nil }
        var websocket = WebSocketSpec()
        for (key, _, value) in fields {
            switch key {
            case "idle_timeout": websocket.idleTimeout = reader.duration(value, what: "websocket.idle_timeout") ?? websocket.idleTimeout
            case "max_message": websocket.maxMessageBytes = reader.byteSize(value, what: "websocket.max_message") ?? websocket.maxMessageBytes
            default: break
            }
        }
        return websocket
    }

    static func template(_ node: Node, kind: Template.Kind, reader: YAMLReader) -> Template? {
        guard let text = reader.string(node, what: "template") else { return nil }
        do {
            return try Template.parse(text, kind: kind)
        } catch {
            reader.report(node, error.message, hint: error.hint)
            return nil
        }
    }

    // MARK: Helpers

    /// `text` as a `redis://` URL, reported at `node` when it is not one (the rate limiter's
    /// `store` and `cache_store.redis` read the same form).
    ///
    /// - Parameter otherwise: the other value the field takes (`'memory'`), named in the message.
    static func redisURL(_ text: String, at node: Node, what: String, otherwise: String? = nil, reader: YAMLReader) -> RedisURL? {
        if let url = RedisURL(text) { return url }
        let expected = otherwise.map { "neither \($0) nor a redis:// URL" } ?? "not a redis:// URL"
        reader.report(node, "\(what) '\(text)' is \(expected)", hint: "write \(otherwise.map { "\($0) or " } ?? "")e.g. redis://127.0.0.1:6379/0 (password from BFF_REDIS_PASSWORD)")
        return nil
    }

    private static func canonicalPath(_ path: String) -> String {
        (path as NSString).standardizingPath
    }

    private static func yamlErrorLocation(_ error: YamlError, file: String) -> SourceLocation {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return SourceLocation(file: file, line: mark.line, column: mark.column)
        case .duplicatedKeysInMapping(_, let context):
            return SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
        default:
            return SourceLocation(file: file, line: 1)
        }
    }

    private static func yamlErrorSummary(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _):
            return problem
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate key(s) \(duplicates.sorted().joined(separator: ", ")) in one mapping"
        default:
            return "\(error)"
        }
    }
}
