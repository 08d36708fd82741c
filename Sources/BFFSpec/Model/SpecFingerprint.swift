/// A value's structure as text, without where it was written: two parts of two specs with the same
/// fingerprint mean the same thing, though lines moved between them. A reload compares fingerprints
/// to keep what did not change (a service's pools and breakers, the rate limiter's counts).
///
/// Dictionary and set members are sorted, so the fingerprint does not depend on hashing order;
/// every ``SourceLocation`` is left out.
///
/// ```swift
/// SpecFingerprint.of(old.services["users"]) == SpecFingerprint.of(new.services["users"])
/// ```
public enum SpecFingerprint {
    public static func of(_ value: Any) -> String {
        var text = ""
        write(value, to: &text)
        return text
    }

    private static func write(_ value: Any, to text: inout String) {
        if value is SourceLocation { return }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let some = mirror.children.first {
                write(some.value, to: &text)
            } else {
                text += "nil"
            }
        case .dictionary:
            let members = mirror.children.map { member -> (String, String) in
                let pair = Mirror(reflecting: member.value).children.map(\.value)
                return (of(pair[0]), of(pair[1]))
            }
            text += "["
            for (key, value) in members.sorted(by: { $0.0 < $1.0 }) { text += key + ":" + value + "," }
            text += "]"
        case .set:
            text += "{" + mirror.children.map { of($0.value) }.sorted().joined(separator: ",") + "}"
        case .collection, .tuple:
            text += "("
            for child in mirror.children {
                write(child.value, to: &text)
                text += ","
            }
            text += ")"
        case .struct, .class, .enum:
            text += String(describing: mirror.subjectType)
            if mirror.displayStyle == .enum, mirror.children.isEmpty {
                text += "." + String(describing: value)
                return
            }
            text += "("
            for child in mirror.children {
                if child.value is SourceLocation || child.value is SourceLocation? { continue }
                text += (child.label ?? "") + ":"
                write(child.value, to: &text)
                text += ","
            }
            text += ")"
        default:
            text += String(reflecting: value)
        }
    }
}
