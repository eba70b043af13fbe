import DeepseekCore
public import DeepseekGraph
public import DeepseekRuntime
public import DeepseekStorage
public import DeepseekTensor
import Synchronization

/// What activation spilling did, summed over runs.
public struct ActivationSpillCounters: Sendable, Hashable {
    /// Forward-and-backward runs.
    public var runs = 0
    /// Activations handed over (saved for the backward pass), and their bytes.
    public var parked = 0
    public var parkedBytes: Int64 = 0
    /// Activations written to the SSD tier because memory was over budget, and their bytes.
    public var spilled = 0
    public var bytesSpilled: Int64 = 0
    /// Activations read back, and their bytes.
    public var readBack = 0
    public var bytesReadBack: Int64 = 0
    /// Reads started before the backward pass asked for the activation.
    public var prefetched = 0
    /// Activations the backward pass had to wait for (read on demand or still being read).
    public var stalls = 0
    public var stallNanoseconds: UInt64 = 0
    /// The most bytes of parked activations in memory at once (writes in flight included).
    public var peakResidentBytes = 0

    public init() {}

    public var stallSeconds: Double { Double(stallNanoseconds) / 1e9 }
}

/// Activations saved for the backward pass, kept in memory up to a byte budget and on the SSD
/// tier beyond it: the graph engine's `ActivationParking` for training.
///
/// Which values are activations comes from the graph: a value that a node of the forward pass
/// (an ancestor of the loss) produces and a node of the backward pass (any other node) reads.
/// The backward pass runs in graph order, so the graph also says when each one is needed: at
/// its first backward reader. When the activations held exceed the budget, the one needed last
/// is written to the tier and dropped from memory (Belady's rule); once the forward pass has
/// produced them all, the ones on the tier are read back in the order the backward pass needs
/// them, as far as memory frees up, so most are in memory again before they are asked for. A
/// read-back value that is spilled again costs no second write. The bytes come back exactly as
/// they went out, so training results are bit-identical to a run without a budget.
///
/// One spiller serves one run at a time: `begin(graph:loss:)` before `Engine.run`, `end()`
/// after.
public final class ActivationSpiller: ActivationParking, @unchecked Sendable {
    /// The bytes of parked activations kept in memory.
    public let budgetBytes: Int
    let tier: any StorageTier
    private let state = Mutex(State())

    enum Phase { case memory, writing, disk, reading }

    struct Entry {
        var tensor: Tensor?
        let bytes: Int
        let need: Int
        var remaining: Int
        var phase: Phase
        /// The tier holds its bytes (written this run).
        var onDisk = false
        var read: Task<Tensor, any Error>?
        var wasPrefetched = false
    }

    /// What a graph says about its activations (cached by structure).
    struct Analysis {
        /// Backward node → slot → the activation it reads there.
        var saved: [Int: [Int: Int]] = [:]
        /// Activation → its first backward reader's position, and its number of backward reads.
        var need: [Int: Int] = [:]
        var uses: [Int: Int] = [:]
        /// Forward nodes that produce activations (they wait in `settle` while memory is over budget).
        var producers = Set<Int>()
    }

    struct State {
        var analyses: [StructuralHash: Analysis] = [:]
        var analysis = Analysis()
        var entries: [Int: Entry] = [:]
        var resident = 0
        var writing = 0
        var parkedThisRun = 0
        var tasks: [Task<Void, Never>] = []
        var failure: StorageError?
        var counters = ActivationSpillCounters()
        /// Producers waiting in `settle` for writes to make room.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    /// - Parameters:
    ///   - budgetBytes: the most bytes of activations kept in memory (beyond it they go to `tier`).
    ///   - tier: where spilled activations go (keys `activation/<value>`).
    public init(budgetBytes: Int, tier: any StorageTier) {
        self.budgetBytes = budgetBytes
        self.tier = tier
    }

    /// The counters so far.
    public func counters() -> ActivationSpillCounters { state.withLock { $0.counters } }

    /// Prepares for a run of `graph`, whose forward pass ends in `loss`.
    public func begin(graph: Graph, loss: ValueID) {
        let key = graph.structuralHash
        state.withLock { s in
            let analysis = s.analyses[key] ?? Self.analyse(graph, loss: loss)
            s.analyses[key] = analysis
            s.analysis = analysis
            s.entries = [:]
            s.resident = 0
            s.writing = 0
            s.parkedThisRun = 0
            s.failure = nil
            s.counters.runs += 1
        }
    }

    /// Waits for the writes and reads still in flight and forgets the run's activations.
    ///
    /// - Throws: the first error a spill write met (the run's results are then not to be used).
    public func end() async throws {
        while true {
            let tasks = state.withLock { s in
                let t = s.tasks
                s.tasks = []
                return t
            }
            if tasks.isEmpty { break }
            for t in tasks { await t.value }
        }
        let (failure, go) = state.withLock { s in
            let f = s.failure
            let go = s.waiters
            s.waiters = []
            s.entries = [:]
            s.resident = 0
            s.analysis = Analysis()
            return (f, go)
        }
        for c in go { c.resume() }
        if let failure { throw failure }
    }

    static func analyse(_ graph: Graph, loss: ValueID) -> Analysis {
        // The forward pass: the loss and everything it depends on.
        var forward = Set<Int>()
        var stack = [graph[value: loss].producer.rawValue]
        while let n = stack.popLast() {
            guard forward.insert(n).inserted else { continue }
            for v in graph.nodes[n].inputs { stack.append(graph[value: v].producer.rawValue) }
        }
        var a = Analysis()
        for node in graph.nodes where !forward.contains(node.id.rawValue) {
            for (slot, v) in node.inputs.enumerated() {
                let producer = graph[value: v].producer.rawValue
                guard forward.contains(producer), !graph.nodes[producer].op.isSource else { continue }
                a.saved[node.id.rawValue, default: [:]][slot] = v.rawValue
                a.need[v.rawValue] = min(a.need[v.rawValue] ?? Int.max, node.id.rawValue)
                a.uses[v.rawValue, default: 0] += 1
                a.producers.insert(producer)
            }
        }
        return a
    }

    static func key(_ value: Int) -> StorageKey { StorageKey("activation/\(value)") }

    // MARK: ActivationParking

    public func involves(_ node: GraphNodeID) -> Bool {
        state.withLock { $0.analysis.saved[node.rawValue] != nil || $0.analysis.producers.contains(node.rawValue) }
    }

    public func settle(after node: GraphNodeID) async throws {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let wait = state.withLock { s -> Bool in
                guard s.analysis.producers.contains(node.rawValue), Self.mustWait(s, budget: budgetBytes) else { return false }
                s.waiters.append(c)
                return true
            }
            if !wait { c.resume() }
        }
    }

    /// Memory is over budget and writes in flight will make room.
    static func mustWait(_ s: borrowing State, budget: Int) -> Bool { s.resident > budget && s.writing > 0 }

    /// The producers that may go on now.
    private func released(_ s: inout State) -> [CheckedContinuation<Void, Never>] {
        guard !s.waiters.isEmpty, !Self.mustWait(s, budget: budgetBytes) else { return [] }
        defer { s.waiters = [] }
        return s.waiters
    }

    public func park(_ tensor: Tensor, node: GraphNodeID, slot: Int) -> ActivationTicket? {
        let actions = state.withLock { s -> Actions? in
            guard let value = s.analysis.saved[node.rawValue]?[slot] else { return nil }
            if s.entries[value] == nil {
                let bytes = tensor.byteCount
                s.entries[value] = Entry(
                    tensor: tensor, bytes: bytes, need: s.analysis.need[value] ?? Int.max, remaining: s.analysis.uses[value] ?? 1, phase: .memory)
                s.resident += bytes
                s.parkedThisRun += 1
                s.counters.parked += 1
                s.counters.parkedBytes += Int64(bytes)
                s.counters.peakResidentBytes = max(s.counters.peakResidentBytes, s.resident)
            }
            var actions = balance(&s)
            actions.ticket = ActivationTicket(value)
            return actions
        }
        guard let actions else { return nil }
        start(actions)
        return actions.ticket
    }

    public func unpark(_ ticket: ActivationTicket, node: GraphNodeID, slot: Int) async throws -> Tensor {
        let value = ticket.rawValue
        enum Source {
            case ready(Tensor)
            case reading(Task<Tensor, any Error>)
        }
        let source = state.withLock { s -> Source? in
            guard var e = s.entries[value] else { return nil }
            defer { s.entries[value] = e }
            switch e.phase {
            case .memory, .writing:
                return .ready(e.tensor!)
            case .reading:
                s.counters.stalls += 1
                return .reading(e.read!)
            case .disk:
                // Not read ahead: read it now.
                s.counters.stalls += 1
                e.phase = .reading
                s.resident += e.bytes
                s.counters.peakResidentBytes = max(s.counters.peakResidentBytes, s.resident)
                let read = readTask(value)
                e.read = read
                s.tasks.append(Task { _ = try? await read.value })
                return .reading(read)
            }
        }
        guard let source else {
            throw StorageError(.notFound, "activation \(value) for input \(slot) of \(node) was not parked in this run", tensor: Self.key(value).name)
        }
        let tensor: Tensor
        switch source {
        case .ready(let t): tensor = t
        case .reading(let task):
            let started = ContinuousClock.now
            tensor = try await task.value
            let waited = ContinuousClock.now - started
            state.withLock { $0.counters.stallNanoseconds += UInt64(max(0, waited.inSeconds * 1e9)) }
        }
        let actions = state.withLock { s -> Actions in
            if var e = s.entries[value] {
                e.remaining -= 1
                if e.remaining <= 0 {
                    s.entries[value] = nil
                    if e.phase != .disk { s.resident -= e.bytes }
                } else {
                    s.entries[value] = e
                }
            }
            return balance(&s)
        }
        start(actions)
        return tensor
    }

    // MARK: Spills and read-backs

    struct Actions {
        var writes: [(value: Int, tensor: Tensor)] = []
        var ticket = ActivationTicket(0)
    }

    /// Spills what exceeds the budget (needed last first) and, once the forward pass has parked
    /// everything, reads back what fits (needed first first). Reads start here; writes are
    /// returned to start outside the lock.
    private func balance(_ s: inout State) -> Actions {
        var actions = Actions()
        while s.resident - s.writing > budgetBytes {
            var victim: Int?
            var furthest = Int.min
            for (v, e) in s.entries where e.phase == .memory && e.need > furthest {
                victim = v
                furthest = e.need
            }
            guard let v = victim, var e = s.entries[v] else { break }
            if e.onDisk {
                // Read back earlier and unchanged: dropping it costs no write.
                e.tensor = nil
                e.phase = .disk
                s.resident -= e.bytes
            } else {
                e.phase = .writing
                s.writing += e.bytes
                actions.writes.append((v, e.tensor!))
            }
            s.entries[v] = e
        }
        let forwardDone = s.parkedThisRun == s.analysis.uses.count
        if forwardDone && s.writing == 0 {
            let candidates = s.entries.filter { $0.value.phase == .disk }.sorted { $0.value.need < $1.value.need }
            for (v, candidate) in candidates {
                guard s.resident + candidate.bytes <= budgetBytes else { break }
                var e = candidate
                e.phase = .reading
                e.wasPrefetched = true
                let read = readTask(v)
                e.read = read
                s.tasks.append(Task { _ = try? await read.value })
                s.resident += e.bytes
                s.counters.peakResidentBytes = max(s.counters.peakResidentBytes, s.resident)
                s.counters.prefetched += 1
                s.entries[v] = e
            }
        }
        return actions
    }

    private func start(_ actions: Actions) {
        guard !actions.writes.isEmpty else { return }
        let tasks = actions.writes.map { (value, tensor) in
            Task {
                do {
                    try await tier.store(tensor, for: Self.key(value))
                    let (next, go) = state.withLock { s -> (Actions, [CheckedContinuation<Void, Never>]) in
                        s.writing -= tensor.byteCount
                        s.counters.spilled += 1
                        s.counters.bytesSpilled += Int64(tensor.byteCount)
                        if var e = s.entries[value], e.phase == .writing {
                            e.phase = .disk
                            e.tensor = nil
                            e.onDisk = true
                            s.resident -= e.bytes
                            s.entries[value] = e
                        }
                        let next = balance(&s)
                        return (next, released(&s))
                    }
                    for c in go { c.resume() }
                    start(next)
                } catch {
                    let go = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                        s.writing -= tensor.byteCount
                        if s.failure == nil { s.failure = (error as? StorageError) ?? StorageError(.io, "spilling an activation failed: \(error)") }
                        if var e = s.entries[value], e.phase == .writing {
                            e.phase = .memory  // kept in memory, over budget
                            s.entries[value] = e
                        }
                        return released(&s)
                    }
                    for c in go { c.resume() }
                }
            }
        }
        state.withLock { $0.tasks.append(contentsOf: tasks) }
    }

    /// Reads `value` back from the tier; when done it is in memory again (and still on disk).
    private func readTask(_ value: Int) -> Task<Tensor, any Error> {
        let read = Task { () async throws -> Tensor in
            let t = try await tier.load(Self.key(value))
            state.withLock { s in
                s.counters.readBack += 1
                s.counters.bytesReadBack += Int64(t.byteCount)
                if var e = s.entries[value], e.phase == .reading {
                    e.phase = .memory
                    e.tensor = t
                    s.entries[value] = e
                }
            }
            return t
        }
        return read
    }
}
