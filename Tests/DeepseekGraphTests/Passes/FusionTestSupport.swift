import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// Helpers shared by the fusion suites: seeded feeds, runs on two backends, interface checks.
enum FusionCheck {
    /// Seeded values in [-2, 2) for every input and parameter; names in `positive` get values
    /// in [0.5, 1.5) (variances).
    static func feeds(for graph: Graph, seed: UInt64 = 11, positive: Set<String> = []) throws -> GraphFeeds {
        var feeds = GraphFeeds()
        var k: UInt64 = 0
        for node in graph.nodes {
            let type = graph[value: node.outputs[0]].type
            k += 1
            switch node.op {
            case .input(let name):
                feeds.inputs[name] = try Tensor.testValues(type.shape, dtype: type.dtype, seed: seed &+ k)
            case .parameter(let name):
                var t = try Tensor.testValues(type.shape, dtype: type.dtype, seed: seed &+ k)
                if positive.contains(name) { t = try (t.abs() * 0.25) + 0.5 }
                feeds.parameters[name] = t
            default:
                continue
            }
        }
        return feeds
    }

    /// Runs `original` and `rewritten` on the `ReferenceBackend` and on the default backend and
    /// expects equal outputs within `tolerance`.
    static func expectSameOutputs(
        _ original: Graph, _ rewritten: Graph, feeds: GraphFeeds, tolerance: Tolerance = Tolerance(absolute: 1e-5, relative: 1e-4),
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let backends: [(String, any KernelBackend)] = [("reference", ReferenceBackend()), ("default", KernelBackends.default)]
        for (label, backend) in backends {
            let expected = try KernelBackends.using(backend) { try original.run(feeds) }
            let actual = try KernelBackends.using(backend) { try rewritten.run(feeds) }
            #expect(actual.count == expected.count, sourceLocation: sourceLocation)
            for (i, (a, e)) in zip(actual, expected).enumerated() {
                expectClose(a, e, tolerance: tolerance, "\(label) backend, output \(i)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Expects the same inputs and parameters (names, types) and outputs (order, types).
    static func expectSameInterface(_ a: Graph, _ b: Graph, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        func sources(_ g: Graph) -> [String] {
            g.nodes.compactMap { n -> String? in
                switch n.op {
                case .input(let name): "input \(name): \(g[value: n.outputs[0]].type)"
                case .parameter(let name): "parameter \(name): \(g[value: n.outputs[0]].type)"
                default: nil
                }
            }
        }
        #expect(sources(a) == sources(b), sourceLocation: sourceLocation)
        #expect(a.outputs.map { a[value: $0].type } == b.outputs.map { b[value: $0].type }, sourceLocation: sourceLocation)
    }

    /// Node labels in order, sources left out (`["linear[matmul,add,relu]", "matmul"]`).
    static func opLabels(_ g: Graph) -> [String] {
        g.nodes.filter { !$0.op.isSource }.map(\.op.label)
    }

    /// Every fused node, inferring its type from meta tensors, gives the types of the node it
    /// replaced (the last name in `a+b+c`) in the original graph.
    static func expectFusedTypesMatch(_ original: Graph, _ rewritten: Graph, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        var checked = 0
        for node in rewritten.nodes where node.name.contains("+") {
            guard let root = node.name.split(separator: "+").last, let old = original.node(named: String(root)) else { continue }
            let inferred = try node.op.inferTypes(node.inputs.map { rewritten[value: $0].type })
            #expect(inferred == old.outputs.map { original[value: $0].type }, "\(node.name)", sourceLocation: sourceLocation)
            checked += 1
        }
        #expect(checked > 0, "no fused node found", sourceLocation: sourceLocation)
    }
}
