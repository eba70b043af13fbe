/// A JSON value: what a safetensors header and a Hugging Face `config.json` are made of.
///
/// The model files need only a small, strict subset of JSON handling — parse a header of a few
/// kilobytes, write one back — so the module carries its own parser instead of pulling in
/// Foundation's; its errors give the byte offset, which is what a user with a broken file needs.
package enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order (safetensors headers are written sorted; order matters for round trips).
    case object([(String, JSONValue)])

    package static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The member `key` of an object, or `nil`.
    package subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    package var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    package var doubleValue: Double? { if case .number(let n) = self { n } else { nil } }
    /// The number as an `Int` when it is integral and in range.
    package var intValue: Int? {
        guard case .number(let n) = self, n.rounded() == n, abs(n) < 9.0e15 else { return nil }
        return Int(n)
    }
    package var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    package var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { o } else { nil } }

    /// Compact JSON text (no spaces), keys in stored order.
    package var serialized: String {
        var out = ""
        write(into: &out)
        return out
    }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n):
            if n.rounded() == n, abs(n) < 9.0e15 { out += String(Int(n)) } else { out += "\(n)" }
        case .string(let s): Self.writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (key, value)) in members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(key, into: &out)
                out += ":"
                value.write(into: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// A recursive-descent JSON parser over UTF-8 bytes (RFC 8259; no extensions).
package struct JSONParser {
    /// Why the text is not JSON, with the byte offset where parsing stopped.
    package struct Failure: Error, Sendable, CustomStringConvertible {
        package var offset: Int
        package var reason: String
        package var description: String { "\(reason) at byte \(offset)" }
    }

    private let bytes: [UInt8]
    private var i = 0
    private var depth = 0

    /// Parses one complete JSON document.
    package static func parse(_ bytes: [UInt8]) throws(Failure) -> JSONValue {
        var p = JSONParser(bytes: bytes)
        let value = try p.value()
        p.skipSpace()
        guard p.i == bytes.count else { throw Failure(offset: p.i, reason: "unexpected text after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func value() throws(Failure) -> JSONValue {
        skipSpace()
        guard i < bytes.count else { throw Failure(offset: i, reason: "unexpected end of text, expected a value") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    private mutating func nested<T>(_ body: (inout JSONParser) throws(Failure) -> T) throws(Failure) -> T {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 64 else { throw Failure(offset: i, reason: "JSON nested deeper than 64 levels") }
        return try body(&self)
    }

    private mutating func object() throws(Failure) -> JSONValue {
        try nested { (p: inout JSONParser) throws(Failure) -> JSONValue in
            p.i += 1
            var members: [(String, JSONValue)] = []
            p.skipSpace()
            if p.peek(UInt8(ascii: "}")) { p.i += 1; return .object(members) }
            while true {
                p.skipSpace()
                guard p.peek(UInt8(ascii: "\"")) else { throw Failure(offset: p.i, reason: "expected a string key") }
                let key = try p.string()
                p.skipSpace()
                guard p.peek(UInt8(ascii: ":")) else { throw Failure(offset: p.i, reason: "expected ':' after key \"\(key)\"") }
                p.i += 1
                members.append((key, try p.value()))
                p.skipSpace()
                if p.peek(UInt8(ascii: ",")) { p.i += 1; continue }
                if p.peek(UInt8(ascii: "}")) { p.i += 1; return .object(members) }
                throw Failure(offset: p.i, reason: "expected ',' or '}' in an object")
            }
        }
    }

    private mutating func array() throws(Failure) -> JSONValue {
        try nested { (p: inout JSONParser) throws(Failure) -> JSONValue in
            p.i += 1
            var items: [JSONValue] = []
            p.skipSpace()
            if p.peek(UInt8(ascii: "]")) { p.i += 1; return .array(items) }
            while true {
                items.append(try p.value())
                p.skipSpace()
                if p.peek(UInt8(ascii: ",")) { p.i += 1; continue }
                if p.peek(UInt8(ascii: "]")) { p.i += 1; return .array(items) }
                throw Failure(offset: p.i, reason: "expected ',' or ']' in an array")
            }
        }
    }

    private func peek(_ byte: UInt8) -> Bool { i < bytes.count && bytes[i] == byte }

    private mutating func literal(_ word: String) throws(Failure) {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else {
            throw Failure(offset: i, reason: "invalid literal, expected \(word)")
        }
        i += w.count
    }

    private mutating func number() throws(Failure) -> Double {
        let start = i
        while i < bytes.count, let c = Optional(bytes[i]),
            (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || c == UInt8(ascii: ".")
                || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
        {
            i += 1
        }
        guard i > start, let n = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else {
            throw Failure(offset: start, reason: "invalid value")
        }
        return n
    }

    private mutating func string() throws(Failure) -> String {
        let start = i
        i += 1
        var scalars = String.UnicodeScalarView()
        var runStart = i
        func flush(_ p: JSONParser, _ end: Int) {
            scalars.append(contentsOf: String(decoding: p.bytes[runStart..<end], as: UTF8.self).unicodeScalars)
        }
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                flush(self, i)
                i += 1
                return String(scalars)
            }
            if c < 0x20 { throw Failure(offset: i, reason: "control character in a string") }
            if c != UInt8(ascii: "\\") { i += 1; continue }
            flush(self, i)
            guard i + 1 < bytes.count else { break }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): scalars.append("\"")
            case UInt8(ascii: "\\"): scalars.append("\\")
            case UInt8(ascii: "/"): scalars.append("/")
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), peek(UInt8(ascii: "\\")), i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "u") {
                    i += 2
                    let low = try hex4()
                    code = 0x10000 + ((code - 0xD800) << 10) + (low &- 0xDC00)
                }
                scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
            default: throw Failure(offset: i - 2, reason: "invalid escape in a string")
            }
            runStart = i
        }
        throw Failure(offset: start, reason: "unterminated string")
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
            throw Failure(offset: i, reason: "invalid \\u escape")
        }
        i += 4
        return v
    }
}
