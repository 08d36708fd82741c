import BFFSpec
import Testing

@Suite("CallGraph")
struct CallGraphTests {
    func call(_ name: String, path: String) throws -> CallSpec {
        CallSpec(name: name, service: "s", path: try Template.parse(path, kind: .urlPath), location: SourceLocation(file: "t.yaml", line: 1))
    }

    @Test("A -> (B || C): B and C depend on A, A has both as dependents")
    func fanOut() throws {
        let graph = CallGraph(calls: [
            try call("a", path: "/a/{path.id}"),
            try call("b", path: "/b/{a.id}"),
            try call("c", path: "/c?tier={a.tier}&id={a.id}"),
            try call("d", path: "/d"),
        ])

        #expect(graph.names == ["a", "b", "c", "d"])
        #expect(graph.dependencies == [[], [0], [0], []])
        #expect(graph.dependents == [[1, 2], [], [], []])
        #expect(graph.cycle() == nil)
    }

    @Test("header templates are dependencies too; unknown calls are left out")
    func headersAndUnknownCalls() throws {
        var b = try call("b", path: "/b/{zzz.id}")
        b.headers = [("x-tier", try Template.parse("{a.tier}", kind: .headerValue))]
        let graph = CallGraph(calls: [try call("a", path: "/a"), b])

        #expect(b.dependencies == ["a", "zzz"])
        #expect(graph.dependencies == [[], [0]])
        #expect(graph.dependents == [[1], []])
    }

    @Test("cycles are found with their path, first call repeated at the end")
    func cycles() throws {
        let twoCycle = CallGraph(calls: [try call("a", path: "/a/{b.id}"), try call("b", path: "/b/{a.id}")])
        #expect(twoCycle.cycle() == ["a", "b", "a"])

        let selfLoop = CallGraph(calls: [try call("a", path: "/a/{a.id}")])
        #expect(selfLoop.cycle() == ["a", "a"])

        let tail = CallGraph(calls: [
            try call("root", path: "/r"),
            try call("x", path: "/x/{root.id}/{z.id}"),
            try call("y", path: "/y/{x.id}"),
            try call("z", path: "/z/{y.id}"),
        ])
        #expect(tail.cycle() == ["x", "z", "y", "x"])
    }

    @Test("a chain is not a cycle")
    func chain() throws {
        let graph = CallGraph(calls: [try call("c", path: "/c/{b.id}"), try call("b", path: "/b/{a.id}"), try call("a", path: "/a")])
        #expect(graph.dependencies == [[1], [2], []])
        #expect(graph.dependents == [[], [0], [1]])
        #expect(graph.cycle() == nil)
    }
}
