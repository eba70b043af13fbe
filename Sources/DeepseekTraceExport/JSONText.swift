/// Small, allocation-light JSON text helpers shared by the writers: escaping and the exact
/// decimal formatting of nanosecond timestamps as microseconds.
enum JSONText {
    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` as a JSON string literal, quotes included.
    @inline(__always)
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            var needsEscape = false
            for byte in bytes where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                needsEscape = true
                break
            }
            if !needsEscape {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case 0x22: out.append(contentsOf: [0x5C, 0x22])
                case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
                case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
                case 0..<0x20:
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(hexDigits[Int(byte >> 4)])
                    out.append(hexDigits[Int(byte & 0xF)])
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends an unsigned integer in decimal.
    @inline(__always)
    static func appendInteger(_ value: UInt64, to out: inout [UInt8]) {
        if value < 10 {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { raw in
            while rest > 0 {
                raw[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            }
            out.append(contentsOf: raw[(20 - count)...])
        }
    }

    /// Appends a signed integer in decimal.
    @inline(__always)
    static func appendInteger(_ value: Int64, to out: inout [UInt8]) {
        if value < 0 {
            out.append(UInt8(ascii: "-"))
            appendInteger(value.magnitude, to: &out)
        } else {
            appendInteger(UInt64(value), to: &out)
        }
    }

    /// Appends `nanoseconds` as microseconds with up to three decimals (exact: no floating point),
    /// trailing zeros dropped: 1_234_500 ns → `1234.5`.
    @inline(__always)
    static func appendMicroseconds(_ nanoseconds: UInt64, to out: inout [UInt8]) {
        appendInteger(nanoseconds / 1000, to: &out)
        var fraction = nanoseconds % 1000
        guard fraction != 0 else { return }
        out.append(UInt8(ascii: "."))
        var digits = 3
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var divisor: UInt64 = 1
        for _ in 1..<digits { divisor *= 10 }
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(fraction / divisor % 10))
            divisor /= 10
        }
    }

    /// Appends a double so it reads back as the same value and as a double (never as an
    /// integer): `3` is written `3.0`. JSON has no NaN or infinity; those become strings.
    static func appendDouble(_ value: Double, to out: inout [UInt8]) {
        guard value.isFinite else {
            appendString(value.isNaN ? "NaN" : (value > 0 ? "Infinity" : "-Infinity"), to: &out)
            return
        }
        var text = value.description
        if !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { text += ".0" }
        out.append(contentsOf: text.utf8)
    }

    /// Appends a 64-bit identifier as a hexadecimal string (`"0x2a"`): JavaScript numbers lose
    /// precision above 2⁵³, strings do not.
    static func appendHexIdentifier(_ value: UInt64, to out: inout [UInt8]) {
        out.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: "0"), UInt8(ascii: "x")])
        var started = false
        for shift in stride(from: 60, through: 0, by: -4) {
            let digit = Int((value >> UInt64(shift)) & 0xF)
            if digit != 0 || started || shift == 0 {
                started = true
                out.append(hexDigits[digit])
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func append(_ literal: StaticString, to out: inout [UInt8]) {
        literal.withUTF8Buffer { out.append(contentsOf: $0) }
    }
}
