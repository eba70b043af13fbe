/// The OpenCL C programs of the backend and the build options that specialise them.
///
/// Every kernel is declared with a required work-group size of 1×1×1 and does a block of work per
/// work-item (a tile of a matrix, a chunk of a row). PoCL — the CPU driver this backend is tuned
/// for — compiles one work-group function per kernel and local size and caches it on disk, so a
/// fixed local size means each kernel compiles once; on a CPU a work-item is a loop iteration, so
/// per-item blocks and explicit vectors beat the many-tiny-items style written for GPUs.
enum KernelSource {
    /// Declarations shared by every program: the element type `T`, the accumulator `ACC`
    /// (double when the device has fp64, so float sums match the double-precision reference
    /// closely), and strided indexing for layouts of up to six axes.
    static let prelude = #"""
        #ifdef USE_FP64
        #pragma OPENCL EXTENSION cl_khr_fp64 : enable
        #endif
        #ifndef T
        #define T float
        #endif
        #ifndef ACC
        #define ACC float
        #endif
        #define KERNEL __kernel __attribute__((reqd_work_group_size(1, 1, 1)))

        // The offset of row `row` of a strided layout whose innermost axis is axis 5 (shape.s5):
        // rows enumerate axes 0...4 in row-major order; unused leading axes have size 1.
        inline long row_offset(long row, long8 shape, long8 st) {
            long off = 0, i;
            i = row % shape.s4; row /= shape.s4; off += i * st.s4;
            i = row % shape.s3; row /= shape.s3; off += i * st.s3;
            i = row % shape.s2; row /= shape.s2; off += i * st.s2;
            i = row % shape.s1; row /= shape.s1; off += i * st.s1;
            return off + row * st.s0;
        }

        // The [c0, c1) slice of the innermost axis this work-item handles (returns when empty).
        #define CHUNK_BOUNDS(n, chunk) \
            long c0 = (long)get_global_id(0) * (chunk); \
            if (c0 >= (n)) return; \
            long c1 = min(c0 + (chunk), (long)(n));

        """#
}
