#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a trace writer puts its bytes: a file written through a fixed-size buffer, or memory.
///
/// Writers append small pieces (one event is ~100 bytes); the buffer turns them into large
/// `write(2)` calls, so export costs one system call per `bufferSize` bytes and memory stays at
/// the buffer's size however long the run.
public final class TraceOutput {
    private enum Destination {
        case file(Int32, path: String)
        case memory
    }

    private var destination: Destination
    /// Bytes not yet written to the file (all bytes, for memory outputs).
    package var buffer: [UInt8]
    private let bufferSize: Int
    /// Bytes handed to the output so far.
    public private(set) var byteCount = 0
    private var closed = false

    /// Opens (creating or truncating) the file at `path`.
    ///
    /// - Parameter bufferSize: bytes collected before each `write(2)`.
    /// - Throws: `TraceExportError.io` when the file cannot be created.
    public init(path: String, bufferSize: Int = 1 << 20) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw TraceExportError(.io, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        destination = .file(fd, path: path)
        self.bufferSize = max(4096, bufferSize)
        buffer = []
        buffer.reserveCapacity(self.bufferSize + 4096)
    }

    /// An output that keeps everything in memory; read it with `bytes`.
    public init() {
        destination = .memory
        bufferSize = .max
        buffer = []
    }

    deinit {
        if case .file(let fd, _) = destination, !closed { _ = closeDescriptor(fd) }
    }

    /// Everything written so far, for memory outputs (empty for files).
    public var bytes: [UInt8] {
        if case .memory = destination { return buffer }
        return []
    }

    /// Appends raw bytes.
    @inline(__always)
    package func append(_ bytes: some Sequence<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        try flushIfFull()
    }

    @inline(__always)
    package func append(_ byte: UInt8) throws {
        buffer.append(byte)
        try flushIfFull()
    }

    /// Appends the UTF-8 bytes of `text`.
    @inline(__always)
    package func append(_ text: String) throws {
        var text = text
        text.withUTF8 { buffer.append(contentsOf: $0) }
        try flushIfFull()
    }

    @inline(__always)
    package func flushIfFull() throws {
        if buffer.count >= bufferSize { try flush() }
    }

    /// Writes buffered bytes to the file.
    public func flush() throws {
        guard case .file(let fd, let path) = destination else { return }
        var offset = 0
        while offset < buffer.count {
            let written = buffer.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw TraceExportError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
        byteCount += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file; later writes are an error.
    public func close() throws {
        guard !closed else { return }
        try flush()
        closed = true
        if case .file(let fd, let path) = destination {
            if closeDescriptor(fd) != 0 {
                throw TraceExportError(.io, "cannot close \(path): \(String(cString: strerror(errno)))")
            }
        } else {
            byteCount = buffer.count
        }
    }

    /// Bytes written plus bytes still buffered.
    public var totalBytes: Int {
        if case .memory = destination { return buffer.count }
        return byteCount + buffer.count
    }
}

/// `close(2)`, reachable from inside a type that has its own `close()`.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
