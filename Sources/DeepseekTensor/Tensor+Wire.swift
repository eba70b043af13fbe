public import DeepseekCore

/// Tensors travel as a small header (dtype, shape) followed by their raw bytes, copied in one
/// block — never element by element.
extension Tensor: WireCodable {
    /// The largest rank accepted from the wire.
    static let maximumWireRank = 16

    public func encode(to writer: inout WireWriter) {
        precondition(!isMeta, "a meta tensor has no values to send; send its shape instead")
        writer.reserveCapacity(additional: byteCount + 16 + 10 * rank)
        writer.write(dtype.rawValue)
        writer.writeVarint(UInt64(rank))
        for d in shape { writer.writeVarint(UInt64(d)) }
        let source = isContiguous ? self : (try? ReferenceBackend().copy(self)) ?? self
        let start = source.storage.baseAddress!.advanced(by: source.offset * dtype.byteSize)
        writer.writeVarint(UInt64(byteCount))
        writer.writeRaw(UnsafeRawBufferPointer(start: start, count: byteCount))
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
        let byteCount = try reader.readLength("tensor byte count")
        guard UInt64(byteCount) == count * UInt64(dtype.byteSize) else {
            throw WireError(
                .malformed, "tensor of shape \(Shape(dims)) and \(dtype) needs \(count * UInt64(dtype.byteSize)) bytes, the message has \(byteCount)",
                offset: bytesOffset)
        }
        guard byteCount <= reader.remaining else {
            throw WireError(.truncated, "tensor data needs \(byteCount) bytes, \(reader.remaining) remain", offset: bytesOffset)
        }
        let tensor = try Tensor.empty(Shape(dims), dtype: dtype, op: "decode")
        reader.bytes.withUnsafeBytes { raw in
            if byteCount > 0 {
                tensor.storage.baseAddress!.copyMemory(from: raw.baseAddress!.advanced(by: reader.offset), byteCount: byteCount)
            }
        }
        try reader.skip(byteCount)
        return tensor
    }
}
