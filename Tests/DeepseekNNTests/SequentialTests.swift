import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct SequentialTests {
    @Test func childrenAreNamedByIndexInParametersAndNodes() throws {
        var rng = SeededRandom(seed: 1)
        let model = try Sequential {
            try Linear(inFeatures: 8, outFeatures: 6, rng: &rng)
            ReLU()
            try Linear(inFeatures: 6, outFeatures: 3, rng: &rng)
        }
        let graph = try model.trace(TensorType([5, 8]))
        #expect(outputType(graph) == TensorType([5, 3]))
        expectParameters(model, in: graph, ["0.weight": [6, 8], "0.bias": [6], "2.weight": [3, 6], "2.bias": [3]])
        let names = Set(graph.nodes.map(\.name))
        #expect(names.isSuperset(of: ["x", "0.transpose", "0.matmul", "0.add", "1.relu", "2.matmul", "2.add"]))
    }

    @Test func sequentialComputesItsLayersInOrder() throws {
        var rng = SeededRandom(seed: 2)
        let a = try Linear(inFeatures: 4, outFeatures: 5, rng: &rng)
        let b = try Linear(inFeatures: 5, outFeatures: 2, rng: &rng)
        let model = Sequential([a, Tanh(), b])
        let x = try values([3, 4], seed: 3)
        let (_, y) = try runTraced(model, x)
        expectClose(y, try eagerLinear(b, eagerLinear(a, x).tanh()))
    }

    @Test func nestedContainersJoinNamesWithDots() throws {
        var rng = SeededRandom(seed: 4)
        let inner = try Sequential { try Linear(inFeatures: 4, outFeatures: 4, rng: &rng); GELU() }
        let model = try Sequential([inner, Linear(inFeatures: 4, outFeatures: 1, rng: &rng)])
        let graph = try model.trace(TensorType([2, 4]))
        expectParameters(model, in: graph, ["0.0.weight": [4, 4], "0.0.bias": [4], "1.weight": [1, 4], "1.bias": [1]])
        #expect(graph.node(named: "0.0.matmul") != nil && graph.node(named: "0.1.gelu") != nil)
    }

    @Test func resultBuilderAcceptsConditionsAndLoops() throws {
        var rng = SeededRandom(seed: 5)
        let withNorm = true
        let model = try Sequential {
            for _ in 0..<3 { try Linear(inFeatures: 4, outFeatures: 4, rng: &rng) }
            if withNorm { try LayerNorm(4) } else { ReLU() }
        }
        #expect(model.count == 4)
        #expect(model[3] is LayerNorm)
        #expect(model.parameters.map(\.name).last == "3.bias")
    }

    @Test func mlpIsASequentialOfLinearAndReLU() throws {
        let model = try MLP(sizes: [784, 256, 10], seed: 0)
        let graph = try model.trace(TensorType([64, 784]))
        #expect(outputType(graph) == TensorType([64, 10]))
        expectParameters(model, in: graph, ["0.weight": [256, 784], "0.bias": [256], "2.weight": [10, 256], "2.bias": [10]])
        #expect(model.parameterCount == 784 * 256 + 256 + 256 * 10 + 10)
        let x = try values([2, 784], seed: 6)
        let (_, y) = try runTraced(model, x)
        let linears = model.layers.layers.compactMap { $0 as? Linear }
        expectClose(y, try eagerLinear(linears[1], eagerLinear(linears[0], x).relu()))
    }

    @Test func sameSeedBuildsIdenticalModels() throws {
        let a = try MLP(sizes: [5, 4, 3], seed: 42)
        let b = try MLP(sizes: [5, 4, 3], seed: 42)
        let c = try MLP(sizes: [5, 4, 3], seed: 43)
        for (p, q) in zip(a.parameters, b.parameters) {
            #expect(try p.value.scalars(as: Float.self) == q.value.scalars(as: Float.self))
        }
        #expect(try a.parameters[0].value.scalars(as: Float.self) != c.parameters[0].value.scalars(as: Float.self))
    }

    @Test func shapeErrorWhileTracingNamesTheNodeAndTheRule() throws {
        let model = try MLP(sizes: [784, 256, 10], seed: 0)
        let error = try #require(throws: GraphError.self) { try model.trace(TensorType([64, 100])) }
        #expect(error.code == .inference)
        #expect(
            error.message
                == "n3 \"0.matmul\" (matmul) with inputs %0: float32[64, 100], %2: float32[784, 256]: matmul: inner dimensions differ: [64, 100] × [784, 256] (100 ≠ 784); the last axis of the left operand must equal the second-to-last axis of the right"
        )
    }
}
