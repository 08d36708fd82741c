import Benchmark
import BFFSpec
@_spi(MicroBenchmarks) import BFFRuntime
import NIOCore

/// JSON splice and shape: once an aggregation's calls have answered, each answer is validated and
/// copied into the body byte for byte, or parsed and cut down to what the spec's `response:` asks
/// for (path, fields, limit), and `_meta` is written after the sections.
func aggregateBodyBenchmarks() {
    Benchmark("Aggregate body: 3 answers spliced, with _meta") { benchmark, composition in
        for _ in benchmark.scaledIterations {
            blackHole(composition.body.compose(composition.answers))
        }
    } setup: {
        try Composition(route: "/dashboard/{userId}", answers: [Samples.user, Samples.orders, Samples.notifications])
    }

    Benchmark("Aggregate body: 4 answers shaped, with _meta") { benchmark, composition in
        for _ in benchmark.scaledIterations {
            blackHole(composition.body.compose(composition.answers))
        }
    } setup: {
        try Composition(route: "/home/{userId}", answers: [Samples.user, Samples.orders, Samples.notifications, Samples.recommendations])
    }
}

/// One aggregation of ``Samples/spec`` and its calls' answers, read from the wire as the gateway reads them.
private struct Composition {
    let body: HotPath.AggregateBody
    let answers: [UpstreamResponse]

    init(route: String, answers bodies: [String]) throws {
        let spec = try SpecLoader.load(yaml: Samples.spec, file: "micro.yaml")
        guard let endpoint = spec.endpoints.first(where: { $0.route.path == route }), case .aggregate(let aggregate) = endpoint.kind else {
            throw SetupFailure(description: "micro.yaml has no aggregation at \(route)")
        }
        body = HotPath.AggregateBody(aggregate: aggregate)
        var responses = HotPath.UpstreamResponses()
        answers = try bodies.map { text in
            guard let answer = responses.read(Samples.responseWire(text)) else { throw SetupFailure(description: "a sample answer for \(route) does not parse") }
            return answer
        }
    }
}
