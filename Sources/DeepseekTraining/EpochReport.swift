
/// What one epoch of training did.
public struct EpochReport: Sendable, CustomStringConvertible {
    public var epoch: Int
    public var steps: Int
    public var meanLoss: Double
    public var testAccuracy: Double
    public var seconds: Double
    /// Plan-cache hits over steps: how often the traced graph was already planned.
    public var planCacheHits: Int
    /// Mean loss on the evaluation data (NaN when there was none).
    public var testLoss: Double = .nan
    /// Training examples per second of training time (evaluation excluded).
    public var samplesPerSecond: Double = .nan

    public var description: String {
        let acc = (testAccuracy * 10000).rounded() / 100
        let loss = (meanLoss * 10000).rounded() / 10000
        let time = (seconds * 100).rounded() / 100
        var text = "epoch \(epoch + 1): \(steps) steps, mean loss \(loss)"
        if testLoss.isFinite { text += ", test loss \((testLoss * 10000).rounded() / 10000)" }
        if testAccuracy.isFinite { text += ", test accuracy \(acc)%" }
        text += ", \(time) s"
        if samplesPerSecond.isFinite { text += ", \(Int(samplesPerSecond)) samples/s" }
        return text + ", plan cache hits \(planCacheHits)/\(steps)"
    }
}
