import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct AutodiffTests {
    /// x [4, 6] → relu(x·w1 + b1)·w2 → cross-entropy against fixed labels.
    func classifier() throws -> (graph: Graph, loss: ValueID) {
        var g = Graph()
        let x = try g.addInput("x", TensorType([4, 6], .float64))
        let w1 = try g.addParameter("w1", TensorType([6, 5], .float64))
        let b1 = try g.addParameter("b1", TensorType([5], .float64))
        let w2 = try g.addParameter("w2", TensorType([5, 3], .float64))
        let labels = try g.addConstant(Tensor([0, 2, 1, 2] as [Int64], shape: [4]), name: "labels")
        let xw = try g.add(.matmul, [x, w1], name: "fc1")[0]
        let z = try g.add(.binary(.add), [xw, b1], name: "fc1.bias")[0]
        let h = try g.add(.unary(.relu), [z], name: "act")[0]
        let logits = try g.add(.matmul, [h, w2], name: "fc2")[0]
        let loss = try g.add(.crossEntropy(labelSmoothing: 0), [logits, labels], name: "loss")[0]
        g.outputs = [logits]
        return (g, loss)
    }

    func classifierFeeds() throws -> GraphFeeds {
        var rng = SeededRandom(seed: 3)
        return GraphFeeds(
            inputs: ["x": try Tensor.normal([4, 6], dtype: .float64, rng: &rng)],
            parameters: [
                "w1": try Tensor.normal([6, 5], dtype: .float64, rng: &rng), "b1": try Tensor.normal([5], dtype: .float64, rng: &rng),
                "w2": try Tensor.normal([5, 3], dtype: .float64, rng: &rng),
            ])
    }

    @Test func trainingGraphKeepsForwardIDsAndNamesGradientsAfterParameters() throws {
        let (forward, loss) = try classifier()
        let training = try forward.trainingGraph(loss: loss)
        let g = training.graph
        #expect(training.forwardNodeCount == forward.nodes.count)
        for (a, b) in zip(forward.nodes, g.nodes) {
            #expect(a.id == b.id && a.name == b.name && a.inputs == b.inputs && a.outputs == b.outputs)
            #expect(a.op.signature == b.op.signature)
        }
        #expect(Array(g.values.prefix(forward.values.count)).map(\.type) == forward.values.map(\.type))
        #expect(training.targets == forward.parameterNodes.map { $0.outputs[0] })
        #expect(g.outputs == [loss] + training.gradients)
        for name in ["w1", "b1", "w2"] {
            let grad = try #require(training.gradient(forParameter: name))
            let node = g[node: g[value: grad].producer]
            #expect(node.name == "\(name).grad")
            #expect(node.id.rawValue >= forward.nodes.count)
            #expect(g[value: grad].type == forward[value: forward.node(named: name)!.outputs[0]].type)
        }
        #expect(g.node(named: "loss.grad") != nil)
        #expect(g.node(named: "fc2.grad.matmul") != nil || g.node(named: "act.grad") != nil)
        #expect(training.gradient(forParameter: "x") == nil)
        #expect(Set(g.nodes.map(\.name)).count == g.nodes.count)
    }

    @Test func trainingGraphGradientsMatchFiniteDifferences() throws {
        try KernelBackends.using(ReferenceBackend()) {
            let (forward, loss) = try classifier()
            let training = try forward.trainingGraph(loss: loss)
            let feeds = try classifierFeeds()
            let results = try training.graph.run(feeds)
            var lossOnly = forward
            lossOnly.outputs = [loss]
            #expect(try results[0].item(as: Double.self) == lossOnly.run(feeds)[0].item(as: Double.self))
            for (k, name) in ["w1", "b1", "w2"].enumerated() {
                let analytic = try results[1 + k].scalarsAsDouble()
                let base = feeds.parameters[name]!
                var values = try base.scalarsAsDouble()
                for j in values.indices {
                    let saved = values[j]
                    func at(_ v: Double) throws -> Double {
                        values[j] = v
                        var f = feeds
                        f.parameters[name] = try Tensor(values, shape: base.shape)
                        return try lossOnly.run(f)[0].item(as: Double.self)
                    }
                    let numeric = (try at(saved + 1e-6) - at(saved - 1e-6)) / 2e-6
                    values[j] = saved
                    #expect(Swift.abs(analytic[j] - numeric) <= 1e-7 + 1e-6 * Swift.abs(numeric), "\(name)[\(j)]: \(analytic[j]) vs \(numeric)")
                }
            }
        }
    }

    @Test func valueUsedSeveralTimesAccumulatesItsContributions() throws {
        try GradientCheck.run(
            GradientCase("x·x + exp(x) + x", [GradientInput([3, 4])]) { g, x in
                let square = try g.add(.binary(.mul), [x[0], x[0]], name: "square")[0]
                let e = try g.add(.unary(.exp), x, name: "e")[0]
                let sum = try g.add(.binary(.add), [square, e], name: "sum")[0]
                return try g.add(.binary(.add), [sum, x[0]], name: "y")
            })
        var g = Graph()
        let x = try g.addParameter("x", TensorType([3], .float64))
        let y = try g.add(.binary(.mul), [x, x], name: "square")[0]
        let loss = try g.add(.reduce(.sum, axes: [], keepDims: false), [y], name: "loss")[0]
        let grads = try g.gradients(of: loss, withRespectTo: [x])
        let node = grads.graph[node: grads.graph[value: grads.gradients[0]].producer]
        #expect(node.name == "x.grad")
        #expect(node.op.signature == "add")
        let values = try KernelBackends.using(ReferenceBackend()) {
            try grads.graph.run(GraphFeeds(parameters: ["x": Tensor([1, -2, 3] as [Double])]))
        }
        expectClose(values[0], Tensor([2, -4, 6] as [Double]))
    }

    @Test func targetTheLossDoesNotDependOnGetsZeros() throws {
        var g = Graph()
        let a = try g.addParameter("a", TensorType([2, 3], .float64))
        let b = try g.addParameter("b", TensorType([4], .float32))
        let loss = try g.add(.reduce(.mean, axes: [], keepDims: false), [a], name: "loss")[0]
        let floorOnly = try g.add(.unary(.floor), [a], name: "floor")[0]
        let stepLoss = try g.add(.reduce(.sum, axes: [], keepDims: false), [floorOnly], name: "stepLoss")[0]
        let grads = try g.gradients(of: loss, withRespectTo: [b, a])
        #expect(grads.graph[value: grads.gradients[0]].type == TensorType([4], .float32))
        #expect(grads.graph[node: grads.graph[value: grads.gradients[0]].producer].name == "b.grad")
        let steps = try g.gradients(of: stepLoss, withRespectTo: [a])
        try KernelBackends.using(ReferenceBackend()) {
            let feeds = GraphFeeds(parameters: ["a": try Tensor.testValues([2, 3], dtype: .float64), "b": try Tensor.testValues([4])])
            let out = try grads.graph.run(feeds)
            expectClose(out[0], try Tensor.zeros([4]))
            expectClose(out[1], try Tensor.full([2, 3], value: 1.0 / 6, dtype: .float64))
            expectClose(try steps.graph.run(feeds)[0], try Tensor.zeros([2, 3], dtype: .float64))
        }
    }

    @Test func seedScalesEveryGradient() throws {
        var g = Graph()
        let x = try g.addParameter("x", TensorType([3], .float64))
        let scale = try g.addInput("scale", TensorType([], .float64))
        let loss = try g.add(.reduce(.sum, axes: [], keepDims: false), [g.add(.unary(.square), [x])[0]], name: "loss")[0]
        let constant = try g.gradients(of: loss, withRespectTo: [x], seed: 4)
        let fed = try g.gradients(of: loss, withRespectTo: [x], seed: .value(scale))
        try KernelBackends.using(ReferenceBackend()) {
            let feeds = GraphFeeds(inputs: ["scale": Tensor(scalar: 0.5)], parameters: ["x": Tensor([1, 2, 3] as [Double])])
            expectClose(try constant.graph.run(feeds)[0], Tensor([8, 16, 24] as [Double]))
            expectClose(try fed.graph.run(feeds)[0], Tensor([1, 2, 3] as [Double]))
        }
    }

    @Test func gradientsTakeTheDtypeOfMixedPrecisionOperands() throws {
        var g = Graph()
        let a = try g.addParameter("a", TensorType([2, 3], .float32))
        let b = try g.addParameter("b", TensorType([3], .float64))
        let h = try g.addParameter("h", TensorType([3], .float16))
        let y = try g.add(.binary(.mul), [a, b])[0]
        let z = try g.add(.binary(.add), [y, h])[0]
        let loss = try g.add(.reduce(.sum, axes: [], keepDims: false), [z], name: "loss")[0]
        let grads = try g.gradients(of: loss, withRespectTo: [a, b, h])
        #expect(grads.gradients.map { grads.graph[value: $0].type } == [TensorType([2, 3], .float32), TensorType([3], .float64), TensorType([3], .float16)])
        let out = try KernelBackends.using(ReferenceBackend()) {
            try grads.graph.run(
                GraphFeeds(parameters: [
                    "a": try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3]), "b": Tensor([1, 2, 3] as [Double]),
                    "h": try Tensor.zeros([3], dtype: .float16),
                ]))
        }
        expectClose(out[0], try Tensor([1, 2, 3, 1, 2, 3] as [Float], shape: [2, 3]))
        expectClose(out[1], Tensor([5, 7, 9] as [Double]))
        expectClose(out[2], try Tensor.full([3], value: 2, dtype: .float16))
    }

    @Test func lossMustBeAOneElementFloat() throws {
        var g = Graph()
        let x = try g.addParameter("x", TensorType([2, 3]))
        let y = try g.add(.unary(.exp), [x], name: "y")[0]
        let index = try g.add(.argReduce(.argmax, axis: 0, keepDims: false), [y])[0]
        let count = try g.add(.reduce(.sum, axes: [], keepDims: false), [index], name: "count")[0]
        let vector = try #require(throws: GraphError.self) { try g.gradients(of: y, withRespectTo: [x]) }
        #expect(vector.code == .notDifferentiable)
        #expect(vector.message.contains("float32[2, 3]") && vector.message.contains("\"y\""))
        let integer = try #require(throws: GraphError.self) { try g.gradients(of: count, withRespectTo: [x]) }
        #expect(integer.code == .notDifferentiable)
        #expect(integer.message.contains("int64"))
        let unknown = try #require(throws: GraphError.self) { try g.gradients(of: ValueID(99), withRespectTo: [x]) }
        #expect(unknown.code == .unknownReference)
    }

    @Test func integerTargetsAndCustomOpsAreNotDifferentiable() throws {
        var g = Graph()
        let x = try g.addParameter("x", TensorType([2, 3]))
        let labels = try g.addInput("labels", TensorType([2], .int64))
        let loss = try g.add(.crossEntropy(labelSmoothing: 0), [x, labels], name: "loss")[0]
        let error = try #require(throws: GraphError.self) { try g.gradients(of: loss, withRespectTo: [x, labels]) }
        #expect(error.code == .notDifferentiable)
        #expect(error.message.contains("\"labels\"") && error.message.contains("int64[2]"))

        let im2col = try g.add(.custom(Im2col(Conv2dParameters(), kernel: (1, 1))), [g.add(.reshape([1, 1, 2, 3]), [x])[0]], name: "columns")[0]
        let total = try g.add(.reduce(.sum, axes: [], keepDims: false), [im2col], name: "total")[0]
        let custom = try #require(throws: GraphError.self) { try g.gradients(of: total, withRespectTo: [x]) }
        #expect(custom.code == .notDifferentiable)
        #expect(custom.message.contains("\"columns\"") && custom.message.contains("im2col"))
    }

    @Test func hostGradientKernelsLeaveDevicePinsOfTheirKind() throws {
        var g = Graph()
        let x = try g.addParameter("x", TensorType([1, 2, 4, 4]), pin: DevicePin(kind: .opencl))
        let w = try g.addParameter("w", TensorType([3, 2, 3, 3]))
        let y = try g.add(.conv2d(Conv2dParameters(padding: 1)), [x, w], name: "conv", pin: DevicePin(kind: .opencl, process: 1))[0]
        let loss = try g.add(.reduce(.sum, axes: [], keepDims: false), [y], name: "loss")[0]
        let grads = try g.gradients(of: loss, withRespectTo: [x, w])
        let backward = grads.backwardNodes
        let hosts = backward.filter { $0.op.deviceKinds == [.cpu] }
        #expect(Set(hosts.map(\.op.label)) == ["im2col", "col2im"])
        #expect(hosts.allSatisfy { $0.pin == DevicePin(process: 1) })
        #expect(backward.contains { $0.op.label == "matmul" && $0.pin.kind == .opencl && $0.name.hasPrefix("conv.grad") })
    }
}
