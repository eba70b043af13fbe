import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The two ways of writing a model — layers traced define-by-run, and named operators in a
/// `GraphBuilder` — describe the same computation.
@Suite struct BuilderEquivalenceTests {
    /// The MLP `[6, 5, 3]` written node by node with the names tracing gives.
    func builtMLP(batch: Int) throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([batch, 6]))
        b.parameter("0.weight", TensorType([5, 6]))
        b.parameter("0.bias", TensorType([5]))
        b.parameter("2.weight", TensorType([3, 5]))
        b.parameter("2.bias", TensorType([3]))
        b.op("0.transpose", .permute([1, 0]), ["0.weight"])
        b.op("0.matmul", .matmul, ["x", "0.transpose"])
        b.op("0.add", .binary(.add), ["0.matmul", "0.bias"])
        b.op("1.relu", .unary(.relu), ["0.add"])
        b.op("2.transpose", .permute([1, 0]), ["2.weight"])
        b.op("2.matmul", .matmul, ["1.relu", "2.transpose"])
        b.op("2.add", .binary(.add), ["2.matmul", "2.bias"])
        b.outputs(["2.add"])
        return try b.build()
    }

    @Test func tracedAndBuiltMLPsComputeEqualOutputs() throws {
        let model = try MLP(sizes: [6, 5, 3], seed: 3)
        let traced = try model.trace(TensorType([4, 6]))
        let built = try builtMLP(batch: 4)
        let x = try values([4, 6], seed: 4)
        let feeds = GraphFeeds(inputs: ["x": x], parameters: model.parameterValues)
        let a = try traced.run(feeds)[0]
        let b = try built.run(feeds)[0]
        expectClose(a, b, tolerance: Tolerance(absolute: 0, relative: 0))
        // Same nodes, same ops, same names: the graphs differ only in order of declaration.
        let signature = { (g: Graph) in Set(g.nodes.map { "\($0.name)=\($0.op.signature)" }) }
        #expect(signature(traced) == signature(built))
    }

    @Test func builderWithInputMajorWeightsAgreesGivenTransposedValues() throws {
        // A builder author may store weights [in, out] and skip the transpose; feeding the
        // transposed values gives the same result.
        let model = try MLP(sizes: [6, 5, 3], seed: 5)
        var b = GraphBuilder()
        b.input("x", TensorType([2, 6]))
        b.parameter("w1", TensorType([6, 5]))
        b.parameter("b1", TensorType([5]))
        b.parameter("w2", TensorType([5, 3]))
        b.parameter("b2", TensorType([3]))
        b.op("h", .matmul, ["x", "w1"], on: DevicePin(kind: .cpu))
        b.op("hb", .binary(.add), ["h", "b1"])
        b.op("a", .unary(.relu), ["hb"])
        b.op("logits", .matmul, ["a", "w2"], on: DevicePin(process: 1))
        b.op("out", .binary(.add), ["logits", "b2"])
        b.outputs(["out"])
        let built = try b.build()
        #expect(built.node(named: "logits")?.pin == DevicePin(process: 1))
        let p = model.parameterValues
        let x = try values([2, 6], seed: 6)
        let params = try [
            "w1": p["0.weight"]!.transposed().contiguous(), "b1": p["0.bias"]!,
            "w2": p["2.weight"]!.transposed().contiguous(), "b2": p["2.bias"]!,
        ]
        let fromBuilder = try built.run(GraphFeeds(inputs: ["x": x], parameters: params))[0]
        let (_, fromLayers) = try runTraced(model, x)
        expectClose(fromBuilder, fromLayers)
    }
}
