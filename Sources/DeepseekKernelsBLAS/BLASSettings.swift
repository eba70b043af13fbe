/// How OpenBLAS is set up when Deepseek loads it.
///
/// OpenBLAS fixes its kernel (the "core type") and its thread pool when the library is mapped, so
/// these settings take effect only on the first `OpenBLAS.load(_:)` of the process.
///
/// ```swift
/// let report = OpenBLAS.load(BLASSettings(threads: 1, coreType: .named("Haswell")))
/// ```
public struct BLASSettings: Sendable, Hashable {
    /// Which OpenBLAS kernel to run.
    public enum CoreType: Sendable, Hashable {
        /// Deepseek chooses from the CPU's features: AVX-512 with BF16 → `Cooperlake`, AVX-512 →
        /// `SkylakeX`, AVX2 with FMA → `Haswell`, otherwise OpenBLAS's own detection.
        ///
        /// Choosing by features rather than trusting OpenBLAS's table matters on CPUs newer than
        /// the library: OpenBLAS 0.3.21 does not know Xeon model 207 and falls back to generic
        /// kernels several times slower, although the SkylakeX kernels run correctly there.
        case automatic
        /// A core type by OpenBLAS's name (`Haswell`, `SkylakeX`, `Cooperlake`, `Zen`, …).
        case named(String)
    }

    /// OpenBLAS worker threads; `nil` keeps OpenBLAS's default, which is every core (unless the
    /// user configured OpenBLAS's own thread variables).
    public var threads: Int?
    /// The kernel to load. A value of `OPENBLAS_CORETYPE` set by the user always wins over it.
    public var coreType: CoreType
    /// How long OpenBLAS's idle worker threads spin before they sleep, as a power of two of CPU
    /// cycles (OpenBLAS's `OPENBLAS_THREAD_TIMEOUT`, 4…30; its own default is 28, about 0.1 s).
    ///
    /// Deepseek defaults to 4 — sleep almost at once — because between two GEMMs the runtime
    /// runs its own kernels on the same cores, and spinning workers take a core from them
    /// (20 % of a training step's samples were `sched_yield`). A GEMM then pays one wake-up.
    /// `nil` keeps OpenBLAS's default; a value the user exported always wins.
    public var idleSpinExponent: Int?

    public init(threads: Int? = nil, coreType: CoreType = .automatic, idleSpinExponent: Int? = 4) {
        self.threads = threads
        self.coreType = coreType
        self.idleSpinExponent = idleSpinExponent
    }
}

/// What loading OpenBLAS found: the library, the kernel it runs, why that kernel, and whether
/// its results were checked.
///
/// `deepseek info` prints it; tests assert on it.
public struct BLASReport: Sendable, Codable, Equatable, CustomStringConvertible {
    /// The path of the mapped library, or `unavailable: <reason>`.
    public var library: String
    /// The core type OpenBLAS reports it runs (`openblas_get_corename()`), or `none`.
    public var coreType: String
    /// How the core type was chosen: `explicit (user)`, `requested: Haswell`,
    /// `chosen: SkylakeX for AVX-512`, `automatic`, or `already loaded`.
    public var selection: String
    /// OpenBLAS worker threads (0 when unavailable).
    public var threads: Int
    /// Whether a small sgemm/dgemm check against a naive loop passed; when false the CPU backend
    /// uses its own portable GEMM.
    public var verified: Bool
    /// The OpenBLAS build configuration, the CPU, and the verification result in words.
    public var detail: String

    public init(library: String, coreType: String, selection: String, threads: Int, verified: Bool, detail: String) {
        self.library = library
        self.coreType = coreType
        self.selection = selection
        self.threads = threads
        self.verified = verified
        self.detail = detail
    }

    /// Whether a library was loaded (it may still have failed verification).
    public var isLoaded: Bool { !library.hasPrefix("unavailable") }

    public var description: String {
        "OpenBLAS \(library): core \(coreType) (\(selection)), \(threads) threads, verified: \(verified); \(detail)"
    }
}

/// The CPU features that decide the OpenBLAS kernel and the half-precision conversion code.
public struct CPUFeatures: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `GenuineIntel`, `AuthenticAMD`, … (empty off x86).
    public var vendor: String
    public var family: Int
    public var model: Int
    public var avx2: Bool
    public var fma: Bool
    public var f16c: Bool
    public var avx512f: Bool
    public var avx512bf16: Bool

    public init(
        vendor: String = "", family: Int = 0, model: Int = 0, avx2: Bool = false, fma: Bool = false, f16c: Bool = false,
        avx512f: Bool = false, avx512bf16: Bool = false
    ) {
        self.vendor = vendor
        self.family = family
        self.model = model
        self.avx2 = avx2
        self.fma = fma
        self.f16c = f16c
        self.avx512f = avx512f
        self.avx512bf16 = avx512bf16
    }

    public var description: String {
        let flags = [("avx2", avx2), ("fma", fma), ("f16c", f16c), ("avx512f", avx512f), ("avx512_bf16", avx512bf16)]
            .filter(\.1).map(\.0)
        let name = vendor.isEmpty ? "unknown CPU" : vendor
        return "\(name) family \(family) model \(model) (\(flags.isEmpty ? "no AVX2" : flags.joined(separator: " ")))"
    }
}
