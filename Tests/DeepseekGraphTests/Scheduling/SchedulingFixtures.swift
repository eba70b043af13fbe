import DeepseekCore
import DeepseekGraph

/// Reference problems shared by the scheduler tests. Costs are sums of powers of two so virtual
/// times print exactly.
enum SchedulingFixtures {
    /// x → a → b → c → d on one CPU.
    static func chain() -> SchedulingProblem {
        var p = SchedulingProblem()
        p.addDevice(kind: "cpu")
        let x = p.addValue(byteCount: 1024)
        var last = x
        for (name, op, seconds) in [("a", "relu", 1.0), ("b", "exp", 2.0), ("c", "tanh", 0.5), ("d", "neg", 0.25)] {
            let out = p.addValue(byteCount: 1024, isGraphOutput: name == "d")
            let n = p.addNode(name, op: op, inputs: [last], outputs: [out])
            p.costs[node: n, kind: "cpu"] = seconds
            last = out
        }
        return p
    }

    /// x → a → (b, c) → d on a CPU (device 0) and an OpenCL device (device 1); OpenCL lacks `topk`.
    static func diamond() -> SchedulingProblem {
        var p = SchedulingProblem()
        p.addDevice(kind: "cpu")
        p.addDevice(kind: "opencl")
        let x = p.addValue(byteCount: 4096)
        let a1 = p.addValue(byteCount: 4096)
        let b1 = p.addValue(byteCount: 4096)
        let c1 = p.addValue(byteCount: 4096)
        let d1 = p.addValue(byteCount: 4096, isGraphOutput: true)
        let a = p.addNode("a", op: "matmul", inputs: [x], outputs: [a1])
        let b = p.addNode("b", op: "gelu", inputs: [a1], outputs: [b1])
        let c = p.addNode("c", op: "topk", inputs: [a1], outputs: [c1])
        let d = p.addNode("d", op: "add", inputs: [b1, c1], outputs: [d1])
        p.costs[node: a, kind: "cpu"] = 4
        p.costs[node: a, kind: "opencl"] = 1
        p.costs[node: b, kind: "cpu"] = 2
        p.costs[node: b, kind: "opencl"] = 1
        p.costs[node: c, kind: "cpu"] = 1.5
        p.costs[node: d, kind: "cpu"] = 0.5
        p.costs[node: d, kind: "opencl"] = 0.25
        return p
    }

    /// x (on process 0) → a → (b pinned to process 1, c free) → d pinned to process 0; one CPU per
    /// process, 1024 bytes per second between them.
    static func twoProcesses() -> SchedulingProblem {
        var p = SchedulingProblem(transferSecondsPerByte: 1.0 / 1024)
        p.addDevice(kind: "cpu", process: 0)
        p.addDevice(kind: "cpu", process: 1)
        let x = p.addValue(byteCount: 1024)
        let a1 = p.addValue(byteCount: 2048)
        let b1 = p.addValue(byteCount: 1024)
        let c1 = p.addValue(byteCount: 1024)
        let d1 = p.addValue(byteCount: 512, isGraphOutput: true)
        let a = p.addNode("a", op: "conv2d", inputs: [x], outputs: [a1], pinnedProcess: 0)
        let b = p.addNode("b", op: "relu", inputs: [a1], outputs: [b1], pinnedProcess: 1)
        let c = p.addNode("c", op: "maxPool", inputs: [a1], outputs: [c1])
        let d = p.addNode("d", op: "concat", inputs: [b1, c1], outputs: [d1], pinnedProcess: 0)
        for (n, seconds) in [(a, 1.0), (b, 2.0), (c, 1.0), (d, 0.5)] { p.costs[node: n, kind: "cpu"] = seconds }
        return p
    }

    /// A random DAG: each node reads 1–3 earlier values (graph inputs included) and writes one or
    /// two values. Devices are given as (kind, process); `opencl` lacks every fifth op. With
    /// `pinEvery`, every that-many-th node is pinned to a process.
    static func randomDAG(
        nodes nodeCount: Int, seed: UInt64, devices: [(String, Int)] = [("cpu", 0), ("cpu", 0), ("opencl", 0)],
        inputs inputCount: Int = 4, pinEvery: Int? = nil, transferSecondsPerByte: Double = 0
    ) -> SchedulingProblem {
        var rng = SeededRandom(seed: seed)
        var p = SchedulingProblem(transferSecondsPerByte: transferSecondsPerByte)
        let processes = Set(devices.map(\.1)).sorted()
        for (kind, process) in devices { p.addDevice(kind: kind, process: process) }
        var live: [Int] = []
        for i in 0..<inputCount {
            live.append(p.addValue(byteCount: 256 * (1 + rng.nextInt(below: 16)), homeProcess: processes[i % processes.count]))
        }
        let ops = ["matmul", "relu", "add", "softmax", "topk"]
        var cpu: [Double?] = []
        var opencl: [Double?] = []
        for n in 0..<nodeCount {
            var inputs: [Int] = []
            for _ in 0..<(1 + rng.nextInt(below: 3)) {
                // Mostly recent values, sometimes anything earlier: long and short edges both.
                let window = rng.nextInt(below: 4) == 0 ? live.count : min(live.count, 16)
                inputs.append(live[live.count - 1 - rng.nextInt(below: window)])
            }
            var outputs = [p.addValue(byteCount: 256 * (1 + rng.nextInt(below: 16)))]
            if rng.nextInt(below: 8) == 0 { outputs.append(p.addValue(byteCount: 1024)) }
            var pinned: Int?
            if let pinEvery, n % pinEvery == 0 { pinned = processes[rng.nextInt(below: processes.count)] }
            let op = ops[n % ops.count]
            p.addNode("n\(n)", op: op, inputs: inputs, outputs: outputs, pinnedProcess: pinned)
            live.append(contentsOf: outputs)
            let seconds = Double(1 + rng.nextInt(below: 64)) / 1024
            cpu.append(seconds)
            opencl.append(op == "topk" ? nil : seconds / 4)
        }
        // The last values, and a sprinkling of intermediate ones that later nodes also read.
        for v in p.values.indices.suffix(8) where p.values[v].producer != nil { p.values[v].isGraphOutput = true }
        for v in stride(from: inputCount, to: p.values.count, by: 37) { p.values[v].isGraphOutput = true }
        p.costs = CostTable(nodeCount: nodeCount, kinds: ["cpu", "opencl"]) { n, kind in
            kind == "cpu" ? cpu[n] : opencl[n]
        }
        return p
    }
}
