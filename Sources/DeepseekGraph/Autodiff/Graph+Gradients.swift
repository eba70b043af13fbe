import DeepseekTensor

/// Where the backward pass starts: the gradient of the loss with respect to itself.
///
/// Usually 1; a constant other than 1 scales every gradient (static loss scaling for mixed
/// precision), and a graph value lets the scale change from step to step without rebuilding.
public enum GradientSeed: Sendable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
    /// A constant, stored in the graph with the loss's dtype.
    case constant(Double)
    /// A floating-point value of the graph with exactly one element (an input, for example).
    case value(ValueID)

    /// The seed 1: plain gradients.
    public static let one = GradientSeed.constant(1)

    public init(floatLiteral value: Double) { self = .constant(value) }
    public init(integerLiteral value: Int) { self = .constant(Double(value)) }
}

/// A forward graph extended with the nodes that compute gradients of its loss.
///
/// The forward nodes and values keep their IDs; backward nodes follow them, so
/// `graph.nodes[forwardNodeCount...]` is the backward pass. Backward node names derive from the
/// forward ones: the gradient of the value a node `fc1` produces is named `fc1.grad`, and the
/// helper nodes made while differentiating `fc1` are named `fc1.grad.<op>`.
public struct GradientGraph: Sendable {
    /// The forward graph followed by the backward nodes.
    public var graph: Graph
    /// The scalar that was differentiated.
    public let loss: ValueID
    /// The values gradients were asked for, in the order asked.
    public let targets: [ValueID]
    /// `gradients[i]` is the gradient of the loss with respect to `targets[i]`: same shape and dtype.
    public let gradients: [ValueID]
    /// The number of forward nodes; backward nodes start at this index.
    public let forwardNodeCount: Int

    /// The backward nodes, in topological order.
    public var backwardNodes: ArraySlice<Graph.Node> { graph.nodes[forwardNodeCount...] }

    /// The gradient of `target`, if it was asked for.
    public func gradient(for target: ValueID) -> ValueID? {
        targets.firstIndex(of: target).map { gradients[$0] }
    }

    /// The gradient of the parameter named `name`, if it was asked for.
    public func gradient(forParameter name: String) -> ValueID? {
        guard let node = graph.node(named: name), case .parameter = node.op else { return nil }
        return gradient(for: node.outputs[0])
    }
}

extension Graph {
    /// Appends the reverse-mode gradient computation of `loss` with respect to `targets`.
    ///
    /// Every op of `GraphOp` has a vector-Jacobian rule written with graph ops where the op set
    /// allows it (so the backward pass runs on any device and goes through the same passes as the
    /// forward one) and with CPU gradient kernels otherwise (`Im2col`, `Col2im`, `Pool2dBackward`,
    /// `ScatterAdd`, and `Conv2dWeightGradient`/`Conv2dInputGradient` for small convolutions
    /// that run on the CPU). A value read by several nodes gets the sum of their contributions, and a
    /// gradient flowing into a broadcast operand is summed over the broadcast axes.
    ///
    /// Only floating-point values carry gradients: integer and bool values (indices, labels,
    /// comparison results) stop the flow, as do `floor`, `ceil`, `round` and `sign`, whose
    /// derivative is zero. A target the loss does not depend on gets a zero gradient (a scalar
    /// zero constant expanded to the target's shape), never `nil`, so optimisers need no special
    /// case. At ties (`maximum`, `minimum`, `max`/`min` reductions) the gradient is shared equally;
    /// max pooling sends it to the first largest element of the window, as the kernel picks it.
    ///
    /// The result's `outputs` are this graph's outputs followed by the gradients.
    ///
    /// ```swift
    /// let grads = try graph.gradients(of: loss, withRespectTo: [w1, b1])
    /// let dW1 = grads.gradients[0]      // named "w1.grad"
    /// ```
    ///
    /// - Parameters:
    ///   - loss: a floating-point value with exactly one element.
    ///   - targets: floating-point values of this graph, usually parameters.
    ///   - seed: the gradient of the loss with respect to itself (1 unless the loss is scaled).
    /// - Throws: `GraphError.notDifferentiable` when the loss is not a one-element float value, a
    ///   target is not floating-point, or the loss depends on a target through an op without a
    ///   gradient rule (a `custom` op); `GraphError.unknownReference` for a value of another graph.
    public func gradients(of loss: ValueID, withRespectTo targets: [ValueID], seed: GradientSeed = .one) throws -> GradientGraph {
        var differentiator = try Differentiator(forward: self, loss: loss, targets: targets)
        let gradients = try differentiator.run(seed: seed)
        var graph = try differentiator.builder.finish()
        graph.outputs = outputs + gradients
        return GradientGraph(graph: graph, loss: loss, targets: targets, gradients: gradients, forwardNodeCount: nodes.count)
    }

    /// The usual training graph: outputs are `[loss]` followed by the gradient of every
    /// floating-point parameter, in the order the parameters were added.
    ///
    /// ```swift
    /// let training = try graph.trainingGraph(loss: loss)
    /// let results = try training.graph.run(feeds)   // [loss, dW1, dB1, …]
    /// ```
    public func trainingGraph(loss: ValueID, seed: GradientSeed = .one) throws -> GradientGraph {
        let parameters = parameterNodes.map { $0.outputs[0] }.filter { values[$0.rawValue].type.dtype.isFloatingPoint }
        var result = try gradients(of: loss, withRespectTo: parameters, seed: seed)
        result.graph.outputs = [loss] + result.gradients
        return result
    }
}
