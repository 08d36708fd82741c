import Benchmark
import BFFSpec
@_spi(MicroBenchmarks) import BFFRuntime

/// Template expansion: every upstream call of an aggregation fills its path template from the
/// request's values, or from another call's answer, once per request.
func templateBenchmarks() {
    Benchmark("Template: path and query from the request") { benchmark, fill in
        let inputs = RequestInputs(captures: ["userId": "u-1234"], query: ["status": "open & shipped"])
        for _ in benchmark.scaledIterations {
            blackHole(fill.render(inputs: inputs) { _ in nil })
        }
    } setup: {
        try filling("/users/{path.userId}/orders?status={query.status}&limit={query.limit:10}") { _ in nil }
    }

    Benchmark("Template: from another call's answer") { benchmark, fill in
        let inputs = RequestInputs(captures: ["userId": "u-1234"])
        for _ in benchmark.scaledIterations {
            blackHole(fill.render(inputs: inputs) { $0 == "user" ? Samples.userValue : nil })
        }
    } setup: {
        try filling("/for/{user.tier}?region={user.address.country}&limit={query.recs:4}") { $0 == "user" ? Samples.userValue : nil }
    }
}

/// `text` compiled, once it has been checked to fill with the benchmark's inputs.
private func filling(_ text: String, results: (String) -> JSONValue?) throws -> HotPath.TemplateFill {
    let fill = HotPath.TemplateFill(try Template.parse(text, kind: .urlPath))
    guard fill.render(inputs: RequestInputs(captures: ["userId": "u-1234"], query: ["status": "open & shipped"]), results: results) != nil else {
        throw SetupFailure(description: "template '\(text)' does not fill from the benchmark's inputs")
    }
    return fill
}
