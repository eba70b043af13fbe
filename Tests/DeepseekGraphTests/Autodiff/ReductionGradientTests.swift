import DeepseekGraph
import DeepseekTensor
import Testing

@Suite struct ReductionGradientTests {
    static let reduceCases: [GradientCase] = {
        let patterns: [(axes: [Int], keepDims: Bool)] = [([1], false), ([0, 2], true), ([], false), ([-1], true)]
        var cases: [GradientCase] = []
        for op in ReduceOp.allCases {
            for p in patterns {
                let range: ClosedRange<Double> = op == .prod ? 0.5...1.5 : -2...2
                cases.append(.op("\(op) axes \(p.axes) keepDims \(p.keepDims)", .reduce(op, axes: p.axes, keepDims: p.keepDims), [GradientInput([2, 3, 4], in: range)]))
            }
        }
        // Exact zeros: a lone zero in row 0 (its gradient is the product of the others), two in row 1.
        cases.append(.op("prod with zeros", .reduce(.prod, axes: [1], keepDims: false), [GradientInput([3, 4], in: 0.5...1.5, fixed: [1: 0, 4: 0, 6: 0])]))
        cases.append(.op("sum of a scalar", .reduce(.sum, axes: [], keepDims: false), [GradientInput([])]))
        return cases
    }()

    @Test(arguments: reduceCases)
    func reduceGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    static let softmaxCases: [GradientCase] = [
        .op("softmax axis 1", .softmax(axis: 1), [GradientInput([2, 3, 4])]),
        .op("softmax axis -1", .softmax(axis: -1), [GradientInput([3, 5])]),
        .op("logSoftmax axis 0", .logSoftmax(axis: 0), [GradientInput([3, 4])]),
        .op("logSoftmax axis -1", .logSoftmax(axis: -1), [GradientInput([2, 3, 4])]),
    ]

    @Test(arguments: softmaxCases)
    func softmaxGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    /// NumPy matmul: 1-D operands on either side and batch axes that broadcast.
    static let matmulCases: [GradientCase] = {
        let shapes: [(Shape, Shape)] = [
            ([3, 4], [4, 5]), ([4], [4, 5]), ([3, 4], [4]), ([4], [4]), ([2, 3, 4], [4, 5]), ([2, 3, 4], [2, 4, 5]),
            ([2, 1, 3, 4], [3, 4, 2]), ([3, 4], [2, 4, 2]),
        ]
        return shapes.map { a, b in .op("matmul \(a)×\(b)", .matmul, [GradientInput(a), GradientInput(b)]) }
    }()

    @Test(arguments: matmulCases)
    func matmulGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    static let crossEntropyCases: [GradientCase] = [
        .op("crossEntropy", .crossEntropy(labelSmoothing: 0), [GradientInput([4, 5])], constants: [try! Tensor([0, 3, 4, 3] as [Int64], shape: [4])]),
        .op("crossEntropy smoothing 0.1", .crossEntropy(labelSmoothing: 0.1), [GradientInput([4, 5])], constants: [try! Tensor([1, 1, 0, 2] as [Int32], shape: [4])]),
        .op(
            "crossEntropy spatial smoothing 0.2", .crossEntropy(labelSmoothing: 0.2), [GradientInput([2, 3, 2, 2])],
            constants: [try! Tensor([0, 1, 2, 2, 1, 0, 0, 2] as [Int64], shape: [2, 2, 2])]),
    ]

    @Test(arguments: crossEntropyCases)
    func crossEntropyGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }
}
