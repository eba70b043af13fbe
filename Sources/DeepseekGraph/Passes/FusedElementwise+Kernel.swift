import DeepseekTensor

/// How a float32 tile kernel keeps an `ElementwiseProgram`'s registers: one scratch tile per
/// register that is alive at the same time, reused once its last reader has run.
struct TileSchedule: Sendable {
    /// The scratch slot each register writes; the last register has none when the result is
    /// float32 (it is written straight to the output).
    let slots: [Int?]
    /// Scratch slots for registers.
    let registerSlotCount: Int
    /// A rough cost of one output element in simple-op units (a libm call counts 32), used
    /// to decide whether splitting over cores pays for waking them.
    let workPerElement: Int

    init(_ program: ElementwiseProgram) {
        let count = program.instructions.count
        var lastUse = [Int](repeating: -1, count: count)
        for (k, instruction) in program.instructions.enumerated() {
            for case .register(let r) in instruction.operation.operands { lastUse[r] = k }
        }
        var slots = [Int?](repeating: nil, count: count)
        var free: [Int] = []
        var used = 0
        for k in 0..<count {
            // Operands whose last reader is this instruction give their slot back first: the
            // loops read element i before writing element i, so writing in place is safe.
            for case .register(let r) in program.instructions[k].operation.operands where lastUse[r] == k {
                if let s = slots[r], !free.contains(s) { free.append(s) }
            }
            if k == count - 1 && program.outputType == .float32 { break }
            if let s = free.popLast() {
                slots[k] = s
            } else {
                slots[k] = used
                used += 1
            }
        }
        self.slots = slots
        self.registerSlotCount = used
        self.workPerElement = program.instructions.reduce(0) { $0 + Self.work(of: $1.operation) }
    }

    static func work(of operation: ElementwiseProgram.Operation) -> Int {
        switch operation {
        case .unary(let op, _):
            switch op {
            case .neg, .abs, .sqrt, .rsqrt, .reciprocal, .square, .relu, .leakyRelu, .floor, .ceil, .round, .sign, .logicalNot: 1
            default: 32
            }
        case .binary(let op, _, _): op == .pow || op == .mod ? 32 : 1
        case .select, .cast: 1
        }
    }
}

/// Runs an `ElementwiseProgram` over float32/bool tensors tile by tile.
///
/// Each instruction processes a whole tile of output positions (a tight loop the compiler
/// vectorises), and intermediate results live in a few scratch tiles that stay in the L1
/// cache, so each input element is read once and each output element written once.
///
/// Tiles are 1024 elements: a 4 KiB scratch tile per live register stays in L1, and a bias row
/// of 1024 or more is read in place. 512 measured 5–10% slower (per-tile overhead), 2048
/// slower again (tiles straddle typical rows and need gathers).
///
/// Broadcast inputs are resolved per tile through `BroadcastLayout`: a tile that falls within
/// one run of an input's innermost axis reads the input in place (stride 1, or stride 0 for a
/// repeated value), otherwise the tile's elements are gathered into a scratch tile first. So
/// any broadcast (scalars, bias vectors, `[M, 1]` columns, strided views) is handled, and the
/// common ones (same-shape contiguous, scalar, trailing-axis vector) cost no copy.
struct FloatTileKernel {
    static let tileSize = 1024
    /// Work units (see `TileSchedule.workPerElement`) each extra worker must get: waking a
    /// core costs 30–65 µs, about what one core needs for 2^18 simple elements, so a chain of
    /// simple ops splits only beyond 2^19 of them and a libm-heavy one from about 2^14 elements.
    static let parallelGrain = 1 << 19

    let program: ElementwiseProgram
    let schedule: TileSchedule

    private struct Source {
        let layout: BroadcastLayout
        let base: UnsafeRawPointer
        let isBool: Bool
    }

    func run(_ inputs: [Tensor], outputShape: Shape) throws -> Tensor {
        let output = try Tensor.empty(outputShape, dtype: program.outputType, op: "fusedElementwise")
        let count = outputShape.elementCount
        if count == 0 { return output }
        let sources = try inputs.map { t -> Source in
            let expanded = t.shape == outputShape ? t : try t.expanded(to: outputShape)
            return Source(layout: BroadcastLayout(expanded), base: UnsafeRawPointer(t.storage.baseAddress!), isBool: t.dtype == .bool)
        }
        // One spare element so the buffer has an address even without constants.
        let constants = try program.constants.map { Float(try $0.scalarsAsDouble()[0]) } + [0]
        let outBase = output.storage.baseAddress!
        // The sources point into the inputs' storage: keep it alive until the loops finish.
        withExtendedLifetime(inputs) {
            constants.withUnsafeBufferPointer { constantPointer in
                let grain = Swift.max(Self.tileSize, Self.parallelGrain / Swift.max(schedule.workPerElement, 1))
                ParallelRanges.forEach(count, grain: grain, alignment: Self.tileSize) { range in
                    runTiles(range, sources, constantPointer.baseAddress!, outBase)
                }
            }
        }
        return output
    }

    /// Runs the program over the output positions `range`, one tile at a time.
    private func runTiles(_ range: Range<Int>, _ sources: [Source], _ constants: UnsafePointer<Float>, _ outBase: UnsafeMutableRawPointer) {
        let tile = Self.tileSize
        let outputType = program.outputType
        // Scratch: one tile per register slot, then one per input that may need a gather.
        let slotCount = schedule.registerSlotCount + sources.count
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(slotCount, 1) * tile)
        defer { scratch.deallocate() }
        var inputRuns = [FloatRun](repeating: FloatRun(pointer: UnsafePointer(scratch), stride: 1), count: sources.count)
        var registerRuns = [FloatRun](repeating: FloatRun(pointer: UnsafePointer(scratch), stride: 1), count: program.instructions.count)
        var start = range.lowerBound
        while start < range.upperBound {
            let n = Swift.min(tile, range.upperBound - start)
            for (i, source) in sources.enumerated() {
                inputRuns[i] = Self.resolve(source, start: start, count: n, scratch: scratch + (schedule.registerSlotCount + i) * tile)
            }
            for (k, instruction) in program.instructions.enumerated() {
                let destination: UnsafeMutablePointer<Float>
                if let slot = schedule.slots[k] {
                    destination = scratch + slot * tile
                } else {
                    destination = outBase.assumingMemoryBound(to: Float.self) + start
                }
                func operand(_ o: ElementwiseProgram.Operand) -> FloatRun {
                    switch o {
                    case .input(let i): inputRuns[i]
                    case .register(let r): registerRuns[r]
                    case .constant(let c): FloatRun(pointer: constants + c, stride: 0)
                    }
                }
                switch instruction.operation {
                case .unary(let op, let a): FloatMath.apply(op, n, operand(a), destination)
                case .binary(let op, let a, let b): FloatMath.apply(op, n, operand(a), operand(b), destination)
                case .select(let c, let a, let b): FloatMath.select(n, operand(c), operand(a), operand(b), destination)
                case .cast(let t, let a): FloatMath.cast(to: t, n, operand(a), destination)
                }
                registerRuns[k] = FloatRun(pointer: UnsafePointer(destination), stride: 1)
            }
            if outputType == .bool {
                let result = registerRuns[registerRuns.count - 1].pointer
                let bytes = outBase.assumingMemoryBound(to: UInt8.self) + start
                for i in 0..<n { bytes[i] = result[i] != 0 ? 1 : 0 }
            }
            start += n
        }
    }

    /// The tile of `source` starting at output position `start`: in place when it is one run of
    /// stride 0 or 1, else gathered (and converted from bool bytes) into `scratch`.
    @inline(__always)
    private static func resolve(_ source: Source, start: Int, count n: Int, scratch: UnsafeMutablePointer<Float>) -> FloatRun {
        let layout = source.layout
        if !source.isBool {
            let floats = source.base.assumingMemoryBound(to: Float.self)
            let (o, run) = layout.locate(start)
            let s = layout.innerStride
            if run >= n && (s == 0 || s == 1) { return FloatRun(pointer: floats + o, stride: s) }
            layout.forEachRun(in: start..<(start + n)) { position, offset, length in
                let to = scratch + (position - start)
                let stride = layout.innerStride
                if stride == 1 {
                    to.update(from: floats + offset, count: length)
                } else {
                    for j in 0..<length { to[j] = floats[offset &+ j &* stride] }
                }
            }
        } else {
            let bytes = source.base.assumingMemoryBound(to: UInt8.self)
            layout.forEachRun(in: start..<(start + n)) { position, offset, length in
                let to = scratch + (position - start)
                let stride = layout.innerStride
                for j in 0..<length { to[j] = bytes[offset &+ j &* stride] != 0 ? 1 : 0 }
            }
        }
        return FloatRun(pointer: UnsafePointer(scratch), stride: 1)
    }
}
