import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import Testing

/// One differentiable input of a gradient check: its shape, the range its random values come
/// from, and optional fixed values (e.g. exact zeros) written over them.
struct GradientInput: Sendable {
    var shape: Shape
    var low: Double = -2
    var high: Double = 2
    var fixed: [Int: Double] = [:]

    init(_ shape: Shape, in range: ClosedRange<Double> = -2...2, fixed: [Int: Double] = [:]) {
        self.shape = shape
        self.low = range.lowerBound
        self.high = range.upperBound
        self.fixed = fixed
    }
}

/// A tiny graph around one op, checked against central finite differences in float64.
///
/// `build` receives the graph and the parameters made for `inputs` (float64, fed random values)
/// and returns the values the loss weighs: `loss = Σₖ sum(outputₖ ⊙ Rₖ)` with fixed random `Rₖ`,
/// so the upstream gradient of each output is not all ones.
struct GradientCase: Sendable, CustomTestStringConvertible {
    var name: String
    var inputs: [GradientInput]
    var step: Double = 1e-6
    var tolerance: (absolute: Double, relative: Double) = (1e-7, 1e-6)
    var build: @Sendable (inout Graph, [ValueID]) throws -> [ValueID]

    init(
        _ name: String, _ inputs: [GradientInput], step: Double = 1e-6, tolerance: (absolute: Double, relative: Double) = (1e-7, 1e-6),
        build: @escaping @Sendable (inout Graph, [ValueID]) throws -> [ValueID]
    ) {
        self.name = name
        self.inputs = inputs
        self.step = step
        self.tolerance = tolerance
        self.build = build
    }

    var testDescription: String { name }

    /// A case for a single op applied to the inputs.
    static func op(_ name: String, _ op: GraphOp, _ inputs: [GradientInput], constants: [Tensor] = []) -> GradientCase {
        GradientCase(name, inputs) { g, xs in
            let extra = try constants.map { try g.addConstant($0) }
            return try g.add(op, xs + extra)
        }
    }
}

enum GradientCheck {
    /// Differentiates the case's loss with respect to every input and compares each element
    /// with (f(x + h) − f(x − h)) / 2h, recording an issue per mismatching input.
    static func run(_ c: GradientCase, seed: UInt64 = 1, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
        try KernelBackends.using(ReferenceBackend()) {
            var rng = SeededRandom(seed: seed)
            var values: [[Double]] = []
            for input in c.inputs {
                var v = try Tensor.uniform(input.shape, low: input.low, high: input.high, dtype: .float64, rng: &rng).scalars(as: Double.self)
                for (i, x) in input.fixed { v[i] = x }
                values.append(v)
            }
            var graph = Graph()
            var parameters: [ValueID] = []
            for (i, input) in c.inputs.enumerated() {
                parameters.append(try graph.addParameter("p\(i)", TensorType(input.shape, .float64)))
            }
            let outputs = try c.build(&graph, parameters)
            var loss: ValueID?
            for (k, out) in outputs.enumerated() {
                let type = graph[value: out].type
                let weights = try Tensor.uniform(type.shape, low: -1, high: 1, dtype: type.dtype, rng: &rng)
                let weighted = try graph.add(.binary(.mul), [out, graph.addConstant(weights)], name: "weighted\(k)")[0]
                let term = try graph.add(.reduce(.sum, axes: [], keepDims: false), [weighted], name: "term\(k)")[0]
                loss = try loss.map { try graph.add(.binary(.add), [$0, term], name: "total\(k)")[0] } ?? term
            }
            let lossValue = try #require(loss)
            graph.outputs = [lossValue]

            let gradients = try graph.gradients(of: lossValue, withRespectTo: parameters)
            #expect(gradients.graph.nodes.count >= graph.nodes.count)
            func feeds(_ values: [[Double]]) throws -> GraphFeeds {
                var p: [String: Tensor] = [:]
                for (i, input) in c.inputs.enumerated() { p["p\(i)"] = try Tensor(values[i], shape: input.shape) }
                return GraphFeeds(parameters: p)
            }
            let results = try gradients.graph.run(feeds(values))
            func lossAt(_ values: [[Double]]) throws -> Double { try graph.run(feeds(values))[0].item(as: Double.self) }

            for (i, input) in c.inputs.enumerated() {
                let analytic = results[1 + i]
                #expect(analytic.shape == input.shape, "\(c.name): gradient of input \(i) has shape \(analytic.shape)", sourceLocation: sourceLocation)
                #expect(analytic.dtype == .float64, sourceLocation: sourceLocation)
                let a = try analytic.scalarsAsDouble()
                guard a.count == values[i].count else { continue }
                var worst: (index: Int, analytic: Double, numeric: Double)?
                for j in values[i].indices {
                    var plus = values
                    var minus = values
                    plus[i][j] += c.step
                    minus[i][j] -= c.step
                    let numeric = (try lossAt(plus) - lossAt(minus)) / (2 * c.step)
                    let error = Swift.abs(a[j] - numeric)
                    if !(error <= c.tolerance.absolute + c.tolerance.relative * Swift.abs(numeric)), worst == nil {
                        worst = (j, a[j], numeric)
                    }
                }
                if let worst {
                    Issue.record(
                        "\(c.name): d loss / d input \(i) \(input.shape) at element \(worst.index) is \(worst.analytic), finite differences give \(worst.numeric)",
                        sourceLocation: sourceLocation)
                }
            }
        }
    }
}
