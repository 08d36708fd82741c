import Benchmark

/// Every benchmark runs one request's worth of one hot piece per inner iteration, so the table
/// reads per operation: time, and heap allocations (`mallocCountTotal`, from the malloc interposer).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        warmupIterations: 3,
        scalingFactor: .kilo,
        maxDuration: .seconds(1),
        maxIterations: 10_000,
        thresholds: [
            // Times move with the machine's neighbours: a regression is a median a quarter slower.
            .wallClock: BenchmarkThresholds(relative: BenchmarkThresholds.Relative.relaxed),
            .throughput: BenchmarkThresholds(relative: BenchmarkThresholds.Relative.relaxed),
            // Allocation counts do not: one more allocation per operation is a regression.
            .mallocCountTotal: BenchmarkThresholds(absolute: [.p50: 0]),
        ]
    )
    templateBenchmarks()
    headBenchmarks()
    aggregateBodyBenchmarks()
    jwtBenchmarks()
}

/// Why a benchmark's setup could not prepare the success path it means to measure.
struct SetupFailure: Error, CustomStringConvertible {
    let description: String
}
