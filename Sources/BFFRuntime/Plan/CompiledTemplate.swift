import BFFSpec
import HTTPTypes

/// Why a template could not be filled for one request.
enum TemplateFillError: Error, Sendable {
    /// A request-derived value is missing or unusable: the client's fault, answered with 400.
    case badInput(variable: String, reason: String)
    /// A value from another call is missing or unusable: the dependent call cannot run.
    case unresolvedDependency(variable: String)
}

/// A ``Template`` compiled for the hot path: literals pre-joined, variables pre-classified.
struct CompiledTemplate: Sendable {
    enum Part: Sendable {
        case literal(String)
        case variable(TemplateVariable)
    }

    let parts: [Part]
    let variables: [TemplateVariable]

    init(_ template: Template) {
        parts = template.parts.map {
            switch $0 {
            case .literal(let text): return .literal(text)
            case .variable(let variable): return .variable(variable)
            }
        }
        variables = template.variables
    }

    /// Checks every request-derived variable, so bad input is refused before any call starts.
    func validateRequestInputs(_ inputs: RequestInputs, restCapture: String?) throws(TemplateFillError) {
        for variable in variables where variable.callDependency == nil {
            _ = try requestValue(variable, inputs: inputs, restCapture: restCapture)
        }
    }

    /// Fills the template; `results` gives the parsed JSON of finished calls by name.
    func render(
        inputs: RequestInputs,
        restCapture: String? = nil,
        results: (String) -> JSONValue?
    ) throws(TemplateFillError) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let text):
                out += text
            case .variable(let variable):
                if case .call(let name, let path) = variable.source {
                    let text = results(name)?.value(at: path)?.templateText ?? variable.defaultValue
                    guard let text else { throw .unresolvedDependency(variable: variable.text) }
                    if variable.placement == .pathSegment && Self.isUnsafeSegment(text) {
                        throw .unresolvedDependency(variable: variable.text)
                    }
                    try append(text, for: variable, to: &out)
                } else {
                    let value = try requestValue(variable, inputs: inputs, restCapture: restCapture)
                    if case .path(let name) = variable.source, name == restCapture, variable.placement == .pathSegment {
                        out += value.split(separator: "/", omittingEmptySubsequences: false).map(PercentEncoding.encode).joined(separator: "/")
                    } else {
                        try append(value, for: variable, to: &out)
                    }
                }
            }
        }
        return out
    }

    private func append(_ value: String, for variable: TemplateVariable, to out: inout String) throws(TemplateFillError) {
        switch variable.placement {
        case .pathSegment, .queryValue:
            PercentEncoding.append(value, to: &out)
        case .headerValue:
            guard Self.isSafeHeaderValue(value) else {
                throw .badInput(variable: variable.text, reason: "contains control characters")
            }
            out += value
        }
    }

    private func requestValue(_ variable: TemplateVariable, inputs: RequestInputs, restCapture: String?) throws(TemplateFillError) -> String {
        let found: String?
        switch variable.source {
        case .path(let name): found = inputs.captures[name]
        case .query(let name): found = inputs.query[name]
        case .header(let name): found = HTTPField.Name(name).flatMap { inputs.headers[$0] }
        case .auth(let name): found = inputs.claims[name]
        case .tlsSubject: found = inputs.tlsSubject
        case .call: return ""
        }
        guard let value = found ?? variable.defaultValue else {
            throw .badInput(variable: variable.text, reason: "is missing")
        }
        if variable.placement == .pathSegment {
            if case .path(let name) = variable.source, name == restCapture {
                if Self.hasUnsafeSegment(value) {
                    throw .badInput(variable: variable.text, reason: "has an empty or dot segment")
                }
            } else if Self.isUnsafeSegment(value) {
                throw .badInput(variable: variable.text, reason: "is empty, '.' or '..'")
            }
        }
        // Checked here too, not only when rendering, so the client's bad value is a 400 before any call starts.
        if variable.placement == .headerValue && !Self.isSafeHeaderValue(value) {
            throw .badInput(variable: variable.text, reason: "contains control characters")
        }
        return value
    }

    /// Header values may not carry control characters (CR/LF would start a new header).
    static func isSafeHeaderValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 >= 0x20 && $0 != 0x7F }
    }

    /// Whether any `/`-separated segment of `value` is empty, `.` or `..` (split on the bytes:
    /// `/` and `.` are ASCII, so a segment is one exactly when its characters are).
    static func hasUnsafeSegment(_ value: String) -> Bool {
        var length = 0
        var onlyDots = true
        for byte in value.utf8 {
            if byte == UInt8(ascii: "/") {
                if length == 0 || (onlyDots && length <= 2) { return true }
                length = 0
                onlyDots = true
            } else {
                length += 1
                if byte != UInt8(ascii: ".") { onlyDots = false }
            }
        }
        return length == 0 || (onlyDots && length <= 2)
    }

    /// Values that would change the meaning of a path once substituted: empty, `.` and `..`.
    static func isUnsafeSegment(_ value: some StringProtocol) -> Bool {
        value.isEmpty || value == "." || value == ".."
    }
}
