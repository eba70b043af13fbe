import DeepseekModels
import DeepseekTraining

extension Scenario {
    /// Reads a scenario from YAML text.
    ///
    /// - Throws: `SimulationError` naming the field and the line: unknown fields, unknown models,
    ///   devices or links, negative or zero sizes, a layout the cluster cannot hold.
    ///
    /// `cluster.profile` names a measured machine profile (`MachineProfile`): a path relative to
    /// the scenario file's directory, read with `readFile` (default: the file system), or an
    /// inline map.
    public init(yaml text: String, file: String = "scenario", readFile: (String) -> String? = Scenario.readTextFile) throws(SimulationError) {
        let root = try FieldReader(try YAMLParser.parse(text), path: "")
        try root.check(allowed: ["name", "models", "seed", "cluster", "model", "parallelism", "batch", "precision", "optimizer", "collective", "compression", "bucket_mb", "faults", "baseline", "sweep"])
        name = try root.string("name")?.0 ?? file
        models = try root.string("models")?.0 ?? ""
        seed = UInt64(try root.number("seed", min: 0) ?? 0)

        let cluster = try root.required("cluster", try root.sub("cluster"))
        try cluster.check(allowed: [
            "nodes", "devices_per_node", "device", "intra_node", "inter_node", "bandwidth_gbps", "latency_us", "nics_per_node", "topology", "nodes_per_leaf",
            "oversubscription", "profile", "cores_per_node",
        ])
        let profile = try Self.profile(cluster, file: file, readFile: readFile)
        self.profile = profile
        let nodes = try cluster.required("nodes", try cluster.integer("nodes"))
        let perNode = try cluster.integer("devices_per_node") ?? 1
        let deviceName = try cluster.string("device") ?? ("a100", cluster.node.line)
        guard let device = deviceName.0 == "measured" ? profile?.device : DeviceModel.named(deviceName.0) else {
            if deviceName.0 == "measured" {
                throw SimulationError(.invalidField, "line \(deviceName.1): cluster.device \"measured\" needs cluster.profile (a file written by deepseek simulate --calibrate)", field: "cluster.device", line: deviceName.1)
            }
            throw SimulationError(.invalidField, "line \(deviceName.1): unknown device \"\(deviceName.0)\" in cluster.device; known: \(DeviceModel.catalog.map(\.name).joined(separator: ", "))", field: "cluster.device", line: deviceName.1)
        }
        func link(_ key: String, _ fallback: LinkKind) throws(SimulationError) -> LinkKind {
            guard let (s, line) = try cluster.string(key) else { return fallback }
            if s == "measured" {
                guard let profile else {
                    throw SimulationError(.invalidField, "line \(line): cluster.\(key) \"measured\" needs cluster.profile (a file written by deepseek simulate --calibrate)", field: "cluster.\(key)", line: line)
                }
                return profile.link
            }
            guard let k = LinkKind.named(s) else {
                throw SimulationError(.invalidField, "line \(line): unknown link \"\(s)\" in cluster.\(key); known: \(LinkKind.catalog.map(\.name).joined(separator: ", "))", field: "cluster.\(key)", line: line)
            }
            return k
        }
        let intra = try link("intra_node", .nvlink3)
        var inter = try link("inter_node", .infinibandHDR)
        if let gbps = try cluster.number("bandwidth_gbps", positive: true) { inter.bandwidth = gbps * 1e9 / 8; inter.name += "@\(fixed(gbps, 0))G" }
        if let us = try cluster.number("latency_us", min: 0) { inter.latency = us * 1e-6 }
        let fabric: Fabric
        switch try cluster.string("topology") {
        case nil, ("switched", _)?: fabric = .switched
        case ("fat-tree", _)?: fabric = .fatTree(nodesPerLeaf: try cluster.integer("nodes_per_leaf") ?? 16, oversubscription: try cluster.number("oversubscription", positive: true) ?? 1)
        case ("rail", _)?, ("rail-optimized", _)?: fabric = .railOptimized
        case ("ring", _)?: fabric = .ring
        case (let other, let line)?:
            throw SimulationError(.invalidField, "line \(line): unknown cluster.topology \"\(other)\"; use switched, fat-tree, rail or ring", field: "cluster.topology", line: line)
        }
        topology = ClusterTopology(
            nodes: nodes, devicesPerNode: perNode, intraNode: intra, interNode: inter, nicsPerNode: try cluster.integer("nics_per_node") ?? 1, fabric: fabric,
            coresPerNode: try cluster.integer("cores_per_node") ?? profile?.cores)
        self.device = device

        let model = try root.required("model", try root.sub("model"))
        try model.check(allowed: ["name", "size", "tokens"])
        let modelName = try model.required("name", try model.string("name"))
        modelSize = try model.string("size")?.0
        do {
            _ = try ModelZoo.entry(named: modelName.0, size: modelSize)
        } catch {
            throw SimulationError(.invalidField, "line \(modelName.1): model.name: \((error as? ModelZooError)?.message ?? "\(error)")", field: "model.name", line: modelName.1)
        }
        self.modelName = modelName.0
        tokens = try model.integer("tokens")

        let p = try root.sub("parallelism")
        try p?.check(allowed: ["data", "tensor", "pipeline", "microbatches", "zero"])
        layout = ParallelLayout(
            dataParallel: try p?.integer("data") ?? 1, tensorParallel: try p?.integer("tensor") ?? 1, pipelineParallel: try p?.integer("pipeline") ?? 1,
            microbatches: try p?.integer("microbatches") ?? 1, zeroStage: try p?.integer("zero", min: 0) ?? 0)
        if layout.zeroStage > 3 { throw SimulationError(.invalidField, "line \(p!.node["zero"]!.line): parallelism.zero must be 0–3", field: "parallelism.zero", line: p!.node["zero"]!.line) }
        if layout.devices > topology.deviceCount {
            let line = p?.node.line ?? cluster.node.line
            throw SimulationError(
                .invalidField,
                "line \(line): parallelism needs \(layout.devices) devices (data \(layout.dataParallel) × tensor \(layout.tensorParallel) × pipeline \(layout.pipelineParallel)) but cluster has \(topology.deviceCount) (\(nodes) nodes × \(perNode)); raise cluster.nodes or lower the parallelism",
                field: "parallelism", line: line)
        }
        let batch = try root.sub("batch")
        try batch?.check(allowed: ["microbatch"])
        microbatchSize = try batch?.integer("microbatch") ?? 1

        if let (s, line) = try root.string("precision") {
            guard let v = ComputePrecision(rawValue: s) else { throw SimulationError(.invalidField, "line \(line): precision must be fp32, fp16 or bf16, got \"\(s)\"", field: "precision", line: line) }
            precision = v
        } else {
            precision = .bf16
        }
        optimizer = try root.string("optimizer")?.0 ?? "adam"
        if !["adam", "adamw", "lamb", "sgd"].contains(optimizer) {
            throw SimulationError(.invalidField, "line \(root.node["optimizer"]!.line): optimizer must be adam, adamw, lamb or sgd", field: "optimizer", line: root.node["optimizer"]!.line)
        }
        if let (s, line) = try root.string("collective") {
            guard let a = CollectiveAlgorithm(rawValue: s) else { throw SimulationError(.invalidField, "line \(line): collective must be ring, hierarchical or tree, got \"\(s)\"", field: "collective", line: line) }
            algorithm = a
        } else {
            algorithm = .ring
        }
        bucketBytes = (try root.number("bucket_mb", positive: true) ?? 25) * 1e6
        compression = .none
        if let c = try root.sub("compression") {
            try c.check(allowed: ["type", "density"])
            if try c.string("type")?.0 == "topk" {
                let d = try c.number("density", positive: true) ?? 0.01
                if d > 1 { throw SimulationError(.invalidField, "line \(c.node["density"]!.line): compression.density must be in (0, 1]", field: "compression.density", line: c.node["density"]!.line) }
                compression = .topK(density: d)
            }
        }
        faults = try Self.faults(root.sub("faults"), nodes: nodes)
        baselineDataParallel = try root.sub("baseline").flatMap { b throws(SimulationError) in try b.integer("data") }
        if let s = try root.sub("sweep") {
            try s.check(allowed: ["parameter", "values"])
            let (parameter, line) = try s.required("parameter", try s.string("parameter"))
            guard ["data", "nodes", "bandwidth_gbps", "density", "zero"].contains(parameter) else {
                throw SimulationError(.invalidField, "line \(line): sweep.parameter must be data, nodes, bandwidth_gbps, density or zero", field: "sweep.parameter", line: line)
            }
            guard case .list(let items, let listLine)? = s.node["values"], !items.isEmpty else {
                throw SimulationError(.invalidField, "line \(s.node.line): sweep.values must be a non-empty list", field: "sweep.values", line: s.node.line)
            }
            var values: [Double] = []
            for item in items {
                guard let v = Double(item.description), v >= 0 else {
                    throw SimulationError(.invalidField, "line \(item.line): sweep.values must be numbers ≥ 0, got \(item.description)", field: "sweep.values", line: item.line == 0 ? listLine : item.line)
                }
                values.append(v)
            }
            sweep = (parameter, values)
        }
    }

    /// The measured machine profile `cluster.profile` names, if any.
    static func profile(_ cluster: FieldReader, file: String, readFile: (String) -> String?) throws(SimulationError) -> MachineProfile? {
        guard let node = cluster.node["profile"] else { return nil }
        if case .map = node { return try MachineProfile(node, path: "cluster.profile") }
        guard case .scalar(let path, let line) = node else {
            throw SimulationError(.invalidField, "line \(node.line): cluster.profile must be a file name or a map", field: "cluster.profile", line: node.line)
        }
        let directory = file.contains("/") ? String(file[..<file.lastIndex(of: "/")!]) : "."
        let resolved = path.hasPrefix("/") ? path : directory + "/" + path
        guard let text = readFile(resolved) else {
            throw SimulationError(
                .invalidField, "line \(line): cluster.profile: cannot read \(resolved); measure this machine with `deepseek simulate --calibrate \(resolved)`",
                field: "cluster.profile", line: line)
        }
        do throws(SimulationError) {
            return try MachineProfile(yaml: text, file: resolved)
        } catch {
            throw SimulationError(.invalidField, "line \(line): cluster.profile \(resolved): \(error.message)", field: "cluster.profile", line: line)
        }
    }

    static func faults(_ f: FieldReader?, nodes: Int) throws(SimulationError) -> FaultSchedule {
        var s = FaultSchedule()
        guard let f else { return s }
        try f.check(allowed: ["drop", "retransmit_ms", "delay_probability", "delay_ms", "jitter_us", "timeout_ms", "crashes", "partitions"])
        s.dropProbability = try f.number("drop", min: 0) ?? 0
        s.retransmitTimeout = (try f.number("retransmit_ms", positive: true) ?? 200) * 1e-3
        s.delayProbability = try f.number("delay_probability", min: 0) ?? 0
        s.delaySeconds = (try f.number("delay_ms", min: 0) ?? 0) * 1e-3
        s.reorderJitter = (try f.number("jitter_us", min: 0) ?? 0) * 1e-6
        s.failureTimeout = (try f.number("timeout_ms", positive: true) ?? 1000) * 1e-3
        if s.dropProbability >= 1 { throw SimulationError(.invalidField, "line \(f.node["drop"]!.line): faults.drop must be below 1", field: "faults.drop", line: f.node["drop"]!.line) }
        func items(_ key: String) throws(SimulationError) -> [FieldReader] {
            guard let n = f.node[key] else { return [] }
            guard case .list(let list, _) = n else { throw SimulationError(.invalidField, "line \(n.line): faults.\(key) must be a list", field: "faults.\(key)", line: n.line) }
            var out: [FieldReader] = []
            for item in list { out.append(try FieldReader(item, path: "faults.\(key)")) }
            return out
        }
        for c in try items("crashes") {
            try c.check(allowed: ["node", "at_ms"])
            let node = try c.required("node", try c.integer("node", min: 0))
            guard node < nodes else { throw SimulationError(.invalidField, "line \(c.node.line): faults.crashes.node \(node) is outside the cluster's \(nodes) nodes", field: "faults.crashes.node", line: c.node.line) }
            s.crashes.append(.init(node: node, at: (try c.required("at_ms", try c.number("at_ms", min: 0))) * 1e-3))
        }
        for p in try items("partitions") {
            try p.check(allowed: ["nodes", "start_ms", "end_ms"])
            guard case .list(let ns, _)? = p.node["nodes"] else { throw SimulationError(.invalidField, "line \(p.node.line): faults.partitions.nodes must be a list", field: "faults.partitions.nodes", line: p.node.line) }
            let start = try p.number("start_ms", min: 0) ?? 0
            let end = try p.number("end_ms", min: start) ?? .infinity
            s.partitions.append(.init(nodes: ns.compactMap { Int($0.description) }, start: start * 1e-3, end: end * 1e-3))
        }
        return s
    }
}
