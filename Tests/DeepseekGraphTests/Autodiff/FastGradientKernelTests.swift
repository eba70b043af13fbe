import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The fast paths of the gradient kernels against plain loops written here: the vectorised 2×2
/// max-pool gradient, the per-image convolution gradients of the CPU backend, and the column
/// kernels that no longer clear their output first.
@Suite struct FastGradientKernelTests {
    /// Values with many ties, both zeros, infinities and NaNs.
    static func awkwardValues(_ count: Int, seed: UInt64) -> [Double] {
        var rng = SeededRandom(seed: seed)
        let specials: [Double] = [.nan, -.infinity, .infinity, -0.0, 0.0]
        return (0..<count).map { _ in
            let r = rng.nextDouble()
            if r < 0.15 { return specials[Int(rng.nextDouble() * Double(specials.count)) % specials.count] }
            return Double(Int(rng.nextDouble() * 5) - 2)
        }
    }

    /// The window rule written out: the first largest tap, or the last NaN; an all −∞ window
    /// picks its first tap.
    static func expectedMaxPoolGradient(_ x: [Double], _ g: [Double], planes: Int, h: Int, w: Int) -> [Double] {
        let (oh, ow) = (h / 2, w / 2)
        var dx = [Double](repeating: 0, count: x.count)
        for plane in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    let taps = [(0, 0), (0, 1), (1, 0), (1, 1)].map { plane * h * w + (2 * oy + $0.0) * w + 2 * ox + $0.1 }
                    var winner = taps[0]
                    if let nan = taps.last(where: { x[$0].isNaN }) {
                        winner = nan
                    } else {
                        for t in taps.dropFirst() where x[t] > x[winner] { winner = t }
                    }
                    dx[winner] += g[plane * oh * ow + oy * ow + ox]
                }
            }
        }
        return dx
    }

    static let poolSizes: [(Int, Int)] = [(2, 8), (6, 17), (9, 33), (28, 28), (10, 10), (5, 3)]

    /// Every lane position of the vector loop, its scalar tail, and odd heights and widths (the
    /// uncovered row and column must come out 0, not whatever the memory held).
    @Test(arguments: poolSizes)
    func pairwiseMaxPoolGradientFollowsTheWindowRule(_ size: (Int, Int)) throws {
        let (h, w) = size
        let planes = 6
        let x = Self.awkwardValues(planes * h * w, seed: UInt64(h * 100 + w))
        let g = (0..<(planes * (h / 2) * (w / 2))).map { Double($0 % 7) + 0.5 }
        let expected = Self.expectedMaxPoolGradient(x, g, planes: planes, h: h, w: w)
        let op = Pool2dBackward(.max, Pool2dParameters(kernel: (2, 2), stride: (2, 2)), height: h, width: w)
        for dtype in [DType.float32, .float64] {
            // Leave non-zero garbage in freed memory the output may reuse.
            _ = try Tensor.full([planes * h * w], value: 99, dtype: dtype)
            let xs = try Tensor(x, shape: [2, 3, h, w]).cast(to: dtype)
            let gs = try Tensor(g, shape: [2, 3, h / 2, w / 2]).cast(to: dtype)
            let dx = try op.evaluate([gs, xs])[0].cast(to: .float64).scalars(as: Double.self)
            #expect(dx == expected, "\(dtype) \(h)x\(w)")
        }
    }

    struct ConvolutionCase: Sendable, CustomTestStringConvertible {
        var name: String
        var parameters: Conv2dParameters
        var x: [Int]
        var w: [Int]
        var testDescription: String { name }
    }

    static let convolutionCases: [ConvolutionCase] = [
        ConvolutionCase(name: "LeNet conv1, 9 images", parameters: Conv2dParameters(padding: 2), x: [9, 1, 28, 28], w: [6, 1, 5, 5]),
        ConvolutionCase(name: "LeNet conv2, 17 images", parameters: Conv2dParameters(), x: [17, 6, 14, 14], w: [16, 6, 5, 5]),
        ConvolutionCase(
            name: "stride 2x1, asymmetric padding, dilation", parameters: Conv2dParameters(stride: (2, 1), padding: (1, 0, 2, 1), dilation: (1, 2), groups: 1),
            x: [3, 2, 11, 9], w: [4, 2, 3, 2]),
        ConvolutionCase(name: "stride 3 loses the last rows", parameters: Conv2dParameters(stride: 3), x: [2, 3, 10, 11], w: [5, 3, 2, 3]),
    ]

    /// The gradients written as loops over the convolution's definition, in `Double`.
    static func expectedGradients(_ c: ConvolutionCase, x: [Double], w: [Double], g: [Double]) -> (dw: [Double], dx: [Double]) {
        let p = c.parameters
        let (n, ch, h, wd) = (c.x[0], c.x[1], c.x[2], c.x[3])
        let (o, kh, kw) = (c.w[0], c.w[2], c.w[3])
        let (oh, ow) = p.outputSize(height: h, width: wd, kernelHeight: kh, kernelWidth: kw)
        var dw = [Double](repeating: 0, count: w.count)
        var dx = [Double](repeating: 0, count: x.count)
        for i in 0..<n {
            for oc in 0..<o {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let gv = g[((i * o + oc) * oh + oy) * ow + ox]
                        for ci in 0..<ch {
                            for ky in 0..<kh {
                                let iy = oy * p.stride.h - p.padding.top + ky * p.dilation.h
                                guard iy >= 0 && iy < h else { continue }
                                for kx in 0..<kw {
                                    let ix = ox * p.stride.w - p.padding.left + kx * p.dilation.w
                                    guard ix >= 0 && ix < wd else { continue }
                                    let xi = ((i * ch + ci) * h + iy) * wd + ix
                                    let wi = ((oc * ch + ci) * kh + ky) * kw + kx
                                    dw[wi] += gv * x[xi]
                                    dx[xi] += gv * w[wi]
                                }
                            }
                        }
                    }
                }
            }
        }
        return (dw, dx)
    }

    /// The CPU backend's per-image kernels and the composition of primitives (on the reference
    /// backend) both give the gradients of the definition.
    @Test(arguments: convolutionCases)
    func convolutionGradientsMatchTheDefinition(_ c: ConvolutionCase) throws {
        let p = c.parameters
        let x = try Tensor.testValues(Shape(c.x), dtype: .float32, seed: 7)
        let w = try Tensor.testValues(Shape(c.w), dtype: .float32, seed: 8)
        let (oh, ow) = p.outputSize(height: c.x[2], width: c.x[3], kernelHeight: c.w[2], kernelWidth: c.w[3])
        let g = try Tensor.testValues([c.x[0], c.w[0], oh, ow], dtype: .float32, seed: 9)
        let expected = Self.expectedGradients(
            c, x: try x.cast(to: .float64).scalars(as: Double.self), w: try w.cast(to: .float64).scalars(as: Double.self),
            g: try g.cast(to: .float64).scalars(as: Double.self))
        let weightOp = Conv2dWeightGradient(p, kernel: (c.w[2], c.w[3]))
        let inputOp = Conv2dInputGradient(p, height: c.x[2], width: c.x[3])
        let tolerance = Tolerance(absolute: 1e-4, relative: 1e-4)
        for backend in [CPUBackend() as any KernelBackend, ReferenceBackend()] {
            try KernelBackends.using(backend) {
                let dw = try weightOp.evaluate([x, g])[0]
                let dx = try inputOp.evaluate([g, w])[0]
                #expect(dw.shape == Shape(c.w) && dx.shape == Shape(c.x))
                expectClose(try dw.cast(to: .float64), try Tensor(expected.dw, shape: Shape(c.w)), tolerance: tolerance, "\(backend.name) dW")
                expectClose(try dx.cast(to: .float64), try Tensor(expected.dx, shape: Shape(c.x)), tolerance: tolerance, "\(backend.name) dx")
            }
        }
    }

    /// The weight gradient sums fixed blocks of images, so one thread and two give the same bits.
    @Test func convolutionGradientsDoNotDependOnTheThreadCount() throws {
        let p = Conv2dParameters(padding: 2)
        let x = try Tensor.testValues([21, 3, 12, 12], dtype: .float32, seed: 10)
        let g = try Tensor.testValues([21, 4, 12, 12], dtype: .float32, seed: 11)
        let w = try Tensor.testValues([4, 3, 5, 5], dtype: .float32, seed: 12)
        var results: [[Float]] = []
        for threads in [1, 2, 3] {
            let backend = CPUBackend(settings: CPUBackendSettings(threads: threads))
            let dw = try #require(try backend.conv2dWeightGradient(x, gradient: g, kernel: (5, 5), parameters: p))
            let dx = try #require(try backend.conv2dInputGradient(g, weight: w, height: 12, width: 12, parameters: p))
            results.append(try dw.scalars(as: Float.self) + dx.scalars(as: Float.self))
        }
        #expect(results[0] == results[1] && results[1] == results[2])
    }

    /// Per-image columns with unit stride and padding (the row-copy path) hold what the
    /// grouped layout holds, and neither depends on what the memory held before.
    @Test(arguments: [1, 2])
    func perImageColumnsMatchTheGroupedLayout(_ stride: Int) throws {
        let p = Conv2dParameters(stride: stride, padding: 2)
        let x = try Tensor.testValues([3, 2, 13, 11], dtype: .float32, seed: 13)
        _ = try Tensor.full([1 << 16], value: 99, dtype: .float32)
        let grouped = try Im2col(p, kernel: (5, 5)).evaluate([x])[0]  // [1, 50, 3·L]
        let perImage = try Im2col(p, kernel: (5, 5), layout: .perImage).evaluate([x])[0]  // [3, 50, L]
        let positions = perImage.shape[2]
        let regrouped = try grouped.reshaped([50, 3, positions]).permuted([1, 0, 2]).contiguous()
        #expect(try perImage.scalars(as: Float.self) == regrouped.scalars(as: Float.self))
        let reference = try KernelBackends.using(ReferenceBackend()) {
            try Im2col(p, kernel: (5, 5), layout: .perImage).evaluate([x.cast(to: .float64)])[0]
        }
        #expect(try perImage.cast(to: .float64).scalars(as: Double.self) == reference.scalars(as: Double.self))
    }
}
