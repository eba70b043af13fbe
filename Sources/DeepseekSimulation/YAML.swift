/// A value of the YAML subset scenario files use: maps, lists, scalars, `#` comments — each
/// node remembers the line it came from, so an error can name it.
///
/// Supported: block maps (`key: value`, `key:` then an indented block), block lists (`- item`,
/// `- key: value` starting a map), flow lists of scalars (`[8, 16, 32]`), plain, single- and
/// double-quoted scalars. Not supported (rejected with a line number): anchors, tags,
/// multi-line strings, flow maps.
public indirect enum YAMLNode: Sendable, Hashable {
    case scalar(String, line: Int)
    case list([YAMLNode], line: Int)
    case map([(key: String, value: YAMLNode)], line: Int)

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool { a.description == b.description }
    public func hash(into h: inout Hasher) { h.combine(description) }

    /// The 1-based line the node starts on.
    public var line: Int {
        switch self {
        case .scalar(_, let l), .list(_, let l), .map(_, let l): l
        }
    }

    /// The value for `key` in a map.
    public subscript(key: String) -> YAMLNode? {
        guard case .map(let pairs, _) = self else { return nil }
        return pairs.first { $0.key == key }?.value
    }

    public var description: String {
        switch self {
        case .scalar(let s, _): s
        case .list(let items, _): "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let pairs, _): "{" + pairs.map { "\($0.key): \($0.value.description)" }.joined(separator: ", ") + "}"
        }
    }
}

/// Parses the YAML subset of `YAMLNode`.
public enum YAMLParser {
    struct Line {
        var number: Int
        var indent: Int
        var text: Substring
    }

    /// Parses `text` into its root node (a map, for scenario files).
    ///
    /// - Throws: `SimulationError.syntax` naming the line.
    public static func parse(_ text: String) throws(SimulationError) -> YAMLNode {
        var lines: [Line] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let stripped = stripComment(raw)
            let content = stripped.drop { $0 == " " }
            if content.allSatisfy({ $0 == " " || $0 == "\r" }) { continue }
            if raw.first == "\t" || raw.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
                throw SimulationError(.syntax, "line \(i + 1): tabs are not allowed for indentation; use spaces", line: i + 1)
            }
            var trimmed = content
            while trimmed.last == " " || trimmed.last == "\r" { trimmed = trimmed.dropLast() }
            if trimmed == "---" { continue }
            lines.append(Line(number: i + 1, indent: stripped.count - content.count, text: trimmed))
        }
        guard !lines.isEmpty else { return .map([], line: 1) }
        var index = 0
        let root = try block(&index, lines, indent: lines[0].indent)
        if index < lines.count { throw SimulationError(.syntax, "line \(lines[index].number): unexpected indentation", line: lines[index].number) }
        return root
    }

    static func stripComment(_ s: Substring) -> Substring {
        var quote: Character?
        var previous: Character = " "
        for i in s.indices {
            let c = s[i]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "#" && (previous == " " || i == s.startIndex) {
                return s[..<i]
            }
            previous = c
        }
        return s
    }

    static func block(_ i: inout Int, _ lines: [Line], indent: Int) throws(SimulationError) -> YAMLNode {
        let first = lines[i]
        if first.text.hasPrefix("- ") || first.text == "-" {
            var items: [YAMLNode] = []
            while i < lines.count && lines[i].indent == indent && (lines[i].text.hasPrefix("- ") || lines[i].text == "-") {
                let line = lines[i]
                let rest = line.text.dropFirst(1).drop { $0 == " " }
                if rest.isEmpty {
                    i += 1
                    guard i < lines.count, lines[i].indent > indent else { items.append(.scalar("", line: line.number)); continue }
                    items.append(try block(&i, lines, indent: lines[i].indent))
                } else if splitKey(rest) != nil {
                    // "- key: value" opens a map whose further keys are indented past the dash.
                    var sub = lines
                    let inner = indent + (line.text.count - rest.count)
                    sub[i] = Line(number: line.number, indent: inner, text: rest)
                    items.append(try block(&i, sub, indent: inner))
                } else {
                    items.append(try scalarOrFlow(rest, line: line.number))
                    i += 1
                }
            }
            return .list(items, line: first.number)
        }
        var pairs: [(key: String, value: YAMLNode)] = []
        while i < lines.count && lines[i].indent == indent {
            let line = lines[i]
            guard let (key, rest) = splitKey(line.text) else {
                throw SimulationError(.syntax, "line \(line.number): expected \"key: value\", found \"\(line.text)\"", line: line.number)
            }
            if pairs.contains(where: { $0.key == key }) {
                throw SimulationError(.syntax, "line \(line.number): \"\(key)\" appears twice in the same map", field: key, line: line.number)
            }
            i += 1
            if rest.isEmpty {
                if i < lines.count && lines[i].indent > indent {
                    pairs.append((key, try block(&i, lines, indent: lines[i].indent)))
                } else if i < lines.count && lines[i].indent == indent && lines[i].text.hasPrefix("- ") {
                    pairs.append((key, try block(&i, lines, indent: indent)))
                } else {
                    pairs.append((key, .scalar("", line: line.number)))
                }
            } else {
                pairs.append((key, try scalarOrFlow(rest, line: line.number)))
            }
        }
        if i < lines.count && lines[i].indent > indent {
            throw SimulationError(.syntax, "line \(lines[i].number): unexpected indentation", line: lines[i].number)
        }
        return .map(pairs, line: first.number)
    }

    static func splitKey(_ text: Substring) -> (String, Substring)? {
        guard let colon = text.firstIndex(of: ":"), text.first != "\"", text.first != "'", text.first != "[" else { return nil }
        let after = text.index(after: colon)
        guard after == text.endIndex || text[after] == " " else { return nil }
        let key = text[..<colon].trimmingSpaces
        guard !key.isEmpty else { return nil }
        return (String(key), text[after...].drop { $0 == " " })
    }

    static func scalarOrFlow(_ text: Substring, line: Int) throws(SimulationError) -> YAMLNode {
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw SimulationError(.syntax, "line \(line): a flow list must close with \"]\" on the same line", line: line) }
            let inner = text.dropFirst().dropLast()
            if inner.trimmingSpaces.isEmpty { return .list([], line: line) }
            var items: [YAMLNode] = []
            for part in inner.split(separator: ",", omittingEmptySubsequences: false) { items.append(try scalar(part.trimmingSpaces, line: line)) }
            return .list(items, line: line)
        }
        if text.hasPrefix("{") || text.hasPrefix("&") || text.hasPrefix("*") || text.hasPrefix("!") || text.hasPrefix("|") || text.hasPrefix(">") {
            throw SimulationError(.syntax, "line \(line): \"\(text.first!)\" (flow maps, anchors, tags, block strings) is not part of the scenario YAML subset", line: line)
        }
        return try scalar(text, line: line)
    }

    static func scalar(_ text: Substring, line: Int) throws(SimulationError) -> YAMLNode {
        if let q = text.first, q == "\"" || q == "'" {
            guard text.count >= 2, text.last == q else { throw SimulationError(.syntax, "line \(line): unterminated quoted string \(text)", line: line) }
            return .scalar(String(text.dropFirst().dropLast()), line: line)
        }
        return .scalar(String(text), line: line)
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
