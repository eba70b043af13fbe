#if canImport(Glibc)
import Glibc
#endif

/// The receive buffers: one page-aligned region cut into equal slices, registered with the ring
/// (`io_uring_register_buffers`) so reads land in pinned memory without per-read page lookups.
///
/// A connection borrows a slice while its read is outstanding. When the pool is empty, or the
/// kernel refused the registration, a connection reads into a buffer of its own with a plain
/// `RECV`. Ring-thread only.
final class ReceiveBufferPool {
    /// Where a connection's next read lands.
    enum Lease {
        /// A registered slice: `IORING_OP_READ_FIXED` with this buffer index.
        case fixed(index: Int, buffer: UnsafeMutableRawBufferPointer)
        /// A pool slice used without registration, or a connection's own buffer.
        case plain(index: Int?, buffer: UnsafeMutableRawBufferPointer)

        var buffer: UnsafeMutableRawBufferPointer {
            switch self {
            case .fixed(_, let b), .plain(_, let b): b
            }
        }
    }

    let bufferSize: Int
    private let region: UnsafeMutableRawBufferPointer?
    private var free: [Int]
    private(set) var isRegistered = false

    init(bufferSize: Int, count: Int) {
        self.bufferSize = bufferSize
        if count > 0 {
            var raw: UnsafeMutableRawPointer?
            let total = bufferSize * count
            if posix_memalign(&raw, 4096, total) == 0, let raw {
                region = UnsafeMutableRawBufferPointer(start: raw, count: total)
            } else {
                region = nil
            }
        } else {
            region = nil
        }
        free = region == nil ? [] : Array((0..<count).reversed())
    }

    deinit {
        if let base = region?.baseAddress { Glibc.free(base) }
    }

    /// The slices, for registration.
    var slices: [UnsafeMutableRawBufferPointer] {
        guard let region else { return [] }
        return (0..<(region.count / bufferSize)).map { slice($0) }
    }

    /// Registers the slices with the ring. Returns 0 or the -errno the kernel gave.
    func register(with syscalls: any URingSyscalls) -> Int32 {
        let s = slices
        guard !s.isEmpty else { return 0 }
        let rc = syscalls.registerBuffers(s)
        isRegistered = rc == 0
        return rc
    }

    private func slice(_ i: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: region![(i * bufferSize)..<((i + 1) * bufferSize)])
    }

    /// A buffer for one connection's reads.
    func acquire() -> Lease {
        if let i = free.popLast() {
            return isRegistered ? .fixed(index: i, buffer: slice(i)) : .plain(index: i, buffer: slice(i))
        }
        return .plain(index: nil, buffer: .allocate(byteCount: bufferSize, alignment: 16))
    }

    /// Gives a buffer back once no read uses it any more.
    func release(_ lease: Lease) {
        switch lease {
        case .fixed(let i, _), .plain(let i?, _): free.append(i)
        case .plain(nil, let buffer): buffer.deallocate()
        }
    }
}
