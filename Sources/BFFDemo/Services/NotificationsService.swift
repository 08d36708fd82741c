import Hummingbird

/// The notifications service: each customer's inbox.
///
/// `GET /notifications?user=ID` answers a ``NotificationInbox``; unknown users have an empty one.
struct NotificationsService: DemoBackend {
    let name = "notifications"

    func addRoutes(to router: Router<DemoRequestContext>) {
        router.get("/notifications") { request, _ in
            let user = try request.requiredQueryParameter("user", example: "?user=u1")
            return DemoSeed.notificationsByUser[user] ?? NotificationInbox(unread: 0, items: [])
        }
    }
}

/// A customer's notifications, newest first.
struct NotificationInbox: ResponseEncodable, Sendable {
    /// How many of the newest ``items`` are unread.
    let unread: Int
    let items: [NotificationItem]
}

/// One notification.
struct NotificationItem: Encodable, Sendable {
    let id: String
    let text: String
    /// When it was sent.
    let at: String
}
