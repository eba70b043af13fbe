internal import CDeepseekURing
public import DeepseekTensor

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Settings of an `SSDTier`.
public struct SSDTierSettings: Sendable {
    /// The directory the tier's data file goes in (removed from the directory as soon as it is
    /// open, so a crash leaves nothing behind).
    public var directory: String
    /// Bypass the page cache with O_DIRECT where the file system allows it (tmpfs does not: the
    /// tier then uses buffered I/O and says so in `usesDirectIO`).
    public var directIO: Bool
    /// Bytes per staging buffer; one request moves at most this much.
    public var bufferBytes: Int
    /// The most requests in flight at once, and the staging buffers for those that need one
    /// (memory that is not 4096-aligned, a last partial block).
    public var buffers: Int
    /// The most bytes the data file may hold (`nil`: as much as the disk has).
    public var capacityBytes: Int?

    public init(directory: String, directIO: Bool = true, bufferBytes: Int = 1 << 20, buffers: Int = 32, capacityBytes: Int? = nil) {
        self.directory = directory
        self.directIO = directIO
        self.bufferBytes = bufferBytes
        self.buffers = buffers
        self.capacityBytes = capacityBytes
    }
}

/// Tensors on an SSD, read and written through io_uring.
///
/// The tier keeps one data file and an index in memory (key → extent, dtype, shape); it is a
/// place to spill to, not a database: the file is anonymous and its contents end with the
/// tier. Checkpoints, which must outlive the process, are `TensorCheckpointFile`s.
///
/// A batch (`store` or `load` of many keys) goes to the kernel together: requests of up to
/// `bufferBytes`, up to `buffers` of them in flight. Loads land in place in 4096-aligned
/// storage (`AlignedTensors`); stores of such tensors are written in place too, others go
/// through registered, aligned staging buffers. The file grows by preallocated chunks, so
/// direct writes never extend it one request at a time. The actor runs on an I/O thread of its
/// own, so waiting for the disk never blocks the cooperative pool.
///
/// ```swift
/// let ssd = try SSDTier(SSDTierSettings(directory: "/var/tmp"))
/// try await ssd.store(t, for: "m.fc1.weight")
/// ```
public actor SSDTier: StorageTier {
    public nonisolated let name: String
    public nonisolated let settings: SSDTierSettings
    /// Whether O_DIRECT is in effect (false on file systems that refuse it, such as tmpfs).
    public nonisolated let usesDirectIO: Bool
    /// The file system the data file is on (`ext4`, `xfs`, `tmpfs`, …).
    public nonisolated let fileSystem: String
    private nonisolated let thread: IOThread
    private let fd: Int32
    private let path: String
    private var ring: FileRing?
    private var allocator: ExtentAllocator
    private var index: [StorageKey: Entry] = [:]
    private var used = 0
    /// Bytes of the file preallocated (direct I/O only).
    private var reserved = 0

    struct Entry {
        var offset: Int
        var length: Int
        var dtype: DType
        var shape: Shape
        var bytes: Int
    }

    public nonisolated var unownedExecutor: UnownedSerialExecutor { thread.asUnownedSerialExecutor() }

    /// Opens the tier's data file in `settings.directory`.
    ///
    /// - Throws: `StorageError.notFound` when the directory is missing, `.permissionDenied`
    ///   when it is not writable, `.invalidArgument` for bad settings.
    public init(_ settings: SSDTierSettings, name: String = "ssd") throws(StorageError) {
        guard settings.buffers >= 1, settings.bufferBytes >= 4096, settings.bufferBytes % 4096 == 0 else {
            throw StorageError(
                .invalidArgument,
                "SSDTier: buffers must be ≥ 1 and bufferBytes a multiple of 4096 (got \(settings.buffers) × \(settings.bufferBytes))",
                file: settings.directory)
        }
        let file = settings.directory + "/.deepseek-tier-\(getpid())-\(SSDTier.serial.next()).data"
        var direct: Int32 = 0
        let flags = CDSKUR_FILE_READ | CDSKUR_FILE_WRITE | CDSKUR_FILE_CREATE | CDSKUR_FILE_EXCLUSIVE | (settings.directIO ? CDSKUR_FILE_DIRECT : 0)
        let fd = cdskur_file_open(file, Int32(flags), &direct)
        guard fd >= 0 else { throw StorageError.system(fd, "creating the SSD tier's data file", file: file) }
        _ = cdskur_file_unlink(file)  // anonymous from now on: the space is freed when the fd closes
        self.fd = fd
        self.path = file
        self.settings = settings
        self.name = name
        self.usesDirectIO = direct != 0
        self.fileSystem = Self.fileSystem(of: settings.directory)
        let alignment = max(4096, Int(cdskur_direct_alignment(fd)))
        self.allocator = ExtentAllocator(alignment: alignment, capacity: settings.capacityBytes)
        self.thread = IOThread(name: "ssd-tier")
    }

    deinit {
        _ = cdskur_close(fd)
        thread.stop()
    }

    /// The name of the file system at `path` (`ext4`, `tmpfs`, …, or `unknown`).
    public static func fileSystem(of path: String) -> String {
        var magic: UInt64 = 0
        var name: UnsafePointer<CChar>?
        guard cdskur_file_system(path, &magic, &name) == 0, let name else { return "unknown" }
        return String(cString: name)
    }

    /// The ring, set up on first use on this actor's thread (a single-issuer ring belongs to the
    /// thread that submits to it).
    private func fileRing() throws(StorageError) -> FileRing {
        if let ring, !ring.isBroken { return ring }
        let made = try FileRing(
            queueDepth: settings.buffers, slotSize: settings.bufferBytes, slotCount: settings.buffers, alignment: allocator.alignment)
        ring = made
        return made
    }

    public func store(_ entries: [(key: StorageKey, tensor: Tensor)]) throws(StorageError) {
        var sources: [TensorBytes] = []
        var placed: [(StorageKey, Entry)] = []
        var transfers: [FileTransfer] = []
        var allocator = self.allocator
        // A key stored twice in one batch: the last value wins, as if stored one after another.
        var last: [StorageKey: Int] = [:]
        for (i, e) in entries.enumerated() { last[e.key] = i }
        for (i, (key, tensor)) in entries.enumerated() where last[key] == i {
            let bytes = try TensorBytes(tensor, key: key)
            guard let extent = allocator.allocate(bytes.bytes.count) else {
                throw StorageError(
                    .outOfSpace, "\(bytes.bytes.count) bytes do not fit in the tier's capacity of \(settings.capacityBytes ?? 0) bytes; remove tensors or raise capacityBytes",
                    file: settings.directory, tensor: key.name)
            }
            sources.append(bytes)
            placed.append((key, Entry(offset: extent.offset, length: extent.length, dtype: tensor.dtype, shape: tensor.shape, bytes: bytes.bytes.count)))
            transfers.append(
                FileTransfer(fileOffset: extent.offset, memory: UnsafeMutableRawBufferPointer(mutating: bytes.bytes), key: key.name))
        }
        // Writes go to fresh extents, so a failed batch leaves every old value readable.
        defer { withExtendedLifetime(sources) {} }
        do {
            // Space runs out at the first tensor past what the file holds now.
            let first = placed.first { $0.1.offset + $0.1.length > reserved }?.0.name
            try reserve(upTo: allocator.end, tensor: first)
            try fileRing().run(transfers, write: true, fd: fd, direct: usesDirectIO, path: settings.directory, owners: sources)
        } catch {
            var annotated = error
            annotated.message += " (the tier's file is in \(settings.directory), on \(fileSystem))"
            throw annotated
        }
        for (key, entry) in placed {
            if let old = index[key] {
                allocator.release(offset: old.offset, length: old.length)
                used -= old.bytes
            }
            index[key] = entry
            used += entry.bytes
        }
        self.allocator = allocator
    }

    public func load(_ keys: [StorageKey]) throws(StorageError) -> [Tensor] {
        var out: [Tensor] = []
        var transfers: [FileTransfer] = []
        out.reserveCapacity(keys.count)
        for key in keys {
            guard let e = index[key] else { throw MemoryTier.missing(key, in: name) }
            // Aligned storage with room for the padding: the read lands in place.
            let t = try AlignedTensors.empty(e.shape, dtype: e.dtype)
            out.append(t)
            let memory = UnsafeMutableRawBufferPointer(start: e.bytes == 0 ? nil : t.storage.baseAddress, count: e.bytes)
            transfers.append(FileTransfer(fileOffset: e.offset, memory: memory, capacity: allocator.rounded(e.bytes), key: key.name))
        }
        try fileRing().run(transfers, write: false, fd: fd, direct: usesDirectIO, path: settings.directory, owners: out)
        return out
    }

    @discardableResult
    public func remove(_ key: StorageKey) -> Bool {
        guard let e = index.removeValue(forKey: key) else { return false }
        allocator.release(offset: e.offset, length: e.length)
        used -= e.bytes
        return true
    }

    public func contains(_ key: StorageKey) -> Bool { index[key] != nil }
    public func storedKeys() -> [StorageKey] { index.keys.sorted() }
    public func usedBytes() -> Int { used }

    /// Preallocates the file up to at least `end` bytes, in chunks of 1/8 of what it holds (at
    /// least 64 MiB, at most `capacityBytes`). With O_DIRECT a write past the end of the file
    /// must extend it, which the file system does one request at a time; writes into
    /// preallocated space proceed in parallel. Buffered files and tmpfs are not preallocated
    /// (their writes are cheap to extend, and on tmpfs a reservation would take memory).
    private func reserve(upTo end: Int, tensor: String?) throws(StorageError) {
        guard usesDirectIO, fileSystem != "tmpfs", end > reserved else { return }
        var target = max(end, reserved + max(64 << 20, reserved / 8))
        target = (target + allocator.alignment - 1) / allocator.alignment * allocator.alignment
        if let capacity = settings.capacityBytes { target = max(end, min(target, capacity)) }
        var rc = cdskur_file_reserve(fd, UInt64(target))
        if rc < 0 && target > end {
            target = end
            rc = cdskur_file_reserve(fd, UInt64(target))
        }
        guard rc >= 0 else {
            throw StorageError.system(rc, "preallocating \(target) bytes of the tier's file", file: settings.directory, tensor: tensor)
        }
        reserved = target
    }

    /// Bytes the data file spans (allocated extents and the holes between them).
    public func fileBytes() -> Int { allocator.end }

    /// Runs `body` on the tier's I/O thread with its ring (for checkpoint files).
    func withRing<R>(_ body: (FileRing) throws(StorageError) -> R) throws(StorageError) -> R {
        try body(try fileRing())
    }

    private static let serial = SerialCounter()
}

/// A process-wide counter for unique file names.
final class SerialCounter: @unchecked Sendable {
    private var value = 0
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func next() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        value += 1
        return value
    }
}
