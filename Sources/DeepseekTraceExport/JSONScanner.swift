#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON value read from a trace file. Numbers keep their text so timestamps convert to
/// nanoseconds exactly, without a detour through `Double`.
enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    var string: String? { if case .string(let text) = self { text } else { nil } }
    var object: JSONObject? { if case .object(let object) = self { object } else { nil } }
    var numberText: String? { if case .number(let text) = self { text } else { nil } }
}

/// A JSON object with its members in file order (duplicate keys: the first wins on lookup).
struct JSONObject: Sendable, Equatable {
    var members: [(key: String, value: JSONValue)] = []

    subscript(key: String) -> JSONValue? {
        for member in members where member.key == key { return member.value }
        return nil
    }

    static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// A streaming JSON reader over a file or a byte array: it holds one chunk of the input at a
/// time, so a 100-MB trace is read in constant memory apart from the values it returns.
///
/// Every error names the byte offset, line and column where reading stopped and what was
/// expected there.
final class JSONScanner {
    private let fd: Int32
    private let name: String
    private var chunk: [UInt8]
    private var position = 0
    private var chunkStart = 0
    private var atEnd = false
    private var line = 1
    private var lineStart = 0
    private let chunkSize: Int
    private static let maximumDepth = 256

    /// Opens `path` for reading.
    init(path: String, chunkSize: Int = 1 << 20) throws {
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TraceExportError(.io, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        name = path
        chunk = []
        self.chunkSize = chunkSize
    }

    /// Reads from memory; `name` appears in error messages.
    init(bytes: [UInt8], name: String = "trace") {
        fd = -1
        self.name = name
        chunk = bytes
        chunkSize = 0
        atEnd = true
    }

    deinit { if fd >= 0 { _ = close(fd) } }

    /// The absolute byte offset of the next unread byte.
    var offset: Int { chunkStart + position }

    // MARK: Bytes

    @inline(__always)
    private func peek() throws -> UInt8? {
        if position < chunk.count { return chunk[position] }
        return try refill() ? chunk[position] : nil
    }

    private func refill() throws -> Bool {
        guard !atEnd else { return false }
        chunkStart += chunk.count
        position = 0
        chunk = [UInt8](repeating: 0, count: chunkSize)
        var count = 0
        while true {
            count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 && errno == EINTR { continue }
            break
        }
        guard count >= 0 else {
            throw TraceExportError(.io, "cannot read \(name): \(String(cString: strerror(errno)))", byteOffset: chunkStart)
        }
        chunk.removeSubrange(count...)
        if count == 0 { atEnd = true }
        return count > 0
    }

    @inline(__always)
    private func advance() { position += 1 }

    func skipWhitespace() throws {
        while let byte = try peek() {
            switch byte {
            case 0x20, 0x09, 0x0D: advance()
            case 0x0A:
                advance()
                line += 1
                lineStart = offset
            default: return
            }
        }
    }

    /// An error at the current position: `run.json: byte 1043 (line 12, column 7): expected …, found …`.
    func failure(expected: String) -> TraceExportError {
        let found: String
        if let byte = try? peek() {
            found = byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        } else {
            found = "the end of the file (is it truncated?)"
        }
        return failure("expected \(expected), found \(found)")
    }

    func failure(_ message: String, at byte: Int? = nil) -> TraceExportError {
        let where_ = byte ?? offset
        let column = where_ - lineStart + 1
        let place = byte == nil ? "byte \(where_) (line \(line), column \(column))" : "byte \(where_)"
        return TraceExportError(.malformedTrace, "\(name): \(place): \(message)", byteOffset: where_)
    }

    /// Consumes `byte` after optional whitespace, or throws saying what was expected.
    func expect(_ byte: UInt8, _ description: String) throws {
        try skipWhitespace()
        guard try peek() == byte else { throw failure(expected: description) }
        advance()
    }

    /// Consumes `byte` if it is next (after whitespace).
    func consume(_ byte: UInt8) throws -> Bool {
        try skipWhitespace()
        if try peek() == byte {
            advance()
            return true
        }
        return false
    }

    /// The next non-whitespace byte without consuming it.
    func peekToken() throws -> UInt8? {
        try skipWhitespace()
        return try peek()
    }

    // MARK: Values

    func parseValue(depth: Int = 0) throws -> JSONValue {
        guard depth < Self.maximumDepth else { throw failure("values nested deeper than \(Self.maximumDepth) levels") }
        try skipWhitespace()
        guard let byte = try peek() else { throw failure(expected: "a JSON value") }
        switch byte {
        case UInt8(ascii: "{"): return .object(try parseObject(depth: depth))
        case UInt8(ascii: "["):
            advance()
            var elements: [JSONValue] = []
            if try consume(UInt8(ascii: "]")) { return .array(elements) }
            repeat {
                elements.append(try parseValue(depth: depth + 1))
            } while try consume(UInt8(ascii: ","))
            try expect(UInt8(ascii: "]"), "',' or ']' in an array")
            return .array(elements)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure(expected: "a JSON value")
        }
    }

    func parseObject(depth: Int = 0) throws -> JSONObject {
        try expect(UInt8(ascii: "{"), "'{'")
        var object = JSONObject()
        if try consume(UInt8(ascii: "}")) { return object }
        repeat {
            try skipWhitespace()
            guard try peek() == UInt8(ascii: "\"") else { throw failure(expected: "a quoted member name") }
            let key = try parseString()
            try expect(UInt8(ascii: ":"), "':' after a member name")
            object.members.append((key, try parseValue(depth: depth + 1)))
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"), "',' or '}' in an object")
        return object
    }

    private func literal(_ word: String) throws {
        for expected in word.utf8 {
            guard try peek() == expected else { throw failure(expected: "'\(word)'") }
            advance()
        }
    }

    func parseString() throws -> String {
        advance()  // the opening quote
        var bytes: [UInt8] = []
        while true {
            guard let byte = try peek() else { throw failure(expected: "'\"' closing a string") }
            advance()
            switch byte {
            case UInt8(ascii: "\""): return String(decoding: bytes, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = try peek() else { throw failure(expected: "an escape character") }
                advance()
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(escaped)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), try peek() == UInt8(ascii: "\\") {
                        advance()
                        guard try peek() == UInt8(ascii: "u") else { throw failure(expected: "'u' of a low surrogate") }
                        advance()
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low &- 0xDC00) & 0x3FF
                    }
                    let character = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    bytes.append(contentsOf: String(character).utf8)
                default:
                    position -= 1
                    throw failure(expected: "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u")
                }
            case 0..<0x20:
                position -= 1
                throw failure(expected: "'\"' closing a string (control characters must be escaped)")
            default: bytes.append(byte)
            }
        }
    }

    private func hex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = try peek() else { throw failure(expected: "four hexadecimal digits") }
            let digit: UInt32
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default: throw failure(expected: "four hexadecimal digits")
            }
            value = value << 4 | digit
            advance()
        }
        return value
    }

    private func parseNumber() throws -> String {
        var bytes: [UInt8] = []
        func digits() throws -> Int {
            var count = 0
            while let byte = try peek(), byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                bytes.append(byte)
                advance()
                count += 1
            }
            return count
        }
        if try peek() == UInt8(ascii: "-") {
            bytes.append(UInt8(ascii: "-"))
            advance()
        }
        guard try digits() > 0 else { throw failure(expected: "a digit") }
        if try peek() == UInt8(ascii: ".") {
            bytes.append(UInt8(ascii: "."))
            advance()
            guard try digits() > 0 else { throw failure(expected: "a digit after '.'") }
        }
        if let byte = try peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            bytes.append(byte)
            advance()
            if let sign = try peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                bytes.append(sign)
                advance()
            }
            guard try digits() > 0 else { throw failure(expected: "a digit in the exponent") }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: Trace documents

    /// Calls `body` with each element of the trace's event array and the byte offset where it
    /// starts. Accepts the array form (`[...]`) and the object form (`{"traceEvents": [...]}`);
    /// other members of the object are passed to `member`.
    func forEachEvent(
        member: (String, JSONValue) throws -> Void = { _, _ in },
        _ body: (JSONObject, Int) throws -> Void
    ) throws {
        try skipWhitespace()
        guard let first = try peek() else { throw failure("the file is empty: expected '[' or '{' starting a trace") }
        if first == UInt8(ascii: "[") {
            try eventArray(body)
        } else if first == UInt8(ascii: "{") {
            advance()
            var sawEvents = false
            if !(try consume(UInt8(ascii: "}"))) {
                repeat {
                    try skipWhitespace()
                    guard try peek() == UInt8(ascii: "\"") else { throw failure(expected: "a quoted member name") }
                    let key = try parseString()
                    try expect(UInt8(ascii: ":"), "':' after a member name")
                    if key == "traceEvents" {
                        try eventArray(body)
                        sawEvents = true
                    } else {
                        try member(key, try parseValue(depth: 1))
                    }
                } while try consume(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"), "',' or '}' after a top-level member")
            }
            guard sawEvents else { throw failure("the object has no \"traceEvents\" member", at: 0) }
        } else {
            throw failure(expected: "'[' or '{' starting a trace")
        }
        try skipWhitespace()
        if try peek() != nil { throw failure(expected: "the end of the file after the trace") }
    }

    private func eventArray(_ body: (JSONObject, Int) throws -> Void) throws {
        try expect(UInt8(ascii: "["), "'[' starting the event array")
        if try consume(UInt8(ascii: "]")) { return }
        repeat {
            try skipWhitespace()
            let start = offset
            guard try peek() == UInt8(ascii: "{") else { throw failure(expected: "'{' starting an event") }
            try body(try parseObject(depth: 1), start)
        } while try consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), "',' or ']' after an event")
    }
}
