import NIOCore
import NIOEmbedded
import Testing

@testable import BFFRuntime

@Suite("Upstream: deadlines kept under one timer per loop")
struct LoopDeadlinesTests {
    /// The deadlines that passed, as `name#tag`, in order; one per test (tests run in parallel).
    final class Log {
        var entries: [String] = []
    }

    /// Work whose passed deadlines go to `log`; finished once `done`.
    final class Work: LoopDeadlineOwner {
        let name: String
        let log: Log
        var done = false

        init(_ name: String, _ log: Log) {
            self.name = name
            self.log = log
        }

        func isPast(deadline tag: Int) -> Bool { done }
        func deadlinePassed(_ tag: Int) { log.entries.append("\(name)#\(tag)") }
    }

    @Test("deadlines pass in deadline order whatever order they were added in, each once, and finished work is never told")
    func order() {
        let log = Log()
        let loop = EmbeddedEventLoop()
        let deadlines = LoopDeadlines(eventLoop: loop)
        let start = loop.now
        let slow = Work("slow", log), quick = Work("quick", log), beaten = Work("beaten", log), middle = Work("middle", log)
        deadlines.add(slow, tag: 1, at: start + .milliseconds(1000))
        deadlines.add(quick, tag: 2, at: start + .milliseconds(100))
        deadlines.add(beaten, tag: 3, at: start + .milliseconds(200))
        deadlines.add(middle, tag: 4, at: start + .milliseconds(500))
        beaten.done = true
        deadlines.finished()
        loop.advanceTime(by: .milliseconds(99))
        #expect(log.entries.isEmpty)
        loop.advanceTime(by: .milliseconds(1))
        #expect(log.entries == ["quick#2"])
        loop.advanceTime(by: .milliseconds(400))
        #expect(log.entries == ["quick#2", "middle#4"])
        loop.advanceTime(by: .milliseconds(1000))
        #expect(log.entries == ["quick#2", "middle#4", "slow#1"])
        #expect(deadlines.count == 0)
    }

    @Test("finished entries stuck behind a slow one are swept once they outnumber the live ones")
    func sweep() {
        let log = Log()
        let loop = EmbeddedEventLoop()
        let deadlines = LoopDeadlines(eventLoop: loop)
        let stuck = Work("stuck", log)
        deadlines.add(stuck, at: loop.now + .seconds(30))
        for index in 0..<1000 {
            let call = Work("call\(index)", log)
            deadlines.add(call, at: loop.now + .seconds(31))
            call.done = true
            deadlines.finished()
        }
        #expect(deadlines.count < 300, "finished entries are swept, not kept until the stuck one ends")
        loop.advanceTime(by: .seconds(31))
        #expect(log.entries == ["stuck#0"])
    }

    @Test("a closed queue drops its deadlines and takes no more")
    func close() {
        let log = Log()
        let loop = EmbeddedEventLoop()
        let deadlines = LoopDeadlines(eventLoop: loop)
        deadlines.add(Work("a", log), at: loop.now + .milliseconds(10))
        deadlines.close()
        deadlines.add(Work("b", log), at: loop.now + .milliseconds(10))
        loop.advanceTime(by: .seconds(1))
        #expect(log.entries.isEmpty)
        #expect(deadlines.count == 0)
    }
}
