import DeepseekCore
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct TensorBasicsTests {
    @Test func valuesRoundTripThroughEveryDType() throws {
        let values: [Double] = [0, 1, -2, 3, 100, -7]
        for dtype in DType.allCases {
            let t = try Tensor(values.map { Float($0) }, shape: [2, 3]).cast(to: dtype)
            #expect(t.dtype == dtype)
            #expect(t.shape == [2, 3])
            let back = try t.scalarsAsDouble()
            let expected = dtype == .bool ? values.map { $0 != 0 ? 1 : 0 } : (dtype == .int8 ? values : values)
            #expect(back == expected, "\(dtype)")
        }
    }

    @Test func halfPrecisionStoresTwoBytesAndRoundsToNearestEven() throws {
        let t = try Tensor([Float(1.0), 1.00390625, 65504, 3.1415927], shape: [4]).cast(to: .bfloat16)
        #expect(t.byteCount == 8)
        // 1.00390625 is exactly halfway between two bfloat16 values; ties go to the even one (1.0).
        #expect(try t.scalars(as: Float.self) == [1.0, 1.0, 65536, 3.140625])
        let h = try Tensor([Float(0.1), 65504, 1e-8], shape: [3]).cast(to: .float16)
        #expect(h.byteCount == 6)
        #expect(try h.scalars(as: Float.self) == [Float(Float16(0.1)), 65504, 0])
    }

    @Test func bfloat16KeepsNaNAndInfinity() {
        #expect(BFloat16(Float.nan).floatValue.isNaN)
        #expect(BFloat16(Float.infinity).floatValue == .infinity)
        #expect(BFloat16(-Float.infinity).floatValue == -.infinity)
    }

    @Test func initializerRejectsAWrongValueCount() {
        #expect(throws: TensorError.self) { try Tensor([Float(1), 2, 3], shape: [2, 2]) }
        do {
            _ = try Tensor([Float(1), 2, 3], shape: [2, 2])
        } catch {
            #expect("\(error)".contains("[2, 2]"))
        }
    }

    @Test func impossibleAllocationThrowsInsteadOfCrashing() {
        #expect(throws: TensorError.self) { try Tensor.zeros([1 << 40, 1 << 20]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([Int.max / 2, 4]) }
        #expect(throws: TensorError.self) { try Tensor.zeros([-1, 4]) }
    }

    @Test func copiesAreCopyOnWrite() throws {
        let a = try Tensor([Float(1), 2, 3, 4], shape: [2, 2])
        var b = a
        #expect(a.storage === b.storage)
        try b.withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 42 }
        #expect(a.storage !== b.storage)
        #expect(try a.scalars(as: Float.self) == [1, 2, 3, 4])
        #expect(try b.scalars(as: Float.self) == [42, 2, 3, 4])
    }

    @Test func uniquelyOwnedTensorsAreWrittenInPlace() throws {
        var a = try Tensor.zeros([1024])
        // Keep only the address: holding the storage object would make it shared.
        let before = a.storage.baseAddress
        try a.withUnsafeMutableBufferPointer(as: Float.self) { $0[3] = 1 }
        #expect(a.storage.baseAddress == before)
    }

    @Test func itemNeedsExactlyOneElement() throws {
        #expect(try Tensor(scalar: Float(2.5)).item() == 2.5)
        #expect(throws: TensorError.self) { try Tensor([Float(1), 2]).item() }
    }

    @Test func descriptionShowsDTypeShapeAndLeadingValues() throws {
        let t = try Tensor([Int32(1), 2, 3], shape: [3])
        #expect(t.description == "Tensor(int32, shape: [3], [1, 2, 3])")
        #expect(Tensor.meta([2, 3]).description == "Tensor(meta, float32, shape: [2, 3])")
    }

    @Test func dtypePromotionFollowsNumPyOrder() {
        #expect(DType.int32.promoted(with: .float16) == .float16)
        #expect(DType.float16.promoted(with: .bfloat16) == .float32)
        #expect(DType.int8.promoted(with: .int64) == .int64)
        #expect(DType.bool.promoted(with: .int8) == .int8)
        #expect(DType.float32.promoted(with: .float64) == .float64)
    }
}

@Suite struct ShapeTests {
    @Test func broadcastingFollowsNumPyRules() throws {
        #expect(try Shape.broadcast([8, 1, 6, 1], [7, 1, 5], op: "t") == [8, 7, 6, 5])
        #expect(try Shape.broadcast([], [3], op: "t") == [3])
        #expect(throws: TensorError.self) { try Shape.broadcast([2, 3], [4, 3], op: "add") }
    }

    @Test func broadcastErrorNamesTheOpAndBothShapes() {
        do {
            _ = try Shape.broadcast([2, 3], [4, 3], op: "add")
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            #expect(text.contains("add") && text.contains("[2, 3]") && text.contains("[4, 3]"))
            #expect(error.code == .shapeMismatch)
        }
    }

    @Test func contiguousStridesAreRowMajor() {
        #expect(Shape([2, 3, 4]).contiguousStrides == [12, 4, 1])
        #expect(Shape([]).contiguousStrides == [])
    }

    @Test func axesNormaliseAndRejectOutOfRange() throws {
        let s: Shape = [2, 3, 4]
        #expect(try s.normalizedAxis(-1, op: "t") == 2)
        #expect(try s.normalizedAxes([-1, 0], op: "t") == [0, 2])
        #expect(throws: TensorError.self) { try s.normalizedAxis(3, op: "t") }
        #expect(throws: TensorError.self) { try s.normalizedAxes([1, -2], op: "t") }
    }
}

@Suite struct TensorWireTests {
    @Test func tensorsRoundTripThroughTheWireFormat() throws {
        for dtype in DType.allCases {
            let t = try Tensor.testValues([3, 5], dtype: dtype, seed: 3)
            let back = try Tensor(wireBytes: t.wireBytes)
            #expect(back.dtype == dtype && back.shape == [3, 5])
            #expect(try back.scalarsAsDouble() == t.scalarsAsDouble())
        }
        let view = try Tensor.testValues([4, 6]).transposed()
        #expect(try Tensor(wireBytes: view.wireBytes).scalarsAsDouble() == view.scalarsAsDouble())
    }

    @Test func corruptTensorMessagesAreRejected() throws {
        let bytes = try Tensor.testValues([8, 8]).wireBytes
        for cut in [0, 1, 3, 10, bytes.count - 1] {
            #expect(throws: (any Error).self) { try Tensor(wireBytes: Array(bytes.prefix(cut))) }
        }
        var huge = bytes
        huge[2] = 0xFF  // first dimension's varint now claims a huge size
        #expect(throws: (any Error).self) { try Tensor(wireBytes: huge) }
    }
}
