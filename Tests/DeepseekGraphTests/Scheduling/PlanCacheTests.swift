import DeepseekGraph
import Testing

@Suite struct StructuralHasherTests {
    func hash(_ body: (inout StructuralHasher) -> Void) -> StructuralHash {
        var hasher = StructuralHasher()
        body(&hasher)
        return hasher.finalize()
    }

    @Test func digestIsPinnedAcrossRunsAndProcesses() {
        // A change here invalidates every stored key: only change the hash on purpose.
        let h = hash {
            $0.combine("matmul")
            $0.combine(42)
            $0.combine(true)
            $0.combine(0.5)
        }
        #expect(h == StructuralHash(high: 0xcace_7fa5_7877_db7c, low: 0x40ad_ec55_4108_ef31))
        #expect(h.description == "cace7fa57877db7c40adec554108ef31")
    }

    @Test func orderAndBoundariesMatter() {
        #expect(hash { $0.combine(1); $0.combine(2) } != hash { $0.combine(2); $0.combine(1) })
        #expect(hash { $0.combine("ab"); $0.combine("c") } != hash { $0.combine("a"); $0.combine("bc") })
        #expect(hash { $0.combine([1, 2]); $0.combine([Int]()) } != hash { $0.combine([1]); $0.combine([2]) })
        #expect(hash { $0.combine(Int?.none) } != hash { $0.combine(Int?.some(0)) })
        #expect(hash { $0.combine(0) } != hash { _ in })
    }

    @Test func seedsGiveUnrelatedDigests() {
        var a = StructuralHasher(seed: 1)
        var b = StructuralHasher(seed: 2)
        a.combine("x")
        b.combine("x")
        #expect(a.finalize() != b.finalize())
    }

    @Test func negativeZeroHashesLikeZero() {
        #expect(hash { $0.combine(-0.0) } == hash { $0.combine(0.0) })
    }

    @Test func manyDistinctInputsGiveDistinctDigests() {
        var seen = Set<StructuralHash>()
        for i in 0..<20_000 { seen.insert(hash { $0.combine(i) }) }
        for i in 0..<20_000 { seen.insert(hash { $0.combine("v\(i)") }) }
        #expect(seen.count == 40_000)
    }

    @Test func equalProblemsHashEqualAndAnyCostChangeShowsUp() {
        let a = SchedulingFixtures.diamond()
        #expect(a.structuralHash == SchedulingFixtures.diamond().structuralHash)
        var b = a
        b.costs[node: 3, kind: "opencl"] = 0.5
        #expect(a.structuralHash != b.structuralHash)
        var c = a
        c.nodes[1].pinnedProcess = 0
        #expect(a.structuralHash != c.structuralHash)
    }
}

@Suite struct PlanCacheTests {
    func key(_ i: Int) -> StructuralHash { i.structuralHash }

    @Test func missThenHitAreCounted() {
        var cache = PlanCache<String>(capacity: 2)
        #expect(cache.plan(for: key(1)) == nil)
        cache.insert("one", for: key(1))
        #expect(cache.plan(for: key(1)) == "one")
        #expect(cache.hits == 1)
        #expect(cache.misses == 1)
        #expect(cache.hitRate == 0.5)
    }

    @Test func leastRecentlyUsedIsEvicted() {
        var cache = PlanCache<String>(capacity: 2)
        cache.insert("one", for: key(1))
        cache.insert("two", for: key(2))
        _ = cache.plan(for: key(1))  // 2 is now the least recently used.
        cache.insert("three", for: key(3))
        #expect(cache.peek(key(2)) == nil)
        #expect(cache.peek(key(1)) == "one")
        #expect(cache.keysByRecency == [key(3), key(1)])
        #expect(cache.evictions == 1)
        #expect(cache.count == 2)
    }

    @Test func reinsertingReplacesAndRefreshes() {
        var cache = PlanCache<Int>(capacity: 2)
        cache.insert(1, for: key(1))
        cache.insert(2, for: key(2))
        cache.insert(10, for: key(1))
        cache.insert(3, for: key(3))
        #expect(cache.peek(key(1)) == 10)
        #expect(cache.peek(key(2)) == nil)
    }

    @Test func makeRunsOnlyOnAMissAndFailuresAreNotCached() throws {
        struct Failure: Error {}
        var cache = PlanCache<PreparedProblem>(capacity: 4)
        let problem = SchedulingFixtures.chain()
        var made = 0
        for _ in 0..<3 {
            let prepared = try cache.plan(for: problem.structuralHash) { () throws(SchedulingError) in
                made += 1
                return try PreparedProblem(problem)
            }
            #expect(prepared.ranks.count == 4)
        }
        #expect(made == 1)
        #expect(cache.hits == 2)
        #expect(throws: Failure.self) {
            try cache.plan(for: key(9)) { () throws(Failure) -> PreparedProblem in throw Failure() }
        }
        #expect(cache.peek(key(9)) == nil)
    }

    @Test func removalFreesASlotForReuse() {
        var cache = PlanCache<Int>(capacity: 2)
        cache.insert(1, for: key(1))
        cache.insert(2, for: key(2))
        #expect(cache.removeValue(for: key(1)) == 1)
        cache.insert(3, for: key(3))
        #expect(cache.evictions == 0)
        #expect(cache.keysByRecency == [key(3), key(2)])
        cache.removeAll()
        #expect(cache.count == 0)
        #expect(cache.keysByRecency.isEmpty)
    }

    @Test func churnKeepsTheMostRecentKeys() {
        var cache = PlanCache<Int>(capacity: 8)
        for i in 0..<1000 {
            if cache.plan(for: key(i % 13)) == nil { cache.insert(i, for: key(i % 13)) }
        }
        #expect(cache.count == 8)
        #expect(cache.hits + cache.misses == 1000)
        #expect(Set(cache.keysByRecency) == Set((992..<1000).map { key($0 % 13) }))
    }
}
