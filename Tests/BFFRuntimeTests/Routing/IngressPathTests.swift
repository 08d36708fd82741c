import Testing

@testable import BFFRuntime

/// Path normalisation before routing, and the segment rule for rest captures, both read on the bytes.
@Suite("Routing: ingress paths")
struct IngressPathTests {
    static func segments(_ path: String) -> [String]? {
        (try? IngressPath(Substring(path)))?.segments.map(String.init)
    }

    @Test("segments are split on slashes, empty ones dropped, dot segments resolved")
    func normalisation() {
        #expect(Self.segments("/proxy/users/u1") == ["proxy", "users", "u1"])
        #expect(Self.segments("/") == [])
        #expect(Self.segments("//a///b/") == ["a", "b"])
        #expect(Self.segments("/a/./b/../c") == ["a", "c"])
        #expect(Self.segments("/../a") == ["a"])
        #expect(Self.segments("/a/.../b") == ["a", "...", "b"])
        #expect(Self.segments("/caf\u{E9}/\u{1F600}") == ["caf\u{E9}", "\u{1F600}"])
        #expect(Self.segments("/a%20b/c") == ["a%20b", "c"], "escapes stay for the router to decode")
    }

    @Test("not absolute, an encoded slash or dot segment, a bad escape or an encoded NUL is refused")
    func refusals() {
        for path in ["a/b", "", "/a%2Fb", "/a%5cb", "/%2e%2e/x", "/%2E", "/a%zz", "/a%00b", "/a%"] {
            #expect(Self.segments(path) == nil, "\(path)")
        }
    }

    @Test("a rest capture's value is unsafe when any segment is empty, '.' or '..'")
    func unsafeSegments() {
        for value in ["", "a//b", "a/./b", "a/../b", "./a", "a/", "/a", "a/..", ".", ".."] {
            #expect(CompiledTemplate.hasUnsafeSegment(value), "\(value.debugDescription)")
        }
        for value in ["a", "a/b", "a/.../b", ".a/b.", "caf\u{E9}/\u{FC}", "a/..b"] {
            #expect(!CompiledTemplate.hasUnsafeSegment(value), "\(value.debugDescription)")
        }
    }
}
