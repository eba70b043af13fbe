import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekKernelsOpenCL
import DeepseekRuntime
import DeepseekTensor
import Distributed

// The `engine` group: what the dataflow engine adds on top of the kernels it runs.

/// An operator that does nothing: the time through the engine is pure dispatch.
struct EmptyOp: CustomGraphOp {
    var label: String { "empty" }
    var signature: String { "empty" }
    func evaluate(_ inputs: [Tensor]) throws -> [Tensor] { [inputs[0]] }
}

/// A chain of `count` empty operators, or `count` independent ones when `wide`.
func emptyGraph(count: Int, wide: Bool) throws -> Graph {
    var g = Graph()
    let x = try g.addInput("x", TensorType([1]))
    var last = x
    var outs: [ValueID] = []
    for _ in 0..<count {
        let y = try g.add(.custom(EmptyOp()), [wide ? x : last])[0]
        last = y
        outs.append(y)
    }
    g.outputs = wide ? outs : [last]
    return g
}

/// MLP 784-256-10 with cross-entropy, differentiated: outputs are the loss and every gradient.
func mlpTrainingGraph(batch: Int) throws -> Graph {
    let tracer = GraphTracer()
    let x = try tracer.input("x", TensorType([batch, 784]))
    let labels = try tracer.input("labels", TensorType([batch], .int64))
    let w1 = try tracer.parameter("w1", TensorType([784, 256]))
    let b1 = try tracer.parameter("b1", TensorType([256]))
    let w2 = try tracer.parameter("w2", TensorType([256, 10]))
    let b2 = try tracer.parameter("b2", TensorType([10]))
    let h = try (x.matmul(w1) + b1).relu()
    let loss = try (h.matmul(w2) + b2).crossEntropy(labels: labels)
    let forward = tracer.finish(outputs: [loss])
    return try forward.trainingGraph(loss: loss.id).graph
}

func randomFeeds(_ graph: Graph, seed: UInt64) throws -> GraphFeeds {
    var rng = SeededRandom(seed: seed)
    var f = GraphFeeds()
    for n in graph.nodes {
        let t = graph[value: n.outputs[0]].type
        switch n.op {
        case .input(let name) where t.dtype == .int64:
            f.inputs[name] = try Tensor((0..<t.shape.elementCount).map { Int64($0 % 10) }, shape: t.shape)
        case .input(let name): f.inputs[name] = try Tensor.uniform(t.shape, rng: &rng)
        case .parameter(let name): f.parameters[name] = try Tensor.normal(t.shape, std: 0.05, rng: &rng)
        default: break
        }
    }
    return f
}

func runEngine(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.engine.rawValue, title: "Graph engine", command: options.command(for: .engine))
    report.columns = [
        Column("case", "case"), Column("engine", "engine", .fixed(2)), Column("baseline", "baseline", .fixed(2)),
        Column("unit", "unit"), Column("ratio", "engine ÷ baseline", .ratio), Column("extra", "notes"),
    ]
    let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
    try await system.start()
    let cpu = DeviceActor(backend: CPUBackend(), kind: .cpu, name: "cpu0", actorSystem: system)
    let engine = try await Engine(actorSystem: system, devices: [cpu])

    // Dispatch: a chain of empty operators, engine vs a direct loop over the same evaluate calls.
    let chainLength = 2000
    let chain = try emptyGraph(count: chainLength, wide: false)
    let one = GraphFeeds(inputs: ["x": try Tensor.zeros([1])])
    _ = try await engine.run(chain, one)
    progress("engine: dispatch of \(chainLength) empty operators")
    let dispatch = try await measureAsync(
        [
            AsyncContestant(name: "direct") { benchSink &+= Int64(try chain.run(one).count) },
            AsyncContestant(name: "engine") { benchSink &+= Int64(try await engine.run(chain, one).outputs.count) },
        ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    let perOp = dispatch[1].median / Double(chainLength) * 1e6
    let directPerOp = dispatch[0].median / Double(chainLength) * 1e6
    report.records.append([
        "case": .text("dispatch of an empty operator (chain of \(chainLength))"), "engine": .number(perOp), "baseline": .number(directPerOp),
        "unit": .text("µs per op"), "ratio": .number(1 / dispatch[1].pairedSpeedup(over: dispatch[0])),
        "extra": .text("\(formatNumber(1 / perOp * 1e6, digits: 0)) ops/s sustained; target ≤ 2 µs"),
    ])

    // MLP forward + backward through the engine vs the same kernels in sequence (Graph.run).
    let batch = 128
    let mlp = try mlpTrainingGraph(batch: batch)
    let mlpFeeds = try randomFeeds(mlp, seed: 5)
    let cpuBackend = CPUBackend()
    _ = try await engine.run(mlp, mlpFeeds)
    progress("engine: MLP 784-256-10 forward+backward, batch \(batch), \(mlp.nodes.count) nodes")
    let mlpSamples = try await measureAsync(
        [
            AsyncContestant(name: "sequence") { benchSink &+= Int64(try KernelBackends.using(cpuBackend) { try mlp.run(mlpFeeds) }.count) },
            AsyncContestant(name: "engine") { benchSink &+= Int64(try await engine.run(mlp, mlpFeeds).outputs.count) },
        ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    report.records.append([
        "case": .text("MLP 784-256-10 forward+backward, batch \(batch)"), "engine": .number(mlpSamples[1].median * 1e3),
        "baseline": .number(mlpSamples[0].median * 1e3), "unit": .text("ms per step"),
        "ratio": .number(1 / mlpSamples[1].pairedSpeedup(over: mlpSamples[0])),
        "extra": .text("\(mlp.nodes.count) nodes; baseline: the same kernels called in sequence; target ≤ 1.1×"),
    ])

    // Planning a 10,000-node graph (hash, placement, scheduler preparation, operator actors) and a cache hit.
    let big = try emptyGraph(count: 10_000, wide: false)
    var missTimes: [Double] = []
    var hitTimes: [Double] = []
    var hashTimes: [Double] = []
    for _ in 0..<max(3, options.repetitions / 2) {
        let fresh = try await Engine(actorSystem: system, devices: [cpu])
        var t = monotonicSeconds()
        _ = try await fresh.prepare(big)
        missTimes.append(monotonicSeconds() - t)
        t = monotonicSeconds()
        _ = try await fresh.prepare(big)
        hitTimes.append(monotonicSeconds() - t)
        t = monotonicSeconds()
        benchSink &+= Int64(truncatingIfNeeded: big.structuralHash.low)
        hashTimes.append(monotonicSeconds() - t)
    }
    report.records.append([
        "case": .text("plan a 10,000-node graph (cache miss)"), "engine": .number(Samples(seconds: missTimes).median * 1e3), "unit": .text("ms"),
        "extra": .text("structural hash + placement check + scheduler preparation + 10,000 operator actors"),
    ])
    report.records.append([
        "case": .text("same graph again (plan-cache hit)"), "engine": .number(Samples(seconds: hitTimes).median * 1e3), "unit": .text("ms"),
        "extra": .text("of which the structural hash: \(formatNumber(Samples(seconds: hashTimes).median * 1e3, digits: 2)) ms"),
    ])

    // Two branches on CPU + OpenCL: both at once vs each alone.
    if OpenCLBackend.isAvailable {
        let opencl = DeviceActor(backend: try OpenCLBackend(), kind: .opencl, name: "opencl0", actorSystem: system)
        let both = try await Engine(actorSystem: system, devices: [cpu, opencl])
        func branches(_ which: [String]) throws -> Graph {
            var b = GraphBuilder()
            b.input("x", TensorType([512, 512]))
            var outs: [String] = []
            for branch in which {
                let pin = DevicePin(kind: branch == "a" ? .cpu : .opencl)
                var previous = "x"
                for layer in 0..<4 {
                    b.parameter("\(branch)w\(layer)", TensorType([512, 512]))
                    b.op("\(branch)mm\(layer)", .matmul, [previous, "\(branch)w\(layer)"], on: pin)
                    b.op("\(branch)act\(layer)", .unary(.tanh), ["\(branch)mm\(layer)"], on: pin)
                    previous = "\(branch)act\(layer)"
                }
                outs.append(previous)
            }
            b.outputs(outs)
            return try b.build()
        }
        let graphs = [try branches(["a"]), try branches(["b"]), try branches(["a", "b"])]
        let feeds = try graphs.map { try randomFeeds($0, seed: 9) }
        for (g, f) in zip(graphs, feeds) { _ = try await both.run(g, f) }
        progress("engine: two branches of 4 × (512² matmul + tanh) on CPU and OpenCL")
        let s = try await measureAsync(
            (0..<3).map { i in AsyncContestant(name: "g\(i)") { benchSink &+= Int64(try await both.run(graphs[i], feeds[i]).outputs.count) } },
            repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
        let last = try await both.run(graphs[2], feeds[2]).report
        let sum = s[0].median + s[1].median
        report.records.append([
            "case": .text("two branches, CPU + OpenCL, at once"), "engine": .number(s[2].median * 1e3), "baseline": .number(sum * 1e3),
            "unit": .text("ms (baseline: CPU branch alone + OpenCL branch alone)"), "ratio": .number(s[2].median / sum),
            "extra": .text("alone: CPU \(formatNumber(s[0].median * 1e3, digits: 2)) ms, OpenCL \(formatNumber(s[1].median * 1e3, digits: 2)) ms; utilisation " + zip(last.devices, last.utilisation).map { "\($0.0.device.name) \(Int(($0.1 * 100).rounded())) %" }.joined(separator: ", ")),
        ])
        withExtendedLifetime(opencl) {}
    } else {
        report.notes.append("CPU + OpenCL branches skipped: \(OpenCLBackend.unavailableReason ?? "no OpenCL device").")
    }
    report.notes.append("Medians of \(options.repetitions) repetitions, engine and baseline timed back to back in each; ratios are medians of the paired ratios. One CPU device actor on the in-process transport.")
    withExtendedLifetime(cpu) {}
    return report
}
