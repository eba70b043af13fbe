import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct ElementwiseGradientTests {
    /// Every unary op with a float derivative; the domain keeps clear of poles and kinks.
    static let unaryCases: [GradientCase] = {
        let ops: [(UnaryOp, ClosedRange<Double>)] = [
            (.neg, -2...2), (.abs, -2...2), (.exp, -2...2), (.log, 0.2...2), (.sqrt, 0.2...2), (.rsqrt, 0.2...2),
            (.reciprocal, 0.5...2), (.square, -2...2), (.tanh, -2...2), (.sigmoid, -2...2), (.relu, -2...2),
            (.silu, -2...2), (.softplus, -2...2), (.erf, -2...2), (.geluExact, -2...2), (.geluTanh, -2...2),
            (.leakyRelu(alpha: 0.1), -2...2), (.elu(alpha: 0.7), -2...2), (.sin, -2...2), (.cos, -2...2),
            // Piecewise constant: the gradient is zero, and so are finite differences away from the steps.
            (.floor, -2...2), (.ceil, -2...2), (.round, -2...2), (.sign, -2...2),
        ]
        return ops.map { op, range in GradientCase.op("\(op)", .unary(op), [GradientInput([3, 4], in: range)]) }
    }()

    @Test(arguments: unaryCases)
    func unaryGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    /// Binary ops over equal shapes and the broadcasting patterns: a row, an outer product, a
    /// higher-rank operand, and a scalar.
    static let binaryCases: [GradientCase] = {
        let ops: [(BinaryOp, ClosedRange<Double>, ClosedRange<Double>)] = [
            (.add, -2...2, -2...2), (.sub, -2...2, -2...2), (.mul, -2...2, -2...2), (.div, -2...2, 0.5...2),
            (.pow, 0.5...2, -1.5...1.5), (.maximum, -2...2, -2...2), (.minimum, -2...2, -2...2), (.mod, 0.1...3, 0.7...1.3),
        ]
        let shapes: [(String, Shape, Shape)] = [
            ("same", [3, 4], [3, 4]), ("row", [3, 4], [4]), ("outer", [3, 1], [1, 4]), ("rank", [2, 3, 4], [3, 1]),
            ("scalar", [3, 4], []),
        ]
        return ops.flatMap { op, ra, rb in
            shapes.map { name, sa, sb in
                GradientCase.op("\(op) \(name) \(sa)×\(sb)", .binary(op), [GradientInput(sa, in: ra), GradientInput(sb, in: rb)])
            }
        }
    }()

    @Test(arguments: binaryCases)
    func binaryGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    static let otherCases: [GradientCase] = [
        GradientCase("select with broadcast branches", [GradientInput([3, 4]), GradientInput([4])]) { g, x in
            let condition = try g.addConstant(Tensor.testValues([3, 4], dtype: .bool, seed: 5))
            return try g.add(.select, [condition, x[0], x[1]])
        },
        // float32 rounding of the intermediate needs a wider step and tolerance.
        GradientCase("cast float64 → float32 → float64", [GradientInput([3, 4])], step: 1e-2, tolerance: (1e-5, 1e-4)) { g, x in
            let narrow = try g.add(.cast(.float32), x)[0]
            return try g.add(.cast(.float64), [narrow])
        },
        GradientCase("cast to an integer stops the gradient", [GradientInput([3, 4])]) { g, x in
            let integer = try g.add(.cast(.int32), x)[0]
            let back = try g.add(.cast(.float64), [integer])[0]
            return try g.add(.binary(.mul), [back, x[0]])
        },
        GradientCase("argmax carries no gradient", [GradientInput([3, 4])]) { g, x in
            let index = try g.add(.argReduce(.argmax, axis: 1, keepDims: true), x)[0]
            let weight = try g.add(.cast(.float64), [index])[0]
            return try g.add(.binary(.mul), [weight, x[0]])
        },
        GradientCase("pow of an integer base by a float exponent", [GradientInput([3, 4])]) { g, x in
            let base = try g.addConstant(Tensor((0..<12).map { Int64($0 % 5 + 1) }, shape: [3, 4]))
            return try g.add(.binary(.pow), [base, x[0]])
        },
        GradientCase("comparison results carry no gradient", [GradientInput([3, 4]), GradientInput([4])]) { g, x in
            let mask = try g.add(.binary(.greater), x)[0]
            let weight = try g.add(.cast(.float64), [mask])[0]
            return try g.add(.binary(.mul), [weight, x[0]])
        },
    ]

    @Test(arguments: otherCases)
    func selectCastAndStoppedGradientsMatchFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }
}
