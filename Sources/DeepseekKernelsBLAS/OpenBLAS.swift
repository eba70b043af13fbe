import CDeepseekBLAS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Loads OpenBLAS at run time on the fastest kernel that computes correctly, and reports what it did.
///
/// OpenBLAS picks its kernel from `OPENBLAS_CORETYPE` once, when the library is mapped, and its
/// own CPU table does not know every CPU (0.3.21 runs generic kernels on Xeon model 207). So
/// Deepseek opens the library with `dlopen` after choosing the core type itself:
///
/// 1. If the user set `OPENBLAS_CORETYPE`, it wins and is never overwritten (`explicit (user)`).
/// 2. Otherwise `BLASSettings.coreType` decides: a named core, or by CPU features (see
///    `BLASSettings.CoreType.automatic`).
/// 3. After loading, a 96×80×112 sgemm (plain and transposed) and a dgemm are checked against a
///    naive loop; if they disagree the report says so and the CPU backend uses its portable GEMM.
///
/// ```swift
/// let report = OpenBLAS.load()          // or OpenBLAS.report, which loads with defaults
/// print(report.coreType, report.verified)
/// ```
///
/// Loading is idempotent: the first call of the process wins and later calls return its report,
/// whatever their settings (OpenBLAS cannot be re-initialised in a running process).
public enum OpenBLAS {
    /// The library names tried, in order: Debian's runtime package (`libopenblas0-pthread`) ships
    /// the versioned name, a development install the plain one.
    public static let libraryNames = ["libopenblas.so.0", "libopenblas.so"]

    struct Loaded: Sendable {
        var report: BLASReport
        /// The entry points, present when the library loaded and passed verification.
        var functions: BLASFunctions?
    }

    private static let state = Mutex<Loaded?>(nil)

    /// Loads OpenBLAS with `settings` unless it is already loaded, and returns the report.
    @discardableResult
    public static func load(_ settings: BLASSettings = .init()) -> BLASReport {
        loaded(settings).report
    }

    /// The report of the loaded library, loading it with default settings first if needed.
    public static var report: BLASReport { loaded(.init()).report }

    /// The verified entry points, or `nil` when OpenBLAS is missing or failed verification.
    static var functions: BLASFunctions? { loaded(.init()).functions }

    static func loaded(_ settings: BLASSettings) -> Loaded {
        state.withLock { current in
            if let current { return current }
            let result = performLoad(settings)
            current = result
            return result
        }
    }

    /// The CPU this process runs on.
    public static let cpu: CPUFeatures = {
        var raw = cdsk_cpu_features()
        cdsk_cpu_detect(&raw)
        let vendor = withUnsafeBytes(of: raw.vendor) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        return CPUFeatures(
            vendor: vendor, family: Int(raw.family), model: Int(raw.model), avx2: raw.avx2 != 0, fma: raw.fma != 0,
            f16c: raw.f16c != 0, avx512f: raw.avx512f != 0, avx512bf16: raw.avx512_bf16 != 0)
    }()

    /// The outcome of the core-type rule: what to export (if anything) and why.
    public struct CoreTypeChoice: Sendable, Hashable {
        /// The value to export as `OPENBLAS_CORETYPE` for the load, or `nil` to export nothing.
        public var coreType: String?
        /// The reason, as reported in `BLASReport.selection`.
        public var selection: String
    }

    /// The core-type rule, free of side effects so it can be tested for any CPU.
    ///
    /// - Parameters:
    ///   - cpu: the CPU's features.
    ///   - requested: the setting from `BLASSettings`.
    ///   - userValue: the user's `OPENBLAS_CORETYPE`, if set; it always wins.
    public static func chooseCoreType(
        cpu: CPUFeatures, requested: BLASSettings.CoreType, userValue: String?
    ) -> CoreTypeChoice {
        if let userValue, !userValue.isEmpty {
            return CoreTypeChoice(coreType: nil, selection: "explicit (user)")
        }
        if case .named(let name) = requested, !name.isEmpty {
            return CoreTypeChoice(coreType: name, selection: "requested: \(name)")
        }
        if cpu.avx512f && cpu.avx512bf16 {
            return CoreTypeChoice(coreType: "Cooperlake", selection: "chosen: Cooperlake for AVX-512 with BF16")
        }
        if cpu.avx512f {
            return CoreTypeChoice(coreType: "SkylakeX", selection: "chosen: SkylakeX for AVX-512")
        }
        if cpu.avx2 && cpu.fma {
            return CoreTypeChoice(coreType: "Haswell", selection: "chosen: Haswell for AVX2+FMA")
        }
        return CoreTypeChoice(coreType: nil, selection: "automatic")
    }

    private static func cString(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    /// Runs a load of `names` outside the once-per-process state (tests probe a missing library
    /// with it). It holds the same lock as `loaded`, because a load briefly exports
    /// `OPENBLAS_CORETYPE` and a concurrent real load must not mistake that for the user's value.
    static func probe(_ settings: BLASSettings, names: [String]) -> Loaded {
        state.withLock { _ in performLoad(settings, names: names) }
    }

    static let threadTimeoutVariable = "OPENBLAS_THREAD_TIMEOUT"

    /// Opens the first of `names` with `settings` and verifies it; called with the lock held.
    private static func performLoad(_ settings: BLASSettings, names: [String] = libraryNames) -> Loaded {
        let cpu = self.cpu
        let userValue = cdsk_blas_user_coretype().map { String(cString: $0) }
        let choice = chooseCoreType(cpu: cpu, requested: settings.coreType, userValue: userValue)

        // OpenBLAS reads its thread timeout in the same load-time constructor as the core type.
        var exportedTimeout = false
        if let spin = settings.idleSpinExponent, getenv(Self.threadTimeoutVariable) == nil {
            exportedTimeout = setenv(Self.threadTimeoutVariable, String(Swift.min(30, Swift.max(4, spin))), 0) == 0
        }
        defer { if exportedTimeout { unsetenv(Self.threadTimeoutVariable) } }
        var table = cdsk_blas_table()
        var flags: Int32 = 0
        var path = [CChar](repeating: 0, count: 1024)
        var error = [CChar](repeating: 0, count: 1024)
        let status = withCStrings(names) { names in
            if let coreType = choice.coreType {
                return coreType.withCString { cdsk_blas_open(names, Int32(names.count), $0, &table, &path, path.count, &error, error.count, &flags) }
            }
            return cdsk_blas_open(names, Int32(names.count), nil, &table, &path, path.count, &error, error.count, &flags)
        }
        let pathText = String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let errorText = String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard status == CDSK_BLAS_OK, let functions = BLASFunctions(table) else {
            let reason =
                status == CDSK_BLAS_NOT_FOUND
                ? "no OpenBLAS library (\(names.joined(separator: ", ")) not found: \(errorText)); install libopenblas0-pthread"
                : "OpenBLAS is incomplete: \(errorText)"
            let report = BLASReport(
                library: "unavailable: \(reason)", coreType: "none", selection: choice.selection, threads: 0, verified: false,
                detail: "cpu \(cpu); the CPU backend uses its portable Swift GEMM")
            return Loaded(report: report, functions: nil)
        }

        if let threads = settings.threads, threads >= 1 { functions.setThreads(Int32(threads)) }
        let coreName = cString(functions.corename())
        let config = cString(functions.config())
        var selection = choice.selection
        var notes: [String] = []
        if flags & CDSK_BLAS_FLAG_ALREADY_LOADED != 0 {
            selection = "already loaded"
            notes.append("OpenBLAS was mapped before Deepseek loaded it, so its core type was fixed earlier")
        } else if let wanted = choice.coreType ?? userValue, wanted.lowercased() != coreName.lowercased() {
            notes.append("asked for \(wanted) but OpenBLAS runs \(coreName) (unknown name or unsupported by this build)")
        }
        if let user = getenv(Self.threadTimeoutVariable).map({ String(cString: $0) }), !exportedTimeout {
            notes.append("idle threads spin 2^\(user) cycles (\(Self.threadTimeoutVariable) from the environment)")
        } else if exportedTimeout, let spin = settings.idleSpinExponent {
            notes.append("idle threads spin 2^\(Swift.min(30, Swift.max(4, spin))) cycles before sleeping")
        }
        let check = BLASVerification.run(functions)
        notes.append(check.summary)
        if !check.passed { notes.append("the CPU backend uses its portable Swift GEMM instead") }
        let report = BLASReport(
            library: pathText, coreType: coreName, selection: selection, threads: Int(functions.threads()),
            verified: check.passed, detail: "\(config); cpu \(cpu); " + notes.joined(separator: "; "))
        return Loaded(report: report, functions: check.passed ? functions : nil)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        defer { for p in pointers { free(p) } }
        return body(pointers.map { UnsafePointer($0) })
    }
}

/// The resolved OpenBLAS entry points. C function pointers are plain addresses into a library
/// that is never unloaded, so sharing them across threads is safe.
struct BLASFunctions: @unchecked Sendable {
    let sgemm: cdsk_sgemm_fn
    let dgemm: cdsk_dgemm_fn
    let corename: cdsk_string_fn
    let config: cdsk_string_fn
    let setThreads: cdsk_set_threads_fn
    let threads: cdsk_get_threads_fn

    init?(_ table: cdsk_blas_table) {
        guard let s = table.sgemm, let d = table.dgemm, let n = table.get_corename, let c = table.get_config,
            let st = table.set_num_threads, let t = table.get_num_threads
        else { return nil }
        (sgemm, dgemm, corename, config, setThreads, threads) = (s, d, n, c, st, t)
    }
}
