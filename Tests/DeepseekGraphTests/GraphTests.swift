import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct GraphTests {
    func mlp() throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([4, 6]))
        b.parameter("w1", TensorType([6, 5]))
        b.parameter("b1", TensorType([5]))
        b.parameter("w2", TensorType([5, 3]))
        // Declared out of order on purpose: the builder orders topologically.
        b.op("logits", .matmul, ["h", "w2"])
        b.op("h", .unary(.relu), ["z"])
        b.op("z", .binary(.add), ["xw", "b1"])
        b.op("xw", .matmul, ["x", "w1"], on: DevicePin(kind: .cpu))
        b.outputs(["logits"])
        return try b.build()
    }

    @Test func builderOrdersNodesTopologicallyAndInfersTypes() throws {
        let g = try mlp()
        let names = g.nodes.map(\.name)
        #expect(names.firstIndex(of: "xw")! < names.firstIndex(of: "z")!)
        #expect(names.firstIndex(of: "h")! < names.firstIndex(of: "logits")!)
        #expect(g[value: g.outputs[0]].type == TensorType([4, 3]))
        #expect(g.node(named: "xw")?.pin.kind == .cpu)
    }

    @Test func runMatchesEagerTensorCode() throws {
        let g = try mlp()
        var rng = SeededRandom(seed: 7)
        let x = try Tensor.normal([4, 6], rng: &rng)
        let w1 = try Tensor.normal([6, 5], rng: &rng)
        let b1 = try Tensor.normal([5], rng: &rng)
        let w2 = try Tensor.normal([5, 3], rng: &rng)
        let out = try g.run(GraphFeeds(inputs: ["x": x], parameters: ["w1": w1, "b1": b1, "w2": w2]))[0]
        let expected = try (x.matmul(w1) + b1).relu().matmul(w2)
        expectClose(out, expected, tolerance: Tolerance(absolute: 0, relative: 0))
    }

    @Test func cycleIsRejectedNamingItsNodes() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([2]))
        b.op("a", .binary(.add), ["x", "c"])
        b.op("b", .unary(.relu), ["a"])
        b.op("c", .unary(.exp), ["b"])
        let error = try #require(throws: GraphError.self) { try b.build() }
        #expect(error.code == .cycle)
        #expect(error.message.contains("\"a\"") && error.message.contains("\"b\"") && error.message.contains("\"c\""))
    }

    @Test func shapeErrorNamesNodeInputsAndRule() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([64, 784]))
        b.parameter("w", TensorType([128, 10]))
        b.op("fc", .matmul, ["x", "w"])
        let error = try #require(throws: GraphError.self) { try b.build() }
        #expect(error.code == .inference)
        #expect(error.message.contains("\"fc\""))
        #expect(error.message.contains("float32[64, 784]") && error.message.contains("float32[128, 10]"))
        #expect(error.message.contains("inner dimensions"))
    }

    @Test func unknownReferenceAndDuplicateNamesAreErrors() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([2]))
        b.op("y", .unary(.relu), ["z"])
        #expect(throws: GraphError.self) { try b.build() }
        var d = GraphBuilder()
        d.input("x", TensorType([2]))
        d.op("x", .unary(.relu), ["x"])
        let e = try #require(throws: GraphError.self) { try d.build() }
        #expect(e.code == .duplicateName)
    }

    @Test func wrongArityIsAnError() throws {
        var g = Graph()
        let x = try g.addInput("x", TensorType([2]))
        let e = try #require(throws: GraphError.self) { try g.add(.matmul, [x]) }
        #expect(e.code == .arity)
    }

    @Test func pinningAnOpToADeviceKindThatLacksItFailsAtBuildTime() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([1, 1, 4, 4]))
        b.op("cols", .custom(Im2col(Conv2dParameters(), kernel: (h: 3, w: 3))), ["x"], on: DevicePin(kind: .opencl))
        let error = try #require(throws: GraphError.self) { try b.build() }
        #expect(error.code == .placement)
        #expect(error.message.contains("\"cols\"") && error.message.contains("opencl"), "\(error)")
    }

    @Test func feedsAreValidated() throws {
        let g = try mlp()
        let e = try #require(throws: GraphError.self) {
            try g.run(GraphFeeds(inputs: ["x": try Tensor.zeros([4, 7])], parameters: [:]))
        }
        #expect(e.code == .feed)
    }

    @Test func tracerRecordsDefineByRunGraphWithScopesAndPins() throws {
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([2, 3]))
        let w = try tracer.parameter("w", TensorType([3, 4]))
        let y = try tracer.scope("layer") {
            try tracer.pinned(DevicePin(kind: .opencl)) { try x.matmul(w, name: "mm").relu() }
        }
        let g = tracer.finish(outputs: [y])
        #expect(g.node(named: "layer.mm")?.pin.kind == .opencl)
        #expect(g[value: y.id].type == TensorType([2, 4]))
        // Reusing a parameter name returns the same value.
        #expect(try tracer.parameter("w", TensorType([3, 4])).id == w.id)
        #expect(throws: GraphError.self) { try tracer.parameter("w", TensorType([3, 5])) }
    }
}
