/// A machine measured rather than looked up: its cores, the device model of one process and the
/// link between two of its processes, as `deepseek simulate --calibrate` measures them and
/// writes them to a YAML file a scenario names in `cluster.profile`.
///
/// ```yaml
/// name: this machine
/// measured: deepseek simulate --calibrate … (load average 1.1)
/// cores: 2
/// device:
///   flops_per_second: 1.3e11     # sgemm at the calibration model's shapes, one process
///   bytes_per_second: 9.5e9      # a large element-wise kernel
///   launch_us: 31                # per graph node: the engine's dispatch through actors
///   step_overhead_us: 900        # per step: tracing, plan lookup, loss read-back
///   optimizer_fixed_us: 120
///   optimizer_ns_per_parameter: 2.1
///   optimizer_ns_per_shard_parameter: 1.4
///   parallelism: 1.6             # cores the step keeps busy: CPU time / wall time
/// link:
///   latency_us: 55               # α: one collective message between two processes
///   bandwidth_gbps: 20           # β: its bytes
///   cpu_load: 0.8                # cores a message in flight keeps busy
///   contended_latency_us: 900    # a small message while every core runs other work
/// ```
///
/// The device's figures are one process alone on the machine; a scenario with `cores` shares
/// them among the processes of a node (`ClusterTopology.coresPerNode`): what is shared is CPU
/// time, measured as such. The link is CPU-bound: a message costs the cores
/// `cpu_load · (latency + bytes / bandwidth)` core-seconds.
public struct MachineProfile: Sendable, Hashable {
    public var name: String
    /// How and when the figures were measured.
    public var measured: String
    public var cores: Int
    public var device: DeviceModel
    public var link: LinkKind

    public init(name: String, measured: String, cores: Int, device: DeviceModel, link: LinkKind) {
        (self.name, self.measured, self.cores, self.device, self.link) = (name, measured, cores, device, link)
    }

    /// Reads a profile from YAML.
    ///
    /// - Throws: `SimulationError` naming the field and line of a missing, unknown or negative figure.
    public init(yaml text: String, file: String = "profile") throws(SimulationError) {
        try self.init(try YAMLParser.parse(text), path: "")
    }

    init(_ node: YAMLNode, path: String) throws(SimulationError) {
        let root = try FieldReader(node, path: path)
        try root.check(allowed: ["name", "measured", "cores", "device", "link"])
        name = try root.string("name")?.0 ?? "measured machine"
        measured = try root.string("measured")?.0 ?? ""
        cores = try root.required("cores", try root.integer("cores"))
        let d = try root.required("device", try root.sub("device"))
        try d.check(allowed: [
            "flops_per_second", "bytes_per_second", "memory_gb", "launch_us", "step_overhead_us", "optimizer_fixed_us", "optimizer_ns_per_parameter",
            "optimizer_ns_per_shard_parameter", "parallelism",
        ])
        let flops = try d.required("flops_per_second", try d.number("flops_per_second", positive: true))
        var device = DeviceModel(
            name: "cpu (measured)", fp32: flops, fp16: flops / 4, memoryBandwidth: try d.required("bytes_per_second", try d.number("bytes_per_second", positive: true)),
            memoryCapacity: (try d.number("memory_gb", positive: true) ?? 24) * 1e9, launchOverhead: (try d.number("launch_us", min: 0) ?? 0) * 1e-6, efficiency: 1)
        device.stepOverhead = (try d.number("step_overhead_us", min: 0) ?? 0) * 1e-6
        device.parallelism = try d.number("parallelism", positive: true) ?? 1
        if let fixed = try d.number("optimizer_fixed_us", min: 0) {
            device.optimizer = DeviceModel.OptimizerCost(
                fixed: fixed * 1e-6, perParameter: (try d.number("optimizer_ns_per_parameter", min: 0) ?? 0) * 1e-9,
                perShardParameter: (try d.number("optimizer_ns_per_shard_parameter", min: 0) ?? 0) * 1e-9)
        }
        self.device = device
        let l = try root.required("link", try root.sub("link"))
        try l.check(allowed: ["latency_us", "bandwidth_gbps", "cpu_load", "contended_latency_us"])
        link = LinkKind(
            name: "loopback (measured)", bandwidth: try l.required("bandwidth_gbps", try l.number("bandwidth_gbps", positive: true)) * 1e9 / 8,
            latency: try l.required("latency_us", try l.number("latency_us", min: 0)) * 1e-6, cpuBound: true,
            cpuLoad: try l.number("cpu_load", positive: true) ?? 1, contendedLatency: try l.number("contended_latency_us", min: 0).map { $0 * 1e-6 })
    }

    /// The profile as YAML that `init(yaml:)` reads back, with a comment on every figure.
    public func yaml() -> String {
        func g(_ v: Double) -> String { shortest(v) }
        var o = "# A measured machine profile for deepseek simulate (cluster.profile); docs/simulation.md.\n"
        o += "name: \(quoted(name))\nmeasured: \(quoted(measured))\ncores: \(cores)\n"
        o += "device:\n"
        o += "  flops_per_second: \(g(device.fp32))  # sgemm at the calibration model's shapes, one process alone\n"
        o += "  bytes_per_second: \(g(device.memoryBandwidth))  # a large element-wise kernel\n"
        o += "  memory_gb: \(g(device.memoryCapacity / 1e9))\n"
        o += "  launch_us: \(g(device.launchOverhead * 1e6))  # per graph node: the engine's dispatch beyond the kernel\n"
        o += "  parallelism: \(g(device.parallelism))  # cores a step keeps busy alone: CPU time / wall time\n"
        o += "  step_overhead_us: \(g(device.stepOverhead * 1e6))  # per step: trace the model, find its plan, read the loss\n"
        if let c = device.optimizer {
            o += "  optimizer_fixed_us: \(g(c.fixed * 1e6))  # the distributed optimizer's step path, without communication\n"
            o += "  optimizer_ns_per_parameter: \(g(c.perParameter * 1e9))\n"
            o += "  optimizer_ns_per_shard_parameter: \(g(c.perShardParameter * 1e9))\n"
        }
        o += "link:  # one collective message between two processes (the Communicator over loopback TCP)\n"
        o += "  latency_us: \(g(link.latency * 1e6))\n"
        o += "  bandwidth_gbps: \(g(link.bandwidth * 8 / 1e9))\n"
        o += "  cpu_load: \(g(link.cpuLoad))  # cores a message in flight keeps busy (both processes' CPU time / its time)\n"
        if let c = link.contendedLatency { o += "  contended_latency_us: \(g(c * 1e6))  # a small message while every core runs other work\n" }
        return o
    }

    func quoted(_ s: String) -> String { "\"" + s.replacingOccurrences("\"", with: "'") + "\"" }
}

extension String {
    func replacingOccurrences(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

/// A number with 4 significant digits that the YAML reader parses back: plain decimals from
/// 0.001 to 10^7, else `m.mmme±x`.
func shortest(_ v: Double) -> String {
    guard v.isFinite, v != 0 else { return "0" }
    var exponent = 0
    var m = abs(v)
    while m >= 10 { m /= 10; exponent += 1 }
    while m < 1 { m *= 10; exponent -= 1 }
    if exponent >= -3 && exponent < 7 { return fixed(v, max(0, 3 - exponent)) }
    return (v < 0 ? "-" : "") + fixed(m, 3) + "e\(exponent)"
}
