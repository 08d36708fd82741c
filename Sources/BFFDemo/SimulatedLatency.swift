/// The small, fixed latency every demo API request gets, so fan-out timings look like a network.
enum SimulatedLatency {
    /// The latency bounds in milliseconds.
    static let millisecondRange = 2...15

    /// The latency for a request path: always the same for the same path, so runs are reproducible.
    ///
    /// - Parameter path: The request path without its query.
    static func duration(forPath path: String) -> Duration {
        var generator = SeededGenerator(label: path)
        return .milliseconds(generator.int(in: millisecondRange))
    }
}
