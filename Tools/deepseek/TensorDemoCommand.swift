import ArgumentParser
import DeepseekCore
import DeepseekKernelsBLAS
import DeepseekTensor

/// `deepseek tensor-demo`: seeded random tensors through matmul, softmax and conv2d on the
/// default backend, with shapes, checksums, timings and a check against the reference backend.
struct TensorDemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tensor-demo",
        abstract: "Run matmul, softmax and conv2d on seeded random tensors and time them.",
        discussion: """
            The same seed gives the same tensors and, on the same backend, the same checksums.
            Each result is compared with the reference backend (naive Float64 loops) unless
            --no-verify is given.
            """
    )

    /// The backends the demo can install as the process default.
    enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
        case cpu, reference
    }

    @Option(help: "Seed of the random tensors.")
    var seed: UInt64 = 42

    @Option(help: "Matrix size n of the n×n matmul (1…4096).")
    var size: Int = 256

    @Option(help: "Kernel backend to install as the default: \(BackendChoice.allCases.map(\.rawValue).joined(separator: ", ")).")
    var backend: BackendChoice = .cpu

    @Option(help: "Timed repetitions of each operation; the best time is printed (1…100).")
    var repeats: Int = 3

    @Flag(inversion: .prefixedNo, help: "Compare every result with the reference backend.")
    var verify = true

    func validate() throws {
        guard (1...4096).contains(size) else {
            throw ValidationError("--size must be between 1 and 4096, got \(size)")
        }
        guard (1...100).contains(repeats) else {
            throw ValidationError("--repeats must be between 1 and 100, got \(repeats)")
        }
    }

    func run() throws {
        switch backend {
        case .cpu: KernelBackends.default = CPUBackend()
        case .reference: KernelBackends.default = ReferenceBackend()
        }
        print("backend: \(KernelBackends.default.name), seed \(seed)")

        var rng = SeededRandom(seed: seed)
        let a = try Tensor.normal([size, size], rng: &rng)
        let b = try Tensor.normal([size, size], rng: &rng)
        let image = try Tensor.normal([2, 3, 32, 32], rng: &rng)
        let filters = try Tensor.kaimingNormal([8, 3, 3, 3], rng: &rng)
        let bias = try Tensor.normal([8], std: 0.1, rng: &rng)
        let convParameters = Conv2dParameters(stride: 1, padding: 1)

        let flops = 2.0 * Double(size) * Double(size) * Double(size)
        let product = try measure("matmul", inputs: [a, b], flops: flops) { try a.matmul(b) }
        _ = try measure("softmax", inputs: [product], flops: nil) { try product.softmax(axis: -1) }
        _ = try measure("conv2d", inputs: [image, filters, bias], flops: nil) {
            try image.conv2d(filters, bias: bias, parameters: convParameters)
        }
    }

    /// Runs `operation` `repeats` times, prints shapes, checksum and best time, and compares
    /// with the reference backend.
    private func measure(
        _ name: String, inputs: [Tensor], flops: Double?, _ operation: () throws -> Tensor
    ) throws -> Tensor {
        let clock = MonotonicClock()
        var best = UInt64.max
        var result: Tensor?
        for _ in 0..<repeats {
            let start = clock.now()
            result = try operation()
            best = min(best, clock.now().nanoseconds(since: start))
        }
        guard let output = result else { throw ValidationError("\(name) produced no result") }
        let values = try output.scalarsAsDouble()
        let checksum = values.reduce(0, +)
        let inputShapes = inputs.map(\.shape.description).joined(separator: " · ")
        var line = "\(name.padding(to: 8)) \(inputShapes) → \(output.shape)  checksum \(Format.fixed(checksum, digits: 6))"
        line += "  best \(Format.fixed(Double(best) / 1e6, digits: 3)) ms"
        if let flops, best > 0 {
            line += " (\(Format.fixed(flops / Double(best), digits: 2)) GFLOP/s)"
        }
        if verify {
            let expected = try KernelBackends.using(ReferenceBackend()) { try operation() }.scalarsAsDouble()
            var worst = 0.0
            for (got, want) in zip(values, expected) {
                worst = max(worst, abs(got - want) / max(1, abs(want)))
            }
            line += "  max rel. error vs reference \(Format.scientific(worst))"
            if !(worst <= 1e-3) {
                print(line)
                throw DemoFailure("\(name) on \(KernelBackends.default.name) differs from the reference backend by \(worst)")
            }
        }
        print(line)
        return output
    }
}

/// A demo result that disagrees with the reference backend.
struct DemoFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Format {
    /// `value` as `d.ddde±x`, for small error magnitudes.
    static func scientific(_ value: Double) -> String {
        guard value.isFinite else { return String(value) }
        guard value != 0 else { return "0" }
        var exponent = 0
        var mantissa = abs(value)
        while mantissa >= 10 { mantissa /= 10; exponent += 1 }
        while mantissa < 1 { mantissa *= 10; exponent -= 1 }
        return (value < 0 ? "-" : "") + fixed(mantissa, digits: 2) + "e" + String(exponent)
    }
}
