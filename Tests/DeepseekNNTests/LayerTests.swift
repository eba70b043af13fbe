import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct LayerTests {
    @Test func linearTracesTorchLayoutAndComputesXTimesWeightTransposedPlusBias() throws {
        var rng = SeededRandom(seed: 1)
        let fc = try Linear(inFeatures: 6, outFeatures: 4, rng: &rng)
        let x = try values([3, 6], seed: 2)
        let (graph, y) = try runTraced(fc, x)
        #expect(outputType(graph) == TensorType([3, 4]))
        expectParameters(fc, in: graph, ["weight": [4, 6], "bias": [4]])
        #expect(graph.node(named: "matmul") != nil && graph.node(named: "add") != nil)
        let expected = try x.matmul(fc.weight.value.transposed()) + fc.bias!.value
        expectClose(y, expected, tolerance: Tolerance(absolute: 0, relative: 0))
    }

    @Test func linearAppliesToTheLastAxisOfABatchOfSequences() throws {
        var rng = SeededRandom(seed: 1)
        let fc = try Linear(inFeatures: 5, outFeatures: 2, bias: false, rng: &rng)
        let x = try values([2, 3, 5], seed: 3)
        let (graph, y) = try runTraced(fc, x)
        #expect(outputType(graph) == TensorType([2, 3, 2]))
        expectParameters(fc, in: graph, ["weight": [2, 5]])
        expectClose(y, try eagerLinear(fc, x))
    }

    @Test func linearStartsFromTorchDefaultBounds() throws {
        var rng = SeededRandom(seed: 9)
        let fc = try Linear(inFeatures: 100, outFeatures: 50, rng: &rng)
        let bound = 1 / 100.0.squareRoot()
        let w = try fc.weight.value.scalarsAsDouble()
        let b = try fc.bias!.value.scalarsAsDouble()
        #expect(w.allSatisfy { abs($0) <= bound } && b.allSatisfy { abs($0) <= bound })
        // Spread over most of the range, not collapsed near zero.
        #expect(w.max()! > 0.9 * bound && w.min()! < -0.9 * bound)
        // The same seed gives the same weights.
        var again = SeededRandom(seed: 9)
        let twin = try Linear(inFeatures: 100, outFeatures: 50, rng: &again)
        #expect(try twin.weight.value.scalars(as: Float.self) == fc.weight.value.scalars(as: Float.self))
    }

    @Test func linearRejectsNonPositiveSizes() throws {
        var rng = SeededRandom(seed: 1)
        let error = try #require(throws: NNError.self) { try Linear(inFeatures: 0, outFeatures: 3, rng: &rng) }
        #expect(error.code == .invalidArgument)
        #expect(error.message == "Linear: inFeatures must be positive, got 0")
    }

    @Test(arguments: ["relu", "gelu", "gelu(tanh)", "sigmoid", "tanh"])
    func activationsMatchTheirTensorOps(_ kind: String) throws {
        let (layer, expected): (any Module, (Tensor) throws -> Tensor) =
            switch kind {
            case "relu": (ReLU(), { try $0.relu() })
            case "gelu": (GELU(), { try $0.gelu() })
            case "gelu(tanh)": (GELU(approximate: true), { try $0.gelu(approximate: true) })
            case "sigmoid": (Sigmoid(), { try $0.sigmoid() })
            default: (Tanh(), { try $0.tanh() })
            }
        let x = try values([4, 5], seed: 4)
        let (graph, y) = try runTraced(layer, x)
        #expect(layer.parameters.isEmpty && graph.parameterNodes.isEmpty)
        #expect(outputType(graph) == TensorType([4, 5]))
        expectClose(y, try expected(x), tolerance: Tolerance(absolute: 0, relative: 0))
    }

    @Test func flattenCollapsesAllButTheBatchAxis() throws {
        let x = try values([2, 3, 4, 5], seed: 5)
        let (graph, y) = try runTraced(Flatten(), x)
        #expect(outputType(graph) == TensorType([2, 60]))
        expectClose(y, try x.reshaped([2, 60]))
        let (middle, _) = try runTraced(Flatten(startDim: 1, endDim: 2), x)
        #expect(outputType(middle) == TensorType([2, 12, 5]))
        #expect(throws: NNError.self) { try Flatten(startDim: 3, endDim: 1).trace(TensorType([2, 3, 4, 5])) }
    }

    @Test func conv2dMatchesTheTensorConvolution() throws {
        var rng = SeededRandom(seed: 6)
        let conv = try Conv2d(inChannels: 3, outChannels: 4, kernelSize: 3, stride: 2, padding: 1, rng: &rng)
        let x = try values([2, 3, 9, 9], seed: 7)
        let (graph, y) = try runTraced(conv, x)
        #expect(outputType(graph) == TensorType([2, 4, 5, 5]))
        expectParameters(conv, in: graph, ["weight": [4, 3, 3, 3], "bias": [4]])
        let expected = try x.conv2d(
            conv.weight.value, bias: conv.bias!.value, parameters: Conv2dParameters(stride: 2, padding: 1))
        expectClose(y, expected, tolerance: Tolerance(absolute: 0, relative: 0))
        // PyTorch's bound: 1/√fanIn with fanIn = 3·3·3.
        let bound = 1 / 27.0.squareRoot()
        #expect(try conv.weight.value.scalarsAsDouble().allSatisfy { abs($0) <= bound })
    }

    @Test func groupedConvolutionHasAWeightPerGroup() throws {
        var rng = SeededRandom(seed: 6)
        let conv = try Conv2d(inChannels: 4, outChannels: 6, kernelSize: 1, groups: 2, bias: false, rng: &rng)
        let graph = try conv.trace(TensorType([1, 4, 3, 3]))
        expectParameters(conv, in: graph, ["weight": [6, 2, 1, 1]])
        #expect(throws: NNError.self) { try Conv2d(inChannels: 3, outChannels: 6, kernelSize: 1, groups: 2, rng: &rng) }
    }

    @Test func poolingPicksWindowMaximaAndMeans() throws {
        let x = try Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        let (maxGraph, maxY) = try runTraced(MaxPool2d(kernelSize: 2), x)
        #expect(outputType(maxGraph) == TensorType([1, 1, 2, 2]))
        #expect(try maxY.scalars(as: Float.self) == [5, 7, 13, 15])
        let (_, avgY) = try runTraced(AvgPool2d(kernelSize: 2), x)
        #expect(try avgY.scalars(as: Float.self) == [2.5, 4.5, 10.5, 12.5])
        let (strided, _) = try runTraced(MaxPool2d(kernelSize: 3, stride: 1, padding: 1), x)
        #expect(outputType(strided) == TensorType([1, 1, 4, 4]))
    }

    @Test func batchNormUsesRunningStatisticsAsBuffers() throws {
        let bn = try BatchNorm2d(numFeatures: 3)
        bn.runningMean.value = Tensor([0.5, -1, 2] as [Float])
        bn.runningVar.value = Tensor([4, 0.25, 1] as [Float])
        bn.weight.value = Tensor([1, 2, -1] as [Float])
        bn.bias.value = Tensor([0, 1, 3] as [Float])
        let x = try values([2, 3, 4, 4], seed: 8)
        let (graph, y) = try runTraced(bn, x)
        #expect(outputType(graph) == TensorType([2, 3, 4, 4]))
        expectParameters(bn, in: graph, ["weight": [3], "bias": [3], "running_mean": [3], "running_var": [3]])
        #expect(bn.trainableParameters.map(\.name) == ["weight", "bias"])
        func channel(_ t: Tensor) throws -> Tensor { try t.reshaped([1, 3, 1, 1]) }
        let expected = try (x - channel(bn.runningMean.value)) / (channel(bn.runningVar.value) + bn.epsilon).sqrt()
            * channel(bn.weight.value) + channel(bn.bias.value)
        expectClose(y, expected)
    }

    @Test func layerNormNormalisesTheLastAxis() throws {
        let ln = try LayerNorm(normalizedShape: [6])
        var rng = SeededRandom(seed: 10)
        ln.weight!.value = try Tensor.normal([6], rng: &rng)
        ln.bias!.value = try Tensor.normal([6], rng: &rng)
        let x = try values([2, 3, 6], seed: 11)
        let (graph, y) = try runTraced(ln, x)
        #expect(outputType(graph) == TensorType([2, 3, 6]))
        expectParameters(ln, in: graph, ["weight": [6], "bias": [6]])
        expectClose(y, try eagerLayerNorm(ln, x))
    }

    @Test func layerNormOverTwoAxesAndWithoutAffine() throws {
        let ln = try LayerNorm(normalizedShape: [3, 4], elementwiseAffine: false)
        let x = try values([2, 3, 4], seed: 12)
        let (graph, y) = try runTraced(ln, x)
        #expect(graph.parameterNodes.isEmpty)
        let flat = try x.reshaped([2, 12])
        let mean = try flat.mean(axes: [1], keepDims: true)
        let variance = try (flat - mean).square().mean(axes: [1], keepDims: true)
        expectClose(y, try ((flat - mean) / (variance + 1e-5).sqrt()).reshaped([2, 3, 4]))
        let error = try #require(throws: NNError.self) { try ln.trace(TensorType([2, 4, 3])) }
        #expect(error.code == .shapeMismatch)
    }

    @Test func embeddingLooksUpRowsOfItsTable() throws {
        var rng = SeededRandom(seed: 13)
        let embedding = try Embedding(numEmbeddings: 10, embeddingDim: 4, rng: &rng)
        let ids = try Tensor([3, 0, 9, 3, 1, 2] as [Int64], shape: [2, 3])
        let (graph, y) = try runTraced(embedding, ids)
        #expect(outputType(graph) == TensorType([2, 3, 4]))
        expectParameters(embedding, in: graph, ["weight": [10, 4]])
        let table = try embedding.weight.value.scalars(as: Float.self)
        let rows = try ids.scalars(as: Int64.self).flatMap { table[Int($0) * 4..<Int($0) * 4 + 4] }
        #expect(try y.scalars(as: Float.self) == rows)
        let error = try #require(throws: NNError.self) { try embedding.trace(TensorType([2, 3], .float32)) }
        #expect(error.code == .dtypeMismatch)
    }

    @Test func loadReplacesValuesByNameAndChecksShapes() throws {
        var rng = SeededRandom(seed: 14)
        let fc = try Linear(inFeatures: 2, outFeatures: 2, rng: &rng)
        try fc.load(["weight": Tensor.ones([2, 2]), "bias": Tensor.zeros([2])])
        #expect(try fc.weight.value.scalars(as: Float.self) == [1, 1, 1, 1])
        let missing = try #require(throws: NNError.self) { try fc.load(["weight": Tensor.ones([2, 2])]) }
        #expect(missing.message.contains("\"bias\""))
        let wrongShape = try #require(throws: NNError.self) { try fc.load(["weight": Tensor.ones([3, 2])], strict: false) }
        #expect(wrongShape.code == .shapeMismatch)
        let unknown = try #require(throws: NNError.self) { try fc.load(["weights": Tensor.ones([2, 2])], strict: true) }
        #expect(unknown.code == .unknownParameter)
    }
}
