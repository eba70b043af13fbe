import DeepseekGraph
import Testing

/// Replays a simulated log against its problem and records every rule the schedule broke: a node
/// run twice or never, on a device it may not use, before its inputs were in that process; a send
/// or use of a freed copy; a free before the last local use, twice, or of an output or a caller's
/// input; a copy never freed.
struct ScheduleChecker {
    let problem: SchedulingProblem
    var violations: [String] = []

    init(_ problem: SchedulingProblem) { self.problem = problem }

    mutating func check(_ result: SchedulerSimulation.Result, freesGraphInputs: Bool = false) {
        let prepared = try! PreparedProblem(problem)
        let processes = prepared.processCount
        // When each copy became usable, and whether it was freed.
        var availableAt = [Double?](repeating: nil, count: problem.values.count * processes)
        var freed = [Bool](repeating: false, count: problem.values.count * processes)
        var runTime = [Double?](repeating: nil, count: problem.nodes.count)
        var runDevice = [Int](repeating: -1, count: problem.nodes.count)
        for (v, value) in problem.values.enumerated() where value.producer == nil {
            availableAt[v * processes + value.homeProcess] = 0
        }
        func usable(_ v: Int, _ p: Int, _ now: Double) -> Bool {
            guard let at = availableAt[v * processes + p] else { return false }
            return at <= now + 1e-12 && !freed[v * processes + p]
        }
        var consumers = [[Int]](repeating: [], count: problem.values.count)
        for (n, node) in problem.nodes.enumerated() {
            for v in node.inputs { consumers[v].append(n) }
        }
        // The caller keeps a graph output where it was produced and a graph input at home.
        func keeps(_ v: Int, _ p: Int) -> Bool {
            let value = problem.values[v]
            guard let producer = value.producer else {
                return p == value.homeProcess && (value.isGraphOutput || !freesGraphInputs)
            }
            return value.isGraphOutput && runDevice[producer] >= 0 && problem.devices[runDevice[producer]].process == p
        }
        var finishedCount = 0
        for (i, entry) in result.log.enumerated() {
            let now = entry.seconds
            switch entry.directive {
            case .run(let n, let device):
                let d = device.index
                let p = problem.devices[d].process
                if runTime[n] != nil { violations.append("n\(n) ran twice") }
                if !prepared.allowedDevices(of: n).contains(device) { violations.append("n\(n) ran on disallowed \(device)") }
                for v in problem.nodes[n].inputs where !usable(v, p, now) {
                    violations.append("n\(n) ran at \(now) on node \(p) without %\(v)")
                }
                runTime[n] = now
                runDevice[n] = d
                let done = now + prepared.cost(of: n, on: device)!
                for v in problem.nodes[n].outputs { availableAt[v * processes + p] = done }
            case .send(let v, let from, let to):
                if !usable(v, from, now) { violations.append("sent %\(v) from node \(from) at \(now), where it is not") }
                if availableAt[v * processes + to] != nil { violations.append("sent %\(v) to node \(to) twice") }
                availableAt[v * processes + to] = now + problem.transferSeconds(byteCount: problem.values[v].byteCount)
            case .free(let v, let p):
                let cell = v * processes + p
                if freed[cell] { violations.append("freed %\(v) on node \(p) twice") }
                if !usable(v, p, now) { violations.append("freed %\(v) on node \(p) at \(now), where it is not") }
                if keeps(v, p) { violations.append("freed %\(v) on node \(p), a copy the caller keeps") }
                // A consumer that has not run yet must not run here later: `usable` catches that.
                for n in consumers[v] {
                    guard let t = runTime[n] else { continue }
                    let d = runDevice[n]
                    if problem.devices[d].process == p && t + prepared.cost(of: n, on: DeviceID(d))! > now + 1e-12 {
                        violations.append("freed %\(v) on node \(p) at \(now) while n\(n) still reads it")
                    }
                }
                freed[cell] = true
            case .finished:
                finishedCount += 1
                if i != result.log.count - 1 { violations.append("finished is not the last directive") }
            }
        }
        if finishedCount != 1 { violations.append("finished \(finishedCount) times") }
        for n in problem.nodes.indices where runTime[n] == nil { violations.append("n\(n) never ran") }
        for v in problem.values.indices {
            for p in 0..<processes where availableAt[v * processes + p] != nil && !freed[v * processes + p] {
                if !keeps(v, p) { violations.append("%\(v) on node \(p) was never freed") }
            }
        }
    }
}
