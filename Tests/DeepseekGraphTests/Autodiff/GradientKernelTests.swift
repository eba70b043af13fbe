import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The host gradient kernels on their own: adjointness, dtypes, meta shapes and bad input.
@Suite struct GradientKernelTests {
    struct KernelCase: Sendable, CustomTestStringConvertible {
        var op: any CustomGraphOp
        /// Shapes of the float inputs; integer inputs follow in `extra`.
        var shapes: [Shape]
        var extra: [Tensor] = []
        var output: Shape
        var testDescription: String { op.signature }
    }

    static let kernels: [KernelCase] = [
        KernelCase(op: Im2col(Conv2dParameters(stride: 2, padding: 1, groups: 2), kernel: (3, 3)), shapes: [[2, 4, 5, 5]], output: [2, 18, 18]),
        KernelCase(op: Col2im(Conv2dParameters(stride: 2, padding: 1, groups: 2), kernel: (3, 3), height: 5, width: 5), shapes: [[2, 18, 18]], output: [2, 4, 5, 5]),
        KernelCase(op: Pool2dBackward(.max, Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1)), height: 5, width: 5), shapes: [[2, 3, 3, 3], [2, 3, 5, 5]], output: [2, 3, 5, 5]),
        KernelCase(op: Pool2dBackward(.average, Pool2dParameters(kernel: (2, 2), ceilMode: true), height: 5, width: 5), shapes: [[1, 2, 3, 3]], output: [1, 2, 5, 5]),
        KernelCase(op: ScatterAdd(axis: 1, size: 4), shapes: [[2, 3, 2]], extra: [try! Tensor([3, -1, 0] as [Int32], shape: [3])], output: [2, 4, 2]),
    ]

    func inputs(_ k: KernelCase, dtype: DType) throws -> [Tensor] {
        try k.shapes.enumerated().map { i, s in try Tensor.testValues(s, dtype: .float64, seed: UInt64(10 + i)).cast(to: dtype) } + k.extra
    }

    @Test(arguments: kernels)
    func narrowDtypesAgreeWithFloat64(_ k: KernelCase) throws {
        try KernelBackends.using(ReferenceBackend()) {
            let reference = try k.op.evaluate(inputs(k, dtype: .float64))[0]
            #expect(reference.shape == k.output)
            for dtype in [DType.float32, .float16, .bfloat16] {
                let result = try k.op.evaluate(inputs(k, dtype: dtype))[0]
                #expect(result.dtype == dtype)
                // Compare with float64 evaluated on the same rounded inputs.
                let widened = try k.op.evaluate(inputs(k, dtype: dtype).map { $0.dtype == dtype ? try $0.cast(to: .float64) : $0 })[0]
                expectClose(try result.cast(to: .float64), widened, tolerance: Tolerance.for(dtype), "\(dtype)")
            }
        }
    }

    @Test(arguments: kernels)
    func metaInputsGiveMetaOutputsOfTheRightShape(_ k: KernelCase) throws {
        let metas = k.shapes.map { Tensor.meta($0, dtype: .float32) } + k.extra.map { Tensor.meta($0.shape, dtype: $0.dtype) }
        let out = try KernelBackends.using(MetaBackend()) { try k.op.evaluate(metas) }
        #expect(out.count == 1 && out[0].isMeta && out[0].shape == k.output && out[0].dtype == .float32)
        let types = try GraphOp.custom(k.op).inferTypes(metas.map { TensorType($0.shape, $0.dtype) })
        #expect(types == [TensorType(k.output)])
    }

    /// ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩: col2im is the adjoint the input gradient needs. The
    /// larger image is split over several workers.
    @Test(arguments: [[2, 6, 7, 6], [4, 6, 40, 37]])
    func col2imIsTheAdjointOfIm2col(_ shape: [Int]) throws {
        let p = Conv2dParameters(stride: (2, 1), padding: (1, 0, 2, 1), dilation: (1, 2), groups: 3)
        try KernelBackends.using(ReferenceBackend()) {
            let x = try Tensor.testValues(Shape(shape), dtype: .float64, seed: 1)
            let columns = try Im2col(p, kernel: (3, 2)).evaluate([x])[0]
            let c = try Tensor.testValues(columns.shape, dtype: .float64, seed: 2)
            let folded = try Col2im(p, kernel: (3, 2), height: shape[2], width: shape[3]).evaluate([c])[0]
            let left = try (columns * c).sum().item(as: Double.self)
            let right = try (x * folded).sum().item(as: Double.self)
            #expect(Swift.abs(left - right) <= 1e-10 * Swift.max(1, Swift.abs(left)))
        }
    }

    /// A convolution computed as W · im2col(x) equals the conv2d kernel.
    @Test(arguments: [5, 41])
    func im2colTimesWeightsIsTheConvolution(_ size: Int) throws {
        let p = Conv2dParameters(stride: 2, padding: 1, dilation: 1, groups: 2)
        let out = (size + 2 - 3) / 2 + 1
        try KernelBackends.using(ReferenceBackend()) {
            let x = try Tensor.testValues([2, 4, size, size], dtype: .float64, seed: 3)
            let w = try Tensor.testValues([6, 2, 3, 3], dtype: .float64, seed: 4)
            let columns = try Im2col(p, kernel: (3, 3)).evaluate([x])[0]  // [2, 18, 2·out²]
            let product = try w.reshaped([2, 3, 18]).matmul(columns)  // [2, 3, 2·out²]
            let y = try product.reshaped([2, 3, 2, out * out]).permuted([2, 0, 1, 3]).reshaped([2, 6, out, out])
            expectClose(y, try x.conv2d(w, parameters: p), tolerance: Tolerance(absolute: 1e-12, relative: 1e-12))
        }
    }

    /// Split over workers by plane, a batch gives exactly what each image gives alone.
    @Test(arguments: [PoolKind.max, .average])
    func poolBackwardOfABatchEqualsEachImageAlone(_ kind: PoolKind) throws {
        let p = Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1))
        let op = Pool2dBackward(kind, p, height: 12, width: 12)
        let g = try Tensor.testValues([16, 8, 6, 6], dtype: .float32, seed: 5)
        let x = try Tensor.testValues([16, 8, 12, 12], dtype: .float32, seed: 6)
        let batch = try op.evaluate(kind == .max ? [g, x] : [g])[0]
        for i in 0..<16 {
            let gi = try g.sliced(axis: 0, start: i, end: i + 1).contiguous()
            let xi = try x.sliced(axis: 0, start: i, end: i + 1).contiguous()
            let alone = try op.evaluate(kind == .max ? [gi, xi] : [gi])[0]
            #expect(try batch.sliced(axis: 0, start: i, end: i + 1).contiguous().scalars(as: Float.self) == alone.scalars(as: Float.self))
        }
    }

    @Test func badInputsAreRejectedWithTheKernelName() throws {
        let scatter = try #require(throws: TensorError.self) {
            try ScatterAdd(axis: 0, size: 3).evaluate([Tensor.zeros([2, 2]), Tensor([0, 3] as [Int64])])
        }
        #expect(scatter.code == .indexOutOfRange && scatter.message.contains("scatterAdd"))
        let pool = try #require(throws: TensorError.self) {
            try Pool2dBackward(.average, Pool2dParameters(kernel: (2, 2)), height: 4, width: 4).evaluate([Tensor.zeros([1, 1, 3, 3])])
        }
        #expect(pool.code == .shapeMismatch && pool.message.contains("avgPool2dBackward"))
        let dtype = try #require(throws: TensorError.self) {
            try Im2col(Conv2dParameters(), kernel: (1, 1)).evaluate([Tensor.zeros([1, 1, 2, 2], dtype: .int32)])
        }
        #expect(dtype.code == .dtypeMismatch)
    }
}
