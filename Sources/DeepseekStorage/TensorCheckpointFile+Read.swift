internal import CDeepseekURing
import DeepseekCore
import DeepseekTensor

extension TensorCheckpointFile {
    struct IndexEntry {
        var name: String
        var dtype: DType
        var shape: Shape
        var offset: Int
        var length: Int
        var hash: UInt64
    }

    /// Reads and verifies a checkpoint written by `write(_:to:)`.
    ///
    /// - Throws: `StorageError` naming the file (and the tensor, when one is at fault):
    ///   `.notFound`; `.corrupt` (not a checkpoint, an unknown version, a broken index);
    ///   `.truncated` (the file is shorter than its header says: a torn write);
    ///   `.checksumMismatch` (the header, the index, a tensor or the metadata changed after
    ///   they were written); `.io` or `.permissionDenied` from the system.
    public static func read(from path: String, directIO: Bool = true) throws(StorageError) -> TensorCheckpoint {
        var direct: Int32 = 0
        let fd = cdskur_file_open(path, Int32(CDSKUR_FILE_READ | (directIO ? CDSKUR_FILE_DIRECT : 0)), &direct)
        guard fd >= 0 else {
            if -fd == ENOENT_ { throw StorageError(.notFound, "no checkpoint exists at this path", file: path) }
            throw StorageError.system(fd, "opening the checkpoint", file: path)
        }
        defer { _ = cdskur_close(fd) }
        let size = Int(cdskur_file_size(fd))
        guard size >= block else {
            throw StorageError(.truncated, "the file has \(max(size, 0)) bytes, less than its \(block)-byte header: the write was torn", file: path)
        }
        let ring = try ring()
        func readRegion(_ offset: Int, _ length: Int, _ what: String) throws(StorageError) -> [UInt8] {
            var bytes = [UInt8](repeating: 0, count: length)
            let done = bytes.withUnsafeMutableBytes { b in
                Result { () throws(StorageError) in
                    try ring.run([FileTransfer(fileOffset: offset, memory: b, key: what)], write: false, fd: fd, direct: direct != 0, path: path)
                }
            }
            try done.get()
            return bytes
        }
        let header = try readRegion(0, 64, "(header)")
        guard Array(header[0..<8]) == magic else {
            throw StorageError(.corrupt, "the file does not start with the tensor checkpoint magic bytes: it is not a tensor checkpoint", file: path)
        }
        func field(_ at: Int) -> UInt64 { header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) } }
        let headerHash = header.withUnsafeBytes { XXHash64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        guard headerHash == field(56) else {
            throw StorageError(.checksumMismatch, "the header's checksum does not match its contents: the header was damaged", file: path)
        }
        let version = header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self)) }
        guard version == Self.version else {
            throw StorageError(.corrupt, "format version \(version) is not one this build reads (it reads \(Self.version))", file: path)
        }
        let count = Int(field(16))
        let indexOffset = Int(field(24))
        let indexLength = Int(field(32))
        let fileLength = Int(field(40))
        guard size >= fileLength else {
            throw StorageError(.truncated, "the file has \(size) bytes but its header says \(fileLength): the write was torn", file: path)
        }
        guard indexOffset % block == 0, indexOffset >= block, indexOffset + indexLength <= fileLength else {
            throw StorageError(.corrupt, "the header places the index outside the file", file: path)
        }
        let index = try readRegion(indexOffset, indexLength, "(index)")
        guard XXHash64.hash(index) == field(48) else {
            throw StorageError(.checksumMismatch, "the index's checksum does not match: the list of tensors was damaged", file: path)
        }
        let (entries, metadata, metadataHash) = try parseIndex(index, count: count, limit: indexOffset, path: path)
        guard XXHash64.hash(metadata) == metadataHash else {
            throw StorageError(.checksumMismatch, "the metadata's checksum does not match", file: path)
        }
        var tensors: [String: Tensor] = [:]
        var transfers: [FileTransfer] = []
        for e in entries {
            // Aligned storage with room for the region's padding: the read lands in place.
            let t = try AlignedTensors.empty(e.shape, dtype: e.dtype)
            tensors[e.name] = t
            transfers.append(
                FileTransfer(
                    fileOffset: e.offset, memory: UnsafeMutableRawBufferPointer(start: e.length == 0 ? nil : t.storage.baseAddress, count: e.length),
                    capacity: aligned(e.length), key: e.name))
        }
        try ring.run(transfers, write: false, fd: fd, direct: direct != 0, path: path, owners: tensors)
        for e in entries {
            let t = tensors[e.name]!
            let hash = XXHash64.hash(UnsafeRawBufferPointer(start: e.length == 0 ? nil : t.storage.baseAddress, count: e.length))
            guard hash == e.hash else {
                throw StorageError(
                    .checksumMismatch,
                    "the bytes hash to 0x\(String(hash, radix: 16)), the index says 0x\(String(e.hash, radix: 16)): the tensor was damaged after it was written",
                    file: path, tensor: e.name)
            }
        }
        return TensorCheckpoint(tensors: tensors, metadata: metadata)
    }

    static func parseIndex(_ index: [UInt8], count: Int, limit: Int, path: String) throws(StorageError) -> ([IndexEntry], [UInt8], UInt64) {
        var r = WireReader(index)
        var entries: [IndexEntry] = []
        var name = "(index)"
        do {
            for _ in 0..<count {
                name = try r.readString()
                let raw: UInt8 = try r.read()
                guard let dtype = DType(rawValue: raw) else {
                    throw StorageError(.corrupt, "unknown dtype code \(raw)", file: path, tensor: name)
                }
                let rank = Int(try r.readVarint())
                guard rank <= 64 else { throw StorageError(.corrupt, "rank \(rank) is not plausible", file: path, tensor: name) }
                var dims: [Int] = []
                for _ in 0..<rank { dims.append(Int(try r.readVarint())) }
                let offset = Int(try r.read(UInt64.self))
                let length = Int(try r.read(UInt64.self))
                let hash: UInt64 = try r.read()
                let (elements, overflow) = dims.reduce((1, false)) { acc, d in
                    let (p, o) = acc.0.multipliedReportingOverflow(by: d)
                    return (p, acc.1 || o)
                }
                guard !overflow, elements * dtype.byteSize == length, offset % block == 0, offset >= block, offset + length <= limit else {
                    throw StorageError(.corrupt, "its entry (\(dtype)\(dims) at \(offset), \(length) bytes) does not fit the file", file: path, tensor: name)
                }
                entries.append(IndexEntry(name: name, dtype: dtype, shape: Shape(dims), offset: offset, length: length, hash: hash))
            }
            let metadata = try r.readBytes()
            let hash: UInt64 = try r.read()
            return (entries, metadata, hash)
        } catch let error as StorageError {
            throw error
        } catch {
            throw StorageError(.corrupt, "the index cannot be decoded: \(error)", file: path, tensor: name == "(index)" ? nil : name, cause: error)
        }
    }
}
