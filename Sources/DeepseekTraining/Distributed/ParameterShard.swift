public import DeepseekActors
public import DeepseekNN
public import DeepseekTensor
import DeepseekCore
public import Distributed

/// The optimizer a distributed optimizer runs on each shard.
public enum OptimizerChoice: Sendable {
    case sgd(learningRate: Double, momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false)
    case adam(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0)
    case adamW(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0.01)
    case lamb(learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-6, weightDecay: Double = 0)

    /// A fresh optimizer of this kind.
    public func make() throws -> any Optimizer {
        switch self {
        case .sgd(let lr, let m, let wd, let n): try SGD(learningRate: lr, momentum: m, weightDecay: wd, nesterov: n)
        case .adam(let lr, let b1, let b2, let e, let wd): try Adam(learningRate: lr, beta1: b1, beta2: b2, epsilon: e, weightDecay: wd)
        case .adamW(let lr, let b1, let b2, let e, let wd): try AdamW(learningRate: lr, beta1: b1, beta2: b2, epsilon: e, weightDecay: wd)
        case .lamb(let lr, let b1, let b2, let e, let wd): try LAMB(learningRate: lr, beta1: b1, beta2: b2, epsilon: e, weightDecay: wd)
        }
    }

    /// Whether the update of a tensor depends on the whole tensor (LAMB's trust ratio), so
    /// shards must not split tensors.
    public var needsWholeTensors: Bool { if case .lamb = self { true } else { false } }
}

/// Owns one contiguous slice of the flat parameter vector and the optimizer state for it
/// (ZeRO): takes the slice's reduced gradient, applies the optimizer, returns the new values.
///
/// Inside the shard each parameter piece is a 1-D `Parameter` named `name[a..<b]`, so any
/// element-wise optimizer (SGD, Adam, AdamW) behaves exactly as on the whole model; LAMB needs
/// shards aligned to tensor boundaries (`ParameterLayout.shards(_:alignedToTensors:)`).
public distributed actor ParameterShard {
    public typealias ActorSystem = DeepseekActorSystem

    /// The slice of the flat vector this shard owns.
    let range: Range<Int>
    let layout: ParameterLayout
    var pieces: [Parameter]
    var optimizer: any Optimizer

    /// - Parameter values: the slice's initial values (`range.count` of them).
    public init(layout: ParameterLayout, range: Range<Int>, values: [Float], optimizer: any Optimizer, actorSystem: DeepseekActorSystem) throws {
        precondition(values.count == range.count, "ParameterShard: \(values.count) values for a range of \(range.count)")
        self.actorSystem = actorSystem
        self.range = range
        self.layout = layout
        self.optimizer = optimizer
        var pieces: [Parameter] = []
        for (e, elements) in layout.segments(in: range) {
            let start = e.offset + elements.lowerBound - range.lowerBound
            pieces.append(Parameter(ParameterLayout.segmentName(e.name, elements), Tensor(Array(values[start..<start + elements.count]))))
        }
        self.pieces = pieces
    }

    /// Applies one optimizer step with the slice's gradient (`range.count` values; `nil` entries
    /// of `active` leave a parameter untouched) and returns the updated slice.
    public distributed func apply(gradient: Tensor, learningRate: Double, active: [String]?) throws -> Tensor {
        guard gradient.elementCount == range.count else {
            throw CollectiveError(.invalidArgument, "shard \(range): gradient of \(gradient.elementCount) values")
        }
        let flat = try gradient.scalars(as: Float.self)
        let allowed = active.map(Set.init)
        var gradients: [String: Tensor] = [:]
        var offset = 0
        for (piece, (e, elements)) in zip(pieces, layout.segments(in: range)) {
            defer { offset += elements.count }
            if let allowed, !allowed.contains(e.name) { continue }
            gradients[piece.name] = Tensor(Array(flat[offset..<offset + elements.count]))
        }
        optimizer.learningRate = learningRate
        try optimizer.step(pieces, gradients: gradients)
        return Tensor(try values())
    }

    /// The slice's current values.
    public distributed func currentValues() throws -> Tensor { Tensor(try values()) }

    func values() throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(range.count)
        for p in pieces { out += try p.value.scalars(as: Float.self) }
        return out
    }

    /// Bytes of optimizer state this shard holds (momentum buffers, moments).
    public distributed func optimizerStateBytes() -> Int { optimizer.state.tensors.values.reduce(0) { $0 + $1.byteCount } }

    /// Bytes of the parameter slice this shard holds.
    public distributed func parameterBytes() -> Int { pieces.reduce(0) { $0 + $1.value.byteCount } }

    /// The optimizer state in whole-parameter naming, restricted to this slice: for each state
    /// tensor `prefix.name[a..<b]`, the prefix and the slice's flat values (zeros elsewhere).
    func exportState() -> (kind: String, step: Int, scalars: [String: Double], flat: [String: [Float]]) {
        let state = optimizer.state
        var flat: [String: [Float]] = [:]
        var scalars: [String: Double] = [:]
        let segments = layout.segments(in: range)
        var byPiece: [String: (Int, Int)] = [:]  // piece name → (offset in slice, count)
        var offset = 0
        for (e, elements) in segments {
            byPiece[ParameterLayout.segmentName(e.name, elements)] = (offset, elements.count)
            offset += elements.count
        }
        for (key, tensor) in state.tensors {
            guard let (prefix, piece) = splitKey(key, pieces: byPiece), let (at, n) = byPiece[piece],
                let values = try? tensor.scalars(as: Float.self), values.count == n
            else { continue }
            flat[prefix, default: [Float](repeating: 0, count: range.count)].replaceSubrange(at..<at + n, with: values)
        }
        for (key, value) in state.scalars {
            if let (prefix, piece) = splitKey(key, pieces: byPiece), let bracket = piece.firstIndex(of: "[") {
                scalars["\(prefix).\(piece[..<bracket])"] = max(scalars["\(prefix).\(piece[..<bracket])"] ?? value, value)
            } else {
                scalars[key] = value
            }
        }
        return (state.kind, state.step, scalars, flat)
    }

    /// Continues from whole-parameter state (as saved by `DistributedOptimizer.consolidatedState`).
    func importState(_ state: OptimizerState, prefixes: [String]) throws {
        var tensors: [String: Tensor] = [:]
        var scalars: [String: Double] = [:]
        for (key, value) in state.scalars where !key.contains(".") { scalars[key] = value }
        for (e, elements) in layout.segments(in: range) {
            let piece = ParameterLayout.segmentName(e.name, elements)
            for prefix in prefixes {
                if let t = state.tensors["\(prefix).\(e.name)"] {
                    let values = try t.scalars(as: Float.self)
                    tensors["\(prefix).\(piece)"] = Tensor(Array(values[elements]))
                }
            }
            for (key, value) in state.scalars where key.hasSuffix(".\(e.name)") {
                scalars["\(key.dropLast(e.name.count))\(piece)"] = value
            }
        }
        try optimizer.restore(OptimizerState(kind: state.kind, step: state.step, scalars: scalars, tensors: tensors))
    }

    /// Splits `m.fc.weight[0..<9]` into `m` and the piece name, knowing the pieces.
    nonisolated func splitKey(_ key: String, pieces: [String: (Int, Int)]) -> (String, String)? {
        guard let dot = key.firstIndex(of: ".") else { return nil }
        let piece = String(key[key.index(after: dot)...])
        return pieces[piece] != nil ? (String(key[..<dot]), piece) : nil
    }
}
