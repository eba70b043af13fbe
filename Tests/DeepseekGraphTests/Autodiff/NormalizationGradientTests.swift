import DeepseekGraph
import DeepseekTensor
import Testing

@Suite struct NormalizationGradientTests {
    /// The loss weighs all three outputs, so the statistics outputs' gradients are checked too.
    static let cases: [GradientCase] = [
        .op("layerNorm last axis with weight and bias", .layerNorm(axis: -1, epsilon: 1e-5), [GradientInput([3, 4]), GradientInput([4]), GradientInput([4])]),
        .op("layerNorm from axis 1 with weight", .layerNorm(axis: 1, epsilon: 1e-3), [GradientInput([2, 3, 4]), GradientInput([3, 4])]),
        .op("layerNorm over every axis", .layerNorm(axis: 0, epsilon: 1e-5), [GradientInput([2, 5])]),
        GradientCase("layerNorm output only", [GradientInput([3, 4]), GradientInput([4]), GradientInput([4])]) { g, x in
            [try g.add(.layerNorm(axis: -1, epsilon: 1e-5), x)[0]]
        },
        .op(
            "batchNorm inference", .batchNorm(epsilon: 1e-5),
            [GradientInput([2, 3, 2, 2]), GradientInput([3]), GradientInput([3]), GradientInput([3]), GradientInput([3], in: 0.5...2)]),
        .op("batchNormTraining NCHW", .batchNormTraining(epsilon: 1e-5), [GradientInput([3, 2, 2, 2]), GradientInput([2]), GradientInput([2])]),
        .op("batchNormTraining NC", .batchNormTraining(epsilon: 1e-3), [GradientInput([4, 3]), GradientInput([3]), GradientInput([3])]),
        GradientCase("batchNormTraining output only", [GradientInput([3, 2, 2, 2]), GradientInput([2]), GradientInput([2])]) { g, x in
            [try g.add(.batchNormTraining(epsilon: 1e-5), x)[0]]
        },
    ]

    @Test(arguments: cases)
    func normalizationGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }
}
