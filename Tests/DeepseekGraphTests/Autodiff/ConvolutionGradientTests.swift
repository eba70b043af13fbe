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
}
