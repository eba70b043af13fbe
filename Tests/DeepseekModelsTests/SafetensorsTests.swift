import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Foundation
import Testing

/// A fresh path in the temporary directory, removed by the caller's `defer`.
func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-\(UUID().uuidString)-\(name)").path
}

/// Writes a safetensors file by hand: the 8-byte length, `header` verbatim, then `data`.
func writeRawSafetensors(_ path: String, header: String, data: [UInt8], declaredLength: UInt64? = nil) throws {
    var bytes: [UInt8] = []
    let h = Array(header.utf8)
    withUnsafeBytes(of: (declaredLength ?? UInt64(h.count)).littleEndian) { bytes.append(contentsOf: $0) }
    bytes += h + data
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

@Suite struct SafetensorsTests {
    @Test func roundTripKeepsNamesShapesDtypesAndValues() throws {
        let path = temporaryPath("roundtrip.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let tensors: [String: Tensor] = [
            "a.weight": try Tensor([Float](arrayLiteral: 1, -2.5, 3, 4, 5, 6), shape: [2, 3]),
            "half": try Tensor([Float16](arrayLiteral: 0.5, -1, 65504), shape: [3]),
            "brain": try Tensor([BFloat16(1.5), BFloat16(-3)], shape: [2, 1]),
            "ids": try Tensor([Int64](arrayLiteral: 0, 1, 1 << 40), shape: [3]),
            "scalar": Tensor(scalar: Float(7)),
            "empty": try Tensor.zeros([0, 4]),
        ]
        try SafetensorsFile.write(tensors, metadata: ["format": "pt", "note": "a \"quoted\" value"], to: path)
        let file = try SafetensorsFile(contentsOf: path)
        #expect(file.names == tensors.keys.sorted())
        #expect(file.metadata == ["format": "pt", "note": "a \"quoted\" value"])
        for (name, expected) in tensors {
            let t = try file.tensor(named: name)
            #expect(t.dtype == expected.dtype, "\(name)")
            #expect(t.shape == expected.shape, "\(name)")
            #expect(try t.scalarsAsDouble() == expected.scalarsAsDouble(), "\(name)")
        }
        #expect(file.entry(named: "half")?.dtypeName == "F16")
        #expect(file.entry(named: "brain")?.dtypeName == "BF16")
    }

    @Test func headerIsPaddedSoEveryTensorStartsAligned() throws {
        let path = temporaryPath("aligned.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsFile.write(["x": try Tensor([Float](arrayLiteral: 1, 2, 3), shape: [3])], to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let length = bytes[0..<8].enumerated().reduce(0) { $0 | (Int($1.element) << (8 * $1.offset)) }
        #expect(length % 8 == 0)
        #expect(bytes.count == 8 + length + 12)
    }

    @Test func writingToALoadedWeightNeverChangesTheFile() throws {
        let path = temporaryPath("cow.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsFile.write(["x": try Tensor([Float](arrayLiteral: 1, 2, 3, 4), shape: [4])], to: path)
        var t = try SafetensorsFile(contentsOf: path).tensor(named: "x")
        try t.withUnsafeMutableBufferPointer(as: Float.self) { $0[0] = 99 }
        #expect(try t.scalars(as: Float.self) == [99, 2, 3, 4])
        #expect(try SafetensorsFile(contentsOf: path).tensor(named: "x").scalars(as: Float.self) == [1, 2, 3, 4])
    }

    @Test func modelSavedAndLoadedIntoAnotherSeedHasTheSameWeights() throws {
        let path = temporaryPath("bert.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let a = try BERTModel(.tiny(), seed: 1)
        let b = try BERTModel(.tiny(), seed: 2)
        try a.save(to: path)
        let leftOut = try b.load(safetensorsAt: path)
        #expect(leftOut.isEmpty)
        for (p, q) in zip(a.parameters, b.parameters) {
            #expect(p.name == q.name)
            #expect(try p.value.scalarsAsDouble() == q.value.scalarsAsDouble(), "\(p.name)")
        }
    }

    @Test func halfPrecisionFileLoadsIntoFloat32Parameters() throws {
        let path = temporaryPath("half.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try MLP(sizes: [3, 2], seed: 0)
        try SafetensorsFile.write(["0.weight": try Tensor([Float16](repeating: 0.25, count: 6), shape: [2, 3]),
                                   "0.bias": try Tensor([BFloat16(1), BFloat16(-1)], shape: [2])], to: path)
        try model.load(safetensorsAt: path)
        #expect(model.parameters[0].value.dtype == .float32)
        #expect(try model.parameters[0].value.scalars(as: Float.self) == [Float](repeating: 0.25, count: 6))
        #expect(try model.parameters[1].value.scalars(as: Float.self) == [1, -1])
    }

    // MARK: - Broken files and mismatched models: errors that name the tensor, never a crash.

    @Test func shortFileIsAnInvalidHeader() throws {
        let path = temporaryPath("short.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: path) }
        #expect(error.code == .invalidHeader)
    }

    @Test func headerLengthBeyondTheFileIsAnInvalidHeader() throws {
        let path = temporaryPath("length.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeRawSafetensors(path, header: "{}", data: [], declaredLength: 1 << 40)
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: path) }
        #expect(error.code == .invalidHeader)
        #expect(error.message.contains("header length"))
    }

    @Test func malformedJSONIsAnInvalidHeaderWithTheOffset() throws {
        let path = temporaryPath("json.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeRawSafetensors(path, header: "{\"x\": {\"dtype\": \"F32\",}", data: [])
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: path) }
        #expect(error.code == .invalidHeader)
        #expect(error.message.contains("at byte"))
    }

    @Test func entryWithoutOffsetsNamesTheTensor() throws {
        let path = temporaryPath("entry.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeRawSafetensors(path, header: #"{"w": {"dtype": "F32", "shape": [2]}}"#, data: [UInt8](repeating: 0, count: 8))
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: path) }
        #expect(error.code == .invalidHeader)
        #expect(error.tensor == "w")
    }

    @Test func truncatedDataNamesTheTensor() throws {
        let path = temporaryPath("truncated.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let header = #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}"#
        try writeRawSafetensors(path, header: header, data: [UInt8](repeating: 0, count: 12))
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: path) }
        #expect(error.code == .truncated)
        #expect(error.tensor == "b")
        #expect(error.message.contains("\"b\""))
    }

    @Test func byteLengthDisagreeingWithTheDtypeNamesTheTensor() throws {
        let path = temporaryPath("dtype.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Four F16 values are 8 bytes; the header says F32, which would need 16.
        try writeRawSafetensors(path, header: #"{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 8]}}"#, data: [UInt8](repeating: 0, count: 8))
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: path) }
        #expect(error.code == .dtypeMismatch)
        #expect(error.tensor == "w")
    }

    @Test func unsupportedDtypeIsListedButNotRead() throws {
        let path = temporaryPath("f8.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeRawSafetensors(path, header: #"{"q": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}"#, data: [1, 2, 3, 4])
        let file = try SafetensorsFile(contentsOf: path)
        #expect(file.names == ["q"])
        let error = try #require(throws: SafetensorsError.self) { try file.tensor(named: "q") }
        #expect(error.code == .unsupportedDType)
    }

    @Test func missingFileIsAnIOError() throws {
        let error = try #require(throws: SafetensorsError.self) { try SafetensorsFile(contentsOf: "/nonexistent/model.safetensors") }
        #expect(error.code == .io)
    }

    @Test func missingUnexpectedAndMisshapedTensorsAreNamedAndLeaveTheModelUnchanged() throws {
        let path = temporaryPath("mismatch.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try MLP(sizes: [3, 2], seed: 0)
        let before = try model.parameters.map { try $0.value.scalarsAsDouble() }
        let weight = try Tensor.ones([2, 3])
        let bias = try Tensor.ones([2])

        try SafetensorsFile.write(["0.weight": weight], to: path)
        var error = try #require(throws: SafetensorsError.self) { try model.load(safetensorsAt: path) }
        #expect(error.code == .missingTensor)
        #expect(error.tensor == "0.bias")

        try SafetensorsFile.write(["0.weight": weight, "0.bias": bias, "head.weight": weight], to: path)
        error = try #require(throws: SafetensorsError.self) { try model.load(safetensorsAt: path) }
        #expect(error.code == .unexpectedTensor)
        #expect(error.tensor == "head.weight")
        #expect(try model.load(safetensorsAt: path, options: .init(ignoring: ["head.*"])) == ["head.weight"])

        let reset = try MLP(sizes: [3, 2], seed: 0)
        try SafetensorsFile.write(["0.weight": try Tensor.ones([3, 2]), "0.bias": bias], to: path)
        error = try #require(throws: SafetensorsError.self) { try reset.load(safetensorsAt: path) }
        #expect(error.code == .shapeMismatch)
        #expect(error.tensor == "0.weight")

        try SafetensorsFile.write(["0.weight": try Tensor([Int64](repeating: 1, count: 6), shape: [2, 3]), "0.bias": bias], to: path)
        error = try #require(throws: SafetensorsError.self) { try reset.load(safetensorsAt: path) }
        #expect(error.code == .dtypeMismatch)
        #expect(error.tensor == "0.weight")
        #expect(try reset.parameters.map { try $0.value.scalarsAsDouble() } == before)
    }

    @Test func prefixesAreStrippedBeforeMatching() throws {
        let path = temporaryPath("prefix.safetensors")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try MLP(sizes: [3, 2], seed: 0)
        try SafetensorsFile.write(["bert.0.weight": try Tensor.ones([2, 3]), "bert.0.bias": try Tensor.zeros([2])], to: path)
        try model.load(safetensorsAt: path, options: .init(stripPrefixes: ["bert."]))
        #expect(try model.parameters[0].value.scalars(as: Float.self) == [Float](repeating: 1, count: 6))
    }
}
