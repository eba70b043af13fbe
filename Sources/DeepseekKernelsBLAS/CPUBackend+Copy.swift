public import DeepseekTensor

extension CPUBackend {
    public func copy(_ x: Tensor) throws -> Tensor {
        try x.requireData("copy")
        let out = try Tensor.empty(x.shape, dtype: x.dtype, op: "copy")
        if out.elementCount > 0 { copyElements(x, into: out.elementPointer(as: UInt8.self)) }
        return out
    }

    /// Copies the elements of `x` in row-major order to dense memory at `destination`.
    ///
    /// Elements are moved as raw bytes of their width, so this serves every dtype.
    func copyElements(_ x: Tensor, into destination: UnsafeMutablePointer<UInt8>) {
        switch x.dtype.byteSize {
        case 1: copyTyped(x, UInt8.self, destination)
        case 2: copyTyped(x, UInt16.self, destination)
        case 4: copyTyped(x, UInt32.self, destination)
        default: copyTyped(x, UInt64.self, destination)
        }
    }

    private func copyTyped<T>(_ x: Tensor, _ type: T.Type, _ destination: UnsafeMutablePointer<UInt8>) {
        let src = x.elementPointer(as: T.self)
        let dst = UnsafeMutableRawPointer(destination).assumingMemoryBound(to: T.self)
        let walk = StridedWalk(shape: x.shape, strides: [x.strides])
        let s = walk.innerStride0
        let rank = walk.dims.count
        if rank >= 2 && s != 1 && walk.strides0[rank - 2] == 1 && walk.count >= 4096 {
            transposeTiles(walk, src, dst)
            return
        }
        parallel.forEachRange(walk.count, parts: parallel.parts(for: walk.count)) { range in
            walk.forEachRun(in: range) { o, _, _, start, n in
                let from = src + o
                let to = dst + start
                if s == 1 {
                    to.update(from: from, count: n)
                } else if s == 0 {
                    to.update(repeating: from.pointee, count: n)
                } else {
                    for i in 0..<n { to[i] = from[i &* s] }
                }
            }
        }
    }

    /// Copies a view whose last two merged axes are swapped (a transpose: the second-to-last
    /// axis has stride 1) in 32×32 tiles, so both the reads and the writes of a tile stay within
    /// 32 cache lines instead of touching a new line for every element.
    private func transposeTiles<T>(_ walk: StridedWalk, _ src: UnsafeMutablePointer<T>, _ dst: UnsafeMutablePointer<T>) {
        let rank = walk.dims.count
        let (rows, cols) = (walk.dims[rank - 2], walk.dims[rank - 1])
        let colStride = walk.strides0[rank - 1]
        let outerDims = Array(walk.dims.prefix(rank - 2))
        let outerStrides = Array(walk.strides0.prefix(rank - 2))
        let outer = outerDims.reduce(1, *)
        let tile = 32
        let rowTiles = (rows + tile - 1) / tile
        parallel.forEach(outer * rowTiles, parts: parallel.parts(for: walk.count)) { job in
            let o = job / rowTiles
            var base = 0
            var rest = o
            for axis in stride(from: outerDims.count - 1, through: 0, by: -1) {
                base += (rest % outerDims[axis]) * outerStrides[axis]
                rest /= outerDims[axis]
            }
            let from = src + base
            let to = dst + o * rows * cols
            let r0 = (job % rowTiles) * tile
            let r1 = Swift.min(rows, r0 + tile)
            var c0 = 0
            while c0 < cols {
                let c1 = Swift.min(cols, c0 + tile)
                for r in r0..<r1 {
                    let line = to + r * cols
                    for c in c0..<c1 { line[c] = from[r &+ c &* colStride] }
                }
                c0 = c1
            }
        }
    }

    /// Copies the elements of `x` into dense memory as float32, converting half types.
    func copyAsFloat32(_ x: Tensor, into destination: UnsafeMutablePointer<Float>) {
        precondition(x.dtype == .float32 || Self.isHalf(x.dtype), "copyAsFloat32: \(x.dtype)")
        if x.dtype == .float32 {
            copyElements(x, into: UnsafeMutableRawPointer(destination).assumingMemoryBound(to: UInt8.self))
            return
        }
        let src = x.elementPointer(as: UInt16.self)
        let walk = StridedWalk(shape: x.shape, strides: [x.strides])
        let s = walk.innerStride0
        let dtype = x.dtype
        parallel.forEachRange(walk.count, parts: parallel.parts(for: walk.count)) { range in
            withUnsafeTemporaryAllocation(of: UInt16.self, capacity: s == 1 ? 0 : 1024) { gathered in
                walk.forEachRun(in: range) { o, _, _, start, n in
                    if s == 1 {
                        HalfPrecision.widen(src + o, dtype: dtype, into: destination + start, count: n)
                        return
                    }
                    var done = 0
                    while done < n {
                        let chunk = Swift.min(1024, n - done)
                        for i in 0..<chunk { gathered[i] = src[o &+ (done &+ i) &* s] }
                        HalfPrecision.widen(gathered.baseAddress!, dtype: dtype, into: destination + start + done, count: chunk)
                        done += chunk
                    }
                }
            }
        }
    }

    /// A new dense tensor of `dtype` (`float32` or a half type) from dense float32 values.
    func tensor(fromFloat32 values: UnsafePointer<Float>, shape: Shape, dtype: DType) throws -> Tensor {
        let out = try Tensor.empty(shape, dtype: dtype)
        let count = out.elementCount
        if count == 0 { return out }
        if dtype == .float32 {
            out.elementPointer(as: Float.self).update(from: values, count: count)
        } else {
            narrow(values, into: out.elementPointer(as: UInt16.self), count: count, dtype: dtype)
        }
        return out
    }

    /// Rounds dense float32 values to a half type, split over the cores when large.
    func narrow(_ values: UnsafePointer<Float>, into destination: UnsafeMutablePointer<UInt16>, count: Int, dtype: DType) {
        parallel.forEachRange(count, parts: parallel.parts(for: count)) { r in
            HalfPrecision.narrow(values + r.lowerBound, dtype: dtype, into: destination + r.lowerBound, count: r.count)
        }
    }

    /// Rounds a dense float32 tensor to `dtype` (itself when `dtype` is float32).
    func narrowed(_ x: Tensor, to dtype: DType) throws -> Tensor {
        if dtype == .float32 { return x }
        return try tensor(fromFloat32: x.elementPointer(as: Float.self), shape: x.shape, dtype: dtype)
    }
}
