// Short row moves for the convolution layout kernels (im2col, col2im), which copy and clear
// many rows of 10–30 elements: a call to `memcpy` or `memset` costs more than such a row, and
// the compiler's own loops add alias checks and scalar tails. These use a few unaligned vector
// moves instead, overlapping the last one with the one before where the length is not a
// multiple of the vector size.

/// Copies `byteCount` bytes from `source` to `destination`, which must not overlap.
@inlinable @inline(__always)
package func copyShortBytes(to destination: UnsafeMutableRawPointer, from source: UnsafeRawPointer, byteCount n: Int) {
    typealias Wide = SIMD8<UInt32>  // 32 bytes
    typealias Narrow = SIMD4<UInt32>  // 16 bytes
    if n >= 32 {
        var i = 0
        while i &+ 32 <= n {
            destination.storeBytes(of: source.loadUnaligned(fromByteOffset: i, as: Wide.self), toByteOffset: i, as: Wide.self)
            i &+= 32
        }
        if i < n {
            let last = n &- 32
            destination.storeBytes(of: source.loadUnaligned(fromByteOffset: last, as: Wide.self), toByteOffset: last, as: Wide.self)
        }
    } else if n >= 16 {
        let (head, tail) = (source.loadUnaligned(as: Narrow.self), source.loadUnaligned(fromByteOffset: n &- 16, as: Narrow.self))
        destination.storeBytes(of: head, as: Narrow.self)
        destination.storeBytes(of: tail, toByteOffset: n &- 16, as: Narrow.self)
    } else if n >= 8 {
        let (head, tail) = (source.loadUnaligned(as: UInt64.self), source.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self))
        destination.storeBytes(of: head, as: UInt64.self)
        destination.storeBytes(of: tail, toByteOffset: n &- 8, as: UInt64.self)
    } else if n >= 4 {
        let (head, tail) = (source.loadUnaligned(as: UInt32.self), source.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self))
        destination.storeBytes(of: head, as: UInt32.self)
        destination.storeBytes(of: tail, toByteOffset: n &- 4, as: UInt32.self)
    } else {
        for i in 0..<n { destination.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
    }
}

/// Sets `byteCount` bytes at `destination` to zero.
@inlinable @inline(__always)
package func clearShortBytes(_ destination: UnsafeMutableRawPointer, byteCount n: Int) {
    if n >= 32 {
        let zero = SIMD8<UInt32>()
        var i = 0
        while i &+ 32 <= n {
            destination.storeBytes(of: zero, toByteOffset: i, as: SIMD8<UInt32>.self)
            i &+= 32
        }
        if i < n { destination.storeBytes(of: zero, toByteOffset: n &- 32, as: SIMD8<UInt32>.self) }
    } else if n >= 16 {
        destination.storeBytes(of: SIMD4<UInt32>(), as: SIMD4<UInt32>.self)
        destination.storeBytes(of: SIMD4<UInt32>(), toByteOffset: n &- 16, as: SIMD4<UInt32>.self)
    } else if n >= 8 {
        destination.storeBytes(of: UInt64(0), as: UInt64.self)
        destination.storeBytes(of: UInt64(0), toByteOffset: n &- 8, as: UInt64.self)
    } else if n >= 4 {
        destination.storeBytes(of: UInt32(0), as: UInt32.self)
        destination.storeBytes(of: UInt32(0), toByteOffset: n &- 4, as: UInt32.self)
    } else {
        for i in 0..<n { destination.storeBytes(of: UInt8(0), toByteOffset: i, as: UInt8.self) }
    }
}

/// `destination[0..<count] += source[0..<count]`, eight lanes at a time; each element gets the
/// same single addition as in a scalar loop.
@inlinable @inline(__always)
package func addShortFloats(_ source: UnsafePointer<Float>, into destination: UnsafeMutablePointer<Float>, count: Int) {
    let (from, to) = (UnsafeRawPointer(source), UnsafeMutableRawPointer(destination))
    var i = 0
    while i &+ 8 <= count {
        let sum = to.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self) + from.loadUnaligned(fromByteOffset: i &* 4, as: SIMD8<Float>.self)
        to.storeBytes(of: sum, toByteOffset: i &* 4, as: SIMD8<Float>.self)
        i &+= 8
    }
    while i < count {
        destination[i] += source[i]
        i &+= 1
    }
}
