import DeepseekTensor

/// The axes of up to three same-shape operands, merged wherever every operand allows it, walked
/// as runs along the innermost axis.
///
/// Kernels see each run as `(offset0, offset1, offset2, outputIndex, length)` plus the inner
/// strides, so a contiguous operand gives stride 1, a broadcast one stride 0 and a view anything
/// else. Merging first means a contiguous tensor is one long run and a row-broadcast operand
/// (`[M, N] + [N]`) gives runs of N with strides (1, 1): the inner loops stay simple enough for
/// the compiler to vectorise.
struct StridedWalk {
    /// Merged axis sizes (at least one axis; size-1 axes removed).
    let dims: [Int]
    let strides0: [Int]
    let strides1: [Int]
    let strides2: [Int]
    /// The number of elements.
    let count: Int

    var innerStride0: Int { strides0[dims.count - 1] }
    var innerStride1: Int { strides1[dims.count - 1] }
    var innerStride2: Int { strides2[dims.count - 1] }
    var innerLength: Int { dims[dims.count - 1] }

    /// Merges axes of `shape` for operands with the given strides (one to three arrays).
    init(shape: Shape, strides: [[Int]]) {
        precondition((1...3).contains(strides.count), "StridedWalk takes one to three operands")
        var operands = strides
        while operands.count < 3 { operands.append([Int](repeating: 0, count: shape.rank)) }
        var dims: [Int] = []
        var merged: [[Int]] = [[], [], []]
        for axis in 0..<shape.rank where shape[axis] != 1 {
            let size = shape[axis]
            if let last = dims.last,
                (0..<3).allSatisfy({ merged[$0].last! == operands[$0][axis] * size })
            {
                // The previous axis steps exactly over this one in every operand: fuse them.
                dims[dims.count - 1] = last * size
                for o in 0..<3 { merged[o][merged[o].count - 1] = operands[o][axis] }
            } else {
                dims.append(size)
                for o in 0..<3 { merged[o].append(operands[o][axis]) }
            }
        }
        if dims.isEmpty {
            dims = [1]
            merged = [[1], [1], [1]]
        }
        self.dims = dims
        self.strides0 = merged[0]
        self.strides1 = merged[1]
        self.strides2 = merged[2]
        self.count = shape.elementCount
    }

    /// Calls `body(o0, o1, o2, start, length)` for each innermost run covering the linear
    /// element positions `range` in row-major order; `o*` are element offsets relative to each
    /// operand's first element and `start` is the linear position of the run.
    @inline(__always)
    func forEachRun(in range: Range<Int>, _ body: (Int, Int, Int, Int, Int) -> Void) {
        if range.isEmpty { return }
        let rank = dims.count
        let inner = dims[rank - 1]
        let (s0, s1, s2) = (strides0[rank - 1], strides1[rank - 1], strides2[rank - 1])
        if rank == 1 {
            let lo = range.lowerBound
            body(lo &* s0, lo &* s1, lo &* s2, lo, range.count)
            return
        }
        var index = [Int](repeating: 0, count: rank)
        var o0 = 0
        var o1 = 0
        var o2 = 0
        var rest = range.lowerBound
        for axis in stride(from: rank - 1, through: 0, by: -1) {
            let i = rest % dims[axis]
            rest /= dims[axis]
            index[axis] = i
            o0 &+= i &* strides0[axis]
            o1 &+= i &* strides1[axis]
            o2 &+= i &* strides2[axis]
        }
        var position = range.lowerBound
        let end = range.upperBound
        while position < end {
            let length = Swift.min(inner &- index[rank - 1], end &- position)
            body(o0, o1, o2, position, length)
            position &+= length
            if position >= end { break }
            // Back to the start of the row, then carry into the outer axes.
            let walked = index[rank - 1] &+ length
            o0 &+= (length &- walked) &* s0
            o1 &+= (length &- walked) &* s1
            o2 &+= (length &- walked) &* s2
            index[rank - 1] = 0
            var axis = rank - 2
            while axis >= 0 {
                index[axis] &+= 1
                o0 &+= strides0[axis]
                o1 &+= strides1[axis]
                o2 &+= strides2[axis]
                if index[axis] < dims[axis] { break }
                o0 &-= strides0[axis] &* dims[axis]
                o1 &-= strides1[axis] &* dims[axis]
                o2 &-= strides2[axis] &* dims[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}

extension Tensor {
    /// The address of the first element, typed. Callers check `requireData` first.
    @inline(__always)
    func elementPointer<T>(as type: T.Type) -> UnsafeMutablePointer<T> {
        storage.baseAddress!.advanced(by: offset &* dtype.byteSize).assumingMemoryBound(to: T.self)
    }
}
