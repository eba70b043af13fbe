public import DeepseekNN
public import DeepseekTensor

/// The trainable parameters of a model laid end to end in one flat `Float` vector, in the order
/// given — the coordinate system of buckets, shards and collectives.
public struct ParameterLayout: Sendable {
    /// One parameter's place in the flat vector.
    public struct Entry: Sendable, Hashable {
        public var name: String
        public var shape: Shape
        public var offset: Int
        public var count: Int
        public var range: Range<Int> { offset..<offset + count }
    }

    public let entries: [Entry]
    /// Elements in all trainable parameters.
    public let count: Int
    let index: [String: Int]

    /// The layout of the trainable parameters among `parameters`, in their order.
    public init(_ parameters: [Parameter]) {
        var entries: [Entry] = []
        var offset = 0
        for p in parameters where p.isTrainable {
            let shape = p.value.shape
            entries.append(Entry(name: p.name, shape: shape, offset: offset, count: shape.elementCount))
            offset += shape.elementCount
        }
        self.entries = entries
        self.count = offset
        self.index = Dictionary(entries.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// Shard boundaries for `parts` ranks: balanced, or moved to the nearest tensor boundary so
    /// no tensor is split (needed for exact per-tensor optimizers such as LAMB).
    public func shards(_ parts: Int, alignedToTensors: Bool) -> ChunkLayout {
        let balanced = ChunkLayout(count: count, parts: parts)
        guard alignedToTensors else { return balanced }
        let cuts = [0] + entries.map { $0.offset + $0.count }
        var boundaries = balanced.boundaries.map { b in cuts.min { abs($0 - b) < abs($1 - b) } ?? b }
        for i in 1..<boundaries.count { boundaries[i] = max(boundaries[i], boundaries[i - 1]) }
        boundaries[boundaries.count - 1] = count
        return ChunkLayout(boundaries: boundaries)
    }

    /// The pieces of parameters that fall in `range` of the flat vector.
    public func segments(in range: Range<Int>) -> [(entry: Entry, elements: Range<Int>)] {
        entries.compactMap { e in
            let lo = max(e.offset, range.lowerBound), hi = min(e.offset + e.count, range.upperBound)
            return lo < hi ? (e, (lo - e.offset)..<(hi - e.offset)) : nil
        }
    }

    /// Copies `tensors` (by parameter name) into a flat vector; missing names leave zeros.
    public func flatten(_ tensors: [String: Tensor], range: Range<Int>? = nil) throws -> [Float] {
        let range = range ?? 0..<count
        var flat = [Float](repeating: 0, count: range.count)
        for (e, elements) in segments(in: range) {
            guard let t = tensors[e.name] else { continue }
            guard t.shape == e.shape else {
                throw CollectiveError(.invalidArgument, "\"\(e.name)\" has shape \(t.shape) but the layout expects \(e.shape)")
            }
            let values = try t.scalars(as: Float.self)
            let start = e.offset + elements.lowerBound - range.lowerBound
            flat.replaceSubrange(start..<start + elements.count, with: values[elements])
        }
        return flat
    }

    /// The current values of `parameters` in the flat order.
    public func flatten(_ parameters: [Parameter], range: Range<Int>? = nil) throws -> [Float] {
        var values: [String: Tensor] = [:]
        let wanted = Set(segments(in: range ?? 0..<count).map(\.entry.name))
        for p in parameters where wanted.contains(p.name) { values[p.name] = p.value }
        return try flatten(values, range: range)
    }

    /// Writes a full flat vector into `parameters`, in each one's dtype.
    public func assign(_ flat: [Float], to parameters: [Parameter]) throws {
        precondition(flat.count == count, "ParameterLayout.assign: \(flat.count) values for a layout of \(count)")
        for p in parameters {
            guard let e = entry(named: p.name) else { continue }
            let dtype = p.value.dtype
            var t = try Tensor(Array(flat[e.range]), shape: e.shape)
            if dtype != .float32 { t = try t.cast(to: dtype) }
            p.value = t
        }
    }

    /// The name a parameter's piece goes by inside a shard: `fc1.weight[0..<512]`.
    static func segmentName(_ name: String, _ elements: Range<Int>) -> String { "\(name)[\(elements.lowerBound)..<\(elements.upperBound)]" }
}
