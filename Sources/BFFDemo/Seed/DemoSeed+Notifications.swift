extension DemoSeed {
    /// Up to six notifications per user id, newest first, the newest few unread.
    static let notificationsByUser: [String: NotificationInbox] = {
        let messages: [(String) -> String] = [
            { "Price drop: \($0) is now cheaper" },
            { "\($0) is back in stock" },
            { "Someone answered your question about \($0)" },
            { "Rate your recent purchase: \($0)" },
        ]
        var generator = SeededGenerator(label: "notifications")
        var nextNumber = 1
        var inboxes: [String: NotificationInbox] = [:]
        for user in users {
            var items: [NotificationItem] = []
            var minutesAgo = generator.int(in: 5...240)
            for _ in 0..<generator.int(in: 0...6) {
                let message = generator.element(of: messages)
                items.append(
                    NotificationItem(
                        id: "n\(nextNumber)",
                        text: message(generator.element(of: products).name),
                        at: SeedClock.timestamp(minutesFromNow: -minutesAgo)
                    )
                )
                nextNumber += 1
                minutesAgo += generator.int(in: 60...4_000)
            }
            inboxes[user.id] = NotificationInbox(unread: generator.int(in: 0...items.count), items: items)
        }
        return inboxes
    }()
}
