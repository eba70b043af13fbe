import CDeepseekBLAS
@testable import DeepseekKernelsBLAS
import DeepseekTensor
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct CoreTypeSelectionTests {
    static let zen4 = CPUFeatures(vendor: "AuthenticAMD", family: 25, model: 17, avx2: true, fma: true, f16c: true, avx512f: true, avx512bf16: true)
    static let xeon207 = CPUFeatures(vendor: "GenuineIntel", family: 6, model: 207, avx2: true, fma: true, f16c: true, avx512f: true, avx512bf16: true)
    static let skylake = CPUFeatures(vendor: "GenuineIntel", family: 6, model: 85, avx2: true, fma: true, f16c: true, avx512f: true)
    static let zen2 = CPUFeatures(vendor: "AuthenticAMD", family: 23, model: 49, avx2: true, fma: true, f16c: true)
    static let old = CPUFeatures(vendor: "GenuineIntel", family: 6, model: 42)

    @Test func theUsersVariableAlwaysWins() {
        let choice = OpenBLAS.chooseCoreType(cpu: Self.xeon207, requested: .named("Haswell"), userValue: "Zen")
        #expect(choice.coreType == nil)  // nothing exported: the user's value stays untouched
        #expect(choice.selection == "explicit (user)")
    }

    @Test func aNamedRequestIsExportedAsIs() {
        let choice = OpenBLAS.chooseCoreType(cpu: Self.zen4, requested: .named("Haswell"), userValue: nil)
        #expect(choice == .init(coreType: "Haswell", selection: "requested: Haswell"))
    }

    @Test func featuresChooseTheKernel() {
        #expect(OpenBLAS.chooseCoreType(cpu: Self.xeon207, requested: .automatic, userValue: nil).coreType == "Cooperlake")
        #expect(OpenBLAS.chooseCoreType(cpu: Self.zen4, requested: .automatic, userValue: nil).coreType == "Cooperlake")
        let skx = OpenBLAS.chooseCoreType(cpu: Self.skylake, requested: .automatic, userValue: nil)
        #expect(skx == .init(coreType: "SkylakeX", selection: "chosen: SkylakeX for AVX-512"))
        #expect(OpenBLAS.chooseCoreType(cpu: Self.zen2, requested: .automatic, userValue: nil).selection == "chosen: Haswell for AVX2+FMA")
        #expect(OpenBLAS.chooseCoreType(cpu: Self.old, requested: .automatic, userValue: nil) == .init(coreType: nil, selection: "automatic"))
        #expect(OpenBLAS.chooseCoreType(cpu: Self.old, requested: .automatic, userValue: "") == .init(coreType: nil, selection: "automatic"))
    }

    @Test func thisCPUIsDetected() {
        let cpu = OpenBLAS.cpu
        #if arch(x86_64)
        #expect(!cpu.vendor.isEmpty)
        #expect(cpu.family > 0)
        // FMA and F16C never come without AVX; AVX-512 BF16 never without AVX-512.
        #expect(!cpu.avx512bf16 || cpu.avx512f)
        #endif
        #expect(cpu.description.contains("family"))
    }
}

@Suite struct OpenBLASLoaderTests {
    static var libraryPresent: Bool { OpenBLAS.report.isLoaded }

    @Test func reportFieldsAreFilled() {
        let report = OpenBLAS.report
        #expect(!report.library.isEmpty)
        #expect(!report.coreType.isEmpty)
        #expect(!report.selection.isEmpty)
        #expect(!report.detail.isEmpty)
        // Idempotent: a later load with other settings returns the first report.
        #expect(OpenBLAS.load(BLASSettings(threads: 1, coreType: .named("Prescott"))) == report)
    }

    @Test(.enabled(if: OpenBLASLoaderTests.libraryPresent, "needs libopenblas0-pthread"))
    func theLoadedLibraryIsVerified() throws {
        let report = OpenBLAS.report
        #expect(report.verified, "\(report)")
        #expect(report.threads >= 1)
        #expect(report.coreType != "none")
        #expect(report.detail.contains("verified"))
        // How long idle workers spin is chosen at load and reported.
        #expect(report.detail.contains("idle threads spin 2^"), "\(report)")
        #expect(Backends.cpu.usesOpenBLAS)
        #expect(!Backends.portable.usesOpenBLAS)
    }

    /// Runs in a fresh process (an exit test), where OpenBLAS is not yet loaded, so the requested
    /// core type can take effect whatever the other tests loaded first.
    @Test(.enabled(if: OpenBLASLoaderTests.libraryPresent, "needs libopenblas0-pthread"))
    func aNamedCoreTypeIsLoadedWhenItIsTheFirstLoad() async {
        await #expect(processExitsWith: .success) {
            let userSet = cdsk_blas_user_coretype() != nil
            let report = OpenBLAS.load(BLASSettings(threads: 1, coreType: .named("Haswell")))
            let ok =
                userSet
                ? report.selection == "explicit (user)"
                : report.selection == "requested: Haswell" && report.coreType == "Haswell" && report.verified && report.threads == 1
            // The variable was exported only for the load and removed again.
            exit(ok && (userSet || getenv("OPENBLAS_CORETYPE") == nil) ? 0 : 1)
        }
    }

    @Test func aMissingLibraryIsReportedAndLeavesNoFunctions() {
        let loaded = OpenBLAS.probe(BLASSettings(), names: ["libdeepseek-no-such-blas.so.0"])
        #expect(loaded.functions == nil)
        #expect(loaded.report.library.hasPrefix("unavailable: no OpenBLAS library"))
        #expect(!loaded.report.isLoaded && !loaded.report.verified)
        #expect(loaded.report.coreType == "none")
    }

    @Test func metaTensorsAreRefusedRatherThanRead() throws {
        let m = Tensor.meta([4, 6])
        let w = Tensor.meta([6, 3])
        let cpu = Backends.cpu
        let unsupported: (any Error) -> Bool = { ($0 as? TensorError)?.code == .unsupported }
        #expect(performing: { try cpu.unary(.exp, m) }, throws: unsupported)
        #expect(performing: { try cpu.binary(.add, m, m) }, throws: unsupported)
        #expect(performing: { try cpu.matmul(m, w) }, throws: unsupported)
        #expect(performing: { try cpu.softmax(m, axis: 1, log: false) }, throws: unsupported)
        #expect(performing: { try cpu.reduce(.sum, m, axes: [0], keepDims: false) }, throws: unsupported)
        #expect(performing: { try cpu.argReduce(.argmax, m, axis: 1, keepDims: false, selectLastIndex: false) }, throws: unsupported)
        #expect(performing: { try cpu.layerNorm(m, weight: nil, bias: nil, axis: 1, epsilon: 1e-5) }, throws: unsupported)
        #expect(performing: { try cpu.copy(m) }, throws: unsupported)
        #expect(performing: { try cpu.cast(m, to: .float16) }, throws: unsupported)
        #expect(performing: { try cpu.concat([m, m], axis: 0) }, throws: unsupported)
        let image = Tensor.meta([1, 2, 5, 5])
        #expect(performing: { try cpu.pool2d(.max, image, parameters: .init(kernel: (2, 2))) }, throws: unsupported)
        #expect(performing: { try cpu.conv2d(image, weight: Tensor.meta([3, 2, 3, 3]), bias: nil, parameters: .init()) }, throws: unsupported)
    }

    @Test func impossibleAllocationsThrowOutOfMemory() throws {
        let huge: Shape = [1 << 40, 1 << 20]
        let x = try Tensor.zeros([1, 1]).expanded(to: huge)  // a stride-0 view: no memory yet
        let cpu = Backends.cpu
        #expect { try cpu.unary(.relu, x) } throws: { ($0 as? TensorError)?.code == .outOfMemory }
        #expect { try cpu.copy(x) } throws: { ($0 as? TensorError)?.code == .outOfMemory }
        #expect { try cpu.binary(.add, x, x) } throws: { ($0 as? TensorError)?.code == .outOfMemory }
        #expect { try cpu.cast(x, to: .float16) } throws: { ($0 as? TensorError)?.code == .outOfMemory }
        let column = try Tensor.zeros([1, 1]).expanded(to: [1 << 31, 1])
        let row = try Tensor.zeros([1, 1]).expanded(to: [1, 1 << 31])
        #expect { try cpu.matmul(column, row) } throws: { ($0 as? TensorError)?.code == .outOfMemory }
        #expect { try Tensor.empty(huge) } throws: { ($0 as? TensorError)?.code == .outOfMemory }
    }
}
