public import DeepseekTensor

/// Builds a graph from named operators declared in any order — the explicit way to write a model.
///
/// Inputs refer to other nodes by name (`"fc1"`, or `"ln:1"` for a node's second output). `build()`
/// resolves the names, rejects cycles (naming the nodes on the cycle), orders the nodes
/// topologically and infers every type, so a bad graph fails before anything runs.
///
/// ```swift
/// var b = GraphBuilder()
/// b.input("x", TensorType([64, 784]))
/// b.parameter("w1", TensorType([784, 256]))
/// b.op("h", .matmul, ["x", "w1"], on: DevicePin(kind: .cpu))
/// b.op("a", .unary(.relu), ["h"])
/// b.outputs(["a"])
/// let graph = try b.build()
/// ```
public struct GraphBuilder: Sendable {
    enum Declaration: Sendable {
        case input(TensorType)
        case parameter(TensorType)
        case op(GraphOp, [String])
    }

    struct Entry: Sendable {
        var name: String
        var declaration: Declaration
        var pin: DevicePin
    }

    var entries: [Entry] = []
    var outputNames: [String] = []

    public init() {}

    /// Declares a tensor fed at run time.
    public mutating func input(_ name: String, _ type: TensorType, on pin: DevicePin = .any) {
        entries.append(Entry(name: name, declaration: .input(type), pin: pin))
    }

    /// Declares a trainable tensor.
    public mutating func parameter(_ name: String, _ type: TensorType, on pin: DevicePin = .any) {
        entries.append(Entry(name: name, declaration: .parameter(type), pin: pin))
    }

    /// Declares a constant.
    public mutating func constant(_ name: String, _ tensor: Tensor) {
        entries.append(Entry(name: name, declaration: .op(.constant(tensor), []), pin: .any))
    }

    /// Declares an operator reading the named values, optionally pinned to a device kind, device or process.
    public mutating func op(_ name: String, _ op: GraphOp, _ inputs: [String], on pin: DevicePin = .any) {
        entries.append(Entry(name: name, declaration: .op(op, inputs), pin: pin))
    }

    /// Names the values a run returns.
    public mutating func outputs(_ names: [String]) { outputNames = names }

    /// Resolves names, checks for cycles, orders topologically and infers types.
    public func build() throws -> Graph {
        var index: [String: Int] = [:]
        for (i, e) in entries.enumerated() {
            guard !e.name.isEmpty else { throw GraphError(.duplicateName, "declaration \(i) has an empty name; name every node") }
            if let j = index[e.name] {
                throw GraphError(.duplicateName, "\"\(e.name)\" is declared twice (declarations \(j) and \(i)); give each node a unique name")
            }
            index[e.name] = i
        }
        // Edges: entry i depends on the entries its inputs name.
        var dependencies = [[(entry: Int, output: Int)]](repeating: [], count: entries.count)
        for (i, e) in entries.enumerated() {
            guard case .op(_, let inputs) = e.declaration else { continue }
            for reference in inputs {
                dependencies[i].append(try resolve(reference, from: e.name, index: index))
            }
        }
        let order = try topologicalOrder(dependencies)
        var graph = Graph()
        var produced = [[ValueID]](repeating: [], count: entries.count)
        for i in order {
            let e = entries[i]
            switch e.declaration {
            case .input(let type): produced[i] = [try graph.addInput(e.name, type, pin: e.pin)]
            case .parameter(let type): produced[i] = [try graph.addParameter(e.name, type, pin: e.pin)]
            case .op(let op, _):
                var inputs: [ValueID] = []
                for d in dependencies[i] {
                    guard d.output < produced[d.entry].count else {
                        throw GraphError(
                            .unknownReference,
                            "\"\(e.name)\" reads output \(d.output) of \"\(entries[d.entry].name)\", which has \(produced[d.entry].count) output(s)")
                    }
                    inputs.append(produced[d.entry][d.output])
                }
                produced[i] = try graph.add(op, inputs, name: e.name, pin: e.pin)
            }
        }
        graph.outputs = try outputNames.map { name in
            let d = try resolve(name, from: "outputs", index: index)
            guard d.output < produced[d.entry].count else {
                throw GraphError(.unknownReference, "output \"\(name)\" names output \(d.output) of a node with \(produced[d.entry].count)")
            }
            return produced[d.entry][d.output]
        }
        return graph
    }

    private func resolve(_ reference: String, from user: String, index: [String: Int]) throws -> (entry: Int, output: Int) {
        var name = Substring(reference)
        var output = 0
        if let colon = reference.lastIndex(of: ":"), let k = Int(reference[reference.index(after: colon)...]) {
            name = reference[..<colon]
            output = k
        }
        guard let entry = index[String(name)] else {
            let known = entries.map(\.name).filter { $0.hasPrefix(String(name.prefix(2))) }.prefix(5)
            throw GraphError(
                .unknownReference,
                "\"\(user)\" reads \"\(reference)\", but no node has that name\(known.isEmpty ? "" : " (similar: \(known.joined(separator: ", ")))"); declare it or fix the name")
        }
        return (entry, output)
    }

    /// Kahn's algorithm in declaration order; on a cycle, finds and names one.
    private func topologicalOrder(_ dependencies: [[(entry: Int, output: Int)]]) throws -> [Int] {
        let n = entries.count
        var indegree = [Int](repeating: 0, count: n)
        var users = [[Int]](repeating: [], count: n)
        for i in 0..<n {
            for d in dependencies[i] {
                indegree[i] += 1
                users[d.entry].append(i)
            }
        }
        var ready = (0..<n).filter { indegree[$0] == 0 }.reversed() as [Int]
        var order: [Int] = []
        order.reserveCapacity(n)
        while let i = ready.popLast() {
            order.append(i)
            for u in users[i].reversed() {
                indegree[u] -= 1
                if indegree[u] == 0 { ready.append(u) }
            }
            // Keep declaration order among ready nodes so graphs build deterministically.
            ready.sort(by: >)
        }
        if order.count == n { return order }
        throw GraphError(.cycle, "the graph has a cycle: \(findCycle(dependencies, among: Set((0..<n).filter { indegree[$0] > 0 })).map { "\"\(entries[$0].name)\"" }.joined(separator: " → ")); a node cannot depend on its own output")
    }

    private func findCycle(_ dependencies: [[(entry: Int, output: Int)]], among stuck: Set<Int>) -> [Int] {
        // Walk dependencies inside the stuck set until a node repeats.
        guard var current = stuck.min() else { return [] }
        var seen: [Int: Int] = [:]
        var path: [Int] = []
        while seen[current] == nil {
            seen[current] = path.count
            path.append(current)
            guard let next = dependencies[current].map(\.entry).first(where: stuck.contains) else { break }
            current = next
        }
        guard let start = seen[current] else { return path }
        let cycle = Array(path[start...])
        // Print in data-flow order (producer before consumer).
        return cycle.reversed() + [cycle.last!]
    }
}
