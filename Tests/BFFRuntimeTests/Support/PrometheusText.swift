/// Reads values out of a Prometheus text exposition.
enum PrometheusText {
    /// The value of the series `name` whose labels include every one of `labels`; nil if absent.
    static func value(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " ") else { continue }
            let series = line[..<space]
            let seriesName = series.firstIndex(of: "{").map { series[..<$0] } ?? series
            guard seriesName == name else { continue }
            guard labels.allSatisfy({ series.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            return Double(line[line.index(after: space)...])
        }
        return nil
    }
}
