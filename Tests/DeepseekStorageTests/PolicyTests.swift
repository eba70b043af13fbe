import DeepseekCore
@testable import DeepseekStorage
import Testing

@Suite struct ExtentAllocatorTests {
    @Test func extentsAreAlignedAndReusedFirstFit() {
        var a = ExtentAllocator(alignment: 4096)
        let x = a.allocate(1)!
        let y = a.allocate(5000)!
        let z = a.allocate(4096)!
        #expect(x.offset == 0 && x.length == 4096)
        #expect(y.offset == 4096 && y.length == 8192)
        #expect(z.offset == 12288)
        a.release(offset: y.offset, length: y.length)
        #expect(a.allocate(4096)!.offset == 4096)  // first fit inside the hole
        #expect(a.allocatedBytes == 3 * 4096)
    }

    @Test func freedNeighboursMergeAndAFreeTailShrinksTheFile() {
        var a = ExtentAllocator(alignment: 4096)
        let e = (0..<4).map { _ in a.allocate(4096)! }
        a.release(offset: e[1].offset, length: 4096)
        a.release(offset: e[2].offset, length: 4096)
        #expect(a.free.count == 1 && a.free[0].length == 8192)
        a.release(offset: e[3].offset, length: 4096)
        #expect(a.end == 4096 && a.free.isEmpty)
    }

    @Test func theCapacityIsRespected() {
        var a = ExtentAllocator(alignment: 4096, capacity: 8192)
        #expect(a.allocate(8192) != nil)
        #expect(a.allocate(1) == nil)
    }
}

@Suite struct PlacementPolicyTests {
    @Test func frequentAndRecentTensorsAreHotAndIdleOnesCoolDown() {
        var p = PlacementPolicy(halfLife: 4, hotThreshold: 1.5)
        for _ in 0..<4 { p.recordAccess("w") }
        p.recordAccess("once")
        #expect(p.isHot("w"))
        #expect(!p.isHot("once"))
        for _ in 0..<40 { p.recordAccess("other") }
        #expect(!p.isHot("w"))
        #expect(p.temperature("w") < 0.01)
    }

    @Test func victimsAreTheColdestOutsideTheScheduleThenTheFurthestNeeded() {
        var p = PlacementPolicy(halfLife: 100)
        for _ in 0..<5 { p.recordAccess("hot") }
        p.recordAccess("cold")
        p.recordAccess("soon")
        p.recordAccess("later")
        let resident: [StorageKey: Int] = ["hot": 10, "cold": 10, "soon": 10, "later": 10]
        let nextUse: [StorageKey: Int] = ["soon": 1, "later": 3]
        #expect(p.victims(toFree: 10, resident: resident, nextUse: nextUse) == ["cold"])
        #expect(p.victims(toFree: 20, resident: resident, nextUse: nextUse) == ["cold", "hot"])
        #expect(p.victims(toFree: 30, resident: resident, nextUse: nextUse) == ["cold", "hot", "later"])
        #expect(p.victims(toFree: 41, resident: resident, nextUse: nextUse) == nil)
        #expect(p.victims(toFree: 0, resident: resident) == [])
    }
}

@Suite struct PrefetchPlannerTests {
    let schedule: [[StorageKey]] = [["a", "m.a"], ["b", "m.b"], ["c", "m.c"]]

    @Test func upcomingListsTheNextStepsInOrderAndWrapsWhenCyclic() {
        var p = PrefetchPlanner(schedule: schedule, lookahead: 2)
        #expect(p.upcoming() == ["a", "m.a", "b", "m.b"])  // before the first step
        p.advance(to: 1)
        #expect(p.upcoming() == ["c", "m.c", "a", "m.a"])
        #expect(p.nextUse() == ["b": 0, "m.b": 0, "c": 1, "m.c": 1, "a": 2, "m.a": 2])
        p.cyclic = false
        #expect(p.upcoming() == ["c", "m.c"])
    }

    @Test func aKeyTheCurrentStepUsesIsNotPrefetchedAgain() {
        var p = PrefetchPlanner(schedule: [["shared", "x"], ["shared", "y"]], lookahead: 1)
        p.advance(to: 0)
        #expect(p.upcoming() == ["y"])
    }
}

@Suite struct StorageHashTests {
    @Test func matchesPublishedXXH64Values() {
        #expect(XXHash64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXHash64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXHash64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        let long = Array("Nobody inspects the spammish repetition".utf8)
        #expect(XXHash64.hash(long) == 0xFBCE_A83C_8A37_8BF1)
    }
}
