import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTraining
import Testing

@Suite struct MixedPrecisionTests {
    // MARK: Loss scaler

    @Test func overflowHalvesTheScaleAndSkipsTheStep() {
        var scaler = DynamicLossScaler()
        #expect(scaler.scale == 65536)
        #expect(scaler.update(gradientsFinite: true) == .apply)
        #expect(scaler.state.cleanSteps == 1)
        #expect(scaler.update(gradientsFinite: false) == .skip)
        #expect(scaler.scale == 32768)
        #expect(scaler.state == DynamicLossScaler.State(scale: 32768, cleanSteps: 0, consecutiveSkips: 1, skippedSteps: 1))
        #expect(scaler.update(gradientsFinite: false) == .skip)
        #expect(scaler.scale == 16384)
        #expect(scaler.state.consecutiveSkips == 2)
        #expect(scaler.update(gradientsFinite: true) == .apply)
        #expect(scaler.scale == 16384)
        #expect(scaler.state == DynamicLossScaler.State(scale: 16384, cleanSteps: 1, consecutiveSkips: 0, skippedSteps: 2))
    }

    @Test func scaleDoublesAfterExactly2000CleanSteps() {
        var scaler = DynamicLossScaler()
        for _ in 0..<1999 { #expect(scaler.update(gradientsFinite: true) == .apply) }
        #expect(scaler.scale == 65536)
        #expect(scaler.state.cleanSteps == 1999)
        #expect(scaler.update(gradientsFinite: true) == .apply)
        #expect(scaler.scale == 131072)
        #expect(scaler.state.cleanSteps == 0)
        for _ in 0..<1999 { _ = scaler.update(gradientsFinite: true) }
        #expect(scaler.scale == 131072)
        _ = scaler.update(gradientsFinite: true)
        #expect(scaler.scale == 262144)
    }

    @Test func overflowRestartsTheCountTowardGrowth() {
        var scaler = DynamicLossScaler()
        for _ in 0..<1500 { _ = scaler.update(gradientsFinite: true) }
        #expect(scaler.update(gradientsFinite: false) == .skip)
        #expect(scaler.scale == 32768)
        for _ in 0..<1999 { _ = scaler.update(gradientsFinite: true) }
        #expect(scaler.scale == 32768)
        _ = scaler.update(gradientsFinite: true)
        #expect(scaler.scale == 65536)
    }

    @Test func scaleStaysWithinItsBounds() throws {
        var scaler = DynamicLossScaler()
        for _ in 0..<40 { #expect(scaler.update(gradientsFinite: false) == .skip) }
        #expect(scaler.scale == 1)
        #expect(scaler.state.consecutiveSkips == 40)
        var growing = try DynamicLossScaler(settings: .init(growthInterval: 1))
        for _ in 0..<40 { _ = growing.update(gradientsFinite: true) }
        #expect(growing.scale == 16_777_216)
    }

    @Test func unusableSettingsAndStatesAreRefused() throws {
        for settings in [
            DynamicLossScaler.Settings(minimumScale: 0), .init(initialScale: 1_073_741_824), .init(backoffFactor: 1),
            .init(growthFactor: 0.5), .init(growthInterval: 0), .init(maximumScale: .infinity),
        ] {
            let error = try #require(throws: MixedPrecisionError.self) { try DynamicLossScaler(settings: settings) }
            #expect(error.code == .invalidArgument)
        }
        let saved = DynamicLossScaler.State(scale: 67_108_864)
        #expect(try #require(throws: MixedPrecisionError.self) { try DynamicLossScaler(restoring: saved) }.code == .incompatibleState)
        let ok = DynamicLossScaler.State(scale: 1024, cleanSteps: 7, consecutiveSkips: 0, skippedSteps: 3)
        #expect(try DynamicLossScaler(restoring: ok).state == ok)
    }

    @Test func unscalingByAPowerOfTwoIsExact() throws {
        var rng = SeededRandom(seed: 4)
        let original = try Tensor.normal([64], std: 1e-3, rng: &rng)
        let scale = 65536.0
        let scaled = try Tensor(original.scalars(as: Float.self).map { $0 * Float(scale) }, shape: [64])
        let half = try Tensor([Float16(1.5), Float16(-3072), Float16(6.1e-5)], shape: [3])
        let bf = try Tensor([BFloat16(3.0e30), BFloat16(-1)], shape: [2])
        let unscaled = try UnscaledGradients(["w": scaled, "h": half, "b": bf], scale: scale)
        #expect(unscaled.isFinite)
        #expect(unscaled.gradients.values.allSatisfy { $0.dtype == .float32 })
        #expect(try unscaled.gradients["w"]!.scalars(as: Float.self).map(\.bitPattern) == original.scalars(as: Float.self).map(\.bitPattern))
        #expect(try unscaled.gradients["h"]!.scalars(as: Float.self) == [Float(1.5) / 65536, -3072 / 65536, Float(Float16(6.1e-5)) / 65536])
        #expect(try unscaled.gradients["b"]!.scalars(as: Float.self) == [BFloat16(3.0e30).floatValue / 65536, -1 / 65536])
        #expect(unscaled.maxAbs["h"] == 3072.0 / 65536)
        #expect(unscaled.maxAbs["w"] == Double(try original.abs().max().item(as: Float.self)))
    }

    @Test func nonFiniteGradientsAreNamed() throws {
        let scaler = DynamicLossScaler()
        let gradients = [
            "a.weight": try Tensor([Float(1), .infinity], shape: [2]),
            "b.weight": try Tensor([Float16.nan, 1], shape: [2]),
            "c.weight": try Tensor([1e300, 1.0], shape: [2]),  // float64 beyond float32's range
            "d.weight": try Tensor([Float(2), -4], shape: [2]),
        ]
        let unscaled = try scaler.unscale(gradients)
        #expect(!unscaled.isFinite)
        #expect(unscaled.nonFinite == ["a.weight", "b.weight", "c.weight"])
        #expect(unscaled.maxAbs["a.weight"] == .infinity)
        #expect(unscaled.maxAbs["b.weight"]!.isNaN)
        #expect(unscaled.maxAbs["d.weight"] == 4.0 / 65536)
        #expect(throws: MixedPrecisionError.self) { try UnscaledGradients(gradients, scale: 0) }
    }

    // MARK: Adaptive precision switch

    @Test func layerNamesAndMagnitudes() {
        #expect(AdaptivePrecisionSwitch.layer(of: "0.weight") == "0")
        #expect(AdaptivePrecisionSwitch.layer(of: "encoder.attn.q.bias") == "encoder.attn.q")
        #expect(AdaptivePrecisionSwitch.layer(of: "scale") == "")
        let magnitudes = AdaptivePrecisionSwitch.layerMagnitudes(["0.weight": -3, "0.bias": 5, "1.weight": .nan, "1.bias": 2, "2.weight": .infinity])
        #expect(magnitudes == ["0": 5, "1": 2])
    }

    @Test func layerRunsInFloat32ForTheCooldownThenReturns() throws {
        var precisionSwitch = try AdaptivePrecisionSwitch(settings: .init(precision: .fp16, cooldownSteps: 3))
        #expect(precisionSwitch.settings.threshold == 0.0625)  // 2⁻¹⁴ × 1024
        let healthy: [String: Double] = ["0.weight": 1e-3, "0.bias": 1e-4, "2.weight": 1e-2]
        var tiny = healthy
        tiny["0.weight"] = 1e-7  // × 65536 ≈ 0.0066: inside the margin above float16's smallest normal
        tiny["0.bias"] = 0
        var timeline: [Set<String>] = []
        var entered: [[String]] = []
        var left: [[String]] = []
        for (step, stats) in [healthy, tiny, healthy, healthy, healthy, healthy].enumerated() {
            let decision = precisionSwitch.record(maxAbs: stats, lossScale: 65536)
            timeline.append(decision.float32Layers)
            entered.append(decision.entered)
            left.append(decision.left)
            #expect(precisionSwitch.state.step == step + 1)
        }
        #expect(timeline == [[], ["0"], ["0"], ["0"], [], []])
        #expect(entered == [[], ["0"], [], [], [], []])
        #expect(left == [[], [], [], [], ["0"], []])
    }

    @Test func smallGradientsDuringTheCooldownExtendIt() throws {
        var precisionSwitch = try AdaptivePrecisionSwitch(settings: .init(precision: .fp16, cooldownSteps: 2))
        let tiny: [String: Double] = ["0.weight": 1e-9]
        let healthy: [String: Double] = ["0.weight": 1]
        let timeline = [tiny, healthy, tiny, healthy, healthy, healthy].map { precisionSwitch.record(maxAbs: $0, lossScale: 1).float32Layers }
        #expect(timeline == [["0"], ["0"], ["0"], ["0"], [], []])
    }

    @Test func theThresholdFollowsTheComputeType() throws {
        var fp32 = try AdaptivePrecisionSwitch(settings: .init(precision: .fp32))
        #expect(fp32.record(maxAbs: ["0.weight": 0], lossScale: 1).float32Layers.isEmpty)
        var bf16 = try AdaptivePrecisionSwitch(settings: .init(precision: .bf16, cooldownSteps: 1))
        #expect(bf16.record(maxAbs: ["0.weight": 1e-20], lossScale: 1).float32Layers.isEmpty)
        #expect(bf16.record(maxAbs: ["0.weight": 1e-36], lossScale: 1).float32Layers == ["0"])
        #expect(throws: MixedPrecisionError.self) { try AdaptivePrecisionSwitch(settings: .init(precision: .fp16, cooldownSteps: 0)) }
    }

    @Test func switchStateRestoresAndClampsToTheCooldown() throws {
        let settings = AdaptivePrecisionSwitch.Settings(precision: .fp16, cooldownSteps: 5)
        var original = try AdaptivePrecisionSwitch(settings: settings)
        original.record(maxAbs: ["a.w": 0, "b.w": 1])
        var restored = try AdaptivePrecisionSwitch(restoring: original.state, settings: settings)
        #expect(restored == original)
        #expect(restored.record(maxAbs: [:]) == original.record(maxAbs: [:]))
        let shorter = try AdaptivePrecisionSwitch(restoring: original.state, settings: .init(precision: .fp16, cooldownSteps: 2))
        #expect(shorter.state.float32Layers == ["a": 2])
        let bad = AdaptivePrecisionSwitch.State(step: -1)
        #expect(try #require(throws: MixedPrecisionError.self) { try AdaptivePrecisionSwitch(restoring: bad, settings: settings) }.code == .incompatibleState)
    }

    // MARK: Parameter casts

    @Test func parameterCastPicksTheComputeTypeExceptFloat32Layers() throws {
        #expect(Precision.fp32.parameterCast()("0.weight") == nil)
        #expect(Precision.fp16.parameterCast()("0.weight") == .float16)
        #expect(Precision.bf16.parameterCast()("0.weight") == .bfloat16)
        let cast = Precision.fp16.parameterCast(float32Layers: ["0"])
        #expect(cast("0.weight") == .float32)
        #expect(cast("0.bias") == .float32)
        #expect(cast("2.weight") == .float16)
        #expect(cast("10.weight") == .float16)
        #expect(Precision.fp32.parameterCast(float32Layers: ["0"])("2.weight") == nil)
        #expect(Precision.fp16.needsLossScaling && !Precision.bf16.needsLossScaling)

        var precisionSwitch = try AdaptivePrecisionSwitch(settings: .init(precision: .bf16, cooldownSteps: 2))
        precisionSwitch.record(maxAbs: ["2.bias": 0, "0.weight": 1])
        let fromSwitch = precisionSwitch.parameterCast()
        #expect(fromSwitch("2.weight") == .float32)
        #expect(fromSwitch("0.weight") == .bfloat16)
    }

    @Test func tracerCastsOnlyTheComputeLayers() throws {
        let model = try MLP(sizes: [4, 3, 2], seed: 1)
        let tracer = GraphTracer(parameterCast: Precision.fp16.parameterCast(float32Layers: ["0"]))
        let x = try tracer.input("x", TensorType([5, 4]))
        let graph = tracer.finish(outputs: [try model(x)])
        // The parameter each cast reads, with the dtype it casts to.
        var casts: [String: DType] = [:]
        for node in graph.nodes {
            guard case .cast(let dtype) = node.op else { continue }
            casts[graph[node: graph[value: node.inputs[0]].producer].name] = dtype
        }
        #expect(casts == ["2.weight": .float16, "2.bias": .float16])
    }
}
