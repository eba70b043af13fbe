import DeepseekCore
import DeepseekNN
import DeepseekTensor

extension Checkpoint {
    /// Decodes a checkpoint file's bytes, checking header, length and checksum before the contents.
    static func decode(file bytes: [UInt8], path: String) throws(CheckpointError) -> Checkpoint {
        let prefix = min(bytes.count, magic.count)
        guard bytes[0..<prefix].elementsEqual(magic[0..<prefix]) else {
            let shown = bytes.prefix(8).map { String($0, radix: 16) }.joined(separator: " ")
            throw CheckpointError(
                .notACheckpoint, "this is not a Deepseek checkpoint: it starts with bytes \(shown) instead of the checkpoint magic; check the path", file: path)
        }
        guard bytes.count >= headerSize else {
            throw CheckpointError(
                .truncated,
                "the file has \(bytes.count) bytes, fewer than the \(headerSize)-byte checkpoint header; it was cut short (an interrupted copy or a full disk) — use another checkpoint",
                file: path)
        }
        func field<T: FixedWidthInteger>(_ at: Int, _ type: T.Type) -> T {
            bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        }
        let version = field(8, UInt32.self)
        guard version >= 1, version <= currentFormatVersion else {
            throw CheckpointError(
                .unsupportedVersion,
                "the checkpoint is in format version \(version); this build reads versions 1 through \(currentFormatVersion)\(version > currentFormatVersion ? " — read it with a newer Deepseek" : "")",
                file: path)
        }
        let payloadLength = field(16, UInt64.self)
        let available = UInt64(bytes.count - headerSize)
        guard payloadLength <= available else {
            throw CheckpointError(
                .truncated,
                "the header announces \(payloadLength) bytes of contents but only \(available) follow it; the file was cut short (an interrupted copy or a full disk) — use another checkpoint",
                file: path)
        }
        guard payloadLength == available else {
            throw CheckpointError(
                .corrupt, "\(available - payloadLength) unexpected bytes follow the \(payloadLength)-byte checkpoint; the file was altered after it was written",
                file: path)
        }
        let stored = field(24, UInt64.self)
        let computed = bytes.withUnsafeBytes { raw in
            var hasher = XXHash64()
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[8..<24]))
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[headerSize...]))
            return hasher.finalize()
        }
        guard computed == stored else {
            throw CheckpointError(
                .checksumMismatch,
                "the contents hash to 0x\(String(computed, radix: 16)) but the header records 0x\(String(stored, radix: 16)); the file was damaged after it was written — use an older checkpoint",
                file: path)
        }
        var checkpoint = try decodeSections(bytes, path: path)
        checkpoint.metadata.formatVersion = version
        return checkpoint
    }

    private static func decodeSections(_ bytes: [UInt8], path: String) throws(CheckpointError) -> Checkpoint {
        var r = WireReader(bytes, maximumLength: bytes.count)
        var section = "header"
        func corrupt(_ message: String, cause: (any Error)? = nil) -> CheckpointError {
            CheckpointError(
                .corrupt, "section \(section): \(message); the file passed its checksum, so it was written this way — it cannot be restored",
                file: path, cause: cause)
        }
        var seen: Set<UInt32> = []
        var tags: [String: String]?
        var signature: ModelSignature?
        var parameters: [String: Tensor]?
        var optimizer: OptimizerState?
        var lossScaler: DynamicLossScaler.State?
        var precisionSwitch: AdaptivePrecisionSwitch.State?
        var random: SeededRandom?
        var dataOrder: DataOrderState?
        var progress: TrainingProgress?
        do {
            try r.skip(headerSize)
            while !r.isAtEnd {
                section = "header"
                let tag = try r.read(UInt32.self)
                section = tagName(tag)
                let length = try r.read(UInt64.self)
                guard length <= UInt64(r.remaining) else { throw corrupt("its length \(length) runs past the end of the file") }
                let end = r.offset + Int(length)
                guard seen.insert(tag).inserted else { throw corrupt("it appears twice") }
                switch Section(rawValue: tag) {
                case nil:
                    try r.skip(Int(length))  // a section from a later writer: not needed to resume
                case .metadata:
                    var t: [String: String] = [:]
                    for _ in 0..<(try count(&r)) { t[try r.readString()] = try r.readString() }
                    var entries: [ModelSignature.Entry] = []
                    for _ in 0..<(try count(&r)) {
                        let name = try r.readString()
                        let raw = try r.read(UInt8.self)
                        guard let dtype = DType(rawValue: raw) else { throw corrupt("parameter \"\(name)\" has unknown dtype \(raw)") }
                        var dims: [Int] = []
                        for _ in 0..<(try count(&r)) {
                            let d = try r.readVarint()
                            guard d <= UInt64(Int.max / 8) else { throw corrupt("parameter \"\(name)\" has a dimension of \(d)") }
                            dims.append(Int(d))
                        }
                        entries.append(ModelSignature.Entry(name: name, dtype: dtype, shape: Shape(dims)))
                    }
                    tags = t
                    signature = ModelSignature(entries: entries)
                case .parameters:
                    parameters = try readTensors(&r)
                case .optimizer:
                    var state = OptimizerState(kind: try r.readString(), step: Int(try r.read(Int64.self)))
                    for _ in 0..<(try count(&r)) { state.scalars[try r.readString()] = try r.readDouble() }
                    state.tensors = try readTensors(&r)
                    optimizer = state
                case .lossScaler:
                    lossScaler = DynamicLossScaler.State(
                        scale: try r.readDouble(), cleanSteps: Int(try r.read(Int64.self)),
                        consecutiveSkips: Int(try r.read(Int64.self)), skippedSteps: Int(try r.read(Int64.self)))
                case .precisionSwitch:
                    var state = AdaptivePrecisionSwitch.State(step: Int(try r.read(Int64.self)))
                    for _ in 0..<(try count(&r)) { state.float32Layers[try r.readString()] = Int(try r.read(Int64.self)) }
                    precisionSwitch = state
                case .random:
                    let words = (try r.read(UInt64.self), try r.read(UInt64.self), try r.read(UInt64.self), try r.read(UInt64.self))
                    guard words != (0, 0, 0, 0) else { throw corrupt("the generator state is all zero, which no generator reaches") }
                    random = SeededRandom(state: words)
                case .dataOrder:
                    dataOrder = DataOrderState(seed: try r.read(UInt64.self), epoch: Int(try r.read(Int64.self)), stepInEpoch: Int(try r.read(Int64.self)))
                case .progress:
                    var p = TrainingProgress(globalStep: Int(try r.read(Int64.self)))
                    for _ in 0..<(try count(&r)) {
                        let name = try r.readString()
                        var values: [Double] = []
                        for _ in 0..<(try count(&r)) { values.append(try r.readDouble()) }
                        p.metrics[name] = values
                    }
                    progress = p
                }
                guard r.offset == end else { throw corrupt("its body ends at byte \(r.offset), not at byte \(end) as its length says") }
            }
            section = "header"
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw corrupt("\(error)", cause: error)
        }
        guard let tags, let signature, let parameters, let dataOrder, let progress else {
            let missing = [Section.metadata, .parameters, .dataOrder, .progress].filter { !seen.contains($0.rawValue) }.map(\.name)
            throw CheckpointError(
                .corrupt, "required sections \(missing.joined(separator: ", ")) are missing; the file was not written by a complete checkpoint writer", file: path)
        }
        let actual = ModelSignature(parameters)
        guard actual == signature else {
            let shown = actual.differences(from: signature).prefix(3).joined(separator: "; ")
            throw CheckpointError(.corrupt, "the recorded model signature does not match the stored parameters: \(shown)", file: path)
        }
        return Checkpoint(
            parameters: parameters, optimizer: optimizer, lossScaler: lossScaler, precisionSwitch: precisionSwitch, random: random,
            dataOrder: dataOrder, progress: progress, metadata: CheckpointMetadata(tags: tags))
    }

    /// Reads an element count, rejecting counts that cannot fit in the bytes left (each element takes one byte at least).
    private static func count(_ r: inout WireReader) throws -> Int {
        let start = r.offset
        let n = try r.readVarint()
        guard n <= UInt64(r.remaining) else {
            throw WireError(.malformed, "a count of \(n) cannot fit in the \(r.remaining) bytes left", offset: start)
        }
        return Int(n)
    }

    private static func readTensors(_ r: inout WireReader) throws -> [String: Tensor] {
        var tensors: [String: Tensor] = [:]
        for _ in 0..<(try count(&r)) {
            let name = try r.readString()
            tensors[name] = try Tensor.decode(from: &r)
        }
        return tensors
    }
}
