import CDeepseekBLAS

/// The one-time check that the loaded OpenBLAS kernel computes correctly on this CPU.
///
/// A kernel picked for the wrong CPU can run without crashing and still return wrong numbers, so
/// Deepseek multiplies odd-sized matrices (96×80×112, which exercise every edge of the kernels'
/// register tiles) in each transpose combination, with leading dimensions larger than the rows,
/// and compares against a naive `Double` loop. The output starts as NaN, which also checks that
/// `beta = 0` overwrites rather than scales.
enum BLASVerification {
    struct Result {
        var passed: Bool
        var summary: String
    }

    static let m = 96
    static let n = 80
    static let k = 112

    static func run(_ functions: BLASFunctions) -> Result {
        var worst = 0.0
        var failures: [String] = []
        for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
            let single = check(transA: transA, transB: transB) { a, lda, b, ldb, c, ldc in
                let af = a.map { Float($0) }
                let bf = b.map { Float($0) }
                var cf = [Float](repeating: .nan, count: c.count)
                functions.sgemm(
                    CDSK_CBLAS_ROW_MAJOR, transA ? CDSK_CBLAS_TRANS : CDSK_CBLAS_NO_TRANS,
                    transB ? CDSK_CBLAS_TRANS : CDSK_CBLAS_NO_TRANS, Int32(m), Int32(n), Int32(k), 1, af, Int32(lda), bf,
                    Int32(ldb), 0, &cf, Int32(ldc))
                for i in c.indices { c[i] = Double(cf[i]) }
            }
            worst = max(worst, single)
            if single > 1e-4 { failures.append("sgemm \(label(transA, transB)) error \(single)") }
        }
        let double = check(transA: false, transB: true) { a, lda, b, ldb, c, ldc in
            for i in c.indices { c[i] = .nan }
            functions.dgemm(
                CDSK_CBLAS_ROW_MAJOR, CDSK_CBLAS_NO_TRANS, CDSK_CBLAS_TRANS, Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b,
                Int32(ldb), 0, &c, Int32(ldc))
        }
        if double > 1e-10 { failures.append("dgemm NT error \(double)") }
        if failures.isEmpty {
            return Result(passed: true, summary: "verified sgemm/dgemm \(m)×\(n)×\(k) (max scaled error \(shortNumber(worst)))")
        }
        return Result(passed: false, summary: "verification FAILED: " + failures.joined(separator: ", "))
    }

    private static func label(_ ta: Bool, _ tb: Bool) -> String { (ta ? "T" : "N") + (tb ? "T" : "N") }

    private static func shortNumber(_ x: Double) -> String {
        if x == 0 { return "0" }
        var exponent = 0
        var mantissa = x
        while mantissa < 1 { mantissa *= 10; exponent -= 1 }
        while mantissa >= 10 { mantissa /= 10; exponent += 1 }
        return "\(Int(mantissa.rounded()))e\(exponent)"
    }

    /// Runs `gemm` on padded, optionally transposed storage and returns the largest error, each
    /// scaled by the sum of the magnitudes of its products (so it is relative to the scale of the
    /// terms, and a correct float32 kernel stays near 1e-7).
    private static func check(
        transA: Bool, transB: Bool,
        _ gemm: (_ a: [Double], _ lda: Int, _ b: [Double], _ ldb: Int, _ c: inout [Double], _ ldc: Int) -> Void
    ) -> Double {
        // Logical A is m×k, B is k×n. Stored transposed when asked, with 3 columns of padding.
        let (aRows, aCols) = transA ? (k, m) : (m, k)
        let (bRows, bCols) = transB ? (n, k) : (k, n)
        let lda = aCols + 3
        let ldb = bCols + 3
        let ldc = n + 3
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            // Values exact in float32 so both precisions multiply the same numbers.
            return Double(Int64(seed >> 41) - (1 << 22)) / Double(1 << 22)
        }
        var a = [Double](repeating: 0, count: aRows * lda)
        var b = [Double](repeating: 0, count: bRows * ldb)
        for r in 0..<aRows { for c in 0..<aCols { a[r * lda + c] = next() } }
        for r in 0..<bRows { for c in 0..<bCols { b[r * ldb + c] = next() } }
        func aAt(_ i: Int, _ p: Int) -> Double { transA ? a[p * lda + i] : a[i * lda + p] }
        func bAt(_ p: Int, _ j: Int) -> Double { transB ? b[j * ldb + p] : b[p * ldb + j] }
        var c = [Double](repeating: 0, count: m * ldc)
        gemm(a, lda, b, ldb, &c, ldc)
        var worst = 0.0
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                var scale = 0.0
                for p in 0..<k {
                    let t = aAt(i, p) * bAt(p, j)
                    sum += t
                    scale += Swift.abs(t)
                }
                let got = c[i * ldc + j]
                let error = got.isNaN ? .infinity : Swift.abs(got - sum) / Swift.max(scale, 1e-30)
                worst = Swift.max(worst, error)
            }
        }
        return worst
    }
}
