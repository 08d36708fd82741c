import Foundation

/// CORS origin patterns: `https://shop.example.com`, `http://localhost:5173`, or
/// `https://*.example.com` where `*` stands for exactly one DNS label.
public enum CORSOriginPattern {
    /// Whether a spec's origin pattern is well-formed.
    public static func isValid(_ pattern: String) -> Bool {
        guard let (scheme, host, port) = split(pattern) else { return false }
        guard scheme == "http" || scheme == "https", port.map({ Int($0).map { (1...65535).contains($0) } ?? false }) ?? true else { return false }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return labels.enumerated().allSatisfy { index, label in
            (label == "*" && index == 0 && labels.count >= 3) || (!label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") })
        }
    }

    /// Whether a request's `Origin` matches `pattern`: exactly, case-insensitively on host and
    /// scheme, with a leading `*.` matching one label, never `null`, never a suffix or prefix look-alike.
    public static func matches(_ origin: String, pattern: String) -> Bool {
        if pattern == "*" { return origin != "null" && split(origin) != nil }
        guard let (os, oh, op) = split(origin.lowercased()), let (ps, ph, pp) = split(pattern.lowercased()), os == ps, op == pp else { return false }
        if ph.hasPrefix("*.") {
            let suffix = ph.dropFirst(1)
            guard oh.hasSuffix(suffix) else { return false }
            let label = oh.dropLast(suffix.count)
            return !label.isEmpty && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
        return oh == ph
    }

    private static func split(_ origin: String) -> (scheme: Substring, host: Substring, port: Substring?)? {
        guard let separator = origin.range(of: "://") else { return nil }
        let scheme = origin[..<separator.lowerBound]
        let authority = origin[separator.upperBound...]
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@"), !authority.contains("?"), !authority.contains("#") else { return nil }
        if let colon = authority.lastIndex(of: ":") {
            return (scheme, authority[..<colon], authority[authority.index(after: colon)...])
        }
        return (scheme, authority, nil)
    }
}
