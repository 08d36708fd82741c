import Crypto
import Foundation
import NIOCore
import Testing

@testable import BFFRuntime

@Suite("ETags of aggregated answers")
struct EntityTagTests {
    @Test("the tag's base64 is Foundation's, padding included, for every length")
    func base64() {
        var generator = SystemRandomNumberGenerator()
        for length in 0...40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let ours = bytes.withUnsafeBytes { EntityTag.base64($0) }
            #expect(ours == Data(bytes).base64EncodedString(), "length \(length)")
        }
    }
}

extension EntityTagTests {
    @Test("a tag covers the sections and each call's status and code, the same bytes as ever: tags clients hold stay valid")
    func stable() {
        let content = ByteBuffer(string: #"{"user":{"id":"u1"},"orders":[]}"#)
        let outcomes: [CallOutcome] = [
            .ok(http: 200, milliseconds: 1.5, body: ByteBuffer(string: "{}"), value: nil),
            .failed(.timeout, milliseconds: 300, fallback: nil, reason: "slow"),
            .failed(.error, http: 503, milliseconds: 2, fallback: nil, reason: "down"),
        ]
        var hash = SHA256()
        content.withUnsafeReadableBytes { hash.update(bufferPointer: $0) }
        hash.update(data: Array("ok:200;timeout:;error:503;".utf8))
        let expected = "W/\"" + Data(hash.finalize().prefix(16)).base64EncodedString() + "\""
        #expect(EntityTag.make(content: content, outcomes: outcomes) == expected)
        let otherTimings: [CallOutcome] = [
            .ok(http: 200, milliseconds: 9, body: ByteBuffer(string: "{}"), value: nil),
            .failed(.timeout, milliseconds: 1, fallback: nil, reason: "slow"),
            .failed(.error, http: 503, milliseconds: 7, fallback: nil, reason: "down"),
        ]
        #expect(EntityTag.make(content: content, outcomes: otherTimings) == expected)
    }
}
