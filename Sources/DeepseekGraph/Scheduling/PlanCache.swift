/// A least-recently-used cache of plans keyed by `StructuralHash`, with hit and miss counters.
///
/// Graphs may change every step; hashing a graph's structure and looking the hash up here lets an
/// unchanged graph skip validation, ranking and optimisation. Lookups, inserts and evictions are
/// O(1): the recency order is a doubly linked list threaded through an array of slots.
///
/// ```swift
/// var cache = PlanCache<PreparedProblem>(capacity: 16)
/// let prepared = try cache.plan(for: problem.structuralHash) { () throws(SchedulingError) in
///     try PreparedProblem(problem)
/// }
/// ```
public struct PlanCache<Plan> {
    fileprivate struct Slot {
        var key: StructuralHash
        var plan: Plan?
        var newer: Int
        var older: Int
    }

    /// The most plans kept; inserting beyond it evicts the least recently used.
    public let capacity: Int
    /// Lookups that found a plan.
    public private(set) var hits = 0
    /// Lookups that found nothing.
    public private(set) var misses = 0
    /// Plans dropped to make room.
    public private(set) var evictions = 0

    private var index: [StructuralHash: Int] = [:]
    private var slots: [Slot] = []
    private var freeSlots: [Int] = []
    private var newest = -1
    private var oldest = -1

    /// An empty cache holding at most `capacity` plans (at least 1).
    public init(capacity: Int) {
        precondition(capacity >= 1, "PlanCache: capacity must be at least 1, got \(capacity)")
        self.capacity = capacity
    }

    /// Plans currently held.
    public var count: Int { index.count }

    /// Hits over lookups, or 0 before the first lookup.
    public var hitRate: Double { hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses) }

    /// Keys from most to least recently used.
    public var keysByRecency: [StructuralHash] {
        var keys: [StructuralHash] = []
        var s = newest
        while s >= 0 {
            keys.append(slots[s].key)
            s = slots[s].older
        }
        return keys
    }

    /// Looks `key` up, counting a hit or a miss; a hit becomes the most recently used.
    public mutating func plan(for key: StructuralHash) -> Plan? {
        guard let s = index[key] else {
            misses += 1
            return nil
        }
        hits += 1
        moveToFront(s)
        return slots[s].plan
    }

    /// The plan for `key` without counting or touching recency.
    public func peek(_ key: StructuralHash) -> Plan? { index[key].flatMap { slots[$0].plan } }

    /// Returns the cached plan for `key`, or makes, caches and returns a new one.
    ///
    /// - Throws: whatever `make` throws; nothing is cached then.
    public mutating func plan<E: Error>(for key: StructuralHash, orMake make: () throws(E) -> Plan) throws(E) -> Plan {
        if let plan = plan(for: key) { return plan }
        let plan = try make()
        insert(plan, for: key)
        return plan
    }

    /// Stores `plan` under `key` as the most recently used, replacing any plan already there and
    /// evicting the least recently used plan when full.
    public mutating func insert(_ plan: Plan, for key: StructuralHash) {
        if let s = index[key] {
            slots[s].plan = plan
            moveToFront(s)
            return
        }
        if index.count == capacity {
            let victim = oldest
            unlink(victim)
            index[slots[victim].key] = nil
            slots[victim].plan = nil
            freeSlots.append(victim)
            evictions += 1
        }
        let slot = Slot(key: key, plan: plan, newer: -1, older: -1)
        let s: Int
        if let reused = freeSlots.popLast() {
            s = reused
            slots[s] = slot
        } else {
            s = slots.count
            slots.append(slot)
        }
        index[key] = s
        linkFront(s)
    }

    /// Removes and returns the plan for `key`, if any.
    @discardableResult
    public mutating func removeValue(for key: StructuralHash) -> Plan? {
        guard let s = index.removeValue(forKey: key) else { return nil }
        unlink(s)
        let plan = slots[s].plan
        slots[s].plan = nil
        freeSlots.append(s)
        return plan
    }

    /// Drops every plan; counters are kept.
    public mutating func removeAll() {
        index.removeAll()
        slots.removeAll()
        freeSlots.removeAll()
        newest = -1
        oldest = -1
    }

    private mutating func unlink(_ s: Int) {
        let newer = slots[s].newer
        let older = slots[s].older
        if newer >= 0 { slots[newer].older = older } else { newest = older }
        if older >= 0 { slots[older].newer = newer } else { oldest = newer }
        slots[s].newer = -1
        slots[s].older = -1
    }

    private mutating func linkFront(_ s: Int) {
        slots[s].older = newest
        slots[s].newer = -1
        if newest >= 0 { slots[newest].newer = s }
        newest = s
        if oldest < 0 { oldest = s }
    }

    private mutating func moveToFront(_ s: Int) {
        guard newest != s else { return }
        unlink(s)
        linkFront(s)
    }
}

extension PlanCache: Sendable where Plan: Sendable {}
extension PlanCache.Slot: Sendable where Plan: Sendable {}

extension SchedulingProblem: StructurallyHashable {
    /// Folds in everything that changes a schedule: nodes (with names, which appear in messages),
    /// values, devices, every cost entry and the transfer prices.
    public func structuralHash(into hasher: inout StructuralHasher) {
        hasher.combine(nodes.count)
        for node in nodes {
            hasher.combine(node.name)
            hasher.combine(node.op)
            hasher.combine(node.inputs)
            hasher.combine(node.outputs)
            hasher.combine(node.pinnedDevice?.index)
            hasher.combine(node.pinnedProcess)
            hasher.combine(node.pinnedKind)
        }
        hasher.combine(values.count)
        for value in values {
            hasher.combine(value.byteCount)
            hasher.combine(value.producer)
            hasher.combine(value.homeProcess)
            hasher.combine(value.isGraphOutput)
        }
        hasher.combine(devices.count)
        for device in devices {
            hasher.combine(device.kind)
            hasher.combine(device.process)
        }
        let kinds = costs.kinds
        hasher.combine(kinds.count)
        for kind in kinds {
            hasher.combine(kind)
            let column = costs.column(for: kind)
            hasher.combine(column.count)
            for seconds in column { hasher.combine(seconds) }
        }
        hasher.combine(transferSecondsPerByte)
        hasher.combine(transferLatencySeconds)
    }
}
