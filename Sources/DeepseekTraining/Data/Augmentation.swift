public import DeepseekCore
public import DeepseekTensor

/// The size of each image in a batch: channels × height × width.
public struct ImageGeometry: Sendable, Hashable, CustomStringConvertible {
    public var channels: Int
    public var height: Int
    public var width: Int

    public init(channels: Int = 1, height: Int, width: Int) {
        self.channels = channels
        self.height = height
        self.width = width
    }

    /// The number of floats in one image.
    public var elementCount: Int { channels * height * width }

    public var description: String { "\(channels)×\(height)×\(width)" }
}

/// A random change made to every image of a batch, in place.
///
/// Conformers loop over the images in order and draw their random choices for image `n` before
/// those of image `n + 1`, from `rng` only, so the result depends on the generator's seed alone.
public protocol ImageTransform: Sendable {
    /// Transforms `count` images of `geometry`, stored one after another (CHW each) in `images`.
    func apply(to images: UnsafeMutableBufferPointer<Float>, count: Int, geometry: ImageGeometry, rng: inout SeededRandom)
}

/// Pads each image by `padding` pixels of `fill` on every side, then crops it back to its size at
/// a random offset — torchvision's `RandomCrop(size, padding=p)` for a crop of the original size.
public struct RandomCrop: ImageTransform {
    public var padding: Int
    public var fill: Float

    public init(padding: Int, fill: Float = 0) {
        precondition(padding >= 0, "RandomCrop: padding must be ≥ 0, got \(padding)")
        self.padding = padding
        self.fill = fill
    }

    public func apply(to images: UnsafeMutableBufferPointer<Float>, count: Int, geometry g: ImageGeometry, rng: inout SeededRandom) {
        guard padding > 0, let base = images.baseAddress else { return }
        let (h, w, plane) = (g.height, g.width, g.height * g.width)
        let source = UnsafeMutablePointer<Float>.allocate(capacity: g.elementCount)
        defer { source.deallocate() }
        for n in 0..<count {
            // The top-left corner of the crop in padded coordinates, as torchvision draws it: row, then column.
            let dy = rng.nextInt(below: 2 * padding + 1) - padding
            let dx = rng.nextInt(below: 2 * padding + 1) - padding
            if dy == 0 && dx == 0 { continue }
            let image = base + n * g.elementCount
            source.update(from: image, count: g.elementCount)
            // Output (y, x) reads input (y + dy, x + dx); columns x0..<x1 fall inside the input.
            let x0 = max(0, -dx)
            let x1 = min(w, w - dx)
            for c in 0..<g.channels {
                for y in 0..<h {
                    let out = image + c * plane + y * w
                    let sy = y + dy
                    guard sy >= 0, sy < h, x0 < x1 else {
                        out.update(repeating: fill, count: w)
                        continue
                    }
                    if x0 > 0 { out.update(repeating: fill, count: x0) }
                    (out + x0).update(from: source + c * plane + sy * w + x0 + dx, count: x1 - x0)
                    if x1 < w { (out + x1).update(repeating: fill, count: w - x1) }
                }
            }
        }
    }
}

/// Mirrors each image left to right with probability `probability` (torchvision's
/// `RandomHorizontalFlip`).
public struct RandomHorizontalFlip: ImageTransform {
    public var probability: Double

    public init(probability: Double = 0.5) {
        precondition(probability >= 0 && probability <= 1, "RandomHorizontalFlip: probability must be in [0, 1], got \(probability)")
        self.probability = probability
    }

    public func apply(to images: UnsafeMutableBufferPointer<Float>, count: Int, geometry g: ImageGeometry, rng: inout SeededRandom) {
        guard let base = images.baseAddress else { return }
        for n in 0..<count where rng.nextDouble() < probability {
            let image = base + n * g.elementCount
            for row in 0..<(g.channels * g.height) {
                var lo = image + row * g.width
                var hi = lo + g.width - 1
                while lo < hi {
                    swap(&lo.pointee, &hi.pointee)
                    lo += 1
                    hi -= 1
                }
            }
        }
    }
}

/// Random brightness and contrast per image, like torchvision's `ColorJitter(brightness: b,
/// contrast: c)` on float images.
///
/// Brightness multiplies the image by a factor drawn from `[max(0, 1 − b), 1 + b]`; contrast
/// blends it with its own mean (over all its pixels) by a factor drawn from `[max(0, 1 − c), 1 + c]`:
/// `f·x + (1 − f)·mean`. The two are applied in a random order per image, and the result is
/// clamped to `clamp` after each (pass `nil` for standardized data that is not in 0…1).
public struct ColorJitter: ImageTransform {
    public var brightness: Double
    public var contrast: Double
    public var clamp: ClosedRange<Float>?

    public init(brightness: Double = 0, contrast: Double = 0, clamp: ClosedRange<Float>? = 0...1) {
        precondition(brightness >= 0 && contrast >= 0, "ColorJitter: brightness and contrast must be ≥ 0, got \(brightness), \(contrast)")
        self.brightness = brightness
        self.contrast = contrast
        self.clamp = clamp
    }

    public func apply(to images: UnsafeMutableBufferPointer<Float>, count: Int, geometry g: ImageGeometry, rng: inout SeededRandom) {
        guard brightness > 0 || contrast > 0, let base = images.baseAddress else { return }
        let size = g.elementCount
        let (lo, hi) = (clamp?.lowerBound ?? -.infinity, clamp?.upperBound ?? .infinity)
        for n in 0..<count {
            let contrastFirst = brightness > 0 && contrast > 0 && rng.nextDouble() < 0.5
            let b = brightness > 0 ? Self.factor(brightness, &rng) : 1
            let c = contrast > 0 ? Self.factor(contrast, &rng) : 1
            let image = base + n * size
            for step in contrastFirst ? [1, 0] : [0, 1] {
                if step == 0, brightness > 0 {
                    for i in 0..<size { image[i] = min(hi, max(lo, image[i] * b)) }
                } else if step == 1, contrast > 0 {
                    var sum = 0.0
                    for i in 0..<size { sum += Double(image[i]) }
                    let offset = Float(1 - Double(c)) * Float(sum / Double(size))
                    for i in 0..<size { image[i] = min(hi, max(lo, c * image[i] + offset)) }
                }
            }
        }
    }

    private static func factor(_ amount: Double, _ rng: inout SeededRandom) -> Float {
        let low = max(0, 1 - amount)
        return Float(low + (1 + amount - low) * rng.nextDouble())
    }
}

/// A list of image transforms applied in order to each mini-batch, with randomness fixed by
/// `(seed, epoch, batch)` alone — so a batch can be re-made identically at any time, in any order,
/// on any worker.
///
/// Batches are float32, either `[N, C, H, W]` (`[N, H, W]` for one channel) or rows
/// `[N, C·H·W]` as `Batches` hands out Fashion-MNIST, given the image `geometry`.
///
/// ```swift
/// let augment = Augmentation([RandomCrop(padding: 2), RandomHorizontalFlip(), ColorJitter(brightness: 0.2, contrast: 0.2)],
///                            seed: 7, geometry: ImageGeometry(height: 28, width: 28))
/// let images = try augment.apply(to: batch.images, epoch: 3, batch: 10)
/// ```
public struct Augmentation: Sendable {
    public var transforms: [any ImageTransform]
    public var seed: UInt64
    /// The image size for rank-2 batches (rows of `C·H·W` floats); ignored for rank 3 and 4.
    public var geometry: ImageGeometry?

    public init(_ transforms: [any ImageTransform], seed: UInt64, geometry: ImageGeometry? = nil) {
        self.transforms = transforms
        self.seed = seed
        self.geometry = geometry
    }

    /// The generator batch `batch` of epoch `epoch` draws from.
    public func generator(epoch: Int, batch: Int) -> SeededRandom {
        SeededRandom(seed: combineSeed(combineSeed(seed, UInt64(bitPattern: Int64(epoch))), UInt64(bitPattern: Int64(batch))))
    }

    /// The transformed images; the input is copied only when its storage is shared.
    ///
    /// - Throws: `DatasetError.invalidArgument` for non-float32 images or a shape that does not
    ///   match the geometry.
    public func apply(to images: Tensor, epoch: Int, batch: Int) throws(DatasetError) -> Tensor {
        let g = try resolveGeometry(images)
        guard !transforms.isEmpty, images.elementCount > 0 else { return images }
        var result = images
        var rng = generator(epoch: epoch, batch: batch)
        let count = images.shape[0]
        do {
            try result.withUnsafeMutableBufferPointer(as: Float.self) { buffer in
                for transform in transforms {
                    // One stream per transform, so each draws the same values whatever the others draw.
                    var stream = rng.split()
                    transform.apply(to: buffer, count: count, geometry: g, rng: &stream)
                }
            }
        } catch {
            throw DatasetError(.resource, "Augmentation: cannot write the images \(images.shape): \(error)", cause: error)
        }
        return result
    }

    /// The batch with its images transformed (labels and indices unchanged).
    public func apply(to batch: MiniBatch, epoch: Int, index: Int) throws(DatasetError) -> MiniBatch {
        var out = batch
        out.images = try apply(to: batch.images, epoch: epoch, batch: index)
        return out
    }

    private func resolveGeometry(_ images: Tensor) throws(DatasetError) -> ImageGeometry {
        guard images.dtype == .float32, !images.isMeta else {
            throw DatasetError(.invalidArgument, "Augmentation: images must be float32 with data, got \(images.dtype)\(images.shape); cast them first")
        }
        let d = images.shape.dims
        switch d.count {
        case 4: return ImageGeometry(channels: d[1], height: d[2], width: d[3])
        case 3: return ImageGeometry(channels: 1, height: d[1], width: d[2])
        case 2:
            guard let geometry, geometry.elementCount == d[1] else {
                throw DatasetError(
                    .invalidArgument,
                    "Augmentation: rows of \(d[1]) floats need an image geometry whose channels·height·width is \(d[1]) (got \(geometry.map(\.description) ?? "none")); set `geometry`")
            }
            return geometry
        default:
            throw DatasetError(.invalidArgument, "Augmentation: images must be [N, C, H, W], [N, H, W] or [N, C·H·W], got \(images.shape)")
        }
    }
}

/// Two words into one seed (SplitMix64's finaliser over their mix), so that nearby epochs and
/// batches get unrelated streams.
func combineSeed(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var z = a ^ (b &+ 0x9E37_79B9_7F4A_7C15 &+ (a << 6) &+ (a >> 2))
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
