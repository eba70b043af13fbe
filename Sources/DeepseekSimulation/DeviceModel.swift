public import DeepseekGraph
/// A simulated accelerator: peak throughput per dtype, memory bandwidth and capacity, kernel
/// launch overhead — the published figures of a real part (sources in docs/simulation.md).
///
/// An op's time is its roofline: `max(flops / peak(dtype), bytes / bandwidth) + launch`, with
/// FLOPs and bytes from `MetaBackend`. `efficiency` scales the peaks down to what large kernels
/// reach in practice (cuBLAS GEMMs reach ≈ 70–80 % of the tensor-core peak); a measured
/// profile replaces the roofline per kernel kind when given.
public struct DeviceModel: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// Dense peak FLOP/s for fp32 (no tensor cores / TF32 off).
    public var fp32: Double
    /// Dense peak FLOP/s for fp16/bf16 (tensor cores where present).
    public var fp16: Double
    /// Bytes per second of device memory.
    public var memoryBandwidth: Double
    /// Bytes of device memory.
    public var memoryCapacity: Double
    /// Seconds to launch one kernel.
    public var launchOverhead: Double
    /// The fraction of the peaks large kernels reach.
    public var efficiency: Double
    /// Measured seconds per FLOP by kernel kind (`matmul`, `conv2d`, …): replaces the roofline's
    /// compute term for that kind when present.
    public var measuredSecondsPerFlop: [String: Double] = [:]
    /// Seconds of fixed work per training step outside the graph's kernels: tracing the model,
    /// looking up the graph's plan, reading the loss back (0 for accelerators, whose host work
    /// overlaps; measured for this machine by `deepseek simulate --calibrate`).
    public var stepOverhead: Double = 0
    /// The measured cost of the runtime's optimizer step path, replacing the roofline estimate.
    public var optimizer: OptimizerCost?
    /// Cores one device keeps busy while it computes alone: its CPU time over its wall time
    /// (a process whose kernels run on several threads, measured by `--calibrate`). On a
    /// topology with `coresPerNode`, a span of `t` seconds alone is `parallelism · t` seconds of
    /// core work, which it does at up to `parallelism` cores.
    public var parallelism: Double = 1

    /// What the runtime's distributed optimizer step costs on a device, measured: `fixed +
    /// perParameter · parameters + perShardParameter · shard` seconds. Per-parameter work is
    /// what touches every parameter (flattening the gradients, writing the gathered parameters
    /// back); per-shard work is the update of the rank's own slice.
    public struct OptimizerCost: Sendable, Hashable {
        public var fixed: Double
        public var perParameter: Double
        public var perShardParameter: Double
        public init(fixed: Double, perParameter: Double, perShardParameter: Double) {
            (self.fixed, self.perParameter, self.perShardParameter) = (fixed, perParameter, perShardParameter)
        }
    }

    public init(name: String, fp32: Double, fp16: Double, memoryBandwidth: Double, memoryCapacity: Double, launchOverhead: Double, efficiency: Double = 0.75) {
        (self.name, self.fp32, self.fp16, self.memoryBandwidth) = (name, fp32, fp16, memoryBandwidth)
        (self.memoryCapacity, self.launchOverhead, self.efficiency) = (memoryCapacity, launchOverhead, efficiency)
    }

    public var description: String { name }

    /// Peak FLOP/s for a compute precision.
    public func peak(_ precision: ComputePrecision) -> Double { precision == .fp32 ? fp32 : fp16 }

    /// The kind of kernel `op` runs, the key of `measuredSecondsPerFlop` (its signature up to the
    /// first parenthesis or space: `matmul`, `conv2d`).
    public static func kernelKind(of op: GraphOp) -> String { String(op.signature.prefix { $0 != "(" && $0 != " " }) }

    /// Seconds for a kernel of `flops` and `bytes` at `precision`.
    @inline(__always)
    public func seconds(flops: Double, bytes: Double, precision: ComputePrecision, kernel: String? = nil) -> Double {
        let compute: Double
        if let kernel, let measured = measuredSecondsPerFlop[kernel] { compute = flops * measured } else { compute = flops / (peak(precision) * efficiency) }
        return max(compute, bytes / (memoryBandwidth * efficiency)) + launchOverhead
    }

    /// Seconds of one rank's optimizer step over `parameters` scalars, `shard` of them its own:
    /// the measured cost when the profile has one, else mixed-precision Adam streaming about 28
    /// bytes per shard parameter (fp32 master, m, v in and out; 16-bit gradient and weight).
    public func optimizerSeconds(parameters: Double, shard: Double) -> Double {
        if let optimizer { return optimizer.fixed + optimizer.perParameter * parameters + optimizer.perShardParameter * shard }
        return seconds(flops: shard * 10, bytes: shard * 28, precision: .fp32)
    }

    /// NVIDIA A100 SXM4 80 GB: 19.5 TFLOP/s fp32, 312 TFLOP/s fp16/bf16 tensor, 2039 GB/s HBM2e.
    public static let a100 = DeviceModel(name: "a100", fp32: 19.5e12, fp16: 312e12, memoryBandwidth: 2.039e12, memoryCapacity: 80e9, launchOverhead: 4e-6)
    /// NVIDIA H100 SXM5 80 GB: 67 TFLOP/s fp32, 989 TFLOP/s bf16 dense, 3.35 TB/s HBM3.
    public static let h100 = DeviceModel(name: "h100", fp32: 67e12, fp16: 989e12, memoryBandwidth: 3.35e12, memoryCapacity: 80e9, launchOverhead: 4e-6)
    /// NVIDIA H200 SXM 141 GB: H100 compute, 4.8 TB/s HBM3e.
    public static let h200 = DeviceModel(name: "h200", fp32: 67e12, fp16: 989e12, memoryBandwidth: 4.8e12, memoryCapacity: 141e9, launchOverhead: 4e-6)
    /// NVIDIA V100 SXM2 32 GB: 15.7 TFLOP/s fp32, 125 TFLOP/s fp16 tensor, 900 GB/s HBM2.
    public static let v100 = DeviceModel(name: "v100", fp32: 15.7e12, fp16: 125e12, memoryBandwidth: 900e9, memoryCapacity: 32e9, launchOverhead: 5e-6)
    /// NVIDIA P100 SXM2 16 GB: 10.6 TFLOP/s fp32, 21.2 TFLOP/s fp16, 732 GB/s HBM2.
    public static let p100 = DeviceModel(name: "p100", fp32: 10.6e12, fp16: 21.2e12, memoryBandwidth: 732e9, memoryCapacity: 16e9, launchOverhead: 5e-6)
    /// This machine's CPU, one process on one of its 2 cores: the measured figures of
    /// docs/architecture.md (OpenBLAS sgemm ≈ 165 GFLOP/s on one core with the SkylakeX kernel,
    /// memcpy ≈ 10 GB/s), so the peaks are used as they are (`efficiency` 1).
    public static let hostCPU = DeviceModel(name: "cpu", fp32: 165e9, fp16: 165e9 / 4, memoryBandwidth: 10e9, memoryCapacity: 24e9, launchOverhead: 1e-6, efficiency: 1)

    /// The devices a scenario may name.
    public static let catalog: [DeviceModel] = [.a100, .h100, .h200, .v100, .p100, .hostCPU]

    public static func named(_ name: String) -> DeviceModel? { catalog.first { $0.name == name.lowercased() } }
}

/// The number format of compute and of gradients on the wire.
public enum ComputePrecision: String, Sendable, Hashable, CaseIterable {
    case fp32, fp16, bf16
    /// Bytes per value.
    public var bytes: Double { self == .fp32 ? 4 : 2 }
}
