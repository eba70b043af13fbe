import CDeepseekBLAS
public import DeepseekTensor

/// Array conversions between float32 and the half-precision types, on the fastest code the CPU
/// runs (AVX-512, AVX2+F16C, or portable scalar code), bit-exact across all three.
///
/// Rounding is to nearest, ties to even, like `Float16(_:)` and `BFloat16(_:)`; a NaN stays NaN.
/// The work happens in the C shim because Swift cannot enable F16C for single functions.
public enum HalfPrecision {
    /// The code the run-time CPU check picked: `avx512`, `avx2+f16c` or `portable`.
    public static var implementation: String {
        switch cdsk_half_conversion_level() {
        case 2: "avx512"
        case 1: "avx2+f16c"
        default: "portable"
        }
    }

    /// Converts `count` elements of `dtype` (`float16` or `bfloat16`) to float32.
    public static func widen(_ source: UnsafePointer<UInt16>, dtype: DType, into destination: UnsafeMutablePointer<Float>, count: Int) {
        precondition(dtype == .float16 || dtype == .bfloat16, "HalfPrecision.widen: \(dtype) is not a half type")
        if count <= 0 { return }
        if dtype == .float16 { cdsk_f16_to_f32(source, destination, count) } else { cdsk_bf16_to_f32(source, destination, count) }
    }

    /// Converts `count` float32 elements to `dtype` (`float16` or `bfloat16`).
    public static func narrow(_ source: UnsafePointer<Float>, dtype: DType, into destination: UnsafeMutablePointer<UInt16>, count: Int) {
        precondition(dtype == .float16 || dtype == .bfloat16, "HalfPrecision.narrow: \(dtype) is not a half type")
        if count <= 0 { return }
        if dtype == .float16 { cdsk_f32_to_f16(source, destination, count) } else { cdsk_f32_to_bf16(source, destination, count) }
    }
}
