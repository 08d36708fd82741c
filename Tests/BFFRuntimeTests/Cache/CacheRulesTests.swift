import BFFSpec
import HTTPTypes
import NIOCore
import NIOHTTP1
import Testing

@testable import BFFRuntime

/// The rules on their own: what may be stored and for how long, how keys keep callers apart, and
/// how `If-None-Match` is matched.
@Suite("Cache: storage rules, keys and ETags")
struct CacheRulesTests {
    static let here = SourceLocation(file: "test.yaml", line: 1)

    func lifetime(_ headers: [(String, String)], ttl: Duration? = .seconds(30), staleIfError: Duration = .seconds(60)) -> (lifetime: CacheLifetime, age: Duration)? {
        StoragePolicy.lifetime(of: HTTPHeaders(headers), spec: CacheSpec(ttl: ttl, staleIfError: staleIfError, location: Self.here))
    }

    @Test("answers that set a cookie, or say private, no-store or no-cache, are never stored, whatever the spec's ttl")
    func neverStored() {
        #expect(lifetime([]) != nil)
        #expect(lifetime([("Set-Cookie", "session=abc")]) == nil)
        #expect(lifetime([("Cache-Control", "private, max-age=60")]) == nil)
        #expect(lifetime([("Cache-Control", "max-age=60, NO-STORE")]) == nil)
        #expect(lifetime([("Cache-Control", #"no-cache="Set-Cookie""#)]) == nil)
        #expect(lifetime([("cache-control", "public"), ("cache-control", "private")]) == nil, "every Cache-Control field counts")
    }

    @Test("without a ttl in the spec, s-maxage wins over max-age, Age is subtracted, and no freshness means no storing")
    func honoursUpstream() {
        #expect(lifetime([("Cache-Control", "max-age=120")], ttl: nil)?.lifetime.ttl == .seconds(120))
        #expect(lifetime([("Cache-Control", "max-age=120, s-maxage=10")], ttl: nil)?.lifetime.ttl == .seconds(10))
        let aged = lifetime([("Cache-Control", "max-age=120"), ("Age", "100")], ttl: nil)
        #expect(aged?.age == .seconds(100))
        #expect(lifetime([("Cache-Control", "max-age=120"), ("Age", "200")], ttl: nil) == nil, "already stale when it arrived")
        #expect(lifetime([("Cache-Control", "max-age=0")], ttl: nil) == nil)
        #expect(lifetime([("Cache-Control", "public")], ttl: nil) == nil)
        #expect(lifetime([], ttl: nil) == nil)
        #expect(lifetime([("Cache-Control", "max-age=5")])?.lifetime.ttl == .seconds(30), "the spec's ttl overrides the service's")
    }

    @Test("must-revalidate takes away the stale windows")
    func mustRevalidate() {
        #expect(lifetime([])?.lifetime.staleIfError == .seconds(60))
        #expect(lifetime([("Cache-Control", "must-revalidate")])?.lifetime.staleIfError == .zero)
        #expect(lifetime([("Cache-Control", "proxy-revalidate")])?.lifetime.staleWhileRevalidate == .zero)
    }

    @Test("keys keep callers apart and escape what could fake a separator")
    func keys() {
        let jwt = Principal(method: .jwt, subject: "u1")
        let partner = Principal(method: .apiKey, subject: "acme", clientID: "acme")
        #expect(CacheScope(principal: jwt, carriesCredentials: true, shared: false) == .subject("u1"))
        #expect(CacheScope(principal: partner, carriesCredentials: true, shared: false) == .client("acme"))
        #expect(CacheScope(principal: jwt, carriesCredentials: true, shared: true) == .shared)
        #expect(CacheScope(principal: nil, carriesCredentials: false, shared: false) == .anonymous)
        #expect(CacheScope(principal: nil, carriesCredentials: true, shared: false) == nil, "credentials nobody verified bypass the cache")

        #expect(CacheKey.call(service: "users", target: "/users/u1?x=1", vary: [], scope: .subject("u1")) == "call users GET /users/u1?x=1 | sub=u1")
        #expect(
            CacheKey.call(service: "users", target: "/u", vary: [("accept-language", "en, de")], scope: .anonymous)
                == "call users GET /u | accept-language=en%2C%20de | anonymous"
        )
        let sneaky = CacheKey.call(service: "users", target: "/u", vary: [], scope: .subject("u1 | sub=u2"))
        #expect(sneaky == "call users GET /u | sub=u1%20%7C%20sub%3Du2")
        #expect(
            CacheKey.endpoint(path: "/dashboard/u1", query: [("limit", "5")], inputs: [("header.accept-language", "en")], scope: .client("acme"))
                == "endpoint GET /dashboard/u1?limit=5 | header.accept-language=en | client=acme"
        )
    }

    @Test("Vary names are read lowercased and sorted; Vary: * cannot be keyed")
    func vary() {
        #expect(CacheKey.varyNames(HTTPHeaders([("Vary", "Accept-Language, X-Tenant"), ("vary", "accept-language")])) == ["accept-language", "x-tenant"])
        #expect(CacheKey.varyNames(HTTPHeaders([("Vary", "Origin, *")])) == nil)
        #expect(CacheKey.varyNames(HTTPHeaders()) == [])
        let values = CacheKey.varyValues(["accept-language", "x-tenant"], in: HTTPHeaders([("Accept-Language", "en")]))
        #expect(values.map(\.value) == ["en", ""])
    }

    @Test("credential headers: Authorization and the API key header on the client request; Cookie too on the request to a service")
    func credentials() {
        let credentials = CredentialHeaders(apiKeyHeader: "X-Partner-Key")
        #expect(credentials.present(in: HTTPFields([HTTPField(name: .authorization, value: "Bearer x")])))
        #expect(credentials.present(in: HTTPFields([HTTPField(name: HTTPField.Name("x-partner-key")!, value: "k")])))
        #expect(!credentials.present(in: HTTPFields([HTTPField(name: .cookie, value: "a=b")])))
        #expect(credentials.present(in: HTTPHeaders([("Cookie", "session=1")])))
        #expect(!credentials.present(in: HTTPHeaders([("X-User-Id", "u1")])))
    }

    @Test("If-None-Match matches by weak comparison, in lists, and *")
    func ifNoneMatch() {
        let body = ByteBuffer(string: #"{"a":1"#)
        let tag = EntityTag.make(content: body, outcomes: [])
        #expect(tag.hasPrefix("W/\"") && tag.hasSuffix("\""))
        #expect(EntityTag.matches(tag, tag))
        #expect(EntityTag.matches(String(tag.dropFirst(2)), tag), "a strong form of the same tag matches weakly")
        #expect(EntityTag.matches(#""other", "#, tag) == false)
        #expect(EntityTag.matches(#""other",  \#(tag)"#, tag))
        #expect(EntityTag.matches("*", tag))
        #expect(EntityTag.matches("", tag) == false)
        #expect(EntityTag.make(content: ByteBuffer(string: #"{"a":2"#), outcomes: []) != tag)
    }

    @Test("the ETag leaves out timings, ages and sources but not how each call ended")
    func tagCoversStatuses() {
        let body = ByteBuffer(string: #"{"a":[]"#)
        var ok = CallOutcome.ok(http: 200, milliseconds: 3, body: body, value: nil)
        let first = EntityTag.make(content: body, outcomes: [ok])
        ok.milliseconds = 90
        ok.ageSeconds = 4
        ok.source = .cache
        #expect(EntityTag.make(content: body, outcomes: [ok]) == first)
        let failed = CallOutcome.failed(.error, http: 503, milliseconds: 3, fallback: [], reason: "down")
        #expect(EntityTag.make(content: body, outcomes: [failed]) != first)
    }
}
