#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import DeepseekTensor

extension SafetensorsFile {
    /// Writes `tensors` as a safetensors file at `path`, readable by Hugging Face's `safetensors`
    /// and by `SafetensorsFile`.
    ///
    /// Tensors are stored in name order, contiguous, little-endian, in their own dtype; the header
    /// is padded with spaces to a multiple of 8 bytes so every tensor starts 8-byte aligned. The
    /// file is written next to `path` and renamed into place, so a crash never leaves a half
    /// file under the final name.
    ///
    /// - Throws: `SafetensorsError.io` when the file cannot be written, `.invalidHeader` for a
    ///   meta tensor (it has no bytes) or a name starting with `__` (reserved by the format).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
        let names = tensors.keys.sorted()
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append(("__metadata__", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })))
        }
        var dense: [Tensor] = []
        var offset = 0
        for name in names {
            guard !name.hasPrefix("__") else {
                throw SafetensorsError(.invalidHeader, "cannot write tensor \"\(name)\": names starting with __ are reserved by the format", tensor: name)
            }
            let t = tensors[name]!
            guard !t.isMeta else {
                throw SafetensorsError(.invalidHeader, "cannot write tensor \"\(name)\": it is a meta tensor (shape only, no data)", tensor: name)
            }
            let c = try t.contiguous()
            dense.append(c)
            members.append((name, .object([
                ("dtype", .string(Self.name(of: c.dtype))),
                ("shape", .array(c.shape.dims.map { .number(Double($0)) })),
                ("data_offsets", .array([.number(Double(offset)), .number(Double(offset + c.byteCount))])),
            ])))
            offset += c.byteCount
        }
        var header = Array(JSONValue.object(members).serialized.utf8)
        while header.count % 8 != 0 { header.append(0x20) }

        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SafetensorsError(.io, "cannot create \(temporary): \(String(cString: strerror(errno))); check that the directory exists and is writable")
        }
        var ok = false
        defer {
            close(fd)
            if !ok { unlink(temporary) }
        }
        var length = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &length) { try writeAll(fd, $0, path: temporary) }
        try header.withUnsafeBytes { try writeAll(fd, $0, path: temporary) }
        for t in dense where t.byteCount > 0 {
            let start = UnsafeRawPointer(t.storage.baseAddress! + t.offset * t.dtype.byteSize)
            try writeAll(fd, UnsafeRawBufferPointer(start: start, count: t.byteCount), path: temporary)
        }
        guard fsync(fd) == 0, rename(temporary, path) == 0 else {
            throw SafetensorsError(.io, "cannot finish writing \(path): \(String(cString: strerror(errno)))")
        }
        ok = true
    }

    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = posixWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SafetensorsError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}

/// `write(2)`, under a name the `write` member above does not shadow.
private func posixWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, buffer, count)
}
