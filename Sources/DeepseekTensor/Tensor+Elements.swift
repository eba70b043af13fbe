/// Reads one element of any dtype as a `Double` (exact except for `int64` beyond 2^53).
@inline(__always)
package func loadElement(_ base: UnsafeRawPointer, _ index: Int, _ dtype: DType) -> Double {
    switch dtype {
    case .float32: Double(base.load(fromByteOffset: index &* 4, as: Float.self))
    case .float64: base.load(fromByteOffset: index &* 8, as: Double.self)
    case .float16: Double(Float(Float16(bitPattern: base.load(fromByteOffset: index &* 2, as: UInt16.self))))
    case .bfloat16: Double(Float(bitPattern: UInt32(base.load(fromByteOffset: index &* 2, as: UInt16.self)) << 16))
    case .int8: Double(base.load(fromByteOffset: index, as: Int8.self))
    case .int32: Double(base.load(fromByteOffset: index &* 4, as: Int32.self))
    case .int64: Double(base.load(fromByteOffset: index &* 8, as: Int64.self))
    case .bool: base.load(fromByteOffset: index, as: UInt8.self) != 0 ? 1 : 0
    }
}

/// Writes one element of any dtype from a `Double`, rounding floats to nearest and truncating
/// (saturating) integers.
@inline(__always)
package func storeElement(_ base: UnsafeMutableRawPointer, _ index: Int, _ dtype: DType, _ value: Double) {
    switch dtype {
    case .float32: base.storeBytes(of: Float(value), toByteOffset: index &* 4, as: Float.self)
    case .float64: base.storeBytes(of: value, toByteOffset: index &* 8, as: Double.self)
    case .float16: base.storeBytes(of: Float16(Float(value)).bitPattern, toByteOffset: index &* 2, as: UInt16.self)
    case .bfloat16: base.storeBytes(of: BFloat16(Float(value)).bitPattern, toByteOffset: index &* 2, as: UInt16.self)
    case .int8: base.storeBytes(of: saturatingInteger(value, as: Int8.self), toByteOffset: index, as: Int8.self)
    case .int32: base.storeBytes(of: saturatingInteger(value, as: Int32.self), toByteOffset: index &* 4, as: Int32.self)
    case .int64: base.storeBytes(of: saturatingInteger(value, as: Int64.self), toByteOffset: index &* 8, as: Int64.self)
    case .bool: base.storeBytes(of: value != 0 ? 1 : 0, toByteOffset: index, as: UInt8.self)
    }
}

/// Reads an integer element exactly (for `int64` indices and integer arithmetic).
@inline(__always)
package func loadInteger(_ base: UnsafeRawPointer, _ index: Int, _ dtype: DType) -> Int64 {
    switch dtype {
    case .int8: Int64(base.load(fromByteOffset: index, as: Int8.self))
    case .int32: Int64(base.load(fromByteOffset: index &* 4, as: Int32.self))
    case .int64: base.load(fromByteOffset: index &* 8, as: Int64.self)
    case .bool: base.load(fromByteOffset: index, as: UInt8.self) != 0 ? 1 : 0
    default: saturatingInteger(loadElement(base, index, dtype), as: Int64.self)
    }
}

/// Writes an integer element exactly, wrapping like C on overflow of narrower types.
@inline(__always)
package func storeInteger(_ base: UnsafeMutableRawPointer, _ index: Int, _ dtype: DType, _ value: Int64) {
    switch dtype {
    case .int8: base.storeBytes(of: Int8(truncatingIfNeeded: value), toByteOffset: index, as: Int8.self)
    case .int32: base.storeBytes(of: Int32(truncatingIfNeeded: value), toByteOffset: index &* 4, as: Int32.self)
    case .int64: base.storeBytes(of: value, toByteOffset: index &* 8, as: Int64.self)
    case .bool: base.storeBytes(of: value != 0 ? 1 : 0, toByteOffset: index, as: UInt8.self)
    default: storeElement(base, index, dtype, Double(value))
    }
}

/// Calls `body` with the storage offset of every element of a strided layout, in row-major order.
@inline(__always)
package func forEachOffset(shape: Shape, strides: [Int], offset: Int, _ body: (Int) -> Void) {
    let rank = shape.rank
    let count = shape.elementCount
    if count == 0 { return }
    if rank == 0 {
        body(offset)
        return
    }
    let innerSize = shape[rank - 1]
    let innerStride = strides[rank - 1]
    var index = [Int](repeating: 0, count: rank)
    var base = offset
    var produced = 0
    while produced < count {
        var p = base
        for _ in 0..<innerSize {
            body(p)
            p &+= innerStride
        }
        produced &+= innerSize
        // Advance the odometer over the outer axes.
        var axis = rank - 2
        while axis >= 0 {
            index[axis] &+= 1
            base &+= strides[axis]
            if index[axis] < shape[axis] { break }
            base &-= strides[axis] &* shape[axis]
            index[axis] = 0
            axis -= 1
        }
    }
}

extension Tensor {
    /// Throws when the tensor has no data (a meta tensor), naming the operation.
    package func requireData(_ op: String) throws(TensorError) {
        if isMeta {
            throw TensorError(.unsupported, "\(op): the tensor of shape \(shape) is a meta tensor (shape only) and has no values")
        }
    }

    /// Every element as a `Double`, in row-major order.
    public func scalarsAsDouble() throws(TensorError) -> [Double] {
        try requireData("scalars")
        let base = UnsafeRawPointer(storage.baseAddress!)
        var out: [Double] = []
        out.reserveCapacity(elementCount)
        let dtype = self.dtype
        forEachOffset(shape: shape, strides: strides, offset: offset) { out.append(loadElement(base, $0, dtype)) }
        return out
    }

    /// Every element converted to `T`, in row-major order.
    ///
    /// When `T` matches the dtype and the tensor is contiguous this is one copy.
    public func scalars<T: TensorElement>(as type: T.Type) throws(TensorError) -> [T] {
        try requireData("scalars")
        if T.dtype == dtype && isContiguous {
            let base = storage.baseAddress!.advanced(by: offset * dtype.byteSize)
            return Array(UnsafeBufferPointer(start: base.assumingMemoryBound(to: T.self), count: elementCount))
        }
        if T.self == Int64.self {
            let base = UnsafeRawPointer(storage.baseAddress!)
            var exact: [Int64] = []
            exact.reserveCapacity(elementCount)
            let dtype = self.dtype
            forEachOffset(shape: shape, strides: strides, offset: offset) { exact.append(loadInteger(base, $0, dtype)) }
            return exact as! [T]
        }
        return try scalarsAsDouble().map { T(tensorValue: $0) }
    }

    /// The single value of a one-element tensor as `T`.
    public func item<T: TensorElement>(as type: T.Type = Float.self) throws(TensorError) -> T {
        guard elementCount == 1 else {
            throw TensorError(.shapeMismatch, "item: tensor of shape \(shape) has \(elementCount) elements; item() needs exactly one")
        }
        return try scalars(as: T.self)[0]
    }

    /// Calls `body` with the contiguous elements as `T`, which must match the dtype's layout.
    ///
    /// Non-contiguous tensors are first copied to a contiguous layout.
    public func withUnsafeBufferPointer<T, R>(
        as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R
    ) throws -> R {
        precondition(
            MemoryLayout<T>.stride == dtype.byteSize, "withUnsafeBufferPointer: \(T.self) does not match dtype \(dtype)")
        try requireData("withUnsafeBufferPointer")
        let t = isContiguous ? self : try ReferenceBackend().copy(self)
        let base = t.storage.baseAddress!.advanced(by: t.offset * dtype.byteSize).assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: base, count: t.elementCount))
    }

    /// Makes this tensor the sole owner of contiguous storage (copy-on-write), then lets `body`
    /// write its elements as `T`.
    public mutating func withUnsafeMutableBufferPointer<T, R>(
        as type: T.Type, _ body: (UnsafeMutableBufferPointer<T>) throws -> R
    ) throws -> R {
        precondition(
            MemoryLayout<T>.stride == dtype.byteSize, "withUnsafeMutableBufferPointer: \(T.self) does not match dtype \(dtype)")
        try requireData("withUnsafeMutableBufferPointer")
        try makeUniqueAndContiguous()
        let base = storage.baseAddress!.assumingMemoryBound(to: T.self)
        return try body(UnsafeMutableBufferPointer(start: base, count: elementCount))
    }

    /// Ensures this tensor owns its storage alone, in a contiguous layout starting at offset 0.
    package mutating func makeUniqueAndContiguous() throws {
        let exact = isContiguous && offset == 0 && storage.byteCount == byteCount
        if exact && isKnownUniquelyReferenced(&storage) { return }
        self = try ReferenceBackend().copy(self)
    }

    /// Fills the (uniquely owned, contiguous) elements through a store closure taking `Double`.
    mutating func withMutableElements(_ body: (Int, (Int, Double) -> Void) -> Void) {
        guard let base = storage.baseAddress else { return }
        let dtype = self.dtype
        body(elementCount) { i, v in storeElement(base, i, dtype, v) }
    }
}
