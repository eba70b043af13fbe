/// `value` with exactly `digits` decimals, rounded half away from zero, without Foundation —
/// the same text on every platform, which byte-identical reports need.
func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    guard scaled < 9e18 else { return "\(value)" }
    let n = Int64(scaled)
    let whole = n / Int64(scale), fraction = n % Int64(scale)
    var text = (value < 0 && n != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(fraction)
        text += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return text
}

/// Seconds in a readable unit: `1.234 s`, `12.3 ms`, `45.6 µs`.
func duration(_ seconds: Double) -> String {
    let a = abs(seconds)
    if a >= 1 { return fixed(seconds, 3) + " s" }
    if a >= 1e-3 { return fixed(seconds * 1e3, 3) + " ms" }
    return fixed(seconds * 1e6, 3) + " µs"
}

/// Bytes in binary units: `1.50 GiB`.
func byteText(_ bytes: Double) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    var v = bytes
    var u = 0
    while abs(v) >= 1024 && u < units.count - 1 {
        v /= 1024
        u += 1
    }
    return fixed(v, u == 0 ? 0 : 2) + " " + units[u]
}

/// A number with an SI prefix: `1.23 T`.
func si(_ value: Double, digits: Int = 2) -> String {
    let prefixes: [(Double, String)] = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
    for (scale, p) in prefixes where abs(value) >= scale { return fixed(value / scale, digits) + " " + p }
    return fixed(value, digits) + " "
}
