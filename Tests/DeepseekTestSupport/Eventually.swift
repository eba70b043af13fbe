/// Waits until `condition` holds, checking between short pauses, for at most `timeout`.
///
/// - Returns: whether the condition came true in time; the caller asserts on it.
@discardableResult
public func eventually(timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        guard clock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(2))
    }
    return true
}
