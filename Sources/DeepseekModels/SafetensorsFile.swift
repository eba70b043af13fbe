#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import DeepseekTensor

/// A safetensors file opened for reading: the header parsed and checked, the data memory-mapped.
///
/// The format (Hugging Face's) is an 8-byte little-endian header length, a JSON header mapping
/// each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (plus an optional
/// `"__metadata__"` map of strings), then the raw little-endian tensor bytes. Opening the file
/// checks every entry — fields present, offsets inside the file, byte length equal to
/// `shape × dtype size` — so a broken file fails at once with the tensor's name, never later
/// with a crash.
///
/// Tensors share the mapping instead of copying it: `tensor(named:)` returns a view of the
/// mapped bytes (copy-on-write, mapped privately, so writing to a loaded weight never touches
/// the file). The mapping lives as long as any tensor that views it.
///
/// ```swift
/// let file = try SafetensorsFile(contentsOf: "model.safetensors")
/// let w = try file.tensor(named: "embeddings.word_embeddings.weight")   // float32[30522, 384]
/// ```
///
/// Supported dtypes: `F32`, `F16`, `BF16`, `F64`, `I64`, `I32`, `I8`, `BOOL`. An entry of another
/// dtype (`F8_E4M3`, `U16`, …) can be listed but not read.
public struct SafetensorsFile: Sendable {
    /// One tensor as the header describes it.
    public struct Entry: Sendable, Hashable {
        /// The name in the file (`encoder.layer.0.attention.self.query.weight`).
        public var name: String
        /// The dtype as written in the header (`F32`, `BF16`, …).
        public var dtypeName: String
        /// The Deepseek dtype, or `nil` when Deepseek has no such type.
        public var dtype: DType?
        public var shape: Shape
        /// Byte range inside the data section.
        public var dataOffsets: Range<Int>
    }

    /// The path the file was opened from, for messages.
    public let path: String
    /// The entries sorted by name.
    public let entries: [Entry]
    /// The `__metadata__` strings (`{"format": "pt"}` for PyTorch exports).
    public let metadata: [String: String]
    private let byName: [String: Int]
    private let mapping: MappedFile
    private let dataStart: Int

    /// Opens and memory-maps `path`, checking the header and every entry.
    ///
    /// - Throws: `SafetensorsError` — `.io` when the file cannot be opened or mapped,
    ///   `.invalidHeader` for a malformed length, JSON or entry, `.truncated` when a tensor's bytes
    ///   run past the end of the file, `.dtypeMismatch` when a tensor's byte length disagrees with
    ///   its dtype and shape. Each names the file and the tensor.
    public init(contentsOf path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let size = mapping.byteCount
        guard size >= 8 else {
            throw SafetensorsError(.invalidHeader, "\(path): \(size) bytes is too short for a safetensors file (it starts with an 8-byte header length)")
        }
        let base = UnsafeRawPointer(mapping.base!)
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength <= UInt64(size - 8), headerLength <= 100_000_000 else {
            throw SafetensorsError(
                .invalidHeader,
                "\(path): the header length field says \(headerLength) bytes but the file has \(size - 8) after it; this is not a safetensors file or it is cut short")
        }
        dataStart = 8 + Int(headerLength)
        let json: JSONValue
        do {
            json = try JSONParser.parse(Array(UnsafeRawBufferPointer(start: base + 8, count: Int(headerLength))))
        } catch {
            throw SafetensorsError(.invalidHeader, "\(path): the header is not valid JSON (\(error)); the file is damaged or not safetensors", cause: error)
        }
        guard let members = json.objectValue else {
            throw SafetensorsError(.invalidHeader, "\(path): the header must be a JSON object mapping tensor names to entries")
        }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        let dataSize = size - dataStart
        for (name, value) in members {
            if name == "__metadata__" {
                for (k, v) in value.objectValue ?? [] { metadata[k] = v.stringValue ?? v.serialized }
                continue
            }
            let entry = try Self.entry(name, value, path: path)
            guard entry.dataOffsets.upperBound <= dataSize else {
                throw SafetensorsError(
                    .truncated,
                    "\(path): tensor \"\(name)\" needs bytes \(entry.dataOffsets.lowerBound)..<\(entry.dataOffsets.upperBound) of the data but the file holds only \(dataSize); the file is truncated",
                    tensor: name)
            }
            if let dtype = entry.dtype, entry.shape.elementCount * dtype.byteSize != entry.dataOffsets.count {
                throw SafetensorsError(
                    .dtypeMismatch,
                    "\(path): tensor \"\(name)\" is \(entry.dtypeName)\(entry.shape) = \(entry.shape.elementCount * dtype.byteSize) bytes but its data_offsets span \(entry.dataOffsets.count); dtype, shape and offsets disagree",
                    tensor: name)
            }
            entries.append(entry)
        }
        entries.sort { $0.name < $1.name }
        self.entries = entries
        self.metadata = metadata
        byName = Dictionary(entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The tensor names, sorted.
    public var names: [String] { entries.map(\.name) }

    /// The header entry for `name`, or `nil`.
    public func entry(named name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// The tensor `name`, viewing the mapped bytes when they are aligned for its dtype (copied otherwise).
    ///
    /// - Throws: `SafetensorsError.missingTensor` naming the closest names when the file has no such
    ///   tensor; `.unsupportedDType` when its dtype has no Deepseek equivalent.
    public func tensor(named name: String) throws -> Tensor {
        guard let entry = entry(named: name) else {
            let near = names.filter { $0.hasSuffix(name.split(separator: ".").last.map(String.init) ?? name) }.prefix(3)
            throw SafetensorsError(
                .missingTensor, "\(path) has no tensor \"\(name)\" (\(entries.count) tensors\(near.isEmpty ? "" : "; similar: \(near.joined(separator: ", "))"))",
                tensor: name)
        }
        guard let dtype = entry.dtype else {
            throw SafetensorsError(
                .unsupportedDType, "\(path): tensor \"\(name)\" has dtype \(entry.dtypeName), which Deepseek does not support (F32, F16, BF16, F64, I64, I32, I8, BOOL)",
                tensor: name)
        }
        let start = mapping.base! + dataStart + entry.dataOffsets.lowerBound
        let count = entry.dataOffsets.count
        if Int(bitPattern: start) % dtype.byteSize == 0 {
            let owner = mapping
            let storage = TensorStorage(adopting: start, byteCount: count) { _ in withExtendedLifetime(owner) {} }
            return Tensor(storage: storage, dtype: dtype, shape: entry.shape, strides: entry.shape.contiguousStrides, offset: 0)
        }
        let storage = try TensorStorage(byteCount: count, op: "safetensors")
        if count > 0 { storage.baseAddress!.copyMemory(from: start, byteCount: count) }
        return Tensor(storage: storage, dtype: dtype, shape: entry.shape, strides: entry.shape.contiguousStrides, offset: 0)
    }

    /// Every tensor by name (views of the mapping; nothing is copied for aligned data).
    public func tensors() throws -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for e in entries { result[e.name] = try tensor(named: e.name) }
        return result
    }

    static func dtype(named name: String) -> DType? {
        switch name {
        case "F32": .float32
        case "F16": .float16
        case "BF16": .bfloat16
        case "F64": .float64
        case "I64": .int64
        case "I32": .int32
        case "I8": .int8
        case "BOOL": .bool
        default: nil
        }
    }

    static func name(of dtype: DType) -> String {
        switch dtype {
        case .float32: "F32"
        case .float16: "F16"
        case .bfloat16: "BF16"
        case .float64: "F64"
        case .int64: "I64"
        case .int32: "I32"
        case .int8: "I8"
        case .bool: "BOOL"
        }
    }

    private static func entry(_ name: String, _ value: JSONValue, path: String) throws -> Entry {
        func bad(_ what: String) -> SafetensorsError {
            SafetensorsError(.invalidHeader, "\(path): header entry \"\(name)\" \(what)", tensor: name)
        }
        guard let dtypeName = value["dtype"]?.stringValue else { throw bad("has no string \"dtype\"") }
        guard let dims = value["shape"]?.arrayValue?.map(\.intValue), dims.allSatisfy({ ($0 ?? -1) >= 0 }) else {
            throw bad("has no \"shape\" array of non-negative integers")
        }
        guard let offsets = value["data_offsets"]?.arrayValue?.compactMap(\.intValue), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1]
        else { throw bad("has no \"data_offsets\" pair [begin, end] with 0 ≤ begin ≤ end") }
        return Entry(name: name, dtypeName: dtypeName, dtype: dtype(named: dtypeName), shape: Shape(dims.map { $0! }), dataOffsets: offsets[0]..<offsets[1])
    }
}

/// A whole file mapped privately (copy-on-write) and unmapped when the last user lets go.
final class MappedFile: @unchecked Sendable {
    // The pointer is only read after init, and `munmap` runs once in deinit: sharing is safe.
    let base: UnsafeMutableRawPointer?
    let byteCount: Int

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SafetensorsError(.io, "cannot open \(path): \(String(cString: strerror(errno))); check the path")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SafetensorsError(.io, "cannot stat \(path): \(String(cString: strerror(errno)))") }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw SafetensorsError(.io, "\(path) is not a regular file") }
        byteCount = Int(info.st_size)
        if byteCount == 0 {
            base = nil
            return
        }
        // Writable and private: a loaded weight that is updated in place copies its pages, the file stays as it is.
        let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else {
            throw SafetensorsError(.io, "cannot map \(path) (\(byteCount) bytes): \(String(cString: strerror(errno)))")
        }
        base = p
    }

    deinit {
        if let base { munmap(base, byteCount) }
    }
}
