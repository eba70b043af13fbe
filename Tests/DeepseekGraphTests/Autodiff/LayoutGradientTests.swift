import DeepseekGraph
import DeepseekTensor
import Testing

@Suite struct LayoutGradientTests {
    static let cases: [GradientCase] = {
        var cases: [GradientCase] = [
            .op("gather rows with repeats and a negative index", .gather(axis: 0), [GradientInput([5, 3])], constants: [try! Tensor([4, 1, 1, -1, 0] as [Int64], shape: [5])]),
            .op("gather along axis 1 with 2-D int32 indices", .gather(axis: 1), [GradientInput([2, 4, 3])], constants: [try! Tensor([3, 0, 3, 2] as [Int32], shape: [2, 2])]),
            .op("concat along axis 1", .concat(axis: 1), [GradientInput([2, 3]), GradientInput([2, 1]), GradientInput([2, 4])]),
            .op("concat along axis 0", .concat(axis: -2), [GradientInput([1, 3]), GradientInput([2, 3])]),
            .op("reshape", .reshape([6, -1]), [GradientInput([2, 3, 4])]),
            .op("permute", .permute([2, 0, 1]), [GradientInput([2, 3, 4])]),
            .op("permute with negative axes", .permute([-1, 0, 1]), [GradientInput([2, 3, 4])]),
            .op("expand", .expand([2, 3, 4]), [GradientInput([3, 1])]),
            .op("expand a scalar", .expand([2, 3]), [GradientInput([])]),
        ]
        let slices: [(Int, Int?, Int?, Int)] = [
            (1, 1, 4, 1), (1, nil, nil, 2), (1, 1, nil, 3), (1, nil, nil, -1), (1, -2, 0, -2), (0, -1, nil, 1),
            (1, nil, nil, 9), (1, 5, 2, -2), (-1, 1, 3, 1),
        ]
        for (axis, start, end, step) in slices {
            let name = "slice axis \(axis) \(start.map(String.init) ?? "_"):\(end.map(String.init) ?? "_"):\(step)"
            cases.append(.op(name, .slice(axis: axis, start: start, end: end, step: step), [GradientInput([2, 7, 2])]))
        }
        return cases
    }()

    @Test(arguments: cases)
    func layoutGradientMatchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.run(c)
    }

    /// Composite: a slice of a permuted view, reshaped and gathered, so views feed views.
    @Test func chainedViewsMatchFiniteDifferences() throws {
        try GradientCheck.run(
            GradientCase("chained views", [GradientInput([3, 4, 2])]) { g, x in
                let p = try g.add(.permute([1, 0, 2]), x)[0]
                let s = try g.add(.slice(axis: 0, start: 1, end: nil, step: 2), [p])[0]
                let r = try g.add(.reshape([-1, 2]), [s])[0]
                let i = try g.addConstant(Tensor([0, 5, 2, 5] as [Int64], shape: [4]))
                return try g.add(.gather(axis: 0), [r, i])
            })
    }
}
