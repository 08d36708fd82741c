import Foundation

/// The fixed "now" of the seeded data, so timestamps are identical on every run.
enum SeedClock {
    /// 2025-06-01T12:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_748_779_200)

    /// An ISO 8601 timestamp relative to the seed's "now".
    ///
    /// - Parameter minutes: Minutes after now; negative for the past.
    static func timestamp(minutesFromNow minutes: Int) -> String {
        now.addingTimeInterval(TimeInterval(minutes * 60)).formatted(.iso8601)
    }
}
