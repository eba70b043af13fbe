import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct TensorViewTests {
    let x: Tensor
    init() throws { x = try Tensor((0..<24).map(Float.init), shape: [2, 3, 4]) }

    @Test func reshapeInfersOneAxisAndSharesStorage() throws {
        let y = try x.reshaped([4, -1])
        #expect(y.shape == [4, 6])
        #expect(y.storage === x.storage)
        #expect(throws: TensorError.self) { try x.reshaped([5, -1]) }
        #expect(throws: TensorError.self) { try x.reshaped([-1, -1]) }
        #expect(throws: TensorError.self) { try x.reshaped([7]) }
    }

    @Test func permuteReordersAxesWithoutCopying() throws {
        let y = try x.permuted([2, 0, 1])
        #expect(y.shape == [4, 2, 3])
        #expect(!y.isContiguous)
        #expect(y.storage === x.storage)
        let v = try y.scalars(as: Float.self)
        // y[i, j, k] = x[j, k, i] = 12j + 4k + i
        #expect(v[0] == 0 && v[1] == 4 && v[3] == 12 && v[6] == 1)
        #expect(throws: TensorError.self) { try x.permuted([0, 0, 1]) }
    }

    @Test func reshapeOfAPermutedViewCopiesInLogicalOrder() throws {
        let t = try x.transposed().reshaped([-1])
        #expect(try t.scalars(as: Float.self).prefix(4) == [0, 4, 8, 1])
    }

    @Test func slicesFollowPythonSemantics() throws {
        let row = try Tensor((0..<10).map(Float.init), shape: [10])
        #expect(try row.sliced(axis: 0, start: 2, end: 5).scalars(as: Float.self) == [2, 3, 4])
        #expect(try row.sliced(axis: 0, start: -3).scalars(as: Float.self) == [7, 8, 9])
        #expect(try row.sliced(axis: 0, step: -3).scalars(as: Float.self) == [9, 6, 3, 0])
        #expect(try row.sliced(axis: 0, start: 8, end: 2, step: -2).scalars(as: Float.self) == [8, 6, 4])
        #expect(try row.sliced(axis: 0, start: 100, end: 200).elementCount == 0)
        #expect(throws: TensorError.self) { try row.sliced(axis: 0, step: 0) }
    }

    @Test func expandBroadcastsSizeOneAxesWithZeroStride() throws {
        let col = try Tensor([Float(1), 2, 3], shape: [3, 1])
        let e = try col.expanded(to: [2, 3, 4])
        #expect(e.strides == [0, 1, 0])
        #expect(try e.sum().item() == 2 * 4 * 6)
        #expect(throws: TensorError.self) { try col.expanded(to: [3, 2, 2]) }
    }

    @Test func squeezeAndUnsqueezeAreInverse() throws {
        let y = try x.unsqueezed(axis: 1).unsqueezed(axis: -1)
        #expect(y.shape == [2, 1, 3, 4, 1])
        #expect(try y.squeezed().shape == x.shape)
        #expect(try y.squeezed(axes: [1]).shape == [2, 3, 4, 1])
        #expect(throws: TensorError.self) { try y.squeezed(axes: [0]) }
    }

    @Test func flattenCollapsesARangeOfAxes() throws {
        #expect(try x.flattened(from: 1).shape == [2, 12])
        #expect(try x.flattened().shape == [24])
    }

    @Test func concatSplitAndStackRoundTrip() throws {
        let parts = try x.split(sizes: [1, 2], axis: 1)
        #expect(parts.map(\.shape) == [[2, 1, 4], [2, 2, 4]])
        expectClose(try Tensor.concat(parts, axis: 1), x)
        let stacked = try Tensor.stack([x, x], axis: 0)
        #expect(stacked.shape == [2, 2, 3, 4])
        #expect(try x.split(parts: 3, axis: 2).map { $0.shape[2] } == [2, 2, 0])
        #expect(throws: TensorError.self) { try x.split(sizes: [1, 1], axis: 1) }
        #expect(throws: TensorError.self) { try Tensor.concat([x, try x.reshaped([4, 3, 2])], axis: 0) }
    }

    @Test func contiguousMaterialisesViews() throws {
        let t = try x.transposed(0, 2).contiguous()
        #expect(t.isContiguous)
        #expect(t.shape == [4, 3, 2])
    }
}

@Suite struct HostileViewArgumentsTests {
    @Test func overflowingReshapesThrow() throws {
        let x = try Tensor.zeros([4])
        #expect(throws: TensorError.self) { try x.reshaped([-1, 1 << 40, 1 << 40]) }
        #expect(throws: TensorError.self) { try x.reshaped([-1, -2]) }
    }

    @Test func extremeSliceArgumentsClampInsteadOfTrapping() throws {
        let row = try Tensor((0..<5).map { Float($0) }, shape: [5])
        #expect(try row.sliced(axis: 0, step: Int.max).scalars(as: Float.self) == [0])
        #expect(try row.sliced(axis: 0, step: Int.min + 1).scalars(as: Float.self) == [4])
        #expect(try row.sliced(axis: 0, start: Int.min, end: Int.max).elementCount == 5)
        #expect(try row.sliced(axis: 0, start: Int.max, end: Int.min, step: -1).elementCount == 5)
    }

    @Test func argmaxTreatsNaNAsTheExtreme() throws {
        let t = try Tensor([Float(1), .nan, 3, .nan], shape: [4])
        #expect(try t.argmax().item(as: Int64.self) == 1)
        #expect(try t.argmin().item(as: Int64.self) == 1)
    }
}
