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
        // Each call as `status:http;` (`status:;` without a code).
        var summary: [UInt8] = []
        summary.reserveCapacity(16 * outcomes.count)
        for outcome in outcomes {
            summary.append(contentsOf: outcome.status.rawValue.utf8)
            summary.append(UInt8(ascii: ":"))
            if let http = outcome.http { summary.append(contentsOf: String(http).utf8) }
            summary.append(UInt8(ascii: ";"))
        }
        hash.update(data: summary)
        return hash.finalize().withUnsafeBytes { digest in
            "W/\"" + base64(UnsafeRawBufferPointer(rebasing: digest.prefix(16))) + "\""
        }
    }

    private static let base64Alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding, as `Data.base64EncodedString()` writes it, without a `Data`.
    static func base64(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: (bytes.count + 2) / 3 * 4) { output in
            var written = 0
            var index = 0
            while index < bytes.count {
                let count = min(3, bytes.count - index)
                var group = UInt32(bytes[index]) << 16
                if count > 1 { group |= UInt32(bytes[index + 1]) << 8 }
                if count > 2 { group |= UInt32(bytes[index + 2]) }
                for position in 0..<4 {
                    output[written + position] =
                        position <= count ? base64Alphabet[Int((group >> UInt32(18 - 6 * position)) & 0x3F)] : UInt8(ascii: "=")
                }
                written += 4
                index += 3
            }
            return written
        }
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
