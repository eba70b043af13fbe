import DeepseekCore
public import DeepseekTensor
public import DeepseekTracing

/// Settings of a `TieredStore`.
public struct TieredStoreSettings: Sendable {
    /// The most tensor bytes kept in memory.
    public var memoryBudgetBytes: Int
    /// Read ahead what the schedule needs next (off: only what is asked for is read).
    public var prefetch: Bool
    /// Steps of the schedule to read ahead.
    public var lookahead: Int
    /// Hot/cold classification and eviction order.
    public var policy: PlacementPolicy
    /// Where reads, writes and the counters are traced.
    public var tracer: Tracer

    public init(
        memoryBudgetBytes: Int, prefetch: Bool = true, lookahead: Int = 2, policy: PlacementPolicy = PlacementPolicy(),
        tracer: Tracer = .disabled
    ) {
        self.memoryBudgetBytes = memoryBudgetBytes
        self.prefetch = prefetch
        self.lookahead = lookahead
        self.policy = policy
        self.tracer = tracer
    }
}

/// Memory over a lower tier (the SSD): tensors live in memory within a byte budget, the rest in
/// the lower tier, and the store moves them so that what is needed next is in memory.
///
/// *Placement.* A tensor stored or loaded enters memory; when memory is full, the policy picks
/// victims (not needed soon by the schedule, coldest first). Eviction writes a tensor back only
/// when it changed since the lower tier last saw it — a clean tensor is simply dropped.
///
/// *Prefetch.* The graph engine announces the schedule (`setSchedule`: the tensors each step
/// needs) and the step in progress (`advance(to:)`); the store starts reading the next steps'
/// tensors at once, so they are in memory before they are asked for. A load of a tensor still
/// being read waits only for the rest of that read.
///
/// *Counters.* Hits, stalls and the time spent in them, bytes read and written, evictions and
/// write-backs (`counters()`), also traced as counters through the settings' tracer.
///
/// The memory level is part of this actor rather than a `MemoryTier` actor of its own: its
/// bookkeeping then changes in one step with the decisions that depend on it, and a hit costs no
/// actor hop. The store is itself a `StorageTier` and passes the same contract.
///
/// ```swift
/// let store = TieredStore(memoryBudgetBytes: 256 << 20, lower: try SSDTier(.init(directory: "/var/tmp")))
/// await store.setSchedule([["w1", "m.w1"], ["w2", "m.w2"]])
/// await store.advance(to: 0)                      // reads w2, m.w2 ahead
/// let w1 = try await store.load("w1")
/// ```
public actor TieredStore: StorageTier {
    public nonisolated let name: String
    public nonisolated let settings: TieredStoreSettings
    /// The tier below memory.
    public nonisolated let lower: any StorageTier

    struct Resident {
        var tensor: Tensor
        var dirty: Bool
        /// In memory because a prefetch read it, and not yet asked for.
        var prefetched: Bool
    }

    struct ReadTicket {
        var id: UInt64
        var task: Task<[Tensor], any Error>
        var index: Int
    }

    var ram: [StorageKey: Resident] = [:]
    /// Evicted tensors on their way to the lower tier: still readable, still counted in memory.
    var writing: [StorageKey: (tensor: Tensor, generation: UInt64)] = [:]
    var ramBytes = 0
    /// Keys whose current value the lower tier holds.
    var onLower: Set<StorageKey> = []
    var reads: [StorageKey: ReadTicket] = [:]
    /// Every stored key and its size in bytes.
    var sizes: [StorageKey: Int] = [:]
    /// Bumped by every store and remove, so a read or write-back that finishes after one does
    /// not resurrect an old value.
    var generations: [StorageKey: UInt64] = [:]
    var nextReadID: UInt64 = 1
    var policy: PlacementPolicy
    var planner: PrefetchPlanner
    var counterValues = StorageCounters()
    /// The most bytes memory held at once.
    var peakRAMBytes = 0

    public init(lower: any StorageTier, settings: TieredStoreSettings, name: String = "tiered") {
        precondition(settings.memoryBudgetBytes >= 0, "TieredStore: the memory budget must be ≥ 0 bytes")
        self.lower = lower
        self.settings = settings
        self.name = name
        self.policy = settings.policy
        self.planner = PrefetchPlanner(lookahead: settings.lookahead)
    }

    /// A store with `memoryBudgetBytes` of memory over `lower`, other settings at their defaults.
    public init(memoryBudgetBytes: Int, lower: any StorageTier, prefetch: Bool = true) {
        self.init(lower: lower, settings: TieredStoreSettings(memoryBudgetBytes: memoryBudgetBytes, prefetch: prefetch))
    }

    // MARK: StorageTier

    public func store(_ entries: [(key: StorageKey, tensor: Tensor)]) async throws(StorageError) {
        for (key, tensor) in entries {
            let source = try TensorBytes(tensor, key: key)
            var value = source.tensor
            if value.storage.byteCount != value.byteCount || value.offset != 0 {
                // Hold exactly these bytes, not the larger tensor a view points into.
                value = try TensorBytes.make(dtype: value.dtype, shape: value.shape, key: key) { out in
                    out.copyMemory(from: source.bytes)
                }
            }
            let generation = bump(key)
            dropFromMemory(key)
            onLower.remove(key)
            sizes[key] = value.byteCount
            policy.recordAccess(key)
            if try await makeRoom(value.byteCount) {
                guard generations[key] == generation else { continue }  // a later store or remove won
                admit(key, Resident(tensor: value, dirty: true, prefetched: false))
            } else {
                try await writeThrough(key, value, generation: generation)
            }
        }
    }

    public func load(_ keys: [StorageKey]) async throws(StorageError) -> [Tensor] {
        var result = [Tensor?](repeating: nil, count: keys.count)
        var waits: [(slot: Int, ticket: ReadTicket)] = []
        var fresh: [(slot: Int, key: StorageKey)] = []
        for (slot, key) in keys.enumerated() {
            guard sizes[key] != nil else { throw MemoryTier.missing(key, in: name) }
            counterValues.loads += 1
            policy.recordAccess(key)
            if var r = ram[key] {
                counterValues.hits += 1
                if r.prefetched {
                    counterValues.prefetchHits += 1
                    r.prefetched = false
                    ram[key] = r
                }
                result[slot] = r.tensor
            } else if let w = writing[key] {
                counterValues.hits += 1
                result[slot] = w.tensor
            } else if let ticket = reads[key] {
                waits.append((slot, ticket))
            } else {
                fresh.append((slot, key))
            }
        }
        if !fresh.isEmpty {
            let unique = Array(Set(fresh.map(\.key))).sorted()
            let tickets = startRead(unique, prefetch: false)
            for (slot, key) in fresh { waits.append((slot, tickets[key]!)) }
        }
        if !waits.isEmpty {
            counterValues.stalls += waits.count
            let start = settings.tracer.clock.now()
            let clock = MonotonicClock()
            let began = clock.now()
            defer {
                counterValues.stallNanoseconds += clock.now().nanoseconds(since: began)
                settings.tracer.emit("storage stall", category: .storage, kind: .complete(duration: clock.now().nanoseconds(since: began)), at: start)
            }
            for (slot, ticket) in waits {
                do { result[slot] = try await ticket.task.value[ticket.index] } catch let error as StorageError { throw error } catch {
                    throw StorageError(.io, "reading from the \(lower.name) tier failed: \(error)", tensor: keys[slot].name, cause: error)
                }
            }
        }
        traceCounters()
        return result.map { $0! }
    }

    @discardableResult
    public func remove(_ key: StorageKey) async throws(StorageError) -> Bool {
        guard sizes.removeValue(forKey: key) != nil else { return false }
        _ = bump(key)
        dropFromMemory(key)
        policy.forget(key)
        onLower.remove(key)
        try await lower.remove(key)
        return true
    }

    public func contains(_ key: StorageKey) -> Bool { sizes[key] != nil }
    public func storedKeys() -> [StorageKey] { sizes.keys.sorted() }
    public func usedBytes() -> Int { sizes.values.reduce(0, +) }

    // MARK: Reports

    /// The counters so far.
    public func counters() -> StorageCounters { counterValues }
    /// Bytes held in memory now (tensors being written back included).
    public func memoryBytes() -> Int { ramBytes }
    /// The most bytes memory held at once so far.
    public func peakMemoryBytes() -> Int { peakRAMBytes }
    /// Whether `key` is in memory now.
    public func isInMemory(_ key: StorageKey) -> Bool { ram[key] != nil || writing[key] != nil }
    /// Whether the policy counts `key` as hot.
    public func isHot(_ key: StorageKey) -> Bool { policy.isHot(key) }

    // MARK: Memory bookkeeping

    func bump(_ key: StorageKey) -> UInt64 {
        let g = (generations[key] ?? 0) + 1
        generations[key] = g
        return g
    }

    func admit(_ key: StorageKey, _ resident: Resident) {
        ram[key] = resident
        ramBytes += resident.tensor.byteCount
        peakRAMBytes = max(peakRAMBytes, ramBytes)
    }

    /// Forgets the in-memory copies of `key` (its bytes stop counting at once).
    func dropFromMemory(_ key: StorageKey) {
        if let r = ram.removeValue(forKey: key) { ramBytes -= r.tensor.byteCount }
        if let w = writing.removeValue(forKey: key) { ramBytes -= w.tensor.byteCount }
    }

    func traceCounters() {
        let tracer = settings.tracer
        guard tracer.isEnabled else { return }
        tracer.counter("storage.hitRate", value: counterValues.hitRate, category: .storage)
        tracer.counter("storage.memoryBytes", value: Double(ramBytes), category: .storage)
        tracer.counter("storage.bytesRead", value: Double(counterValues.bytesRead), category: .storage)
        tracer.counter("storage.bytesWritten", value: Double(counterValues.bytesWritten), category: .storage)
        tracer.counter("storage.stallMilliseconds", value: Double(counterValues.stallNanoseconds) / 1e6, category: .storage)
    }
}
