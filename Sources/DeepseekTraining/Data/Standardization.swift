import DeepseekTensor

/// Shifts and scales pixels to zero mean and unit variance, with statistics taken from the
/// training split only (as torchvision's `Normalize` is used), so the test split sees the same
/// transformation.
public struct Standardization: Sendable, Hashable, CustomStringConvertible {
    public var mean: Double
    public var standardDeviation: Double

    public init(mean: Double, standardDeviation: Double) {
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    /// The mean and standard deviation of every pixel of `data`.
    public init(fitting data: LabeledImages) throws {
        let x = try data.images.cast(to: .float64)
        let mean = try x.mean().item(as: Double.self)
        let variance = try (x - mean).square().mean().item(as: Double.self)
        guard variance > 0 else {
            throw DatasetError(.invalidArgument, "Standardization: the images are constant (variance 0); there is nothing to scale")
        }
        self.init(mean: mean, standardDeviation: variance.squareRoot())
    }

    /// `data` with every pixel replaced by (pixel − mean) / standard deviation.
    public func apply(_ data: LabeledImages) throws -> LabeledImages {
        var out = data
        out.images = try ((data.images - mean) / standardDeviation).contiguous()
        return out
    }

    public var description: String {
        "mean \((mean * 10000).rounded() / 10000), std \((standardDeviation * 10000).rounded() / 10000)"
    }
}
