/// A kind of link, with the bandwidth and latency its published specifications give.
///
/// Bandwidths are per direction, in bytes per second; latencies are one-way small-message
/// latencies including the software stack a collective library sees. Sources are listed in
/// docs/simulation.md.
public struct LinkKind: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// Bytes per second, one direction.
    public var bandwidth: Double
    /// One-way latency in seconds.
    public var latency: Double
    /// Whether carrying a message is work of the endpoints' processors rather than of a
    /// separate wire: loopback TCP between processes on one host, where every byte is copied by
    /// the kernel and every message wakes a process. On a topology with `coresPerNode`, such a
    /// message costs `latency + bytes / bandwidth` seconds of one core, shared with the node's
    /// compute (see `ClusterTopology.coresPerNode`), at `cpuLoad` cores.
    public var cpuBound: Bool
    /// For a `cpuBound` link: cores a message in flight keeps busy, sender and receiver
    /// together (their CPU time over the message's one-way time, measured).
    public var cpuLoad: Double
    /// For a `cpuBound` link: the one-way latency of a small message while every core of the
    /// node is busy with other work (measured with spinning threads). What exceeds `latency` is
    /// waiting for the scheduler to give the woken receiver a core; a message that starts while
    /// its node has more running work than cores is delivered that much later.
    public var contendedLatency: Double?

    public init(name: String, bandwidth: Double, latency: Double, cpuBound: Bool = false, cpuLoad: Double = 1, contendedLatency: Double? = nil) {
        (self.name, self.bandwidth, self.latency, self.cpuBound, self.cpuLoad) = (name, bandwidth, latency, cpuBound, cpuLoad)
        self.contendedLatency = contendedLatency
    }

    public var description: String { "\(name) (\(bandwidth * 8 / 1e9) Gb/s, \(latency * 1e6) µs)" }

    /// NVLink 3 (A100): 12 links × 25 GB/s per direction = 300 GB/s.
    public static let nvlink3 = LinkKind(name: "nvlink3", bandwidth: 300e9, latency: 2e-6)
    /// NVLink 4 (H100/H200): 18 links × 25 GB/s = 450 GB/s per direction.
    public static let nvlink4 = LinkKind(name: "nvlink4", bandwidth: 450e9, latency: 2e-6)
    /// NVLink 2 (V100): 6 links × 25 GB/s = 150 GB/s per direction.
    public static let nvlink2 = LinkKind(name: "nvlink2", bandwidth: 150e9, latency: 2.5e-6)
    /// NVLink 1 (P100): 4 links × 20 GB/s = 80 GB/s per direction.
    public static let nvlink1 = LinkKind(name: "nvlink1", bandwidth: 80e9, latency: 3e-6)
    /// PCIe 4.0 x16: 31.5 GB/s per direction (≈ 25 GB/s achieved).
    public static let pcie4 = LinkKind(name: "pcie4", bandwidth: 25e9, latency: 5e-6)
    /// PCIe 3.0 x16: 15.75 GB/s per direction (≈ 12 GB/s achieved).
    public static let pcie3 = LinkKind(name: "pcie3", bandwidth: 12e9, latency: 5e-6)
    /// InfiniBand HDR, 200 Gb/s per port.
    public static let infinibandHDR = LinkKind(name: "ib-hdr", bandwidth: 25e9, latency: 1.5e-6)
    /// InfiniBand NDR, 400 Gb/s per port.
    public static let infinibandNDR = LinkKind(name: "ib-ndr", bandwidth: 50e9, latency: 1.5e-6)
    /// InfiniBand EDR, 100 Gb/s per port.
    public static let infinibandEDR = LinkKind(name: "ib-edr", bandwidth: 12.5e9, latency: 1.5e-6)
    /// RoCE v2 over 100 Gb/s Ethernet (RDMA: kernel bypass).
    public static let roce100 = LinkKind(name: "roce-100g", bandwidth: 12.5e9, latency: 3e-6)
    /// TCP over 100 Gb/s Ethernet (kernel stack: higher latency, ≈ 80 % of line rate).
    public static let tcp100 = LinkKind(name: "tcp-100g", bandwidth: 10e9, latency: 25e-6)
    /// TCP over 10 Gb/s Ethernet.
    public static let ethernet10 = LinkKind(name: "ethernet-10g", bandwidth: 1.18e9, latency: 30e-6)
    /// TCP over 1 Gb/s Ethernet.
    public static let ethernet1 = LinkKind(name: "ethernet-1g", bandwidth: 0.118e9, latency: 50e-6)
    /// Loopback TCP between processes on this 2-core machine (measured: ≈ 75 µs cross-core ping-pong / 2).
    public static let loopback = LinkKind(name: "loopback", bandwidth: 2e9, latency: 37e-6, cpuBound: true)

    /// The named link kinds a scenario may use.
    public static let catalog: [LinkKind] = [
        .nvlink1, .nvlink2, .nvlink3, .nvlink4, .pcie3, .pcie4, .infinibandEDR, .infinibandHDR, .infinibandNDR, .roce100, .tcp100,
        .ethernet10, .ethernet1, .loopback,
    ]

    public static func named(_ name: String) -> LinkKind? { catalog.first { $0.name == name.lowercased() } }
}

/// How nodes are wired to each other.
public enum Fabric: Sendable, Hashable, CustomStringConvertible {
    /// Every node's NIC into one non-blocking switch.
    case switched
    /// Two-level fat tree: `nodesPerLeaf` nodes per leaf switch; leaf uplinks carry
    /// `nodesPerLeaf × NIC / oversubscription` (1 = full bisection).
    case fatTree(nodesPerLeaf: Int, oversubscription: Double)
    /// Rail-optimised: one NIC per device; NIC `l` of every node on rail switch `l`. Traffic to
    /// another rail first crosses NVLink to the local device on the destination's rail.
    case railOptimized
    /// Nodes in a physical ring; a message takes the shorter direction, hop by hop.
    case ring

    public var description: String {
        switch self {
        case .switched: "switched"
        case .fatTree(let n, let o): "fat-tree (\(n) nodes per leaf, \(o):1)"
        case .railOptimized: "rail-optimised"
        case .ring: "ring"
        }
    }
}

/// The cluster's shape: nodes × devices, the link inside a node and the link between nodes.
public struct ClusterTopology: Sendable, Hashable {
    public var nodes: Int
    public var devicesPerNode: Int
    /// Device-to-device link inside a node (per device port).
    public var intraNode: LinkKind
    /// Node-to-network link (per NIC).
    public var interNode: LinkKind
    /// NICs per node (not used with `.railOptimized`, which has one per device).
    public var nicsPerNode: Int
    public var fabric: Fabric
    /// Processor cores a node's devices share, when devices are processes on a host rather than
    /// accelerators: `nil` gives every device its own compute (GPUs). With cores set, every
    /// compute span of a device is work of one core that the node's running spans share
    /// fairly — each runs at `min(1, cores / running)` of a core (processor sharing) — and
    /// messages over a `cpuBound` link take their share of the same cores.
    public var coresPerNode: Int?

    public init(
        nodes: Int, devicesPerNode: Int, intraNode: LinkKind, interNode: LinkKind, nicsPerNode: Int = 1, fabric: Fabric = .switched, coresPerNode: Int? = nil
    ) {
        (self.nodes, self.devicesPerNode, self.intraNode, self.interNode) = (nodes, devicesPerNode, intraNode, interNode)
        (self.nicsPerNode, self.fabric, self.coresPerNode) = (nicsPerNode, fabric, coresPerNode)
    }

    public var deviceCount: Int { nodes * devicesPerNode }
    public func node(of device: Int) -> Int { device / devicesPerNode }
}

/// The links of a topology and the path between any two devices.
public struct NetworkModel: Sendable {
    /// One directed link.
    public struct Link: Sendable, Hashable {
        public var name: String
        public var capacity: Double
    }

    public let topology: ClusterTopology
    public private(set) var links: [Link] = []
    // Link index bases (-1: absent). Processor resources, with `coresPerNode`: `core` (the
    // cores a device's compute can use), `sender` (those its messages keep busy), `cpu` (the
    // node's cores, shared by both). Their capacities are in cores and what flows over them is
    // seconds of one core's work.
    let devUp: Int, devDown: Int, nicUp: Int, nicDown: Int, leafUp: Int, leafDown: Int, ringCW: Int, ringCCW: Int
    let core: Int, sender: Int, cpu: Int

    /// Cores a device's compute keeps busy alone (`DeviceModel.parallelism`).
    public let computeParallelism: Double

    public init(_ t: ClusterTopology, computeParallelism: Double = 1) {
        topology = t
        self.computeParallelism = computeParallelism
        var links: [Link] = []
        func add(_ count: Int, _ name: (Int) -> String, _ capacity: Double) -> Int {
            let base = links.count
            for i in 0..<count { links.append(Link(name: name(i), capacity: capacity)) }
            return base
        }
        let d = t.deviceCount
        devUp = add(d, { "dev\($0).\(t.intraNode.name).tx" }, t.intraNode.bandwidth)
        devDown = add(d, { "dev\($0).\(t.intraNode.name).rx" }, t.intraNode.bandwidth)
        let perNodeNIC = t.interNode.bandwidth * Double(max(1, t.nicsPerNode))
        switch t.fabric {
        case .railOptimized:
            nicUp = add(d, { "dev\($0).nic.tx" }, t.interNode.bandwidth)
            nicDown = add(d, { "dev\($0).nic.rx" }, t.interNode.bandwidth)
            (leafUp, leafDown, ringCW, ringCCW) = (-1, -1, -1, -1)
        case .ring:
            (nicUp, nicDown, leafUp, leafDown) = (-1, -1, -1, -1)
            ringCW = add(t.nodes, { "node\($0)→node\(($0 + 1) % t.nodes)" }, perNodeNIC)
            ringCCW = add(t.nodes, { "node\($0)→node\(($0 + t.nodes - 1) % t.nodes)" }, perNodeNIC)
        case .switched:
            nicUp = add(t.nodes, { "node\($0).nic.tx" }, perNodeNIC)
            nicDown = add(t.nodes, { "node\($0).nic.rx" }, perNodeNIC)
            (leafUp, leafDown, ringCW, ringCCW) = (-1, -1, -1, -1)
        case .fatTree(let perLeaf, let over):
            nicUp = add(t.nodes, { "node\($0).nic.tx" }, perNodeNIC)
            nicDown = add(t.nodes, { "node\($0).nic.rx" }, perNodeNIC)
            let leaves = (t.nodes + perLeaf - 1) / perLeaf
            let uplink = Double(perLeaf) * perNodeNIC / max(over, 1e-9)
            leafUp = add(leaves, { "leaf\($0).up" }, uplink)
            leafDown = add(leaves, { "leaf\($0).down" }, uplink)
            (ringCW, ringCCW) = (-1, -1)
        }
        if let cores = t.coresPerNode {
            core = add(d, { "dev\($0).compute" }, computeParallelism)
            let messaging = t.intraNode.cpuBound ? t.intraNode.cpuLoad : t.interNode.cpuLoad
            sender = add(d, { "dev\($0).messages" }, messaging)
            cpu = add(t.nodes, { "node\($0).cpu (\(cores) cores)" }, Double(cores))
        } else {
            (core, sender, cpu) = (-1, -1, -1)
        }
        self.links = links
    }

    /// The link of `node`'s shared cores, with their count, when the topology has them.
    public func cores(of node: Int) -> (link: Int, count: Int)? { cpu >= 0 ? (cpu + node, topology.coresPerNode ?? 1) : nil }

    /// Whether `index` is a processor resource (its load is core-seconds, not bytes).
    public func isProcessor(_ index: Int) -> Bool { cpu >= 0 && index >= core }

    /// The processor resources a compute span of `device` uses, or `nil` when devices have
    /// their own compute (no `coresPerNode`).
    public func computePath(device: Int) -> [Int32]? {
        guard cpu >= 0 else { return nil }
        return [Int32(core + device), Int32(cpu + topology.node(of: device))]
    }

    /// The link kind a message from `a` to `b` travels over.
    public func linkKind(from a: Int, to b: Int) -> LinkKind { topology.node(of: a) == topology.node(of: b) ? topology.intraNode : topology.interNode }

    /// What a message of `bytes` puts on its path: its bytes, or — over a `cpuBound` link on a
    /// topology with cores — the core-seconds its endpoints spend on it (`latency + bytes /
    /// bandwidth`, the one-way time measured between two otherwise idle processes).
    public func work(bytes: Double, from a: Int, to b: Int) -> Double {
        let kind = linkKind(from: a, to: b)
        guard cpu >= 0, kind.cpuBound else { return bytes }
        return kind.cpuLoad * (kind.latency + bytes / kind.bandwidth)
    }

    /// The links a message from device `a` to device `b` crosses, and its one-way latency.
    public func path(from a: Int, to b: Int) -> (links: [Int32], latency: Double) {
        let t = topology
        let (na, nb) = (t.node(of: a), t.node(of: b))
        if cpu >= 0 && linkKind(from: a, to: b).cpuBound {
            // The message is processor work of the sender's messaging and both nodes' cores; its
            // latency is part of that work (`work(bytes:from:to:)`).
            return (na == nb ? [Int32(sender + a), Int32(cpu + na)] : [Int32(sender + a), Int32(cpu + na), Int32(cpu + nb)], 0)
        }
        if na == nb { return ([Int32(devUp + a), Int32(devDown + b)], t.intraNode.latency) }
        switch t.fabric {
        case .switched:
            return ([Int32(nicUp + na), Int32(nicDown + nb)], t.interNode.latency)
        case .fatTree(let perLeaf, _):
            let (la, lb) = (na / perLeaf, nb / perLeaf)
            if la == lb { return ([Int32(nicUp + na), Int32(nicDown + nb)], t.interNode.latency) }
            return ([Int32(nicUp + na), Int32(leafUp + la), Int32(leafDown + lb), Int32(nicDown + nb)], t.interNode.latency + 1e-6)
        case .railOptimized:
            let (ra, rb) = (a % t.devicesPerNode, b % t.devicesPerNode)
            if ra == rb { return ([Int32(nicUp + a), Int32(nicDown + b)], t.interNode.latency) }
            // PXN: hop over NVLink to the local device on the destination's rail, then the rail.
            let proxy = na * t.devicesPerNode + rb
            return ([Int32(devUp + a), Int32(devDown + proxy), Int32(nicUp + proxy), Int32(nicDown + b)], t.interNode.latency + t.intraNode.latency)
        case .ring:
            let n = t.nodes
            let forward = (nb - na + n) % n
            var path: [Int32] = []
            if forward <= n - forward {
                for h in 0..<forward { path.append(Int32(ringCW + (na + h) % n)) }
            } else {
                for h in 0..<(n - forward) { path.append(Int32(ringCCW + (na - h + n) % n)) }
            }
            return (path, Double(path.count) * t.interNode.latency)
        }
    }
}
