import DeepseekGraph
import DeepseekTensor
import Testing

@Suite struct ConvolutionGradientTests {
    static let convolutionCases: [GradientCase] = {
        func conv(_ name: String, _ p: Conv2dParameters, x: Shape, w: Shape, bias: Bool = true) -> GradientCase {
            .op("conv2d \(name)", .conv2d(p), [GradientInput(x), GradientInput(w)] + (bias ? [GradientInput([w[0]])] : []))
        }
        return [
            conv("3x3", Conv2dParameters(), x: [2, 3, 5, 5], w: [4, 3, 3, 3]),
            conv("stride 2 padding 1", Conv2dParameters(stride: 2, padding: 1), x: [2, 3, 5, 5], w: [4, 3, 3, 3]),
            conv(
                "dilation 2 asymmetric padding", Conv2dParameters(stride: (1, 1), padding: (1, 0, 2, 1), dilation: (2, 2), groups: 1),
                x: [1, 2, 5, 6], w: [3, 2, 3, 2]),
            conv("groups 2", Conv2dParameters(padding: 1, groups: 2), x: [2, 4, 4, 4], w: [6, 2, 3, 3]),
            conv("depthwise stride 2x1", Conv2dParameters(stride: (2, 1), padding: (1, 1, 1, 1), dilation: (1, 1), groups: 4), x: [1, 4, 5, 4], w: [4, 1, 3, 3]),
            conv("1x1 without bias", Conv2dParameters(), x: [2, 3, 3, 3], w: [2, 3, 1, 1], bias: false),
            conv("stride 3 loses the last rows", Conv2dParameters(stride: 3), x: [1, 2, 6, 7], w: [2, 2, 2, 2]),
        ]
    }()

    @Test(arguments: convolutionCases)
    func conv2dGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    static let poolCases: [GradientCase] = {
        func pool(_ kind: PoolKind, _ name: String, _ p: Pool2dParameters, x: Shape = [2, 2, 5, 5]) -> GradientCase {
            .op("\(kind) pool \(name)", .pool2d(kind, p), [GradientInput(x)])
        }
        var cases: [GradientCase] = []
        for kind in [PoolKind.max, .average] {
            cases += [
                pool(kind, "2x2", Pool2dParameters(kernel: (2, 2)), x: [2, 2, 4, 4]),
                pool(kind, "3x3 stride 2 padding 1", Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1))),
                pool(kind, "overlapping 3x3 stride 1", Pool2dParameters(kernel: (3, 3), stride: (1, 1))),
                pool(kind, "dilation 2", Pool2dParameters(kernel: (2, 2), stride: (1, 1), dilation: (2, 2))),
                pool(kind, "ceil mode", Pool2dParameters(kernel: (2, 2), stride: (2, 2), ceilMode: true)),
                pool(
                    kind, "ceil mode padding counted", Pool2dParameters(kernel: (3, 2), stride: (2, 2), padding: (1, 0, 1, 1), ceilMode: true, countIncludePad: true)),
                pool(kind, "padding counted", Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1), countIncludePad: true)),
            ]
        }
        return cases
    }()

    @Test(arguments: poolCases)
    func pool2dGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    /// Windows [1 3 / 3 0], [NaN 2 / NaN 5] and [−∞ −∞ / −∞ −∞]: the gradient goes to the first
    /// largest element, the last NaN, and the first element — on the 2×2 stride-2 fast path and
    /// on the general loop (ceil mode adds a partial window, which takes the general path).
    @Test func maxPoolGradientGoesToTheFirstLargestOrTheLastNaN() throws {
        let inf = -Float.infinity
        let top: [Float] = [1, 3, .nan, 2, inf, inf, 7]
        let bottom: [Float] = [3, 0, .nan, 5, inf, inf, 1]
        let expectedTop: [Float] = [0, 10, 0, 0, 30, 0]
        let expectedBottom: [Float] = [0, 0, 20, 0, 0, 0]
        for (width, ceil) in [(6, false), (7, true)] {
            let x = try Tensor(Array(top.prefix(width)) + Array(bottom.prefix(width)), shape: [1, 1, 2, width])
            let p = Pool2dParameters(kernel: (2, 2), stride: (2, 2), ceilMode: ceil)
            let outputs = ceil ? 4 : 3
            let g = try Tensor(Array([Float(10), 20, 30, 40].prefix(outputs)), shape: [1, 1, 1, outputs])
            let dx = try Pool2dBackward(.max, p, height: 2, width: width).evaluate([g, x])[0].scalars(as: Float.self)
            #expect(Array(dx[0..<6]) == expectedTop, "width \(width)")
            #expect(Array(dx[width..<(width + 6)]) == expectedBottom, "width \(width)")
        }
    }
}
