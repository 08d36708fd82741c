/// A JSON document as a value, keeping object keys in the order they were written.
///
/// Used for fallbacks declared in specs, for shaping call results, and for the `_meta` block.
/// Objects are ordered pair lists: BFF payloads are small, and order stability makes responses diffable.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    /// A number kept as the exact text the upstream sent, so large integers and decimals survive untouched.
    case numberText(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default:
            if let a = lhs.numberValue, let b = rhs.numberValue { return a == b }
            return false
        }
    }

    /// The member named `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first(where: { $0.0 == key })?.1
    }

    /// Follows a dotted path (`a.b.0.c`): object members by name, array elements by index.
    public func value(at path: some Collection<String>) -> JSONValue? {
        var current = self
        for component in path {
            switch current {
            case .object:
                guard let next = current[component] else { return nil }
                current = next
            case .array(let items):
                guard let index = Int(component), items.indices.contains(index) else { return nil }
                current = items[index]
            default:
                return nil
            }
        }
        return current
    }

    /// The numeric value of a number, whichever way it is stored.
    public var numberValue: Double? {
        switch self {
        case .number(let d): return d
        case .numberText(let text): return Double(text)
        default: return nil
        }
    }

    /// The text a scalar contributes when substituted into a template: strings as-is, numbers and
    /// booleans as their JSON text. Null, arrays and objects have none.
    public var templateText: String? {
        switch self {
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .numberText(let t): return t
        case .number(let d): return JSONValue.format(d)
        default: return nil
        }
    }

    static func format(_ d: Double) -> String {
        if d.rounded() == d, abs(d) < 1e15 { return String(Int64(d)) }
        return String(d)
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
    public init(nilLiteral: ()) { self = .null }
}
