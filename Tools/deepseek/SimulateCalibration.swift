import ArgumentParser
import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekRuntime
import DeepseekSimulation
import DeepseekTensor
import DeepseekTraining
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `deepseek simulate --calibrate profile.yaml`: measures this machine as the simulator models
/// it, independently of any run it will predict, and writes a `MachineProfile`.
///
/// - Compute: one process alone trains `--calibration-model` on `--calibration-batch` examples
///   per step through the runtime (engine, device actor, a one-rank `DistributedOptimizer`), as
///   one rank of `deepseek train --nodes` does minus the communication. The forward/backward
///   time beyond the graph's kernels at the measured sgemm and memory rates is the engine's
///   dispatch cost, spread over the graph's nodes (`launch_us`); the optimizer path is timed
///   on its own.
/// - Link: two processes of this binary exchange collective messages through the runtime's
///   `Communicator` over io_uring loopback TCP (two-rank all-reduces of 4 B … 1 MiB); a least
///   squares line through the per-message times gives α and β.
/// - Cores: what the operating system reports.
struct Calibration {
    var model: String
    var batch: Int
    var repetitions: Int
    var executable: String

    /// Runs every measurement and returns the profile.
    func run(log: (String) -> Void) async throws -> MachineProfile {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        log("calibrating the link: two processes, two-rank all-reduces over loopback TCP")
        let link = try await measureLink(log: log)
        log("calibrating compute: \(model), batch \(batch), one process")
        let device = try await measureCompute(log: log)
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        let measured = "deepseek simulate --calibrate (model \(model), batch \(batch)); load average \(fmt(load[0])), \(fmt(load[1])), \(fmt(load[2])) at the start of the compute runs"
        return MachineProfile(name: "this machine (\(cores) cores)", measured: measured, cores: cores, device: device, link: link)
    }

    // MARK: Compute

    func measureCompute(log: (String) -> Void) async throws -> DeviceModel {
        let cpu = CPUBackend()
        KernelBackends.default = cpu
        let zoo = try ModelZoo.build(name: model, batch: batch, materialize: true, seed: 1)
        guard zoo.input.type.dtype == .float32, zoo.input.targets.shape.rank == 1 else {
            throw ValidationError("--calibration-model \(model): calibration trains image or feature classifiers (float input, class labels); pick mlp, lenet or resnet18")
        }
        // Kernel rates: the model's largest linear layer as an sgemm, and a large element-wise add.
        let weight = zoo.module.parameters.filter { $0.value.shape.rank == 2 }.max { $0.value.elementCount < $1.value.elementCount }
        let (k, n) = weight.map { ($0.value.shape[1], $0.value.shape[0]) } ?? (784, 256)
        var rng = SeededRandom(seed: 7)
        let a = try Tensor.normal(Shape([batch, k]), rng: &rng)
        let b = try Tensor.normal(Shape([k, n]), rng: &rng)
        let gemm = try fastest(repetitions * 10) { _ = try a.matmul(b) }
        let flopsPerSecond = 2 * Double(batch * k * n) / gemm
        let x = try Tensor.normal(Shape([1 << 22]), rng: &rng)
        let y = try Tensor.normal(Shape([1 << 22]), rng: &rng)
        let add = try fastest(repetitions * 3) { _ = try x + y }
        let bytesPerSecond = 12 * Double(1 << 22) / add
        log("  sgemm \(batch)×\(k)×\(n): \(fmt(flopsPerSecond / 1e9)) GFLOP/s; add of 4 Mi floats: \(fmt(bytesPerSecond / 1e9)) GB/s")

        // One rank's step through the runtime, with a one-rank distributed optimizer.
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)), settings: ActorSystemSettings())
        try await system.start()
        let device = DeviceActor(backend: cpu, kind: .cpu, name: "cpu0", actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        let inputShape = Array(zoo.input.type.shape.dims.dropFirst())
        let trainer = Trainer(
            model: zoo.module, optimizer: try SGD(learningRate: 0.01), engine: engine,
            settings: TrainerSettings(epochs: 1, batchSize: batch, seed: 1, inputShape: inputShape, prefetch: 0))
        let communicator = await Communicator(group: CollectiveGroup(worldSize: 1), rank: 0, actorSystem: system)
        await communicator.connect()
        let optimizer = try await DistributedOptimizer(zoo.module.parameters, optimizer: .sgd(learningRate: 0.01), communicator: communicator)
        trainer.distributed = optimizer
        let images = try Tensor.normal(Shape([batch] + inputShape), rng: &rng)
        let labels = try Tensor((0..<batch).map { Int64($0 % zoo.input.classes) }, shape: Shape([batch]))
        let miniBatch = MiniBatch(images: images, labels: labels, indices: Array(0..<batch))
        for _ in 0..<5 { _ = try await trainer.trainStep(miniBatch) }
        var compute: [Double] = [], update: [Double] = []
        let cpuStart = processCPUSeconds(), wallStart = ContinuousClock.now
        for _ in 0..<max(20, repetitions * 20) {
            let before = trainer.distributedSeconds
            _ = try await trainer.trainStep(miniBatch)
            let after = trainer.distributedSeconds
            compute.append(after.compute - before.compute)
            update.append(after.synchronization - before.synchronization)
        }
        // What cores share is CPU time: the process's (all its threads') over the same steps.
        let cpuPerWall = (processCPUSeconds() - cpuStart) / (ContinuousClock.now - wallStart).inSeconds
        withExtendedLifetime(device) {}
        await communicator.close()
        await system.shutdown()
        let forwardBackward = quantile(compute), optimizerStep = quantile(update)

        // What the graph's kernels alone would take at the measured rates.
        let shapes = try ModelZoo.build(name: model, batch: batch, materialize: false)
        let workload = try WorkloadProfile(shapes)
        var kernelsOnly = DeviceModel(name: "cpu", fp32: flopsPerSecond, fp16: flopsPerSecond / 4, memoryBandwidth: bytesPerSecond, memoryCapacity: 24e9, launchOverhead: 0, efficiency: 1)
        let kernels = workload.layerSeconds(on: kernelsOnly, precision: .fp32).reduce(0) { $0 + $1.forward + $1.backward }
        let nodes = workload.layers.reduce(0) { $0 + $1.forward.count + $1.backward.count }
        let launch = max(0, forwardBackward - kernels) / Double(max(nodes, 1))
        let parameters = Double(workload.parameterCount)
        log("  step: forward+backward \(fmt(forwardBackward * 1e3)) ms (kernels at those rates \(fmt(kernels * 1e3)) ms, \(nodes) graph nodes → \(fmt(launch * 1e6)) µs each beyond the kernel); optimizer path \(fmt(optimizerStep * 1e3)) ms for \(Int(parameters)) parameters")
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        kernelsOnly.parallelism = min(cores, max(1, cpuPerWall))
        log("  the steps kept \(fmt(cpuPerWall)) cores busy (CPU time / wall time)")
        kernelsOnly.launchOverhead = launch
        kernelsOnly.optimizer = DeviceModel.OptimizerCost(fixed: 0, perParameter: optimizerStep / parameters, perShardParameter: 0)
        kernelsOnly.name = "cpu (measured)"
        return kernelsOnly
    }

    // MARK: Link

    func measureLink(log: (String) -> Void) async throws -> LinkKind {
        let texts = try await runPeers(small: false)
        var link = try fit(texts, log: log)
        // The same small messages while every core spins in another process: how long a woken
        // receiver waits for a core.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var spinners: [Process] = []
        for _ in 0..<cores {
            let spin = Process()
            spin.executableURL = URL(fileURLWithPath: "/bin/sh")
            spin.arguments = ["-c", "while :; do :; done"]
            try spin.run()
            Self.matchPriority(spin)
            spinners.append(spin)
        }
        defer {
            for p in spinners {
                kill(p.processIdentifier, SIGKILL)
                p.waitUntilExit()
            }
        }
        let busy = try await runPeers(small: true)
        let idleSmall = Self.points(texts).first?.1 ?? link.latency
        if let contended = Self.points(busy).first?.1 {
            link.contendedLatency = link.latency + max(0, contended - idleSmall)
            log("  with \(cores) other processes spinning: a \(Int(Self.points(busy).first!.0)) B message takes \(fmt(contended * 1e6)) µs (alone \(fmt(idleSmall * 1e6)) µs)")
        }
        return link
    }

    /// Gives a child this process's scheduling priority (a calibration run under `nice` keeps
    /// its peers and its spinning competitors on equal terms, as the ranks of a job are).
    static func matchPriority(_ child: Process) {
        errno = 0
        let own = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        if errno == 0 { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(child.processIdentifier), own) }
    }

    /// The wall seconds per message of rank 0 by message size.
    static func points(_ texts: [String]) -> [(Double, Double)] {
        texts[0].split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count == 4, f[0] == "calibration-link", let b = Double(f[1]), let s = Double(f[2]) else { return nil }
            return (b, s)
        }
    }

    func runPeers(small: Bool) async throws -> [String] {
        let ports = [try TrainCommand.freeLoopbackPort(), try TrainCommand.freeLoopbackPort()]
        var children: [Process] = []
        let outputs = [Pipe(), Pipe()]
        for r in 0..<2 {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = ["simulate", "--calibration-peer", "\(r)", "--calibration-ports", ports.map(String.init).joined(separator: ","), "--calibration-repetitions", "\(repetitions)"]
                + (small ? ["--calibration-small"] : [])
            child.standardInput = FileHandle.nullDevice
            child.standardOutput = outputs[r]
            try child.run()
            Self.matchPriority(child)
            children.append(child)
        }
        // Read both pipes at once: a peer blocked on a full pipe would stall the other.
        let texts = await withTaskGroup(of: (Int, String).self) { group in
            for (r, pipe) in outputs.enumerated() {
                group.addTask { (r, String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)) }
            }
            var out = ["", ""]
            for await (r, text) in group { out[r] = text }
            return out
        }
        for c in children { c.waitUntilExit() }
        guard children.allSatisfy({ $0.terminationStatus == 0 }) else {
            throw ValidationError("a calibration peer failed (exit \(children.map { String($0.terminationStatus) }.joined(separator: ", "))); is io_uring available here?")
        }
        return texts
    }

    /// α and β by least squares over the per-message times, and the cores a message keeps busy.
    func fit(_ texts: [String], log: (String) -> Void) throws -> LinkKind {
        // Lines "calibration-link <bytes per message> <seconds per message> <CPU seconds per message>"
        // from each peer: the wall time from rank 0, the CPU time of both.
        var points: [(Double, Double)] = []
        var cpu = 0.0, wall = 0.0
        for (r, text) in texts.enumerated() {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ")
                guard f.count == 4, f[0] == "calibration-link", let b = Double(f[1]), let s = Double(f[2]), let c = Double(f[3]) else { continue }
                if r == 0 { points.append((b, s)); wall += s }
                cpu += c
            }
        }
        guard points.count >= 2 else { throw ValidationError("the calibration peers reported \(points.count) link measurements; expected several") }
        for (b, s) in points { log("  message of \(Int(b)) B: \(fmt(s * 1e6)) µs") }
        // Least squares: seconds = α + bytes / β.
        let n = Double(points.count)
        let mx = points.reduce(0) { $0 + $1.0 } / n, my = points.reduce(0) { $0 + $1.1 } / n
        let sxy = points.reduce(0) { $0 + ($1.0 - mx) * ($1.1 - my) }, sxx = points.reduce(0) { $0 + ($1.0 - mx) * ($1.0 - mx) }
        let slope = max(sxy / sxx, 1e-15)
        let alpha = max(0, my - slope * mx)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        // A round carries two messages at once (one each way): both processes' CPU time over
        // the round's time, halved, is what one message in flight keeps busy.
        let perMessage = cpu / 2 / max(wall, 1e-12)
        let load = min(cores, max(0.05, perMessage))
        log("  α = \(fmt(alpha * 1e6)) µs, β = \(fmt(1 / slope / 1e9)) GB/s; a message in flight keeps \(fmt(perMessage)) cores busy")
        return LinkKind(name: "loopback (measured)", bandwidth: 1 / slope, latency: alpha, cpuBound: true, cpuLoad: load)
    }

    func fmt(_ v: Double) -> String { String(format: "%.3g", v) }
}

/// CPU seconds this process (all its threads) has used.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// The `q`-quantile of `values` (nearest rank); calibration reads medians.
func quantile(_ values: [Double], _ q: Double = 0.5) -> Double {
    let s = values.sorted()
    return s.isEmpty ? 0 : s[min(s.count - 1, Int(Double(s.count) * q))]
}

/// The fastest of `count` runs of `body`, after one warm-up run (a kernel's rate).
func fastest(_ count: Int, _ body: () throws -> Void) throws -> Double {
    try body()
    let clock = ContinuousClock()
    var samples: [Double] = []
    for _ in 0..<max(count, 3) {
        let start = clock.now
        try body()
        samples.append((clock.now - start).inSeconds)
    }
    return samples.min() ?? 0
}
