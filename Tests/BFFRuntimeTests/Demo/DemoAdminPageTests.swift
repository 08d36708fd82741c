import BFFSpec
import Foundation
import Testing

extension ExecutableTests.Demo {
    /// web-bff's admin page in headless Chromium (Tests/Scripts/admin_page_probe.py, over the
    /// DevTools protocol) while `bff demo` serves product pages: switching recommendations to slow
    /// must turn the `related` call of `/products/{id}` red, read from the page's DOM.
    @Test("the admin page shows a call's timeout share rising when its service turns slow, read from the DOM in headless Chromium")
    func adminPageShowsDegradation() async throws {
        guard let chromium = Self.onPath("chromium") else {
            Issue.record("chromium is not installed (apt-get install chromium; .ci/run installs it)")
            return
        }
        let python = try #require(Self.onPath("python3"), "python3 runs the DevTools probe")
        let demo = try Self.start([])
        defer { demo.kill() }
        let page = "http://127.0.0.1:8082/products/p1"
        let up = await eventually(within: .seconds(15)) {
            let served = await ExecutableTests.status(page) == 200
            return served ? await ExecutableTests.status("http://127.0.0.1:9082/admin/status.json") == 200 : false
        }
        try #require(up, "bff demo did not serve web's product page and its admin listener")

        // Ten product pages a second, each on its own, so slow answers do not slow the pace.
        let traffic = Task {
            await withTaskGroup(of: Void.self) { requests in
                while !Task.isCancelled {
                    requests.addTask { _ = await ExecutableTests.status(page) }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
        defer { traffic.cancel() }

        let screenshot = ExecutableTests.repositoryRoot.appendingPathComponent(".build/admin-page/degrading.png").path
        // At a lower priority: Chromium is heavy, and the suites running beside this one keep their timing.
        let probe = try await ExecutableTests.run(
            URL(fileURLWithPath: "/usr/bin/nice"),
            [
                "-n", "10", python.path,
                ExecutableTests.repositoryRoot.appendingPathComponent("Tests/Scripts/admin_page_probe.py").path,
                "--chromium", chromium.path, "--page", "http://127.0.0.1:9082/admin/", "--route", "/products/{id}", "--call", "related",
                "--service", "recommendations", "--trigger", "http://127.0.0.1:9107/_demo/mode?state=slow&delay=1500", "--until", "0.5",
                "--screenshot", screenshot, "--deadline", "30",
            ]
        )
        traffic.cancel()
        try #require(probe.status == 0, "the probe: \(probe.output) \(probe.errors.suffix(2000))")
        let report = try JSONParser.parse(probe.output)

        let baseline = try #require(report["baseline"])
        #expect((baseline["polls"]?.numberValue ?? 0) >= 3, "the page polled at least three times before the switch")
        #expect(Self.share(baseline, "timeoutShare") == 0, "no timeouts before recommendations turned slow: \(baseline)")
        #expect(baseline.value(at: ["row", "health"]) == "ok")
        #expect(baseline.value(at: ["row", "service"]) == "recommendations")

        let peak = try #require(report["peak"])
        #expect((Self.share(peak, "timeoutShare") ?? 0) >= 0.5, "the related call's timeout share rose: \(peak)")
        #expect(peak.value(at: ["row", "health"]) == "bad", "and the row turned red: \(peak)")
        #expect((Self.share(peak, "p99") ?? 0) >= 500, "timed-out calls take about their 600 ms timeout: \(peak)")
        #expect((peak["polls"]?.numberValue ?? 0) > (baseline["polls"]?.numberValue ?? 0), "figures from later polls")
        var attentionText: [UInt8] = []
        peak["attention"]?.write(to: &attentionText)
        let attention = String(decoding: attentionText, as: UTF8.self)
        #expect(attention.contains("recommendations is degrading GET /products/{id} (call related"), "the page names the service and the screen: \(attention)")

        #expect(FileManager.default.fileExists(atPath: screenshot), "screenshot at \(screenshot)")
        print("admin page screenshot: \(screenshot)")
        demo.terminate()
        #expect(try await demo.exitStatus(within: .seconds(10)) == 0)
    }

    /// A figure of the watched row, from its data-* attribute.
    private static func share(_ state: JSONValue, _ attribute: String) -> Double? {
        state.value(at: ["row", attribute])?.templateText.flatMap(Double.init)
    }
}
