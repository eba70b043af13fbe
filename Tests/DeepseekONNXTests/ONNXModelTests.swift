import DeepseekONNX
import DeepseekTensor
import Testing

@Suite struct ONNXModelTests {
    @Test func modelFieldsDecode() throws {
        let bytes = Fixture.model(opType: "Add", inputs: [("a", [2, 2]), ("b", [2, 2])], outputs: [("y", [2, 2])], opset: 13)
        let model = try ONNXModel(bytes: bytes, file: "add.onnx")
        #expect(model.irVersion == 8)
        #expect(model.opsetVersion == 13)
        #expect(model.graph.name == "graph")
        #expect(model.graph.nodes.map(\.opType) == ["Add"])
        #expect(model.graph.nodes[0].inputs == ["a", "b"])
        #expect(model.graph.nodes[0].outputs == ["y"])
        #expect(model.graph.inputs.map(\.name) == ["a", "b"])
        guard case .tensor(let elementType, let shape) = model.graph.outputs[0].type else {
            Issue.record("expected a tensor type")
            return
        }
        #expect(elementType == .float)
        #expect(shape?.map(\.description) == ["2", "2"])
        #expect(model.unsupportedReason == nil)
    }

    @Test func attributesOfEveryKindDecode() throws {
        let bytes = Fixture.model(opType: "Custom", inputs: [("x", [1])], outputs: [("y", [1])]) { n in
            n.message(5) { a in
                a.string(1, "f")
                a.float(2, 0.5)
                a.int(20, 1)
            }
            n.message(5) { a in
                a.string(1, "i")
                a.int(3, -3)
                a.int(20, 2)
            }
            n.message(5) { a in
                a.string(1, "s")
                a.string(4, "SAME_UPPER")
                a.int(20, 3)
            }
            n.message(5) { a in
                a.string(1, "t")
                a.message(5) { Fixture.floatTensor(&$0, name: "c", dims: [2], values: [1, 2]) }
                a.int(20, 4)
            }
            n.message(5) { a in
                a.string(1, "floats")
                a.packedFloats(7, [1, 2.5])
                a.int(20, 6)
            }
            n.message(5) { a in
                a.string(1, "ints")
                a.int(8, 4)  // unpacked
                a.int(8, -1)
                a.int(20, 7)
            }
            n.message(5) { a in
                a.string(1, "strings")
                a.string(9, "a")
                a.string(9, "bc")
                a.int(20, 8)
            }
        }
        let node = try ONNXModel(bytes: bytes, file: "attrs.onnx").graph.nodes[0]
        #expect(node.attribute("f")?.f == 0.5 && node.attribute("f")?.kind == .float)
        #expect(node.attribute("i")?.i == -3)
        #expect(node.attribute("s")?.string == "SAME_UPPER")
        #expect(try node.attribute("t")?.t?.tensor().scalars(as: Float.self) == [1, 2])
        #expect(node.attribute("floats")?.floats == [1, 2.5])
        #expect(node.attribute("ints")?.ints == [4, -1])
        #expect(node.attribute("strings")?.strings.map { String(decoding: $0, as: UTF8.self) } == ["a", "bc"])
    }

    @Test func aSyntheticModelRunsOnTheReferenceBackend() throws {
        let bytes = Fixture.model(opType: "Softmax", inputs: [("x", [2, 3])], outputs: [("y", [2, 3])], opset: 13) { n in
            n.message(5) { a in
                a.string(1, "axis")
                a.int(3, 0)
                a.int(20, 2)
            }
        }
        let model = try ONNXModel(bytes: bytes, file: "softmax.onnx")
        let x = try Tensor([0, 1, 2, 0, 1, 2] as [Float], shape: [2, 3])
        let y = try KernelBackends.using(ReferenceBackend()) { try model.run([x]) }
        #expect(y.count == 1)
        #expect(try y[0].scalars(as: Float.self) == [0.5, 0.5, 0.5, 0.5, 0.5, 0.5])
    }

    @Test func unsupportedOperatorsAndTypesAreNamed() throws {
        let unknown = try ONNXModel(bytes: Fixture.model(opType: "Frobnicate", inputs: [("x", [1])], outputs: [("y", [1])]), file: "u")
        #expect(unknown.unsupportedReason == "op Frobnicate not implemented")
        #expect(throws: ONNXError.self) { _ = try unknown.run([Tensor([1] as [Float])]) }

        let uint8 = try ONNXModel(
            bytes: Fixture.model(opType: "Relu", inputs: [("x", [1])], outputs: [("y", [1])], elementType: 2), file: "u8")
        #expect(uint8.unsupportedReason == "dtype uint8 unsupported")
    }

    @Test func aMissingGraphOrMissingInputIsAnInvalidModel() throws {
        var w = ProtoWriter()
        w.int(1, 8)
        #expect(throws: ONNXError.self) { _ = try ONNXModel(bytes: w.bytes, file: "nograph.onnx") }

        let model = try ONNXModel(bytes: Fixture.model(opType: "Add", inputs: [("a", [1]), ("b", [1])], outputs: [("y", [1])]), file: "a")
        do {
            _ = try KernelBackends.using(ReferenceBackend()) { try model.run([Tensor([1] as [Float])]) }
            Issue.record("expected an error")
        } catch let error as ONNXError {
            #expect(error.code == .invalidModel)
            #expect(error.message.contains("reads 'b'"))
        }
    }

    @Test func supportedOperatorsIncludeTheCoreSet() {
        let ops = Set(ONNXModel.supportedOperators)
        for op in ["Add", "MatMul", "Gemm", "Conv", "MaxPool", "Softmax", "LayerNormalization", "ReduceSum", "Gather", "Slice"] {
            #expect(ops.contains(op), "\(op)")
        }
    }
}
