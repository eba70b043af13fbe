#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct Layers2Tests {
    // MARK: SiLU

    @Test func siluRecordsOneNodeAndMatchesTheEagerOp() throws {
        let x = try values([3, 4], seed: 1)
        let (graph, y) = try runTraced(SiLU(), x)
        #expect(graph.node(named: "silu") != nil)
        #expect(SiLU().parameters.isEmpty)
        expectClose(y, try x.silu())
        // x·σ(x) written out.
        expectClose(y, try x * x.sigmoid())
    }

    // MARK: Dropout

    @Test func dropoutIsTheIdentityInEvaluationMode() throws {
        let dropout = try Dropout(probability: 0.5)
        let x = try values([4, 6], seed: 2)
        let (graph, y) = try runTraced(dropout, x)
        #expect(graph.nodes.count == 1)  // the input alone: nothing recorded
        expectClose(y, x, tolerance: Tolerance(absolute: 0, relative: 0))
        #expect(Dropout.mode == .evaluation)
        // Training with probability 0 records nothing either.
        let none = try Dropout(probability: 0)
        let g0 = try Dropout.withMode(.training(seed: 1)) { try none.trace(TensorType([4, 6])) }
        #expect(g0.nodes.count == 1)
    }

    @Test func dropoutMaskKeepsTheRightFractionScaledByTheKeepProbability() throws {
        let p = 0.3
        let op = DropoutMask(shape: [200, 500], probability: p, seed: 42)
        let mask = try op.evaluate([])[0]
        #expect(mask.shape == [200, 500] && mask.dtype == .float32)
        let v = try mask.scalars(as: Float.self)
        let kept = v.filter { $0 != 0 }
        #expect(kept.allSatisfy { $0 == Float(1 / (1 - p)) })
        let dropped = Double(v.count - kept.count) / Double(v.count)
        // The fraction's standard deviation is √(0.21/100 000) ≈ 0.0014; allow five of them.
        #expect(abs(dropped - p) < 0.007, "dropped fraction \(dropped)")
        let mean = v.reduce(0) { $0 + Double($1) } / Double(v.count)
        #expect(abs(mean - 1) < 0.01, "mask mean \(mean)")
        // The mask is the one the eager op draws from the same seed.
        var rng = SeededRandom(seed: 42)
        let eager = try Tensor.ones([200, 500]).dropout(probability: p, rng: &rng).mask
        expectClose(mask, eager, tolerance: Tolerance(absolute: 0, relative: 0))
    }

    @Test func dropoutMasksAreDeterministicPerSeedAndStep() throws {
        let a = try DropoutMask(shape: [1000], probability: 0.5, seed: 7).evaluate([])[0].scalars(as: Float.self)
        let b = try DropoutMask(shape: [1000], probability: 0.5, seed: 7).evaluate([])[0].scalars(as: Float.self)
        let c = try DropoutMask(shape: [1000], probability: 0.5, seed: 8).evaluate([])[0].scalars(as: Float.self)
        #expect(a == b)
        #expect(a != c)
        // Through a traced layer: same (seed, step) → same output; another step → another mask.
        let dropout = try Dropout(probability: 0.5)
        let x = try values([8, 32], seed: 3)
        func run(_ mode: DropoutMode) throws -> [Float] {
            try Dropout.withMode(mode) { try runTraced(dropout, x).output.scalars(as: Float.self) }
        }
        let s1 = try run(.training(seed: 5, step: 1))
        #expect(s1 == (try run(.training(seed: 5, step: 1))))
        #expect(s1 != (try run(.training(seed: 5, step: 2))))
        #expect(s1 != (try run(.training(seed: 6, step: 1))))
        #expect(DropoutMode.training(seed: 5, step: 1) != DropoutMode.training(seed: 5, step: 2))
    }

    @Test func dropoutInTrainingModeRecordsAMaskOpAndAMultiply() throws {
        let dropout = try Dropout(probability: 0.25)
        let x = try values([5, 8], seed: 4)
        let (graph, y) = try Dropout.withMode(.training(seed: 9)) { try runTraced(dropout, x) }
        let maskNode = try #require(graph.node(named: "mask"))
        #expect(maskNode.inputs.isEmpty)
        #expect(graph[value: maskNode.outputs[0]].type == TensorType([5, 8]))
        guard case .custom(let custom) = maskNode.op, let op = custom as? DropoutMask else {
            Issue.record("mask node is \(maskNode.op.label), not a DropoutMask")
            return
        }
        #expect(op.probability == 0.25 && op.shape == [5, 8])
        #expect(graph.node(named: "dropout") != nil)
        expectClose(y, try x * op.evaluate([])[0])
        // Shape inference runs the op on the meta backend, which gives a meta tensor.
        let meta = try KernelBackends.using(MetaBackend()) { try op.evaluate([])[0] }
        #expect(meta.isMeta && meta.shape == [5, 8])
        #expect(try GraphOp.custom(op).inferTypes([]) == [TensorType([5, 8])])
    }

    @Test func twoDropoutLayersOfOneModelDrawDifferentMasks() throws {
        let model = Sequential([try Dropout(probability: 0.5), try Dropout(probability: 0.5)])
        let graph = try Dropout.withMode(.training(seed: 1)) { try model.trace(TensorType([64])) }
        let masks = graph.nodes.compactMap { n -> DropoutMask? in
            if case .custom(let op) = n.op { return op as? DropoutMask }
            return nil
        }
        #expect(masks.count == 2)
        #expect(masks.count == 2 && masks[0].seed != masks[1].seed)
    }

    @Test func aModelWithDropoutDifferentiatesThroughTheMultiply() throws {
        var rng = SeededRandom(seed: 11)
        let fc = try Linear(inFeatures: 4, outFeatures: 3, rng: &rng).named("fc")
        let dropout = try Dropout(probability: 0.5)
        let x = try values([6, 4], seed: 12)
        let tracer = GraphTracer()
        let graph = try Dropout.withMode(.training(seed: 3, step: 4)) {
            let input = try tracer.input("x", TensorType([6, 4]))
            let h = try dropout(fc(input, scope: "fc"), scope: "drop")
            return tracer.finish(outputs: [try h.mean()])
        }
        let training = try graph.trainingGraph(loss: graph.outputs[0])
        let results = try training.graph.run(GraphFeeds(inputs: ["x": x], parameters: fc.parameterValues))
        #expect(results.count == 3)
        // By hand: L = mean(y ⊙ m) with y = x·Wᵀ + b, so ∂L/∂y = m / (N·3), ∂L/∂W = (∂L/∂y)ᵀ·x, ∂L/∂b = Σₙ ∂L/∂y.
        let maskNode = try #require(graph.node(named: "drop.mask"))
        guard case .custom(let op) = maskNode.op else { Issue.record("drop.mask is not a custom op"); return }
        let mask = try op.evaluate([])[0]
        let dy = try mask / 18
        let dW = try dy.transposed().matmul(x)
        let db = try dy.sum(axes: [0])
        let gW = try #require(training.gradient(forParameter: "fc.weight"))
        let gB = try #require(training.gradient(forParameter: "fc.bias"))
        let byName = Dictionary(uniqueKeysWithValues: zip(training.graph.outputs, results))
        expectClose(try #require(byName[gW]), dW)
        expectClose(try #require(byName[gB]), db)
        expectClose(results[0], try (eagerLinear(fc, x) * mask).mean())
    }

    @Test func dropoutRejectsProbabilitiesOutsideTheUnitInterval() throws {
        for p in [-0.1, 1, 1.5] {
            let error = try #require(throws: NNError.self) { try Dropout(probability: p) }
            #expect(error.code == .invalidArgument)
        }
    }

    // MARK: KL divergence

    @Test func klDivergenceMatchesAHandComputation() throws {
        let p: [Double] = [0.2, 0.3, 0.5, 0.1, 0.1, 0.8]
        let q: [Double] = [0.25, 0.25, 0.5, 0, 0.5, 0.5]
        var byHand = 0.0
        for i in 0..<6 where q[i] > 0 { byHand += q[i] * (log(q[i]) - log(p[i])) }
        byHand /= 2  // batchmean: the batch has two rows
        let logP = try Tensor(p.map { Float(log($0)) }, shape: [2, 3])
        let target = try Tensor(q.map { Float($0) }, shape: [2, 3])
        let eager = try klDivergence(logProbabilities: logP, targetProbabilities: target).item(as: Float.self)
        #expect(abs(Double(eager) - byHand) < 1e-6, "eager \(eager) vs \(byHand)")

        let tracer = GraphTracer()
        let a = try tracer.input("logP", TensorType([2, 3]))
        let b = try tracer.input("q", TensorType([2, 3]))
        let graph = tracer.finish(outputs: [try klDivergence(logProbabilities: a, targetProbabilities: b)])
        #expect(graph.node(named: "kl") != nil)
        let symbolic = try graph.run(GraphFeeds(inputs: ["logP": logP, "q": target]))[0].item(as: Float.self)
        #expect(abs(Double(symbolic) - byHand) < 1e-6, "graph \(symbolic) vs \(byHand)")
        #expect(throws: NNError.self) { try klDivergence(logProbabilities: a, targetProbabilities: tracer.input("r", TensorType([3]))) }
    }

    @Test func klDivergenceGradientOfLogitsIsSoftmaxMinusTargetOverBatch() throws {
        // For log p = logSoftmax(z): ∂KL/∂z = (softmax(z) − q) / N, finite even where q = 0.
        let z = try values([2, 3], seed: 21)
        let q = try Tensor([0.25, 0.25, 0.5, 0, 0.5, 0.5] as [Float], shape: [2, 3])
        let tracer = GraphTracer()
        let logits = try tracer.parameter("z", TensorType([2, 3]))
        let target = try tracer.input("q", TensorType([2, 3]))
        let graph = tracer.finish(outputs: [try klDivergence(logProbabilities: logits.logSoftmax(axis: -1), targetProbabilities: target)])
        let training = try graph.trainingGraph(loss: graph.outputs[0])
        let results = try training.graph.run(GraphFeeds(inputs: ["q": q], parameters: ["z": z]))
        expectClose(results[1], try (z.softmax(axis: -1) - q) / 2)
        #expect(try results[1].scalars(as: Float.self).allSatisfy(\.isFinite))
    }

    // MARK: LeNet

    @Test func leNetHasTheLeNet5ShapesNamesAndParameterCount() throws {
        let model = try LeNet(seed: 0)
        #expect(model.parameterCount == 61_706)
        let graph = try model.trace(TensorType([2, 1, 28, 28]))
        #expect(outputType(graph) == TensorType([2, 10]))
        expectParameters(
            model, in: graph,
            [
                "conv1.weight": [6, 1, 5, 5], "conv1.bias": [6], "conv2.weight": [16, 6, 5, 5], "conv2.bias": [16],
                "fc1.weight": [120, 400], "fc1.bias": [120], "fc2.weight": [84, 120], "fc2.bias": [84],
                "fc3.weight": [10, 84], "fc3.bias": [10],
            ])
        #expect(graph[value: graph.node(named: "pool1")!.outputs[0]].type == TensorType([2, 6, 14, 14]))
        #expect(graph[value: graph.node(named: "pool2")!.outputs[0]].type == TensorType([2, 16, 5, 5]))
        // PyTorch's default init: weights within ±1/√fanIn.
        let bound = Float(1 / (25.0).squareRoot())
        #expect(try model.conv1.weight.value.scalars(as: Float.self).allSatisfy { abs($0) <= bound })
        // Same seed, same weights.
        let again = try LeNet(seed: 0)
        #expect(try again.fc1.weight.value.scalars(as: Float.self) == model.fc1.weight.value.scalars(as: Float.self))
    }

    @Test func leNetRunsOnFlatRowsAndImagesAlike() throws {
        let model = try LeNet(seed: 1)
        let images = try values([2, 1, 28, 28], seed: 2)
        let (_, y) = try runTraced(model, images)
        #expect(y.shape == [2, 10])
        let (flatGraph, yFlat) = try runTraced(model, try images.reshaped([2, 784]))
        #expect(flatGraph.node(named: "unflatten") != nil)
        expectClose(yFlat, y)
        #expect(throws: NNError.self) { try model.trace(TensorType([2, 1, 32, 32])) }
    }

    // MARK: Sliding-window attention

    @Test func slidingWindowMasksFollowTheWindowRule() throws {
        let t = 6
        for causal in [true, false] {
            for w in [1, 2, 3, 6] {
                let mask = try MultiHeadSelfAttention.attentionMask(tokens: t, causal: causal, window: w).scalars(as: Float.self)
                for i in 0..<t {
                    for j in 0..<t {
                        let visible = causal ? (i - w < j && j <= i) : abs(i - j) < w
                        #expect(mask[i * t + j] == (visible ? 0 : -Float.infinity), "causal \(causal), w \(w), (\(i), \(j))")
                    }
                }
            }
        }
        #expect(throws: NNError.self) { try MultiHeadSelfAttention.attentionMask(tokens: 3, causal: false, window: 0) }
    }

    @Test(arguments: [true, false])
    func slidingWindowAttentionMatchesAnEagerComputation(causal: Bool) throws {
        var rng = SeededRandom(seed: 31)
        let attn = try MultiHeadSelfAttention(dim: 8, heads: 2, causal: causal, window: 2, rng: &rng)
        let x = try values([2, 5, 8], seed: 32)
        let (graph, y) = try runTraced(attn, x)
        #expect(graph.node(named: "mask") != nil)
        expectClose(y, try eagerWindowedAttention(attn, x, causal: causal, window: 2))
        // Token 0 sees tokens 0 and 1 only: changing token 4 leaves its output unchanged.
        let changed = try Tensor.concat([x.sliced(axis: 1, end: 4), values([2, 1, 8], seed: 33)], axis: 1)
        let y2 = try graph.run(GraphFeeds(inputs: ["x": changed], parameters: attn.parameterValues))[0]
        expectClose(try y2.sliced(axis: 1, end: 1), try y.sliced(axis: 1, end: 1), tolerance: Tolerance(absolute: 0, relative: 0))
    }

    @Test func attentionWithoutAWindowIsUnchanged() throws {
        var rng = SeededRandom(seed: 1)
        let attn = try MultiHeadSelfAttention(dim: 8, heads: 2, rng: &rng)
        #expect(attn.window == nil)
        let graph = try attn.trace(TensorType([1, 4, 8]))
        #expect(graph.node(named: "mask") == nil)
        #expect(throws: NNError.self) { try MultiHeadSelfAttention(dim: 8, heads: 2, window: 0, rng: &rng) }
    }
}

/// Attention head by head with the visibility rule written out element by element.
private func eagerWindowedAttention(_ layer: MultiHeadSelfAttention, _ x: Tensor, causal: Bool, window: Int) throws -> Tensor {
    let q = try eagerLinear(layer.q, x)
    let k = try eagerLinear(layer.k, x)
    let v = try eagerLinear(layer.v, x)
    let (b, t, d) = (x.shape[0], x.shape[1], layer.headDim)
    let qs = try q.scalars(as: Float.self)
    let ks = try k.scalars(as: Float.self)
    let vs = try v.scalars(as: Float.self)
    let dim = layer.dim
    var out = [Float](repeating: 0, count: b * t * dim)
    for n in 0..<b {
        for h in 0..<layer.heads {
            for i in 0..<t {
                var scores: [Double] = []
                var keys: [Int] = []
                for j in 0..<t where (!causal || j <= i) && abs(i - j) < window {
                    var s = 0.0
                    for c in 0..<d { s += Double(qs[(n * t + i) * dim + h * d + c]) * Double(ks[(n * t + j) * dim + h * d + c]) }
                    scores.append(s / Double(d).squareRoot())
                    keys.append(j)
                }
                let top = scores.max() ?? 0
                let weights = scores.map { exp($0 - top) }
                let total = weights.reduce(0, +)
                for c in 0..<d {
                    var acc = 0.0
                    for (w, j) in zip(weights, keys) { acc += w / total * Double(vs[(n * t + j) * dim + h * d + c]) }
                    out[(n * t + i) * dim + h * d + c] = Float(acc)
                }
            }
        }
    }
    return try eagerLinear(layer.out, Tensor(out, shape: [b, t, dim]))
}
