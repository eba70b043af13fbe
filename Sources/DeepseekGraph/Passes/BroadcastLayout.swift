#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import DeepseekTensor

/// Where each element of an operand lives when the operand is broadcast to an output shape
/// that the kernel walks in row-major order.
///
/// The operand's axes are merged wherever one axis steps exactly over the next (so a
/// contiguous tensor is one axis of stride 1, a scalar one axis of stride 0, and a row vector
/// broadcast over a matrix two axes `[rows: 0, columns: 1]`). A kernel asks for the run of
/// elements starting at a linear output position: its storage offset, stride and how far it
/// goes before the innermost axis wraps.
struct BroadcastLayout {
    /// Merged axis sizes, outermost first (at least one axis).
    let dims: [Int]
    /// Element strides of the merged axes (0 on broadcast axes).
    let strides: [Int]
    /// The element offset of the first element in storage.
    let offset: Int

    /// The layout of `tensor` (already expanded to the output shape).
    init(_ tensor: Tensor) {
        var dims: [Int] = []
        var strides: [Int] = []
        for axis in 0..<tensor.rank where tensor.shape[axis] != 1 {
            let (size, stride) = (tensor.shape[axis], tensor.strides[axis])
            if let last = strides.last, last == stride * size {
                dims[dims.count - 1] *= size
                strides[strides.count - 1] = stride
            } else {
                dims.append(size)
                strides.append(stride)
            }
        }
        if dims.isEmpty {
            dims = [1]
            strides = [0]
        }
        self.dims = dims
        self.strides = strides
        self.offset = tensor.offset
    }

    var innerStride: Int { strides[strides.count - 1] }

    /// The storage offset of the element at linear position `position`, and how many elements
    /// from there share the innermost axis (the run length before it wraps).
    @inline(__always)
    func locate(_ position: Int) -> (offset: Int, runLength: Int) {
        // One merged axis (a contiguous, scalar or uniformly strided operand): no division.
        if dims.count == 1 { return (offset &+ position &* strides[0], dims[0] &- position) }
        var rest = position
        var result = offset
        var inner = 0
        var axis = dims.count - 1
        while axis >= 0 {
            let d = dims[axis]
            let q = rest / d
            let index = rest &- q &* d
            if axis == dims.count - 1 { inner = index }
            result &+= index &* strides[axis]
            rest = q
            axis -= 1
        }
        return (result, dims[dims.count - 1] &- inner)
    }

    /// Calls `body(position, storageOffset, length)` for each run of the innermost axis that
    /// covers the linear positions `range`.
    @inline(__always)
    func forEachRun(in range: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        var position = range.lowerBound
        while position < range.upperBound {
            let (o, run) = locate(position)
            let n = Swift.min(run, range.upperBound &- position)
            body(position, o, n)
            position &+= n
        }
    }
}

/// Splits element loops over the cores with `DispatchQueue.concurrentPerform`.
///
/// Workers get disjoint, in-order ranges of output positions, which is what makes sharing raw
/// output pointers between them sound.
enum ParallelRanges {
    static let onlineCores: Int = Swift.max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Calls `body` with sub-ranges of `0..<count` that cover it once, each of at least `grain`
    /// elements (except a lone range) and starting at a multiple of `alignment`.
    static func forEach(_ count: Int, grain: Int, alignment: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = Swift.min(onlineCores, count / Swift.max(grain, 1))
        if parts <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedSendable(escapable)
            DispatchQueue.concurrentPerform(iterations: parts) { part in
                let lo = Swift.min(count, (count * part / parts) / alignment * alignment)
                let hi = part == parts - 1 ? count : Swift.min(count, (count * (part + 1) / parts) / alignment * alignment)
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }
}

/// Carries a closure over raw pointers into `concurrentPerform` workers, which the caller
/// guarantees touch disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
