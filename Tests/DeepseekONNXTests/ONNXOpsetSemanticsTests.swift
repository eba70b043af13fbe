import DeepseekONNX
import DeepseekTensor
import Testing

/// Operators whose inputs or meaning changed between operator-set versions, checked on small
/// synthetic models against values worked out by hand.
@Suite struct ONNXOpsetSemanticsTests {
    func run(_ bytes: [UInt8], _ inputs: [Tensor]) throws -> [Tensor] {
        let model = try ONNXModel(bytes: bytes, file: "synthetic.onnx")
        return try KernelBackends.using(ReferenceBackend()) { try model.run(inputs) }
    }

    static func intAttribute(_ name: String, _ value: Int64) -> (inout ProtoWriter) -> Void {
        { n in
            n.message(5) { a in
                a.string(1, name)
                a.int(3, value)
                a.int(20, 2)
            }
        }
    }

    static func intsAttribute(_ name: String, _ values: [Int64]) -> (inout ProtoWriter) -> Void {
        { n in
            n.message(5) { a in
                a.string(1, name)
                a.packedInts(8, values)
                a.int(20, 7)
            }
        }
    }

    @Test func softmaxBeforeOpset13NormalisesTheFlattenedTrailingAxes() throws {
        let x = try Tensor([0, 0, 0, 0, 1, 1, 1, 1] as [Float], shape: [2, 2, 2])
        // Opset 11, axis 1: each batch row of four values is one distribution.
        let old = try run(
            Fixture.model(opType: "Softmax", inputs: [("x", [2, 2, 2])], outputs: [("y", [2, 2, 2])], opset: 11,
                attributes: Self.intAttribute("axis", 1)), [x])
        #expect(try old[0].scalars(as: Float.self) == Array(repeating: 0.25, count: 8))
        // Opset 13, axis 1: only the two values along axis 1 form a distribution.
        let new = try run(
            Fixture.model(opType: "Softmax", inputs: [("x", [2, 2, 2])], outputs: [("y", [2, 2, 2])], opset: 13,
                attributes: Self.intAttribute("axis", 1)), [x])
        #expect(try new[0].scalars(as: Float.self) == Array(repeating: 0.5, count: 8))
    }

    @Test func reduceSumTakesAxesAsAnAttributeThenAsAnInput() throws {
        let x = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        let old = try run(
            Fixture.model(opType: "ReduceSum", inputs: [("x", [2, 3])], outputs: [("y", [2])], opset: 11,
                attributes: { n in
                    Self.intsAttribute("axes", [1])(&n)
                    Self.intAttribute("keepdims", 0)(&n)
                }), [x])
        #expect(try old[0].scalars(as: Float.self) == [6, 15])
        let new = try run(
            Fixture.model(opType: "ReduceSum", inputs: [("x", [2, 3])], outputs: [("y", [1, 3])], opset: 13,
                constants: [("axes", [0])]), [x])
        #expect(new[0].shape == [1, 3])
        #expect(try new[0].scalars(as: Float.self) == [5, 7, 9])
        // No axes and noop_with_empty_axes: the input comes back unchanged.
        let noop = try run(
            Fixture.model(opType: "ReduceSum", inputs: [("x", [2, 3])], outputs: [("y", [2, 3])], opset: 13,
                attributes: Self.intAttribute("noop_with_empty_axes", 1)), [x])
        #expect(try noop[0].scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
    }

    @Test func splitTakesSizesAsAnAttributeThenAsAnInput() throws {
        let x = try Tensor([1, 2, 3, 4, 5] as [Float], shape: [5])
        let old = try run(
            Fixture.model(opType: "Split", inputs: [("x", [5])], outputs: [("a", [2]), ("b", [3])], opset: 11,
                attributes: Self.intsAttribute("split", [2, 3])), [x])
        #expect(try old.map { try $0.scalars(as: Float.self) } == [[1, 2], [3, 4, 5]])
        let new = try run(
            Fixture.model(opType: "Split", inputs: [("x", [5])], outputs: [("a", [4]), ("b", [1])], opset: 13,
                constants: [("split", [4, 1])]), [x])
        #expect(try new.map { try $0.scalars(as: Float.self) } == [[1, 2, 3, 4], [5]])
    }

    @Test func clipTakesBoundsAsAttributesBeforeOpset11() throws {
        let x = try Tensor([-2, 0.5, 3] as [Float], shape: [3])
        let old = try run(
            Fixture.model(opType: "Clip", inputs: [("x", [3])], outputs: [("y", [3])], opset: 6,
                attributes: { n in
                    n.message(5) { a in
                        a.string(1, "min")
                        a.float(2, -1)
                        a.int(20, 1)
                    }
                    n.message(5) { a in
                        a.string(1, "max")
                        a.float(2, 1)
                        a.int(20, 1)
                    }
                }), [x])
        #expect(try old[0].scalars(as: Float.self) == [-1, 0.5, 1])
        let new = try run(
            Fixture.model(opType: "Clip", inputs: [("x", [3]), ("lo", []), ("hi", [])], outputs: [("y", [3])], opset: 13),
            [x, Tensor(scalar: Float(0)), Tensor(scalar: Float(2))])
        #expect(try new[0].scalars(as: Float.self) == [0, 0.5, 2])
    }

    @Test func sliceTakesStartsAndEndsAsInputsFromOpset10() throws {
        let x = try Tensor([0, 1, 2, 3, 4, 5] as [Float], shape: [6])
        let old = try run(
            Fixture.model(opType: "Slice", inputs: [("x", [6])], outputs: [("y", [2])], opset: 9,
                attributes: { n in
                    Self.intsAttribute("starts", [1])(&n)
                    Self.intsAttribute("ends", [3])(&n)
                }), [x])
        #expect(try old[0].scalars(as: Float.self) == [1, 2])
        let new = try run(
            Fixture.model(opType: "Slice", inputs: [("x", [6])], outputs: [("y", [3])], opset: 13,
                constants: [("starts", [-1]), ("ends", [Int64.min]), ("axes", [0]), ("steps", [-2])]), [x])
        #expect(try new[0].scalars(as: Float.self) == [5, 3, 1])
    }

    @Test func reshapeCopiesZeroSizesUnlessAllowZero() throws {
        let x = try Tensor([Float](repeating: 1, count: 6), shape: [2, 3])
        let copied = try run(
            Fixture.model(opType: "Reshape", inputs: [("x", [2, 3])], outputs: [("y", [2, 3])], opset: 14,
                constants: [("shape", [0, -1])]), [x])
        #expect(copied[0].shape == [2, 3])
        let empty = try Tensor([Float](), shape: [0, 3])
        let kept = try run(
            Fixture.model(opType: "Reshape", inputs: [("x", [0, 3])], outputs: [("y", [3, 0])], opset: 14,
                constants: [("shape", [3, 0])], attributes: Self.intAttribute("allowzero", 1)), [empty])
        #expect(kept[0].shape == [3, 0])
    }

    @Test func convWithSameUpperPaddingKeepsTheSpatialSize() throws {
        let x = try Tensor([Float](repeating: 1, count: 25), shape: [1, 1, 5, 5])
        let w = try Tensor([Float](repeating: 1, count: 9), shape: [1, 1, 3, 3])
        let y = try run(
            Fixture.model(opType: "Conv", inputs: [("x", [1, 1, 5, 5]), ("w", [1, 1, 3, 3])], outputs: [("y", [1, 1, 5, 5])],
                attributes: { n in
                    n.message(5) { a in
                        a.string(1, "auto_pad")
                        a.string(4, "SAME_UPPER")
                        a.int(20, 3)
                    }
                }), [x, w])
        #expect(y[0].shape == [1, 1, 5, 5])
        // Corners see a 2×2 patch of ones, the centre a full 3×3.
        let values = try y[0].scalars(as: Float.self)
        #expect(values[0] == 4 && values[12] == 9)
    }
}
