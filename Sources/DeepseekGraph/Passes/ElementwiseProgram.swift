public import DeepseekTensor

/// A straight-line program of element-wise operations: what a `FusedElementwise` kernel runs
/// for every output element.
///
/// The program is a register machine in static single assignment form: instruction `k` writes
/// register `k`, and operands name a fused input (`in0`), an earlier register (`r1`) or an
/// inline scalar constant (`c0`). The last register is the result. Each instruction carries
/// the dtype its result has in the unfused graph, so the kernel knows the types without
/// re-deriving promotion rules.
///
/// ```
/// r0 = add(in0, in1)      // x + bias
/// r1 = gelu(r0)
/// ```
public struct ElementwiseProgram: Sendable, CustomStringConvertible {
    /// Where an instruction reads an operand.
    public enum Operand: Sendable, Hashable, CustomStringConvertible {
        /// The fused node's input at this index.
        case input(Int)
        /// The result of an earlier instruction.
        case register(Int)
        /// The inline constant at this index of `constants`.
        case constant(Int)

        public var description: String {
            switch self {
            case .input(let i): "in\(i)"
            case .register(let i): "r\(i)"
            case .constant(let i): "c\(i)"
            }
        }
    }

    /// One element-wise operation, with the same semantics as the `GraphOp` case it came from.
    public enum Operation: Sendable, Hashable, CustomStringConvertible {
        case unary(UnaryOp, Operand)
        /// Broadcasting and dtype promotion as `Tensor.binary`.
        case binary(BinaryOp, Operand, Operand)
        /// `condition ? a : b`, as `Tensor.where`.
        case select(Operand, Operand, Operand)
        case cast(DType, Operand)

        public var operands: [Operand] {
            switch self {
            case .unary(_, let a), .cast(_, let a): [a]
            case .binary(_, let a, let b): [a, b]
            case .select(let c, let a, let b): [c, a, b]
            }
        }

        /// The op's short label (`add`, `gelu`, `select`, `cast`).
        public var label: String {
            switch self {
            case .unary(let op, _): op.description
            case .binary(let op, _, _): op.description
            case .select: "select"
            case .cast: "cast"
            }
        }

        public var description: String {
            switch self {
            case .unary(let op, let a): "\(op)(\(a))"
            case .binary(let op, let a, let b): "\(op)(\(a), \(b))"
            case .select(let c, let a, let b): "select(\(c), \(a), \(b))"
            case .cast(let t, let a): "cast(\(t), \(a))"
            }
        }
    }

    /// An operation and the dtype of its result.
    public struct Instruction: Sendable, Hashable {
        public var operation: Operation
        public var dtype: DType

        public init(_ operation: Operation, dtype: DType) {
            self.operation = operation
            self.dtype = dtype
        }
    }

    /// The dtype of each fused input, in order.
    public var inputTypes: [DType]
    /// Scalar tensors the program reads inline (from one-element constants of the graph).
    public var constants: [Tensor]
    /// The instructions in execution order; the last one's register is the result.
    public var instructions: [Instruction]

    /// Builds a program.
    ///
    /// - Precondition: operands refer to existing inputs, constants and earlier registers, and
    ///   there is at least one instruction (programmer errors of a pass, not user input).
    public init(inputTypes: [DType], constants: [Tensor], instructions: [Instruction]) {
        precondition(!instructions.isEmpty, "ElementwiseProgram: needs at least one instruction")
        for (k, instruction) in instructions.enumerated() {
            for operand in instruction.operation.operands {
                switch operand {
                case .input(let i): precondition(inputTypes.indices.contains(i), "ElementwiseProgram: r\(k) reads missing in\(i)")
                case .constant(let i): precondition(constants.indices.contains(i), "ElementwiseProgram: r\(k) reads missing c\(i)")
                case .register(let r): precondition(r >= 0 && r < k, "ElementwiseProgram: r\(k) reads r\(r), which is not computed before it")
                }
            }
        }
        self.inputTypes = inputTypes
        self.constants = constants
        self.instructions = instructions
    }

    /// The dtype of the result.
    public var outputType: DType { instructions[instructions.count - 1].dtype }

    /// The dtype of an operand.
    func dtype(of operand: Operand) -> DType {
        switch operand {
        case .input(let i): inputTypes[i]
        case .register(let r): instructions[r].dtype
        case .constant(let c): constants[c].dtype
        }
    }

    /// Whether the float32 tile kernel runs this program: every input, register and result is
    /// `float32` or `bool` (kept as 0/1 floats), and every inline constant converts to the type
    /// of the operation reading it without loss of meaning.
    public var runsOnFloatKernel: Bool {
        let fast: Set<DType> = [.float32, .bool]
        guard inputTypes.allSatisfy(fast.contains), instructions.allSatisfy({ fast.contains($0.dtype) }) else { return false }
        // A constant of a wider type (float64) would have promoted its operation out of float32,
        // which the register check above already rejects; integer constants convert exactly
        // enough for the float32 or bool operations they meet (as the front end's cast does).
        return constants.allSatisfy { !$0.isMeta && $0.elementCount == 1 }
    }

    /// One instruction per line: `r0 = add(in0, in1): float32`, then the constants.
    public var description: String {
        var lines = instructions.enumerated().map { "r\($0.offset) = \($0.element.operation): \($0.element.dtype)" }
        for (i, c) in constants.enumerated() {
            let value = (try? c.scalarsAsDouble().first).flatMap { $0 }.map { "\($0)" } ?? "?"
            lines.append("c\(i) = \(c.dtype)\(c.shape) \(value)")
        }
        return lines.joined(separator: "; ")
    }

    /// The operation labels in order, for node labels (`mul,add,gelu`).
    public var labels: [String] { instructions.map(\.operation.label) }

    /// Runs the program one operation at a time through the `Tensor` front-end on the current
    /// backend: the general path (any dtype, meta tensors) and the definition the float32
    /// kernel must agree with.
    public func evaluateStepwise(_ inputs: [Tensor]) throws -> Tensor {
        var registers: [Tensor] = []
        registers.reserveCapacity(instructions.count)
        func read(_ operand: Operand) -> Tensor {
            switch operand {
            case .input(let i): inputs[i]
            case .register(let r): registers[r]
            case .constant(let c): constants[c]
            }
        }
        for instruction in instructions {
            let result: Tensor
            switch instruction.operation {
            case .unary(let op, let a): result = try read(a).unary(op)
            case .binary(let op, let a, let b): result = try read(a).binary(op, read(b))
            case .select(let c, let a, let b): result = try read(c).where(read(a), read(b))
            case .cast(let t, let a): result = try read(a).cast(to: t)
            }
            registers.append(result)
        }
        return registers[registers.count - 1]
    }
}
