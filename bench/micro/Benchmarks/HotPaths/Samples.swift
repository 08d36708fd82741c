import BFFSpec
import NIOCore

/// What the benchmarks feed the hot paths: a spec with two aggregations, services' answers of
/// typical sizes, and heads as clients and services send them.
enum Samples {
    static let spec = """
        name: micro
        services:
          users: { url: http://127.0.0.1:9001 }
          orders: { url: http://127.0.0.1:9002 }
          notifications: { url: http://127.0.0.1:9003 }
          recommendations: { url: http://127.0.0.1:9004 }
        endpoints:
          - route: GET /dashboard/{userId}
            calls:
              user: { service: users, path: "/users/{path.userId}" }
              orders: { service: orders, path: "/orders?user={path.userId}" }
              notifications: { service: notifications, path: "/notifications?user={path.userId}" }
          - route: GET /home/{userId}
            calls:
              user: { service: users, path: "/users/{path.userId}" }
              orders: { service: orders, path: "/orders?user={path.userId}&limit=3" }
              notifications: { service: notifications, path: "/notifications?user={path.userId}" }
              recs: { service: recommendations, path: "/for/{user.tier}?limit={query.recs:4}" }
            response:
              profile: { from: user, fields: [id, name, avatar, tier] }
              orders: { from: orders, fields: [id, total, currency, status], limit: 3 }
              unread: { from: notifications.unread }
              recs: { from: recs, limit: 4 }
        """

    /// A user profile, about 250 bytes.
    static let user = """
        {"id":"u-1234","name":"Ada Lovelace","email":"ada@example.com","avatar":"https://cdn.example.com/avatars/u-1234.png",\
        "tier":"gold","joined":"2019-03-14T09:26:53Z","address":{"street":"12 St James's Square","city":"London","country":"GB"}}
        """

    static let userValue = try! JSONParser.parse(user)

    /// Ten orders, about 1.6 KB.
    static let orders = "[" + (1...10).map { n in
        """
        {"id":"o-10\(n)","total":\(n * 17).95,"currency":"EUR","status":"\(n % 3 == 0 ? "open" : "shipped")",\
        "placed_at":"2026-10-\(10 + n)T12:00:00Z","items":[{"sku":"sku-\(n)1","qty":1},{"sku":"sku-\(n)2","qty":\(n)}]}
        """
    }.joined(separator: ",") + "]"

    /// Unread count and five notifications, about 350 bytes.
    static let notifications = #"{"unread":3,"items":["# + (1...5).map { n in
        #"{"id":"n-\#(n)","text":"Your order o-10\#(n) has shipped","read":\#(n > 3)}"#
    }.joined(separator: ",") + "]}"

    /// Eight recommended products, about 700 bytes.
    static let recommendations = "[" + (1...8).map { n in
        #"{"id":"p-\#(n)","name":"Product \#(n)","price":\#(n * 3).99,"image":"https://cdn.example.com/p/\#(n).jpg"}"#
    }.joined(separator: ",") + "]"

    /// A mobile app's GET with a bearer token, as it reaches the listener.
    static let requestHead = [
        "GET /home/u-1234?recs=4 HTTP/1.1",
        "Host: api.example.com",
        "User-Agent: ExampleApp/5.2.1 (iPhone; iOS 18.1; Scale/3.00)",
        "Accept: application/json",
        "Accept-Encoding: gzip, deflate, br",
        "Accept-Language: en-GB;q=1.0, de-DE;q=0.9",
        "Authorization: Bearer " + String(repeating: "eyJhbGciOiJFUzI1NiJ9", count: 15),
        "X-Request-ID: 7f3c9a52-1d4e-4b8a-9f6e-2c1b0a9d8e7f",
        "Connection: keep-alive",
        "", "",
    ].joined(separator: "\r\n")

    /// A service's 200 answer carrying `body`, as a pooled connection reads it.
    static func responseWire(_ body: String) -> ByteBuffer {
        let head = [
            "HTTP/1.1 200 OK",
            "Content-Type: application/json; charset=utf-8",
            "Content-Length: \(body.utf8.count)",
            "Date: Fri, 20 Nov 2026 21:00:00 GMT",
            "Cache-Control: private, max-age=30",
            "X-Request-ID: 7f3c9a52-1d4e-4b8a-9f6e-2c1b0a9d8e7f",
            "Connection: keep-alive",
            "", "",
        ].joined(separator: "\r\n")
        return ByteBuffer(string: head + body)
    }
}
