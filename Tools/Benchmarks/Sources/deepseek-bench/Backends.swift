import CBenchBaselines
import DeepseekKernelsBLAS
import DeepseekTensor

/// Loads OpenBLAS the way a composition root does, with the library's own core-type choice
/// (OPENBLAS_CORETYPE is not touched here), and reports what it chose.
func loadBLAS(threads: Int) -> BLASReport {
    OpenBLAS.load(BLASSettings(threads: threads))
}

/// The CPU backend with `threads` threads for its own loops, with OpenBLAS set to the same count.
///
/// OpenBLAS keeps one process-wide thread count, fixed at load by `BLASSettings`; the runner sets
/// it through `openblas_set_num_threads` on the same library before each configuration, so the
/// backend's GEMM and the raw `cblas_sgemm` baseline always run with the same threads.
func makeCPUBackend(threads: Int) throws -> CPUBackend {
    let backend = CPUBackend(settings: CPUBackendSettings(threads: threads))
    var message = [CChar](repeating: 0, count: 512)
    if cbench_blas_open(&message, message.count) == 0 { cbench_blas_set_threads(Int32(threads)) }
    return backend
}
