import Crypto
import Foundation
import NIOCore

/// The ETag of aggregated answers and the `If-None-Match` check (RFC 9110 8.8.3, 13.1.2).
///
/// The tag is weak (`W/"…"`): it covers the answer's sections and how each call ended (status and
/// HTTP code), and leaves out the timings, ages and sources in `_meta`, which differ from one
/// request to the next (a miss, then hits) while the data does not. A strong tag over every byte would never match twice, and
/// `If-None-Match` compares weakly anyway, so a client polling an unchanged page gets 304s.
enum EntityTag {
    /// The tag of an answer whose sections are `content` and whose calls ended as `outcomes`.
    static func make(content: ByteBuffer, outcomes: [CallOutcome]) -> String {
        var hash = SHA256()
        content.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        var summary = ""
        for outcome in outcomes {
            summary += outcome.status.rawValue
            summary += outcome.http.map { ":\($0);" } ?? ":;"
        }
        hash.update(data: Array(summary.utf8))
        return "W/\"" + Data(hash.finalize().prefix(16)).base64EncodedString() + "\""
    }

    /// Whether `ifNoneMatch` (`*`, or a list of tags) names `tag`, comparing weakly: `W/"x"` and
    /// `"x"` match. Malformed members match nothing.
    static func matches(_ ifNoneMatch: String, _ tag: String) -> Bool {
        let opaque = tag.hasPrefix("W/") ? tag.dropFirst(2) : Substring(tag)
        for member in ifNoneMatch.split(separator: ",") {
            let candidate = member.trimmingWhitespace
            if candidate == "*" { return true }
            let candidateOpaque = candidate.hasPrefix("W/") ? candidate.dropFirst(2) : candidate
            if candidateOpaque == opaque { return true }
        }
        return false
    }
}
