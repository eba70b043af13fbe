import CDeepseekBLAS
public import DeepseekTensor
import Synchronization

/// How one operand matrix is handed to BLAS: stored as is or transposed, with its leading dimension.
struct BLASMatrixLayout: Equatable {
    var transposed: Bool
    var leadingDimension: Int

    /// The BLAS view of a `rows×cols` matrix whose element (i, j) sits at `i·rowStride + j·colStride`,
    /// or `nil` when BLAS cannot read it in place (broadcast, negative or interleaved strides).
    ///
    /// Strides of size-1 axes are meaningless and ignored, so a row or column vector view always fits.
    static func of(rows: Int, cols: Int, rowStride: Int, colStride: Int) -> BLASMatrixLayout? {
        if cols == 1 || colStride == 1 {
            let ld = rows == 1 ? Swift.max(cols, 1) : rowStride
            if ld >= Swift.max(cols, 1) { return BLASMatrixLayout(transposed: false, leadingDimension: ld) }
        }
        if rows == 1 || rowStride == 1 {
            let ld = cols == 1 ? Swift.max(rows, 1) : colStride
            if ld >= Swift.max(rows, 1) { return BLASMatrixLayout(transposed: true, leadingDimension: ld) }
        }
        return nil
    }
}

/// Runs OpenBLAS single-threaded while batches of small products are spread over the
/// backend's own threads.
///
/// OpenBLAS's thread count is process-wide. The first section to begin saves it and sets 1;
/// the last to end restores it. A large product that another thread runs meanwhile runs
/// single-threaded: slower, never wrong.
enum BLASThreadScope {
    private struct State {
        var active = 0
        var saved: Int32 = 1
    }
    private static let state = Mutex(State())

    static func singleThreaded<R>(_ f: BLASFunctions, _ body: () throws -> R) rethrows -> R {
        state.withLock { s in
            if s.active == 0 {
                s.saved = f.threads()
                if s.saved != 1 { f.setThreads(1) }
            }
            s.active += 1
        }
        defer {
            state.withLock { s in
                s.active -= 1
                if s.active == 0, s.saved != 1 { f.setThreads(s.saved) }
            }
        }
        return try body()
    }
}

/// One GEMM entry point (sgemm or dgemm) with the CBLAS row-major signature.
typealias GEMMFunction<T> = (
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<T>, _ lda: Int,
    _ b: UnsafePointer<T>, _ ldb: Int, _ c: UnsafeMutablePointer<T>, _ ldc: Int
) -> Void

extension CPUBackend {
    public func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        switch a.dtype {
        case .float32:
            return try matmulDense(a, b, Float.self, blas.map(Self.sgemm))
        case .float64:
            return try matmulDense(a, b, Double.self, blas.map(Self.dgemm))
        case .float16, .bfloat16:
            let product = try matmulDense(float32Compact(a), float32Compact(b), Float.self, blas.map(Self.sgemm))
            return try narrowed(product, to: a.dtype)
        default:
            return try reference.matmul(a, b)
        }
    }

    static func sgemm(_ f: BLASFunctions) -> GEMMFunction<Float> {
        { ta, tb, m, n, k, a, lda, b, ldb, c, ldc in
            f.sgemm(
                CDSK_CBLAS_ROW_MAJOR, ta ? CDSK_CBLAS_TRANS : CDSK_CBLAS_NO_TRANS, tb ? CDSK_CBLAS_TRANS : CDSK_CBLAS_NO_TRANS,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
        }
    }

    static func dgemm(_ f: BLASFunctions) -> GEMMFunction<Double> {
        { ta, tb, m, n, k, a, lda, b, ldb, c, ldc in
            f.dgemm(
                CDSK_CBLAS_ROW_MAJOR, ta ? CDSK_CBLAS_TRANS : CDSK_CBLAS_NO_TRANS, tb ? CDSK_CBLAS_TRANS : CDSK_CBLAS_NO_TRANS,
                Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
        }
    }

    /// Batched `a · b` for float element types, straight from the operands' strided storage.
    ///
    /// BLAS reads each operand in place when its matrix axes have a unit stride on one side
    /// (dense, or a transposed view: passed as `CblasTrans`); only operands it cannot read are
    /// packed, one batch element at a time. Broadcast (stride-0) batch axes simply repeat the same
    /// matrix pointer. When B is the same matrix for every batch element and A's batch rows are
    /// evenly spaced (a linear layer on `[batch, seq, in]`), the whole batch is one GEMM.
    func matmulDense<T: BinaryFloatingPoint & SIMDScalar>(
        _ a: Tensor, _ b: Tensor, _: T.Type, _ gemm: GEMMFunction<T>?
    ) throws -> Tensor {
        try a.requireData("matmul")
        try b.requireData("matmul")
        let r = a.rank
        let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1])
        let batchDims = Array(a.shape.dims.dropLast(2))
        let out = try Tensor.empty(Shape(batchDims + [m, n]), dtype: a.dtype, op: "matmul")
        let c = out.elementPointer(as: T.self)
        if out.elementCount == 0 { return out }
        if k == 0 {
            c.update(repeating: 0, count: out.elementCount)
            return out
        }
        let batch = batchDims.reduce(1, *)
        let (ars, acs, brs, bcs) = (a.strides[r - 2], a.strides[r - 1], b.strides[r - 2], b.strides[r - 1])
        let pa = UnsafePointer(a.elementPointer(as: T.self))
        let pb = UnsafePointer(b.elementPointer(as: T.self))
        let offsets = Self.batchOffsets(batchDims, Array(a.strides.dropLast(2)), Array(b.strides.dropLast(2)))

        let fits = [m, n, k].allSatisfy { $0 <= Int(Int32.max) }
        guard let gemm, fits else {
            c.update(repeating: 0, count: out.elementCount)
            for (i, (oa, ob)) in offsets.enumerated() {
                PortableGEMM.multiply(
                    m: m, n: n, k: k, a: .init(base: pa + oa, rowStride: ars, colStride: acs),
                    b: .init(base: pb + ob, rowStride: brs, colStride: bcs), c: c + i * m * n, ldc: n, parallel: parallel)
            }
            return out
        }

        // One GEMM for the whole batch when B repeats and A's rows continue evenly across batches.
        if batch > 1, b.strides.dropLast(2).allSatisfy({ $0 == 0 }) {
            let rows = StridedWalk(shape: Shape(batchDims + [m]), strides: [Array(a.strides.dropLast(2)) + [ars]])
            if rows.dims.count == 1, batch * m <= Int(Int32.max),
                let la = BLASMatrixLayout.of(rows: batch * m, cols: k, rowStride: rows.innerStride0, colStride: acs),
                let lb = BLASMatrixLayout.of(rows: k, cols: n, rowStride: brs, colStride: bcs),
                la.leadingDimension <= Int(Int32.max), lb.leadingDimension <= Int(Int32.max)
            {
                // Split by rows over the backend's threads, each running single-threaded BLAS:
                // threaded BLAS shares packed panels between its threads and waits for the
                // slowest with sched_yield, which costs most when other work shares the cores
                // (a quarter of a loaded machine's samples); the split only joins once.
                let rowsTotal = batch * m
                if let blas, parallel.threads > 1, rowsTotal >= Self.minimumRowsPerThread * parallel.threads,
                    rowsTotal * n * k > Self.smallProductWork
                {
                    let parts = parallel.threads
                    BLASThreadScope.singleThreaded(blas) {
                        parallel.forEachRange(parts, parts: parts) { range in
                            for part in range {
                                let r0 = rowsTotal * part / parts, r1 = rowsTotal * (part + 1) / parts
                                let offset = la.transposed ? r0 : r0 * la.leadingDimension
                                gemm(la.transposed, lb.transposed, r1 - r0, n, k, pa + offset, la.leadingDimension, pb, lb.leadingDimension, c + r0 * n, n)
                            }
                        }
                    }
                    return out
                }
                gemm(la.transposed, lb.transposed, batch * m, n, k, pa, la.leadingDimension, pb, lb.leadingDimension, c, n)
                return out
            }
        }

        let layoutA = BLASMatrixLayout.of(rows: m, cols: k, rowStride: ars, colStride: acs)
            .flatMap { $0.leadingDimension <= Int(Int32.max) ? $0 : nil }
        let layoutB = BLASMatrixLayout.of(rows: k, cols: n, rowStride: brs, colStride: bcs)
            .flatMap { $0.leadingDimension <= Int(Int32.max) ? $0 : nil }

        // Many small products (attention: batch × heads products of 128×128×32) are spread over
        // the backend's threads, each running single-threaded BLAS. Threaded BLAS would split
        // every small product over the cores and pay a wake-up and a join per product, which
        // made such products run at a fifth of the speed of large ones.
        if let la = layoutA, let lb = layoutB, let blas, parallel.threads > 1, batch >= parallel.threads,
            m * n * k <= Self.smallProductWork
        {
            offsets.withUnsafeBufferPointer { offsets in
                BLASThreadScope.singleThreaded(blas) {
                    parallel.forEachRange(batch, parts: Swift.min(parallel.threads, batch)) { range in
                        for i in range {
                            let (oa, ob) = offsets[i]
                            gemm(la.transposed, lb.transposed, m, n, k, pa + oa, la.leadingDimension, pb + ob, lb.leadingDimension, c + i * m * n, n)
                        }
                    }
                }
            }
            return out
        }
        // A small output over a long inner dimension (a convolution's weight gradient: 6×25 over
        // 64 images × 784 positions) is split along k: OpenBLAS parallelises over m and n only,
        // so such a product ran on one core. Each thread multiplies a slice of k into its own
        // partial product; the partials are then added.
        if batch == 1, let la = layoutA, let lb = layoutB, let blas, parallel.threads > 1, m * n <= Self.splitDepthMaximumOutput,
            k >= Self.splitDepthMinimumSlice * parallel.threads
        {
            let parts = parallel.threads
            let partials = try Tensor.empty([(parts - 1) * m * n], dtype: a.dtype, op: "matmul")
            let spare = partials.elementPointer(as: T.self)
            BLASThreadScope.singleThreaded(blas) {
                parallel.forEachRange(parts, parts: parts) { range in
                    for part in range {
                        let k0 = k * part / parts, k1 = k * (part + 1) / parts
                        let sliceA = pa + (la.transposed ? k0 * la.leadingDimension : k0)
                        let sliceB = pb + (lb.transposed ? k0 : k0 * lb.leadingDimension)
                        let target = part == 0 ? c : spare + (part - 1) * m * n
                        gemm(la.transposed, lb.transposed, m, n, k1 - k0, sliceA, la.leadingDimension, sliceB, lb.leadingDimension, target, n)
                    }
                }
            }
            for part in 1..<parts {
                let partial = UnsafePointer(spare + (part - 1) * m * n)
                for i in 0..<(m * n) { c[i] += partial[i] }
            }
            return out
        }
        // Scratch for operands BLAS cannot read in place (allocated through the tensor pool so an
        // impossible size throws rather than traps).
        let scratchA = layoutA == nil ? try Tensor.empty([m, k], dtype: a.dtype, op: "matmul") : nil
        let scratchB = layoutB == nil ? try Tensor.empty([k, n], dtype: b.dtype, op: "matmul") : nil
        var lastPackedA = -1
        var lastPackedB = -1
        for (i, (oa, ob)) in offsets.enumerated() {
            var aPointer = pa + oa
            var bPointer = pb + ob
            if let scratchA {
                if oa != lastPackedA {
                    packMatrix(a, offset: a.offset + oa, rows: m, cols: k, rowStride: ars, colStride: acs, into: scratchA)
                    lastPackedA = oa
                }
                aPointer = UnsafePointer(scratchA.elementPointer(as: T.self))
            }
            if let scratchB {
                if ob != lastPackedB {
                    packMatrix(b, offset: b.offset + ob, rows: k, cols: n, rowStride: brs, colStride: bcs, into: scratchB)
                    lastPackedB = ob
                }
                bPointer = UnsafePointer(scratchB.elementPointer(as: T.self))
            }
            let la = layoutA ?? BLASMatrixLayout(transposed: false, leadingDimension: k)
            let lb = layoutB ?? BLASMatrixLayout(transposed: false, leadingDimension: n)
            gemm(la.transposed, lb.transposed, m, n, k, aPointer, la.leadingDimension, bPointer, lb.leadingDimension, c + i * m * n, n)
        }
        return out
    }

    /// The most multiply-adds (`m·n·k`, 256³) of one product of a batch for which the batch is
    /// spread over the backend's threads with single-threaded BLAS (rather than each product
    /// over all threads). Larger products take long enough that BLAS's own threading pays.
    static let smallProductWork = 1 << 24

    /// The largest output (`m·n`) whose product is split along k, and the shortest slice of k
    /// each thread gets: below these the products are better left to BLAS's own threading.
    static let splitDepthMaximumOutput = 1 << 16
    static let splitDepthMinimumSlice = 2048

    /// The fewest rows each thread gets when a linear layer's product is split by rows.
    static let minimumRowsPerThread = 256

    /// Copies one strided matrix of `source` into the dense tensor `scratch`.
    private func packMatrix(
        _ source: Tensor, offset: Int, rows: Int, cols: Int, rowStride: Int, colStride: Int, into scratch: Tensor
    ) {
        let view = Tensor(
            storage: source.storage, dtype: source.dtype, shape: [rows, cols], strides: [rowStride, colStride], offset: offset)
        copyElements(view, into: scratch.elementPointer(as: UInt8.self))
    }

    /// Element offsets of A's and B's matrices for every batch index, in row-major batch order.
    static func batchOffsets(_ dims: [Int], _ stridesA: [Int], _ stridesB: [Int]) -> [(Int, Int)] {
        let count = dims.reduce(1, *)
        var result: [(Int, Int)] = []
        result.reserveCapacity(count)
        var index = [Int](repeating: 0, count: dims.count)
        var (oa, ob) = (0, 0)
        for _ in 0..<count {
            result.append((oa, ob))
            var axis = dims.count - 1
            while axis >= 0 {
                index[axis] += 1
                oa += stridesA[axis]
                ob += stridesB[axis]
                if index[axis] < dims[axis] { break }
                oa -= stridesA[axis] * dims[axis]
                ob -= stridesB[axis] * dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
        return result
    }
}
