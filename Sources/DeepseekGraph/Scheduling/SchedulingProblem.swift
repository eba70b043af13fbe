/// The index of a device in a scheduling problem's device table, printed `device 3`.
///
/// Device IDs are dense, so scheduler tables are arrays indexed by `index`.
public struct DeviceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int
    public init(_ index: Int) { self.index = index }
    public static func < (a: Self, b: Self) -> Bool { a.index < b.index }
    public var description: String { "device \(index)" }
}

/// The input of the scheduler: operator nodes, the tensor values between them, the devices that
/// can run them (each in one process) and an estimate of what each node costs on each device kind.
///
/// The problem speaks only of integer indices and strings, so any graph representation can be
/// adapted to it: number the nodes and values, say which values each node reads and writes, list
/// the devices, and fill the cost table from a cost model. A node's index is its position in
/// `nodes`; a value's index is its position in `values`.
///
/// A value with no producer is a graph input or parameter, held by the process `homeProcess`
/// before the run starts; its storage belongs to the caller.
///
/// ```swift
/// var problem = SchedulingProblem()
/// let cpu = problem.addDevice(kind: "cpu")
/// let x = problem.addValue(byteCount: 4096)                     // graph input on process 0
/// let h = problem.addValue(byteCount: 4096)
/// let y = problem.addValue(byteCount: 4096, isGraphOutput: true)
/// let a = problem.addNode("a", op: "relu", inputs: [x], outputs: [h])
/// let b = problem.addNode("b", op: "exp", inputs: [h], outputs: [y])
/// problem.costs[node: a, kind: "cpu"] = 0.001
/// problem.costs[node: b, kind: "cpu"] = 0.002
/// let prepared = try PreparedProblem(problem)   // validates and ranks once
/// ```
///
/// `addValue` leaves `producer` unset; `addNode` fills it in for the node's outputs.
public struct SchedulingProblem: Sendable, Hashable {
    /// One operator node.
    public struct Node: Sendable, Hashable {
        /// The author's name, used in messages and reports.
        public var name: String
        /// The operator's label (`matmul`, `relu`, …), used in messages and per-op counts.
        public var op: String
        /// Value indices the node reads (repeats allowed).
        public var inputs: [Int]
        /// Value indices the node writes; each value is written by exactly one node.
        public var outputs: [Int]
        /// Run only on this device.
        public var pinnedDevice: DeviceID?
        /// Run only on a device of this process.
        public var pinnedProcess: Int?
        /// Run only on a device of this kind.
        public var pinnedKind: String?

        public init(
            name: String, op: String, inputs: [Int], outputs: [Int],
            pinnedDevice: DeviceID? = nil, pinnedProcess: Int? = nil, pinnedKind: String? = nil
        ) {
            self.name = name
            self.op = op
            self.inputs = inputs
            self.outputs = outputs
            self.pinnedDevice = pinnedDevice
            self.pinnedProcess = pinnedProcess
            self.pinnedKind = pinnedKind
        }
    }

    /// One tensor value (an edge of the graph).
    public struct Value: Sendable, Hashable {
        /// The size of the tensor, which prices a transfer between processes.
        public var byteCount: Int
        /// The node that writes the value, or nil for a graph input or parameter.
        public var producer: Int?
        /// For a graph input or parameter, the process that holds it before the run; ignored for
        /// produced values, which appear where their producer ran.
        public var homeProcess: Int
        /// Whether the caller reads the value after the run; outputs are never freed.
        public var isGraphOutput: Bool

        public init(byteCount: Int, producer: Int? = nil, homeProcess: Int = 0, isGraphOutput: Bool = false) {
            self.byteCount = byteCount
            self.producer = producer
            self.homeProcess = homeProcess
            self.isGraphOutput = isGraphOutput
        }
    }

    /// One compute device.
    public struct Device: Sendable, Hashable {
        /// The device kind (`cpu`, `opencl`, …); costs are estimated per kind.
        public var kind: String
        /// The rank of the process (cluster node) the device belongs to.
        public var process: Int

        public init(kind: String, process: Int = 0) {
            self.kind = kind
            self.process = process
        }
    }

    /// All nodes, indexed by node index.
    public var nodes: [Node]
    /// All values, indexed by value index.
    public var values: [Value]
    /// All devices, indexed by `DeviceID.index`.
    public var devices: [Device]
    /// Estimated seconds per node and device kind; a missing entry means the kind lacks the op.
    public var costs: CostTable
    /// Estimated seconds to move one byte between two processes.
    public var transferSecondsPerByte: Double
    /// Estimated fixed seconds per transfer between two processes, whatever its size.
    public var transferLatencySeconds: Double

    public init(
        nodes: [Node] = [], values: [Value] = [], devices: [Device] = [], costs: CostTable = CostTable(),
        transferSecondsPerByte: Double = 0, transferLatencySeconds: Double = 0
    ) {
        self.nodes = nodes
        self.values = values
        self.devices = devices
        self.costs = costs
        self.transferSecondsPerByte = transferSecondsPerByte
        self.transferLatencySeconds = transferLatencySeconds
    }

    /// Appends a device and returns its ID.
    @discardableResult
    public mutating func addDevice(kind: String, process: Int = 0) -> DeviceID {
        devices.append(Device(kind: kind, process: process))
        return DeviceID(devices.count - 1)
    }

    /// Appends a value and returns its index. Its producer is set by `addNode`.
    @discardableResult
    public mutating func addValue(byteCount: Int, homeProcess: Int = 0, isGraphOutput: Bool = false) -> Int {
        values.append(Value(byteCount: byteCount, homeProcess: homeProcess, isGraphOutput: isGraphOutput))
        return values.count - 1
    }

    /// Appends a node, records it as the producer of its in-range outputs, and returns its index.
    ///
    /// Out-of-range indices are kept as given so that validation can report them.
    @discardableResult
    public mutating func addNode(
        _ name: String, op: String, inputs: [Int], outputs: [Int],
        pinnedDevice: DeviceID? = nil, pinnedProcess: Int? = nil, pinnedKind: String? = nil
    ) -> Int {
        let index = nodes.count
        nodes.append(
            Node(
                name: name, op: op, inputs: inputs, outputs: outputs,
                pinnedDevice: pinnedDevice, pinnedProcess: pinnedProcess, pinnedKind: pinnedKind))
        for v in outputs where values.indices.contains(v) && values[v].producer == nil {
            values[v].producer = index
        }
        return index
    }

    /// The estimated seconds to move a value of `byteCount` bytes between two processes.
    public func transferSeconds(byteCount: Int) -> Double {
        transferLatencySeconds + Double(byteCount) * transferSecondsPerByte
    }
}

/// Estimated seconds per (node, device kind); a missing entry means that kind cannot run the node.
///
/// Stored as one column per kind, indexed by node, so filling and reading it for a large graph is
/// a few array writes per node.
public struct CostTable: Sendable, Hashable {
    private var columns: [String: [Double?]] = [:]

    /// An empty table: no kind can run anything yet.
    public init() {}

    /// A table filled by asking `estimate` for every node and kind.
    public init(nodeCount: Int, kinds: [String], _ estimate: (_ node: Int, _ kind: String) -> Double?) {
        for kind in kinds {
            columns[kind] = (0..<nodeCount).map { estimate($0, kind) }
        }
    }

    /// The estimated seconds of `node` on a device of `kind`, or nil when the kind lacks the op.
    public subscript(node node: Int, kind kind: String) -> Double? {
        get {
            guard node >= 0, let column = columns[kind], node < column.count else { return nil }
            return column[node]
        }
        set {
            precondition(node >= 0, "CostTable: node index \(node) is negative")
            var column = columns.removeValue(forKey: kind) ?? []
            if column.count <= node {
                if newValue == nil {
                    if !column.isEmpty { columns[kind] = column }
                    return
                }
                column.append(contentsOf: repeatElement(nil, count: node + 1 - column.count))
            }
            column[node] = newValue
            columns[kind] = column
        }
    }

    /// The device kinds that have at least one entry, sorted.
    public var kinds: [String] { columns.keys.sorted() }

    /// The estimates of every node for one kind, indexed by node (shorter than the node count when
    /// trailing nodes have no entry).
    public func column(for kind: String) -> [Double?] { columns[kind] ?? [] }
}
