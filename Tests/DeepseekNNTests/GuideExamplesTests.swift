import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Foundation
import Testing

/// The code samples of `docs/guide-models.md`, copied verbatim, with checks of what they claim.
///
/// Each test shadows `print` with a local function that records what the sample prints, so the
/// printed text can be checked against the guide. `guideSamplesAppearVerbatimHere` fails when a
/// sample in the guide and its copy here drift apart.
@Suite struct GuideExamplesTests {
    @Test func mlpFromLayers() throws {
        var printed: [String] = []
        func print(_ item: Any) { printed.append("\(item)") }

        var rng = SeededRandom(seed: 0)
        let model = try Sequential {
            try Linear(inFeatures: 784, outFeatures: 256, rng: &rng)
            ReLU()
            try Linear(inFeatures: 256, outFeatures: 10, rng: &rng)
        }
        let graph = try model.trace(TensorType([64, 784]))
        let x = try Tensor.normal([64, 784], rng: &rng)
        let logits = try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0]
        print(logits.shape)   // [64, 10]

        #expect(printed == ["[64, 10]"])
        #expect(model.parameters.map(\.name) == ["0.weight", "0.bias", "2.weight", "2.bias"])
        #expect(model.parameters[0].value.shape == [256, 784] && model.parameters[2].value.shape == [10, 256])
        // `MLP(sizes:seed:)` builds the same stack.
        let same = try MLP(sizes: [784, 256, 10], seed: 0)
        for (p, q) in zip(model.parameters, same.parameters) {
            #expect(p.name == q.name)
            #expect(try p.value.scalars(as: Float.self) == q.value.scalars(as: Float.self))
        }
    }

    @Test func printedGraphOfASmallMLP() throws {
        var printed: [String] = []
        func print(_ item: Any) { printed.append("\(item)") }

        let small = try MLP(sizes: [4, 3, 2], seed: 0)
        print(try small.trace(TensorType([8, 4])))

        #expect(
            printed == [
                """
                n0 "x" = input(x)() -> %0: float32[8, 4]
                n1 "0.weight" = parameter(0.weight)() -> %1: float32[3, 4]
                n2 "0.transpose" = permute([1, 0])(%1) -> %2: float32[4, 3]
                n3 "0.matmul" = matmul(%0, %2) -> %3: float32[8, 3]
                n4 "0.bias" = parameter(0.bias)() -> %4: float32[3]
                n5 "0.add" = add(%3, %4) -> %5: float32[8, 3]
                n6 "1.relu" = relu(%5) -> %6: float32[8, 3]
                n7 "2.weight" = parameter(2.weight)() -> %7: float32[2, 3]
                n8 "2.transpose" = permute([1, 0])(%7) -> %8: float32[3, 2]
                n9 "2.matmul" = matmul(%6, %8) -> %9: float32[8, 2]
                n10 "2.bias" = parameter(2.bias)() -> %10: float32[2]
                n11 "2.add" = add(%9, %10) -> %11: float32[8, 2]
                outputs: %11
                """
            ])
    }

    @Test func tracingWithALoss() throws {
        let model = try MLP(sizes: [784, 256, 10], seed: 0)
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([64, 784]))
        let labels = try tracer.input("labels", TensorType([64], .int64))
        let logits = try model(x)
        let loss = try crossEntropy(logits: logits, labels: labels)
        let graph = tracer.finish(outputs: [loss, logits])

        #expect(graph.outputs.map { graph[value: $0].type } == [TensorType([]), TensorType([64, 10])])
        #expect(graph.inputNodes.map(\.name) == ["x", "labels"])
    }

    @Test func twoBranchFromLayers() throws {
        var printed: [String] = []
        func print(_ item: Any) { printed.append("\(item)") }

        final class TwoBranch: Module {
            let left: Sequential
            let right: Sequential
            let head: Linear

            init(rng: inout SeededRandom) throws {
                left = try Sequential { try Linear(inFeatures: 16, outFeatures: 8, rng: &rng); ReLU() }.named("left")
                right = try Sequential { try Linear(inFeatures: 16, outFeatures: 8, rng: &rng); Tanh() }.named("right")
                head = try Linear(inFeatures: 16, outFeatures: 4, rng: &rng).named("head")
            }

            func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
                let a = try x.tracer.pinned(DevicePin(kind: .opencl)) { try left(x, scope: "left") }
                let b = try x.tracer.pinned(DevicePin(process: 1)) { try right(x, scope: "right") }
                let joined = try x.tracer.apply(.concat(axis: 1), [a, b], name: "join")[0]
                return try head(joined, scope: "head")
            }

            var parameters: [Parameter] { left.parameters + right.parameters + head.parameters }
        }

        var rng = SeededRandom(seed: 1)
        let model = try TwoBranch(rng: &rng)
        let graph = try model.trace(TensorType([32, 16]))
        print(model.parameters.map(\.name))
        // ["left.0.weight", "left.0.bias", "right.0.weight", "right.0.bias", "head.weight", "head.bias"]
        print(graph.node(named: "left.0.matmul")!.pin)   // kind: opencl
        print(graph.node(named: "right.1.tanh")!.pin)    // process: 1

        #expect(
            printed == [
                #"["left.0.weight", "left.0.bias", "right.0.weight", "right.0.bias", "head.weight", "head.bias"]"#,
                "kind: opencl", "process: 1",
            ])
        #expect(graph[value: graph.outputs[0]].type == TensorType([32, 4]))
        #expect(graph.node(named: "join")?.pin == .any && graph.node(named: "head.matmul")?.pin == .any)
        // The builder version of the same model (section 3) computes the same logits when fed the
        // layer model's weights, transposed to input-major.
        let built = try twoBranchBuilt()
        let x = try values([32, 16], seed: 3)
        let p = model.parameterValues
        #expect(p["left.0.bias"] != nil)
        // The builder sample has no biases; zero them in the layer model for the comparison.
        for q in model.parameters where q.name.hasSuffix("bias") { q.value = try Tensor.zeros(q.value.shape) }
        let fromLayers = try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0]
        let fromBuilder = try built.run(
            GraphFeeds(
                inputs: ["x": x],
                parameters: [
                    "left.w": p["left.0.weight"]!.transposed().contiguous(),
                    "right.w": p["right.0.weight"]!.transposed().contiguous(),
                    "head.w": p["head.weight"]!.transposed().contiguous(),
                ]))[0]
        expectClose(fromBuilder, fromLayers)
    }

    @Test func mlpFromGraphBuilder() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([64, 784]))
        b.parameter("w1", TensorType([784, 256]))
        b.parameter("b1", TensorType([256]))
        b.parameter("w2", TensorType([256, 10]))
        b.parameter("b2", TensorType([10]))
        b.op("h", .matmul, ["x", "w1"], on: DevicePin(kind: .opencl))
        b.op("hb", .binary(.add), ["h", "b1"], on: DevicePin(kind: .opencl))
        b.op("a", .unary(.relu), ["hb"])
        b.op("z", .matmul, ["a", "w2"], on: DevicePin(process: 1))
        b.op("logits", .binary(.add), ["z", "b2"], on: DevicePin(process: 1))
        b.outputs(["logits"])
        let graph = try b.build()

        #expect(graph.node(named: "h")?.pin.kind == .opencl && graph.node(named: "logits")?.pin.process == 1)
        // Fed the transposed weights of the layer MLP, it computes the same logits.
        let model = try MLP(sizes: [784, 256, 10], seed: 0)
        let p = model.parameterValues
        let x = try values([64, 784], seed: 4)
        let fromBuilder = try graph.run(
            GraphFeeds(
                inputs: ["x": x],
                parameters: [
                    "w1": p["0.weight"]!.transposed().contiguous(), "b1": p["0.bias"]!,
                    "w2": p["2.weight"]!.transposed().contiguous(), "b2": p["2.bias"]!,
                ]))[0]
        expectClose(fromBuilder, try runTraced(model, x).output)
    }

    func twoBranchBuilt() throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([32, 16]))
        b.parameter("left.w", TensorType([16, 8]), on: DevicePin(kind: .opencl))
        b.parameter("right.w", TensorType([16, 8]), on: DevicePin(process: 1))
        b.parameter("head.w", TensorType([16, 4]))
        b.op("left.matmul", .matmul, ["x", "left.w"], on: DevicePin(kind: .opencl))
        b.op("left.relu", .unary(.relu), ["left.matmul"], on: DevicePin(kind: .opencl))
        b.op("right.matmul", .matmul, ["x", "right.w"], on: DevicePin(process: 1))
        b.op("right.tanh", .unary(.tanh), ["right.matmul"], on: DevicePin(process: 1))
        b.op("join", .concat(axis: 1), ["left.relu", "right.tanh"])
        b.op("logits", .matmul, ["join", "head.w"])
        b.outputs(["logits"])
        let graph = try b.build()
        return graph
    }

    @Test func twoBranchFromGraphBuilder() throws {
        let graph = try twoBranchBuilt()
        #expect(graph[value: graph.outputs[0]].type == TensorType([32, 4]))
        #expect(graph.node(named: "right.tanh")?.pin == DevicePin(process: 1))
    }

    @Test func shapeErrorMessage() throws {
        var printed: [String] = []
        func print(_ item: Any) { printed.append("\(item)") }

        let model = try MLP(sizes: [784, 256, 10], seed: 0)
        do {
            _ = try model.trace(TensorType([64, 100]))
        } catch let error as GraphError {
            print(error.message)
        }

        #expect(
            printed == [
                """
                n3 "0.matmul" (matmul) with inputs %0: float32[64, 100], %2: float32[784, 256]: matmul: inner dimensions differ: [64, 100] × [784, 256] (100 ≠ 784); the last axis of the left operand must equal the second-to-last axis of the right
                """
            ])
    }

    @Test func runningAGraph() throws {
        var rng = SeededRandom(seed: 2)
        let model = try MLP(sizes: [10, 8, 3], rng: &rng)
        let graph = try model.trace(TensorType([4, 10]))
        let x = try Tensor.uniform([4, 10], low: -1, high: 1, rng: &rng)
        let outputs = try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))
        let predictions = try outputs[0].argmax(axis: 1)

        #expect(predictions.shape == [4] && predictions.dtype == .int64)
        let missing = try #require(throws: GraphError.self) { try graph.run(GraphFeeds(inputs: ["x": x])) }
        #expect(missing.code == .feed)
    }

    @Test func updatingParameters() throws {
        // The same seed builds the same weights: the values before the step.
        let before = try MLP(sizes: [4, 3, 2], seed: 0).parameterValues

        let model = try MLP(sizes: [4, 3, 2], seed: 0)
        var optimizer = try SGD(learningRate: 0.1, momentum: 0.9)
        var gradients: [String: Tensor] = [:]
        for p in model.trainableParameters { gradients[p.name] = try Tensor.full(p.value.shape, value: 0.5) }
        try optimizer.step(model.parameters, gradients: gradients)

        for p in model.parameters {
            expectClose(p.value, try before[p.name]! - 0.05, p.name)
        }
    }

    /// Every ```swift and ```text block of the guide appears, line for line (indentation aside),
    /// in this file.
    @Test func guideSamplesAppearVerbatimHere() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let guide = try String(contentsOf: root.appendingPathComponent("docs/guide-models.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        func lines(_ text: some StringProtocol) -> [String] {
            text.split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        let sourceLines = lines(source)
        var blocks: [[String]] = []
        var current: [String]?
        for line in guide.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```swift" || line == "```text" {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(lines(current!.joined(separator: "\n")))
                current = nil
            } else if current != nil {
                current!.append(String(line))
            }
        }
        #expect(blocks.count >= 10)
        for block in blocks {
            let found = sourceLines.indices.contains { start in
                start + block.count <= sourceLines.count && Array(sourceLines[start..<(start + block.count)]) == block
            }
            #expect(found, "guide sample not found verbatim in GuideExamplesTests.swift:\n\(block.joined(separator: "\n"))")
        }
    }
}
