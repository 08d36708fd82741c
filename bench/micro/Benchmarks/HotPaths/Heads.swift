import Benchmark
import BFFSpec
@_spi(MicroBenchmarks) import BFFRuntime
import NIOCore

/// Head parsing: the listener vets every client request head byte by byte and decodes a plain GET
/// itself; every buffered upstream call reads its answer's status line and field lines from the
/// socket's bytes. Both readers live as long as their connection, so each benchmark keeps one.
func headBenchmarks() {
    Benchmark("Request head: GET, 8 fields, vetted and decoded") { (benchmark, prepared: (heads: HotPath.RequestHeads, head: ByteBuffer)) in
        var heads = prepared.heads
        for _ in benchmark.scaledIterations {
            blackHole(heads.read(prepared.head))
        }
    } setup: {
        let head = ByteBuffer(string: Samples.requestHead)
        var heads = HotPath.RequestHeads(edge: EdgeSpec())
        guard heads.read(head) != nil, heads.read(head) != nil else {
            throw SetupFailure(description: "the sample request head is not decoded as a plain GET, head after head")
        }
        return (heads, head)
    }

    Benchmark("Upstream response: 200, 6 fields, 1.6 KB JSON") { (benchmark, prepared: (responses: HotPath.UpstreamResponses, wire: ByteBuffer)) in
        var responses = prepared.responses
        for _ in benchmark.scaledIterations {
            blackHole(responses.read(prepared.wire))
        }
    } setup: {
        let wire = Samples.responseWire(Samples.orders)
        var responses = HotPath.UpstreamResponses()
        guard responses.read(wire) != nil, responses.read(wire) != nil else {
            throw SetupFailure(description: "the sample upstream response does not parse, response after response")
        }
        return (responses, wire)
    }
}
