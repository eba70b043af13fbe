@testable import DeepseekONNX
import DeepseekTensor
import Testing

/// A small deterministic generator, so every run mutates the same bytes.
struct SplitMix64 {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Decodes a model and every tensor it holds; returns whether it decoded.
@discardableResult
func decodeEverything(_ bytes: [UInt8], file: String) -> Bool {
    do {
        let model = try ONNXModel(bytes: bytes, file: file)
        _ = model.unsupportedReason
        for proto in model.graph.initializers { _ = try? proto.tensor() }
        for node in model.graph.nodes { for a in node.attributes { _ = try? a.t?.tensor() } }
        return true
    } catch {
        // Every failure must be an ONNXError that names the file.
        #expect(error.file == file)
        return false
    }
}

@Suite struct ONNXFuzzTests {
    static let fixture: [UInt8] = Fixture.model(opType: "Conv", inputs: [("x", [1, 1, 4, 4]), ("w", [1, 1, 3, 3])], outputs: [("y", [1, 1, 2, 2])]) { n in
        n.message(5) { a in
            a.string(1, "pads")
            a.packedInts(8, [1, 1, 1, 1])
            a.int(20, 7)
        }
        n.message(5) { a in
            a.string(1, "value")
            a.message(5) { Fixture.floatTensor(&$0, name: "c", dims: [3], values: [1, 2, 3]) }
            a.int(20, 4)
        }
    }

    @Test func everyTruncationOfAModelFailsCleanly() {
        #expect(decodeEverything(Self.fixture, file: "fixture.onnx"))
        for length in 0..<Self.fixture.count {
            // A prefix may still be a valid (shorter) message; it must never trap.
            decodeEverything(Array(Self.fixture[..<length]), file: "fixture.onnx")
        }
    }

    @Test func randomByteFlipsNeverTrap() {
        var rng = SplitMix64(state: 42)
        for _ in 0..<3000 {
            var bytes = Self.fixture
            for _ in 0..<(1 + rng.below(4)) {
                bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
            decodeEverything(bytes, file: "flipped.onnx")
        }
    }

    @Test func truncatedTensorFilesReportTheirOffset() throws {
        var w = ProtoWriter()
        Fixture.floatTensor(&w, name: "x", dims: [4], values: [1, 2, 3, 4])
        for length in 1..<w.bytes.count {
            do {
                _ = try ONNXTensorProto(bytes: Array(w.bytes[..<length]), file: "x.pb").tensor()
            } catch {
                #expect(error.file == "x.pb")
                #expect(error.code == .malformed || error.code == .invalidModel)
            }
        }
    }

    @Test(.enabled(if: onnxTestDataAvailable, "needs Debian's libonnx-testdata"))
    func realModelsSurviveTruncationAndFlips() throws {
        let directory = ONNXConformance.defaultDataDirectory
        var rng = SplitMix64(state: 7)
        for name in ["test_conv_with_strides_padding", "test_layer_normalization_4d_axis1_expanded", "test_gemm_all_attributes"] {
            let path = "\(directory)/\(name)/model.onnx"
            let model = try ONNXModel(contentsOf: path)
            _ = model
            let bytes = try readFile(path)
            for length in stride(from: 0, to: bytes.count, by: Swift.max(1, bytes.count / 200)) {
                decodeEverything(Array(bytes[..<length]), file: path)
            }
            for _ in 0..<500 {
                var mutated = bytes
                mutated[rng.below(mutated.count)] ^= UInt8(truncatingIfNeeded: 1 + rng.below(255))
                decodeEverything(mutated, file: path)
            }
            let input = "\(directory)/\(name)/test_data_set_0/input_0.pb"
            let tensorBytes = try readFile(input)
            for length in 0..<Swift.min(tensorBytes.count, 64) {
                _ = try? ONNXTensorProto(bytes: Array(tensorBytes[..<length]), file: input).tensor()
            }
        }
    }
}
