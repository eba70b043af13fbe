import DeepseekCore
import DeepseekTensor
import DeepseekTracing

extension TieredStore {
    // MARK: Schedule and prefetch

    /// Announces the schedule: the tensors each step needs, in order. With `cyclic`, the steps
    /// repeat (a training iteration runs the same steps every time).
    public func setSchedule(_ steps: [[StorageKey]], cyclic: Bool = true) {
        planner.setSchedule(steps)
        planner.cyclic = cyclic
    }

    /// Marks `step` of the schedule as in progress and, with prefetch on, starts reading what the
    /// next steps need.
    public func advance(to step: Int) {
        planner.advance(to: step)
        if settings.prefetch { prefetch(planner.upcoming()) }
    }

    /// Starts reading `keys` into memory (those stored, not in memory and not being read), as
    /// far as they fit without evicting anything needed sooner. Returns at once.
    public func prefetch(_ keys: [StorageKey]) {
        let nextUse = planner.nextUse()
        // Room: what is free, plus what the policy would evict before any of these keys.
        var room = settings.memoryBudgetBytes - ramBytes - reads.keys.reduce(0) { $0 + (ram[$1] == nil ? sizes[$1] ?? 0 : 0) }
        let horizon = keys.compactMap { nextUse[$0] }.max() ?? Int.max
        for (key, r) in ram where (nextUse[key] ?? Int.max) > horizon && !r.prefetched { room += r.tensor.byteCount }
        var chosen: [StorageKey] = []
        for key in keys {
            guard let size = sizes[key], ram[key] == nil, writing[key] == nil, reads[key] == nil, onLower.contains(key) else { continue }
            guard size <= room else { break }
            room -= size
            chosen.append(key)
        }
        guard !chosen.isEmpty else { return }
        counterValues.prefetched += chosen.count
        _ = startRead(chosen, prefetch: true)
    }

    /// Writes every changed tensor in memory to the lower tier, keeping it in memory (clean).
    public func flush() async throws(StorageError) {
        let dirty = ram.filter { $0.value.dirty }.map { (key: $0.key, tensor: $0.value.tensor) }.sorted { $0.key < $1.key }
        guard !dirty.isEmpty else { return }
        let generations = dirty.map { self.generations[$0.key] }
        try await writeToLower(dirty)
        for (entry, generation) in zip(dirty, generations) where self.generations[entry.key] == generation {
            ram[entry.key]?.dirty = false
            onLower.insert(entry.key)
        }
    }

    // MARK: Moving bytes

    /// One batched read of `keys` from the lower tier, admitted into memory when it completes.
    func startRead(_ keys: [StorageKey], prefetch: Bool) -> [StorageKey: ReadTicket] {
        let id = nextReadID
        nextReadID += 1
        let expected = keys.map { generations[$0] }
        let lower = self.lower
        let task = Task<[Tensor], any Error> {
            let tensors: [Tensor]
            do {
                let start = settings.tracer.clock.now()
                tensors = try await lower.load(keys)
                let bytes = tensors.reduce(0) { $0 + $1.byteCount }
                counterValues.bytesRead += Int64(bytes)
                settings.tracer.storage("\(prefetch ? "prefetch" : "read") \(keys.count) tensors", .read, startedAt: start, bytes: Int64(bytes))
            } catch {
                for key in keys where reads[key]?.id == id { reads[key] = nil }
                throw error
            }
            for (i, key) in keys.enumerated() where reads[key]?.id == id && generations[key] == expected[i] {
                if ram[key] == nil, writing[key] == nil, (try? await makeRoom(tensors[i].byteCount)) == true, generations[key] == expected[i] {
                    admit(key, Resident(tensor: tensors[i], dirty: false, prefetched: prefetch))
                }
                if reads[key]?.id == id { reads[key] = nil }
            }
            for key in keys where reads[key]?.id == id { reads[key] = nil }
            return tensors
        }
        var tickets: [StorageKey: ReadTicket] = [:]
        for (i, key) in keys.enumerated() {
            let ticket = ReadTicket(id: id, task: task, index: i)
            reads[key] = ticket
            tickets[key] = ticket
        }
        return tickets
    }

    /// Evicts until `bytes` more fit in memory; returns false when they cannot (the tensor is
    /// larger than what can be freed). Changed tensors are written back first; clean ones that
    /// the lower tier holds are dropped without I/O.
    func makeRoom(_ bytes: Int) async throws(StorageError) -> Bool {
        let budget = settings.memoryBudgetBytes
        guard bytes <= budget else { return false }
        while ramBytes + bytes > budget {
            var evictable: [StorageKey: Int] = [:]
            for (key, r) in ram { evictable[key] = r.tensor.byteCount }
            let writingBytes = writing.values.reduce(0) { $0 + $1.tensor.byteCount }
            guard let victims = policy.victims(toFree: ramBytes + bytes - budget - writingBytes, resident: evictable, nextUse: planner.nextUse()) else {
                return false
            }
            var dirty: [(key: StorageKey, tensor: Tensor)] = []
            var dirtyGenerations: [UInt64?] = []
            for key in victims {
                guard let r = ram.removeValue(forKey: key) else { continue }
                counterValues.evictions += 1
                if r.dirty || !onLower.contains(key) {
                    writing[key] = (r.tensor, generations[key] ?? 0)
                    dirty.append((key, r.tensor))
                    dirtyGenerations.append(generations[key])
                } else {
                    ramBytes -= r.tensor.byteCount
                }
            }
            if dirty.isEmpty && victims.isEmpty && writingBytes == 0 { return false }
            guard !dirty.isEmpty else {
                if victims.isEmpty { await Task.yield() }  // others' write-backs are still in flight
                continue
            }
            counterValues.writeBacks += dirty.count
            do { try await writeToLower(dirty) } catch {
                // Put them back: nothing is lost, and the caller sees why memory could not be freed.
                for (entry, generation) in zip(dirty, dirtyGenerations) where generations[entry.key] == generation {
                    if writing.removeValue(forKey: entry.key) != nil {
                        ram[entry.key] = Resident(tensor: entry.tensor, dirty: true, prefetched: false)
                    }
                }
                throw error
            }
            for (entry, generation) in zip(dirty, dirtyGenerations) {
                guard let w = writing[entry.key], w.generation == (generation ?? 0) else { continue }
                writing[entry.key] = nil
                ramBytes -= w.tensor.byteCount
                if generations[entry.key] == generation { onLower.insert(entry.key) }
            }
        }
        return true
    }

    /// Stores a tensor too large for memory straight into the lower tier.
    func writeThrough(_ key: StorageKey, _ value: Tensor, generation: UInt64) async throws(StorageError) {
        try await writeToLower([(key, value)])
        if generations[key] == generation { onLower.insert(key) }
    }

    func writeToLower(_ entries: [(key: StorageKey, tensor: Tensor)]) async throws(StorageError) {
        let start = settings.tracer.clock.now()
        try await lower.store(entries)
        let bytes = entries.reduce(0) { $0 + $1.tensor.byteCount }
        counterValues.bytesWritten += Int64(bytes)
        settings.tracer.storage("write back \(entries.count) tensors", .write, startedAt: start, bytes: Int64(bytes))
    }
}

extension TieredStore {
    /// Waits until every read in flight (prefetches included) has finished.
    public func waitForPendingReads() async {
        while let task = reads.values.first?.task { _ = try? await task.value }
    }
}
