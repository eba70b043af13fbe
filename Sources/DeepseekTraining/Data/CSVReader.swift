#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import DeepseekTensor

/// How `CSVReader` reads a file: whether it has a header, which column holds the labels, the
/// delimiter and a scale for the features.
public struct CSVSettings: Sendable, Hashable {
    /// Whether the first line names the columns.
    public enum Header: Sendable, Hashable {
        /// A header when the first line has a cell that is not a number.
        case auto
        case present
        case absent
    }

    /// Which column holds the integer class labels.
    public enum LabelColumn: Sendable, Hashable {
        /// The column at this 0-based position; negative counts from the end (`-1`: the last).
        case index(Int)
        /// The column with this header name (needs a header).
        case name(String)
    }

    public var header: Header
    /// The label column, or `nil` when every column is a feature (the table then has no labels).
    public var label: LabelColumn?
    /// The byte between cells (`,` by default; `;` and tab are common too).
    public var delimiter: UInt8
    /// Every feature is multiplied by this when read (`1/255` turns 0…255 pixels into 0…1).
    public var featureScale: Double

    public init(header: Header = .auto, label: LabelColumn? = .index(-1), delimiter: UInt8 = UInt8(ascii: ","), featureScale: Double = 1) {
        self.header = header
        self.label = label
        self.delimiter = delimiter
        self.featureScale = featureScale
    }
}

/// A numeric table read from CSV: features as float32 rows and, when a label column was chosen,
/// int64 labels.
public struct CSVTable: Sendable {
    /// `[rows, featureCount]` float32.
    public var features: Tensor
    /// `[rows]` int64, or `nil` when the settings named no label column.
    public var labels: Tensor?
    /// The feature columns' header names, in order (empty without a header).
    public var featureNames: [String]
    /// The label column's header name, if there is a header and a label column.
    public var labelName: String?

    /// The number of rows (examples).
    public var rowCount: Int { features.shape[0] }
    /// The number of feature columns.
    public var featureCount: Int { features.shape[1] }

    /// The table as labelled images of `height × width` pixels (`channels · height · width`
    /// features per row), ready for `Batches`.
    ///
    /// - Throws: `DatasetError.invalidArgument` when the table has no labels or the feature count
    ///   is not `channels · height · width`.
    public func labeledImages(height: Int, width: Int, channels: Int = 1) throws(DatasetError) -> LabeledImages {
        guard let labels else {
            throw DatasetError(.invalidArgument, "CSVTable.labeledImages: the table has no label column; read it with a label column set")
        }
        guard height > 0, width > 0, channels > 0, channels * height * width == featureCount else {
            throw DatasetError(
                .invalidArgument,
                "CSVTable.labeledImages: \(featureCount) features per row do not make \(channels)×\(height)×\(width) images; pass sizes whose product is \(featureCount)")
        }
        return LabeledImages(images: features, labels: labels, height: height, width: width)
    }
}

/// Reads numeric CSV files (plain or gzip-compressed) into tensors.
///
/// Every cell must be a number (`12`, `-0.5`, `3e-2`), optionally padded with spaces or wrapped
/// in double quotes; header cells may be any text. Blank lines are skipped, `\r\n` line ends and
/// a UTF-8 byte-order mark are accepted. Errors name the file, the 1-based line and column, and
/// the cell: `digits.csv.gz: line 12, column 3 ("pixel_2"): "n/a" is not a number; …`.
///
/// ```swift
/// let table = try CSVReader.read("digits.csv.gz", settings: CSVSettings(header: .absent, featureScale: 1.0 / 16))
/// let digits = try table.labeledImages(height: 8, width: 8)
/// ```
public enum CSVReader {
    /// Reads the file at `path`; a `.gz` name or gzip magic bytes mean it is inflated first.
    ///
    /// - Throws: `DatasetError` — `.io` when the file cannot be read, `.corrupt` for bad gzip
    ///   data, `.malformed` for ragged rows and non-numeric cells, `.invalidArgument` for a label
    ///   column that does not exist.
    public static func read(_ path: String, settings: CSVSettings = CSVSettings()) throws(DatasetError) -> CSVTable {
        var bytes = try readWholeFile(path)
        if path.hasSuffix(".gz") || (bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B) {
            bytes = try Gzip.decompress(bytes, file: path)
        }
        return try parse(bytes, file: path, settings: settings)
    }

    /// Parses CSV text held in memory; `file` only names the source in error messages.
    public static func parse(_ bytes: [UInt8], file: String? = nil, settings: CSVSettings = CSVSettings()) throws(DatasetError) -> CSVTable {
        var lines = CSVLines(bytes: bytes, delimiter: settings.delimiter)
        guard let first = lines.next() else {
            throw DatasetError(.malformed, "the CSV holds no rows; expected numeric rows", file: file)
        }
        let hasHeader: Bool
        switch settings.header {
        case .present: hasHeader = true
        case .absent: hasHeader = false
        case .auto: hasHeader = first.cells.contains { parseNumber(bytes, $0) == nil }
        }
        let columnCount = first.cells.count
        let names = hasHeader ? first.cells.map { text(bytes, $0) } : []
        let labelIndex = try resolveLabel(settings.label, names: names, columnCount: columnCount, file: file)
        let featureCount = columnCount - (labelIndex == nil ? 0 : 1)
        guard featureCount > 0 else {
            throw DatasetError(.invalidArgument, "the CSV has \(columnCount) column(s) and all are labels; it needs at least one feature column", file: file)
        }

        var features: [Float] = []
        var labels: [Int64] = []
        var rows = 0
        let scale = settings.featureScale
        var pending: CSVLines.Line? = hasHeader ? lines.next() : first
        while let line = pending {
            guard line.cells.count == columnCount else {
                throw DatasetError(
                    .malformed,
                    "line \(line.number) has \(line.cells.count) cells but \(hasHeader ? "the header" : "the first row") has \(columnCount); every row needs the same columns",
                    file: file)
            }
            for (column, cell) in line.cells.enumerated() {
                guard let value = parseNumber(bytes, cell) else {
                    let name = column < names.count ? " (\"\(names[column])\")" : ""
                    let shown = text(bytes, cell)
                    throw DatasetError(
                        .malformed,
                        "line \(line.number), column \(column + 1)\(name): \(shown.isEmpty ? "the cell is empty" : "\"\(shown.prefix(40))\" is not a number"); fill in or remove the value",
                        file: file)
                }
                if column == labelIndex {
                    guard value == value.rounded(), abs(value) < 9.0e15 else {
                        throw DatasetError(
                            .malformed,
                            "line \(line.number), column \(column + 1): the label \(value) is not an integer class; labels must be whole numbers",
                            file: file)
                    }
                    labels.append(Int64(value))
                } else {
                    features.append(Float(value * scale))
                }
            }
            rows += 1
            pending = lines.next()
        }
        do {
            let featureTensor = try Tensor(features, shape: [rows, featureCount])
            let labelTensor = labelIndex == nil ? nil : try Tensor(labels, shape: [rows])
            var featureNames = names
            var labelName: String?
            if let labelIndex, !names.isEmpty { labelName = featureNames.remove(at: labelIndex) }
            return CSVTable(features: featureTensor, labels: labelTensor, featureNames: featureNames, labelName: labelName)
        } catch {
            throw DatasetError(.resource, "cannot hold \(rows) rows of \(featureCount) features: \(error)", file: file, cause: error)
        }
    }

    private static func resolveLabel(
        _ label: CSVSettings.LabelColumn?, names: [String], columnCount: Int, file: String?
    ) throws(DatasetError) -> Int? {
        switch label {
        case nil: return nil
        case .index(let i):
            let resolved = i < 0 ? columnCount + i : i
            guard resolved >= 0, resolved < columnCount else {
                throw DatasetError(
                    .invalidArgument, "label column \(i) does not exist: the rows have \(columnCount) columns (0..<\(columnCount), or -1 for the last)",
                    file: file)
            }
            return resolved
        case .name(let name):
            guard !names.isEmpty else {
                throw DatasetError(.invalidArgument, "label column \"\(name)\" is named, but the CSV has no header; pass the column's index instead", file: file)
            }
            guard let i = names.firstIndex(of: name) else {
                throw DatasetError(
                    .invalidArgument, "no column is named \"\(name)\"; the header names \(names.prefix(10).map { "\"\($0)\"" }.joined(separator: ", "))\(names.count > 10 ? ", …" : "")",
                    file: file)
            }
            return i
        }
    }

    /// The cell's text without padding and quotes.
    private static func text(_ bytes: [UInt8], _ cell: Range<Int>) -> String {
        String(decoding: bytes[trimmed(bytes, cell)], as: UTF8.self)
    }

    /// The cell without surrounding blanks and one pair of double quotes.
    private static func trimmed(_ bytes: [UInt8], _ cell: Range<Int>) -> Range<Int> {
        var lo = cell.lowerBound
        var hi = cell.upperBound
        while lo < hi, bytes[lo] == 0x20 || bytes[lo] == 0x09 { lo += 1 }
        while hi > lo, bytes[hi - 1] == 0x20 || bytes[hi - 1] == 0x09 { hi -= 1 }
        if hi - lo >= 2, bytes[lo] == 0x22, bytes[hi - 1] == 0x22 { lo += 1; hi -= 1 }
        return lo..<hi
    }

    /// The cell as a number, or `nil` unless it is `[+-]digits[.digits][(e|E)[+-]digits]`.
    ///
    /// Short integers — most cells of pixel data — are converted exactly by hand; anything else
    /// goes through `strtod`, which rounds correctly.
    static func parseNumber(_ bytes: [UInt8], _ cell: Range<Int>) -> Double? {
        let range = trimmed(bytes, cell)
        var i = range.lowerBound
        let end = range.upperBound
        guard i < end else { return nil }
        var negative = false
        if bytes[i] == 0x2B || bytes[i] == 0x2D { negative = bytes[i] == 0x2D; i += 1 }
        var integer: Int64 = 0
        var digits = 0
        while i < end, bytes[i] &- 0x30 < 10 {
            if digits < 18 { integer = integer * 10 + Int64(bytes[i] &- 0x30) }
            digits += 1
            i += 1
        }
        if i == end {
            guard digits > 0 else { return nil }
            if digits < 16 { return negative ? -Double(integer) : Double(integer) }
            return strtodCell(bytes, range)
        }
        var fraction = 0
        if bytes[i] == 0x2E {
            i += 1
            while i < end, bytes[i] &- 0x30 < 10 { fraction += 1; i += 1 }
        }
        guard digits + fraction > 0 else { return nil }
        if i < end, bytes[i] == 0x65 || bytes[i] == 0x45 {
            i += 1
            if i < end, bytes[i] == 0x2B || bytes[i] == 0x2D { i += 1 }
            var exponent = 0
            while i < end, bytes[i] &- 0x30 < 10 { exponent += 1; i += 1 }
            guard exponent > 0 else { return nil }
        }
        guard i == end else { return nil }
        return strtodCell(bytes, range)
    }

    private static func strtodCell(_ bytes: [UInt8], _ range: Range<Int>) -> Double? {
        // A validated number: copy it into a terminated buffer for strtod.
        var buffer = [CChar](repeating: 0, count: range.count + 1)
        for (k, b) in bytes[range].enumerated() { buffer[k] = CChar(bitPattern: b) }
        return buffer.withUnsafeBufferPointer { strtod($0.baseAddress!, nil) }
    }
}

/// Splits CSV bytes into lines of cell ranges, skipping blank lines and a byte-order mark.
struct CSVLines {
    struct Line {
        /// The 1-based line number in the file.
        var number: Int
        var cells: [Range<Int>]
    }

    let bytes: [UInt8]
    let delimiter: UInt8
    private var position: Int
    private var lineNumber = 0

    init(bytes: [UInt8], delimiter: UInt8) {
        self.bytes = bytes
        self.delimiter = delimiter
        position = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    }

    mutating func next() -> Line? {
        while position < bytes.count {
            lineNumber += 1
            var end = position
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            var contentEnd = end
            if contentEnd > position, bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            let start = position
            position = end + 1
            if bytes[start..<contentEnd].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            var cells: [Range<Int>] = []
            var cellStart = start
            var quoted = false
            for k in start..<contentEnd {
                // Delimiters inside double quotes belong to the cell (header names may hold commas).
                if bytes[k] == 0x22 { quoted.toggle() } else if bytes[k] == delimiter, !quoted {
                    cells.append(cellStart..<k)
                    cellStart = k + 1
                }
            }
            cells.append(cellStart..<contentEnd)
            return Line(number: lineNumber, cells: cells)
        }
        return nil
    }
}
