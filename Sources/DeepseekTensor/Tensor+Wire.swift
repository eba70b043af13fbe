public import DeepseekCore

/// Tensors travel as a small header (dtype, shape) followed by their raw bytes, copied in one
/// block — never element by element.
extension Tensor: WireCodable {
    /// The largest rank accepted from the wire.
    static let maximumWireRank = 16

    public func encode(to writer: inout WireWriter) {
        precondition(!isMeta, "a meta tensor has no values to send; send its shape instead")
        let inline = writer.outOfBandThreshold.map { byteCount < $0 } ?? true
        writer.reserveCapacity(additional: (inline ? byteCount : 0) + 16 + 10 * rank)
        writer.write(dtype.rawValue)
        writer.writeVarint(UInt64(rank))
        for d in shape { writer.writeVarint(UInt64(d)) }
        let source = isContiguous ? self : (try? ReferenceBackend().copy(self)) ?? self
        let start = source.storage.baseAddress!.advanced(by: source.offset * dtype.byteSize)
        // Inline this is the byte count and the bytes; a writer with an out-of-band threshold
        // keeps the bytes where they are (the storage stays alive with the segment) for the
        // transport to send from.
        writer.writeBulk(UnsafeRawBufferPointer(start: start, count: byteCount), owner: source.storage)
    }

    public static func decode(from reader: inout WireReader) throws -> Tensor {
        let start = reader.offset
        guard let dtype = DType(rawValue: try reader.read(UInt8.self)) else {
            throw WireError(.malformed, "unknown tensor dtype", offset: start)
        }
        let rank = try reader.readVarint()
        guard rank <= UInt64(maximumWireRank) else {
            throw WireError(.malformed, "tensor rank \(rank) exceeds \(maximumWireRank)", offset: start)
        }
        var dims: [Int] = []
        var count: UInt64 = 1
        for _ in 0..<rank {
            let d = try reader.readVarint()
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= UInt64(Int.max / 8) else {
                throw WireError(.malformed, "tensor shape overflows", offset: start)
            }
            count = product
            dims.append(Int(d))
        }
        let bytesOffset = reader.offset
        let data = try reader.readBulk("tensor data")
        let byteCount = data.count
        guard UInt64(byteCount) == count * UInt64(dtype.byteSize) else {
            throw WireError(
                .malformed, "tensor of shape \(Shape(dims)) and \(dtype) needs \(count * UInt64(dtype.byteSize)) bytes, the message has \(byteCount)",
                offset: bytesOffset)
        }
        // Bytes that arrived out of band in a pooled, aligned receive buffer become the storage.
        if let adopted = data.adoptMemory(alignment: 64) {
            let storage = TensorStorage(adopting: adopted.base, byteCount: byteCount, deallocator: adopted.deallocate)
            let shape = Shape(dims)
            return Tensor(storage: storage, dtype: dtype, shape: shape, strides: shape.contiguousStrides, offset: 0)
        }
        let tensor = try Tensor.empty(Shape(dims), dtype: dtype, op: "decode")
        data.withUnsafeBytes { raw in
            if byteCount > 0 { tensor.storage.baseAddress!.copyMemory(from: raw.baseAddress!, byteCount: byteCount) }
        }
        return tensor
    }
}
