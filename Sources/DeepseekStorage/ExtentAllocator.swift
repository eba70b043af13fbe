/// Space in a file, handed out in aligned extents: first fit from the free list, otherwise at
/// the end; freed extents merge with their free neighbours.
///
/// A value type with no I/O, so the SSD tier's bookkeeping is tested directly.
struct ExtentAllocator: Sendable, Equatable {
    /// Offsets and lengths are multiples of this.
    let alignment: Int
    /// The file's logical end: everything below is either allocated or on the free list.
    private(set) var end = 0
    /// Free extents sorted by offset, never adjacent (they would have been merged).
    private(set) var free: [(offset: Int, length: Int)] = []
    /// The most the file may grow to (`nil`: no limit).
    let capacity: Int?

    init(alignment: Int, capacity: Int? = nil) {
        precondition(alignment > 0 && alignment & (alignment - 1) == 0, "ExtentAllocator: the alignment must be a power of two")
        self.alignment = alignment
        self.capacity = capacity
    }

    /// `bytes` rounded up to the alignment (at least one block, so every tensor has an offset).
    func rounded(_ bytes: Int) -> Int { max(alignment, (bytes + alignment - 1) / alignment * alignment) }

    /// Bytes allocated now (free extents below `end` excluded).
    var allocatedBytes: Int { end - free.reduce(0) { $0 + $1.length } }

    /// An extent of at least `bytes`, or `nil` when the capacity would be exceeded.
    mutating func allocate(_ bytes: Int) -> (offset: Int, length: Int)? {
        let length = rounded(bytes)
        if let i = free.firstIndex(where: { $0.length >= length }) {
            let hole = free[i]
            if hole.length == length { free.remove(at: i) } else { free[i] = (hole.offset + length, hole.length - length) }
            return (hole.offset, length)
        }
        // Growing: a free extent at the very end is reused and extended.
        var offset = end
        if let last = free.last, last.offset + last.length == end {
            offset = last.offset
        }
        guard capacity.map({ offset + length <= $0 }) ?? true else { return nil }
        if offset != end { free.removeLast() }
        end = offset + length
        return (offset, length)
    }

    /// Returns an extent; it merges with free neighbours.
    mutating func release(offset: Int, length: Int) {
        precondition(offset % alignment == 0 && length % alignment == 0 && offset + length <= end, "ExtentAllocator: not an extent of this file")
        var i = free.firstIndex { $0.offset > offset } ?? free.count
        free.insert((offset, length), at: i)
        if i + 1 < free.count, free[i].offset + free[i].length == free[i + 1].offset {
            free[i].length += free[i + 1].length
            free.remove(at: i + 1)
        }
        if i > 0, free[i - 1].offset + free[i - 1].length == free[i].offset {
            free[i - 1].length += free[i].length
            free.remove(at: i)
            i -= 1
        }
        // A free tail shrinks the file's logical end.
        if let last = free.last, last.offset + last.length == end {
            end = last.offset
            free.removeLast()
        }
    }

    static func == (a: ExtentAllocator, b: ExtentAllocator) -> Bool {
        a.alignment == b.alignment && a.end == b.end && a.capacity == b.capacity
            && a.free.map(\.offset) == b.free.map(\.offset) && a.free.map(\.length) == b.free.map(\.length)
    }
}
