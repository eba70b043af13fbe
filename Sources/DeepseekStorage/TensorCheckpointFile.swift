internal import CDeepseekURing
#if canImport(Glibc)
import Glibc
#endif
import DeepseekCore
public import DeepseekTensor

// The tensor checkpoint file, version 1. Integers little-endian; every region starts at a
// multiple of 4096 bytes so the file can be written and read with O_DIRECT.
//
//   header (one 4096-byte block)
//        0   8  magic 0x89 "DSTENS" 0x0A
//        8   4  format version (1)
//       12   4  flags (0)
//       16   8  tensor count
//       24   8  index offset
//       32   8  index length
//       40   8  file length (every byte the writer wrote, padding included)
//       48   8  XXH64 of the index
//       56   8  XXH64 of bytes 0..<56
//   tensors, each at an aligned offset, zero-padded
//   index: for each tensor (sorted by name) name, dtype, rank and dims, offset, byte length and
//          XXH64 of its bytes; then the metadata (length-prefixed bytes) and its XXH64
//
// A reader checks the header, then the file's length (a torn file is shorter), then the index,
// then each tensor against its own checksum — so an error names the tensor that is damaged.

/// A checkpoint's contents: named tensors and a blob of metadata the caller encodes itself
/// (step, optimizer scalars, data order …).
public struct TensorCheckpoint: Sendable {
    public var tensors: [String: Tensor]
    public var metadata: [UInt8]

    public init(tensors: [String: Tensor], metadata: [UInt8] = []) {
        self.tensors = tensors
        self.metadata = metadata
    }
}

/// Crash-safe checkpoint files written and read through io_uring.
///
/// `write` puts the bytes in a temporary file beside the target (O_DIRECT where allowed),
/// checksums each tensor, fsyncs, renames it over the target and syncs the directory: at any
/// moment the target path holds either the previous complete file or the new complete file. A
/// crash may leave a hidden `.name.tmp-…` file, which `TensorCheckpointDirectory` ignores and
/// removes. `read` verifies every checksum and names the file, the tensor and the reason when
/// one fails.
///
/// ```swift
/// try TensorCheckpointFile.write(TensorCheckpoint(tensors: ["w": w]), to: "/runs/a/step-40.dstensors")
/// let back = try TensorCheckpointFile.read(from: "/runs/a/step-40.dstensors")
/// ```
public enum TensorCheckpointFile {
    static let magic: [UInt8] = [0x89, 0x44, 0x53, 0x54, 0x45, 0x4E, 0x53, 0x0A]
    static let version: UInt32 = 1
    static let block = 4096
    static let temporaryCounter = SerialCounter()

    static func ring() throws(StorageError) -> FileRing {
        try FileRing(queueDepth: 16, slotSize: 1 << 20, slotCount: 16, alignment: block)
    }

    static func aligned(_ n: Int) -> Int { (n + block - 1) / block * block }

    /// Writes `checkpoint` to `path`, replacing any file there atomically.
    ///
    /// - Throws: `StorageError.invalidArgument` for a meta tensor or a path without a file name;
    ///   `.outOfSpace` (disk full), `.permissionDenied` (directory not writable) or `.io`. On any
    ///   error the previous file at `path` is unchanged and the temporary file is removed.
    public static func write(_ checkpoint: TensorCheckpoint, to path: String, directIO: Bool = true) throws(StorageError) {
        let (directory, name) = split(path)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw StorageError(.invalidArgument, "the path names a directory, not a file; give a file name such as step-40.dstensors", file: path)
        }
        let names = checkpoint.tensors.keys.sorted()
        var sources: [TensorBytes] = []
        var transfers: [FileTransfer] = []
        var w = WireWriter(reservingCapacity: 64 * names.count + checkpoint.metadata.count + 64)
        var offset = block
        for n in names {
            let t = checkpoint.tensors[n]!
            let bytes = try TensorBytes(t, key: StorageKey(n))
            sources.append(bytes)
            w.write(n)
            w.write(t.dtype.rawValue)
            w.writeVarint(UInt64(t.shape.rank))
            for d in t.shape.dims { w.writeVarint(UInt64(d)) }
            w.write(UInt64(offset))
            w.write(UInt64(bytes.bytes.count))
            w.write(XXHash64.hash(bytes.bytes))
            transfers.append(FileTransfer(fileOffset: offset, memory: UnsafeMutableRawBufferPointer(mutating: bytes.bytes), key: n))
            offset += aligned(max(bytes.bytes.count, 1))
        }
        w.write(bytes: checkpoint.metadata)
        w.write(XXHash64.hash(checkpoint.metadata))
        var index = w.bytes
        let indexOffset = offset
        let indexLength = index.count
        let fileLength = indexOffset + aligned(indexLength)
        var header = WireWriter(reservingCapacity: block)
        magic.withUnsafeBytes { header.writeRaw($0) }
        header.write(version)
        header.write(UInt32(0))
        header.write(UInt64(names.count))
        header.write(UInt64(indexOffset))
        header.write(UInt64(indexLength))
        header.write(UInt64(fileLength))
        header.write(XXHash64.hash(index))
        header.write(XXHash64.hash(header.bytes))
        var headerBytes = header.bytes + [UInt8](repeating: 0, count: block - header.bytes.count)
        index += [UInt8](repeating: 0, count: aligned(indexLength) - indexLength)
        defer { withExtendedLifetime(sources) {} }

        let temporary = directory + "/.\(name).tmp-\(getpid())-\(temporaryCounter.next())"
        var direct: Int32 = 0
        let flags = CDSKUR_FILE_WRITE | CDSKUR_FILE_CREATE | CDSKUR_FILE_EXCLUSIVE | (directIO ? CDSKUR_FILE_DIRECT : 0)
        let fd = cdskur_file_open(temporary, Int32(flags), &direct)
        guard fd >= 0 else {
            throw StorageError.system(fd, "creating a temporary file in \(directory)", file: path, advice: advice(for: fd, directory: directory))
        }
        var renamed = false
        defer {
            _ = cdskur_close(fd)
            if !renamed { _ = cdskur_file_unlink(temporary) }
        }
        let reserved = cdskur_file_reserve(fd, UInt64(fileLength))
        if reserved < 0 {
            throw StorageError.system(reserved, "reserving \(fileLength) bytes", file: path, advice: advice(for: reserved, directory: directory))
        }
        let ring = try ring()
        let written = headerBytes.withUnsafeMutableBytes { h in
            index.withUnsafeMutableBytes { i in
                Result { () throws(StorageError) in
                    var all = transfers
                    all.append(FileTransfer(fileOffset: 0, memory: h, key: "(header)"))
                    all.append(FileTransfer(fileOffset: indexOffset, memory: i, key: "(index)"))
                    try ring.run(all, write: true, fd: fd, direct: direct != 0, path: temporary, owners: sources)
                }
            }
        }
        if case .failure(let error) = written {
            throw StorageError(error.code, error.message + "; " + advice(for: error.code, directory: directory), cause: error)
        }
        try ring.sync(fd: fd, path: temporary)
        let moved = cdskur_file_rename(temporary, path)
        guard moved == 0 else {
            throw StorageError.system(moved, "moving the new checkpoint into place", file: path, advice: "the previous checkpoint at this path is unchanged")
        }
        renamed = true
        let synced = cdskur_directory_sync(directory)
        guard synced == 0 else {
            throw StorageError.system(synced, "syncing the directory \(directory)", file: path, advice: "the checkpoint is written but may not survive a power loss")
        }
    }

    static func advice(for code: Int32, directory: String) -> String {
        advice(for: StorageError.system(code, "").code, directory: directory)
    }

    static func advice(for code: StorageError.Code, directory: String) -> String {
        switch code {
        case .outOfSpace: "the disk holding \(directory) is full; free space — the previous checkpoint is unchanged"
        case .permissionDenied: "\(directory) is not writable by this user (or is read-only); fix its permissions — the previous checkpoint is unchanged"
        case .notFound: "the directory \(directory) does not exist; create it first"
        default: "the previous checkpoint is unchanged"
        }
    }

    /// The directory part (`.` when there is none) and the last component of a path.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }
}
