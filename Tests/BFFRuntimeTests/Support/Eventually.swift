import Foundation

/// Polls `condition` every 50 ms until it holds; false if it still does not once `timeout` has
/// passed and it has been polled at least once per 100 ms of `timeout`.
///
/// The minimum count of polls keeps the window honest on a loaded CI machine: when the tasks of
/// a test are starved of threads (or the VM's clock jumps), the clock runs out while the code
/// under test had no chance to run, and a plain deadline would fail for nothing. A condition that
/// is slow to answer (a request that times out) makes a failing wait last longer than `timeout`.
func eventually(within timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    let minimumPolls = max(1, Int(timeout / .milliseconds(100)))
    var polls = 0
    while ContinuousClock.now < deadline || polls < minimumPolls {
        if await condition() { return true }
        polls += 1
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}
