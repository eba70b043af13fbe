#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// The bytes behind one or more tensors.
///
/// Storage is 64-byte aligned (a cache line, and the alignment OpenCL wants for host pointers it
/// uses in place); buffers of 64 KiB and more, and storage made with `pageAligned`, start on a
/// 4096-byte page and have room up to the next page boundary, so O_DIRECT reads and writes use
/// them in place. Tensors share storage when they are views of each other; a tensor copies its
/// storage before a write when the storage is shared (copy-on-write). A *meta* storage has a
/// size but no bytes: the `MetaBackend` uses it to run whole models on shapes alone.
public final class TensorStorage: @unchecked Sendable {
    /// The size in bytes.
    public let byteCount: Int
    /// The first byte, or `nil` for meta storage.
    public let baseAddress: UnsafeMutableRawPointer?
    private let pooledCapacity: Int
    /// Frees adopted memory (see `init(adopting:byteCount:deallocator:)`); `nil` for pooled storage.
    private let deallocator: (@Sendable (UnsafeMutableRawPointer) -> Void)?
    /// For a slot of an arena: the storage that owns the bytes (kept alive by this slot).
    private let owner: TensorStorage?

    /// Allocates uninitialised storage of `byteCount` bytes.
    ///
    /// - Parameter pageAligned: start on a 4096-byte boundary with room up to the next one after
    ///   the last byte, also below 64 KiB (where storage is otherwise only 64-byte aligned).
    /// - Throws: `TensorError.outOfMemory` when the request exceeds the machine's physical memory
    ///   or the allocator refuses it.
    public init(byteCount: Int, pageAligned: Bool = false, op: String = "allocate") throws(TensorError) {
        precondition(byteCount >= 0, "byteCount must be non-negative")
        guard byteCount <= TensorStorage.physicalMemory else {
            throw TensorError(
                .outOfMemory,
                "\(op): needs \(TensorStorage.formatBytes(byteCount)) but the machine has \(TensorStorage.formatBytes(TensorStorage.physicalMemory)) of memory; use a smaller shape or batch"
            )
        }
        let (pointer, capacity) = BufferPool.shared.take(byteCount: byteCount, pageAligned: pageAligned)
        guard let pointer else {
            throw TensorError(
                .outOfMemory, "\(op): the allocator refused \(TensorStorage.formatBytes(byteCount)); free memory or use a smaller shape")
        }
        self.byteCount = byteCount
        self.baseAddress = pointer
        self.pooledCapacity = capacity
        self.owner = nil
        self.deallocator = nil
    }

    /// Storage over memory allocated elsewhere (a receive buffer, a registered region): the
    /// tensor uses the bytes in place, and `deallocator` runs when the storage dies.
    public init(adopting pointer: UnsafeMutableRawPointer, byteCount: Int, deallocator: @escaping @Sendable (UnsafeMutableRawPointer) -> Void) {
        self.byteCount = byteCount
        self.baseAddress = pointer
        self.pooledCapacity = 0
        self.owner = nil
        self.deallocator = deallocator
    }

    /// A slot of `byteCount` bytes at `offset` inside `base`, sharing its bytes and keeping it alive.
    package init(slotOf base: TensorStorage, offset: Int, byteCount: Int) {
        precondition(offset >= 0 && offset + byteCount <= base.byteCount, "slot \(offset)+\(byteCount) exceeds \(base.byteCount) bytes")
        self.byteCount = byteCount
        self.baseAddress = base.baseAddress.map { $0 + offset }
        self.pooledCapacity = 0
        self.owner = base
        self.deallocator = nil
    }

    /// Creates meta storage: a size without bytes.
    public init(metaByteCount: Int) {
        self.byteCount = metaByteCount
        self.baseAddress = nil
        self.pooledCapacity = 0
        self.owner = nil
        self.deallocator = nil
    }

    /// Whether this storage has a size but no bytes.
    public var isMeta: Bool { baseAddress == nil }

    deinit {
        guard owner == nil, let baseAddress else { return }
        if let deallocator { deallocator(baseAddress) } else { BufferPool.shared.give(baseAddress, capacity: pooledCapacity) }
    }

    /// Physical memory of this machine in bytes.
    public static let physicalMemory: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        return pages * size
    }()

    static func formatBytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(n) B" : String(Int(value * 10) / 10) + "." + String(Int(value * 10) % 10) + " " + units[unit]
    }
}

/// A cache of freed large buffers, by size class, so steady-state training does not page-fault
/// fresh memory on every step.
///
/// Buffers below 64 KiB go straight to the allocator. Larger ones are rounded up to a size class
/// (at most 25% larger) and kept, up to a byte budget, when their tensor dies.
final class BufferPool: Sendable {
    static let shared = BufferPool(budget: min(TensorStorage.physicalMemory / 8, 1 << 30))

    private static let minimumPooled = 64 * 1024
    private static let alignment = 64
    private static let pageAlignment = 4096
    private let budget: Int
    private let state = Mutex<State>(State())

    struct State: ~Copyable {
        var free: [Int: [UInt]] = [:]  // addresses as integers: pointers are not Sendable
        var cachedBytes = 0
    }

    init(budget: Int) { self.budget = budget }

    /// Rounds a size up to its class: multiples of 1/4 of the enclosing power of two.
    static func sizeClass(_ n: Int) -> Int {
        guard n > minimumPooled else { return n }
        let high = Int.bitWidth - (n - 1).leadingZeroBitCount  // n <= 1 << high
        let step = 1 << max(high - 3, 12)
        return (n + step - 1) / step * step
    }

    func take(byteCount: Int, pageAligned: Bool = false) -> (UnsafeMutableRawPointer?, Int) {
        var capacity = Self.sizeClass(max(byteCount, 1))
        // Below the pooled sizes a page-aligned request gets whole pages (not pooled); pooled
        // capacities are already whole pages.
        if pageAligned && capacity < Self.minimumPooled {
            capacity = (capacity + Self.pageAlignment - 1) / Self.pageAlignment * Self.pageAlignment
        }
        if capacity >= Self.minimumPooled {
            let reused = state.withLock { s -> UInt? in
                guard var list = s.free[capacity], let p = list.popLast() else { return nil }
                s.free[capacity] = list
                s.cachedBytes -= capacity
                return p
            }
            if let reused, let p = UnsafeMutableRawPointer(bitPattern: reused) { return (p, capacity) }
        }
        var raw: UnsafeMutableRawPointer?
        // Pooled buffers start on a page: storage tiers then read and write them with O_DIRECT
        // in place (at most 4 KiB more per buffer of 64 KiB or more).
        let alignment = capacity >= Self.minimumPooled || pageAligned ? Self.pageAlignment : Self.alignment
        guard posix_memalign(&raw, alignment, capacity) == 0 else { return (nil, 0) }
        return (raw, capacity)
    }

    func give(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        if capacity >= Self.minimumPooled {
            let address = UInt(bitPattern: pointer)
            let kept = state.withLock { s -> Bool in
                guard s.cachedBytes + capacity <= budget else { return false }
                s.free[capacity, default: []].append(address)
                s.cachedBytes += capacity
                return true
            }
            if kept { return }
        }
        free(pointer)
    }

    /// Returns every cached buffer to the system allocator.
    func trim() {
        let all = state.withLock { s -> [UInt] in
            let pointers = s.free.values.flatMap { $0 }
            s.free = [:]
            s.cachedBytes = 0
            return pointers
        }
        for p in all { free(UnsafeMutableRawPointer(bitPattern: p)) }
    }
}
