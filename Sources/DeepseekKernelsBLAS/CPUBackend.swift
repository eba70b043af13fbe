public import DeepseekTensor

/// Settings of the CPU backend.
public struct CPUBackendSettings: Sendable, Hashable {
    /// Which GEMM the backend multiplies with.
    public enum GEMM: Sendable, Hashable {
        /// OpenBLAS when it loaded and passed verification, else the portable Swift GEMM.
        case automatic
        /// Always the portable Swift GEMM (for comparison and tests).
        case portable
    }

    /// Threads for the backend's own loops; `nil` uses every online core.
    public var threads: Int?
    /// How OpenBLAS is loaded, if this backend is the first to load it. `nil` loads it with
    /// `BLASSettings(threads: threads)`.
    public var blas: BLASSettings?
    /// Which GEMM to use.
    public var gemm: GEMM

    public init(threads: Int? = nil, blas: BLASSettings? = nil, gemm: GEMM = .automatic) {
        self.threads = threads
        self.blas = blas
        self.gemm = gemm
    }
}

/// The CPU kernel backend: OpenBLAS GEMM for matrix products and convolutions, and vectorised,
/// multi-threaded Swift loops for everything else.
///
/// Every result matches `ReferenceBackend` within float32 rounding (the contract tests check
/// it): the same NaN rules for max/min/relu, round-half-to-even, the same integer rules.
///
/// What runs where:
/// - `float32`: fast paths for every primitive. Element-wise ops take strided and broadcast
///   (stride-0) operands without copying and split large tensors over the cores; outputs far
///   larger than the caches are written with streaming stores (C shim). `matmul` calls
///   `cblas_sgemm` directly on strided views (a transposed operand is passed as `CblasTrans`).
///   Sums, means and normalisation statistics accumulate in `Double`.
/// - `float64`: `matmul` and `conv2d` through `cblas_dgemm`; `copy`, `cast`, `select`,
///   `gather` and `concat` move bytes for every dtype.
/// - `float16`/`bfloat16`: converted to float32 with the C shim's vector code, computed, and
///   rounded back, for `matmul`, `conv2d`, element-wise ops, reductions and normalisation.
/// - Integer and `bool` arithmetic, `float64` element-wise math and reductions, and half-type
///   `argReduce`: delegated to `ReferenceBackend`, whose results they are by definition.
///
/// When OpenBLAS is missing or fails its check at load (see `OpenBLAS`), matrix products use
/// a blocked Swift GEMM instead.
///
/// ```swift
/// KernelBackends.default = CPUBackend()
/// let y = try x.matmul(w).relu()
/// ```
public struct CPUBackend: KernelBackend {
    public let settings: CPUBackendSettings
    /// The OpenBLAS load report this backend saw (the process's first load wins).
    public let blasReport: BLASReport
    let blas: BLASFunctions?
    let parallel: Parallel
    let reference = ReferenceBackend()

    public init(settings: CPUBackendSettings = .init()) {
        self.settings = settings
        let loaded = OpenBLAS.loaded(settings.blas ?? BLASSettings(threads: settings.threads))
        self.blasReport = loaded.report
        self.blas = settings.gemm == .automatic ? loaded.functions : nil
        self.parallel = Parallel(threads: settings.threads)
    }

    public var name: String { "cpu" }

    /// Whether matrix products run on OpenBLAS (rather than the portable Swift GEMM).
    public var usesOpenBLAS: Bool { blas != nil }

    // MARK: - Shared helpers

    /// `x` in float32, converting only the distinct elements of broadcast (stride-0) axes and
    /// expanding the result again, so a broadcast half-precision operand stays cheap.
    func float32Compact(_ x: Tensor) throws -> Tensor {
        if x.dtype == .float32 { return x }
        var dims = x.shape.dims
        var broadcast = false
        for axis in dims.indices where x.strides[axis] == 0 && dims[axis] > 1 {
            dims[axis] = 1
            broadcast = true
        }
        guard broadcast else { return try cast(x, to: .float32) }
        let distinct = Tensor(storage: x.storage, dtype: x.dtype, shape: Shape(dims), strides: x.strides, offset: x.offset)
        return try cast(distinct, to: .float32).expanded(to: x.shape)
    }

    /// Whether `dtype` computes through float32 on this backend.
    static func isHalf(_ dtype: DType) -> Bool { dtype == .float16 || dtype == .bfloat16 }
}
