import DeepseekCore
import DeepseekNN
import DeepseekTensor

// The checkpoint file format, version 1. All integers are little-endian.
//
//   offset  size  field
//        0     8  magic: 0x89 "DSCKPT" 0x0A (the high byte catches 7-bit transfers, the newline
//                 catches line-ending conversion)
//        8     4  format version (UInt32)
//       12     4  flags (UInt32, reserved, written as 0)
//       16     8  payload length in bytes (UInt64)
//       24     8  checksum: XXH64 (seed 0) of bytes 8..<24 followed by the payload
//       32     …  payload: sections, each a tag (4 ASCII bytes), a length (UInt64) and the body
//
// Section bodies use WireWriter's encodings (varint counts, length-prefixed strings, tensors as
// dtype + shape + raw bytes). Maps are written sorted by key, so a checkpoint always encodes to
// the same bytes. Required sections: META, PARM, DATA, PROG; OPTM, LSCL, APSW and RAND appear
// when present. A reader skips sections it does not know, so later writers may add sections
// without a version change; changing an existing section's layout needs a new version.

extension Checkpoint {
    /// The first eight bytes of every checkpoint file.
    static let magic: [UInt8] = [0x89, 0x44, 0x53, 0x43, 0x4B, 0x50, 0x54, 0x0A]
    static let headerSize = 32

    enum Section: UInt32, CaseIterable {
        case metadata = 0x4154_454D  // "META"
        case parameters = 0x4D52_4150  // "PARM"
        case optimizer = 0x4D54_504F  // "OPTM"
        case lossScaler = 0x4C43_534C  // "LSCL"
        case precisionSwitch = 0x5753_5041  // "APSW"
        case random = 0x444E_4152  // "RAND"
        case dataOrder = 0x4154_4144  // "DATA"
        case progress = 0x474F_5250  // "PROG"

        var name: String { Checkpoint.tagName(rawValue) }
    }

    static func tagName(_ tag: UInt32) -> String {
        let bytes = withUnsafeBytes(of: tag.littleEndian) { Array($0) }
        return bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) ? String(decoding: bytes, as: UTF8.self) : "0x" + String(tag, radix: 16)
    }

    /// The payload (all sections) of this checkpoint.
    func encodedPayload() throws(CheckpointError) -> [UInt8] {
        let tensorBytes = parameters.values.reduce(0) { $0 + $1.byteCount } + (optimizer?.tensors.values.reduce(0) { $0 + $1.byteCount } ?? 0)
        // Each section's length is patched in at the end, so bodies (tensors above all) are
        // written once, straight into the payload, instead of being built apart and copied.
        var lengths: [(at: Int, end: Int)] = []
        var payload: [UInt8]
        do {
            var w = WireWriter(reservingCapacity: tensorBytes + 4096)
            func begin(_ s: Section) -> Int {
                w.write(s.rawValue)
                w.write(UInt64(0))
                return w.bytes.count - 8
            }
            var at = begin(.metadata)
            w.writeVarint(UInt64(metadata.tags.count))
            for key in metadata.tags.keys.sorted() {
                w.write(key)
                w.write(metadata.tags[key]!)
            }
            let entries = signature.entries
            w.writeVarint(UInt64(entries.count))
            for e in entries {
                w.write(e.name)
                w.write(e.dtype.rawValue)
                w.writeVarint(UInt64(e.shape.rank))
                for d in e.shape { w.writeVarint(UInt64(d)) }
            }
            lengths.append((at, w.bytes.count))

            at = begin(.parameters)
            try Self.writeTensors(parameters, to: &w, what: "parameter")
            lengths.append((at, w.bytes.count))

            if let optimizer {
                at = begin(.optimizer)
                w.write(optimizer.kind)
                w.write(Int64(optimizer.step))
                w.writeVarint(UInt64(optimizer.scalars.count))
                for key in optimizer.scalars.keys.sorted() {
                    w.write(key)
                    w.write(optimizer.scalars[key]!)
                }
                try Self.writeTensors(optimizer.tensors, to: &w, what: "optimizer tensor")
                lengths.append((at, w.bytes.count))
            }
            if let lossScaler {
                at = begin(.lossScaler)
                w.write(lossScaler.scale)
                w.write(Int64(lossScaler.cleanSteps))
                w.write(Int64(lossScaler.consecutiveSkips))
                w.write(Int64(lossScaler.skippedSteps))
                lengths.append((at, w.bytes.count))
            }
            if let precisionSwitch {
                at = begin(.precisionSwitch)
                w.write(Int64(precisionSwitch.step))
                w.writeVarint(UInt64(precisionSwitch.float32Layers.count))
                for key in precisionSwitch.float32Layers.keys.sorted() {
                    w.write(key)
                    w.write(Int64(precisionSwitch.float32Layers[key]!))
                }
                lengths.append((at, w.bytes.count))
            }
            if let random {
                at = begin(.random)
                w.write(random.state.0)
                w.write(random.state.1)
                w.write(random.state.2)
                w.write(random.state.3)
                lengths.append((at, w.bytes.count))
            }
            at = begin(.dataOrder)
            w.write(dataOrder.seed)
            w.write(Int64(dataOrder.epoch))
            w.write(Int64(dataOrder.stepInEpoch))
            lengths.append((at, w.bytes.count))

            at = begin(.progress)
            w.write(Int64(progress.globalStep))
            w.writeVarint(UInt64(progress.metrics.count))
            for key in progress.metrics.keys.sorted() {
                w.write(key)
                let values = progress.metrics[key]!
                w.writeVarint(UInt64(values.count))
                for v in values { w.write(v) }
            }
            lengths.append((at, w.bytes.count))
            payload = w.bytes
        }
        // The writer is gone, so the payload's buffer is unshared and patching does not copy it.
        for (at, end) in lengths {
            withUnsafeBytes(of: UInt64(end - at - 8).littleEndian) { payload.replaceSubrange(at..<at + 8, with: $0) }
        }
        return payload
    }

    private static func writeTensors(_ tensors: [String: Tensor], to w: inout WireWriter, what: String) throws(CheckpointError) {
        w.writeVarint(UInt64(tensors.count))
        for name in tensors.keys.sorted() {
            let t = tensors[name]!
            guard !t.isMeta else {
                throw CheckpointError(
                    .invalidArgument,
                    "the \(what) \"\(name)\" (\(t.dtype)\(t.shape)) is a meta tensor with no values; a checkpoint stores values — build the model on a backend with data")
            }
            w.write(name)
            w.encode(t)
        }
    }

    /// The 32-byte header for `payload`.
    static func header(for payload: [UInt8]) -> [UInt8] {
        var w = WireWriter(reservingCapacity: headerSize)
        magic.withUnsafeBytes { w.writeRaw($0) }
        w.write(currentFormatVersion)
        w.write(UInt32(0))
        w.write(UInt64(payload.count))
        var hasher = XXHash64()
        w.bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[8..<24])) }
        payload.withUnsafeBytes { hasher.update($0) }
        w.write(hasher.finalize())
        return w.bytes
    }
}
