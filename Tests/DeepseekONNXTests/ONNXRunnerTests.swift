#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekONNX
import DeepseekTensor
import Testing

/// A throw-away node-test directory written by the test, so the runner is exercised without
/// Debian's test data.
struct SyntheticSuite {
    let root: String

    init() throws {
        var template = Array("/tmp/deepseek-onnx-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        root = String(cString: try #require(made))
    }

    func write(_ path: String, _ bytes: [UInt8]) throws {
        let f = try #require(fopen("\(root)/\(path)", "wb"))
        defer { fclose(f) }
        #expect(bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) } == bytes.count)
    }

    func makeDirectory(_ path: String) { mkdir("\(root)/\(path)", 0o755) }

    /// A case with one node and float tensors.
    func addCase(
        _ name: String, op: String, inputs: [(String, [Int64], [Float])], outputs: [(String, [Int64], [Float])], elementType: Int64 = 1
    ) throws {
        makeDirectory(name)
        makeDirectory("\(name)/test_data_set_0")
        try write(
            "\(name)/model.onnx",
            Fixture.model(opType: op, inputs: inputs.map { ($0.0, $0.1) }, outputs: outputs.map { ($0.0, $0.1) }, elementType: elementType))
        for (k, (n, dims, values)) in inputs.enumerated() {
            var w = ProtoWriter()
            Fixture.floatTensor(&w, name: n, dims: dims, values: values)
            try write("\(name)/test_data_set_0/input_\(k).pb", w.bytes)
        }
        for (k, (n, dims, values)) in outputs.enumerated() {
            var w = ProtoWriter()
            Fixture.floatTensor(&w, name: n, dims: dims, values: values)
            try write("\(name)/test_data_set_0/output_\(k).pb", w.bytes)
        }
    }

    func remove() {
        // Only what this suite wrote: known case names, their data sets and files.
        for name in (try? listNames(root)) ?? [] {
            for sub in (try? listNames("\(root)/\(name)")) ?? [] {
                for file in (try? listNames("\(root)/\(name)/\(sub)")) ?? [] { unlink("\(root)/\(name)/\(sub)/\(file)") }
                rmdir("\(root)/\(name)/\(sub)")
                unlink("\(root)/\(name)/\(sub)")
            }
            rmdir("\(root)/\(name)")
        }
        rmdir(root)
    }

    func listNames(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let n = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if n != "." && n != ".." { names.append(n) }
        }
        return names
    }
}

@Suite struct ONNXRunnerTests {
    @Test func passFailAndSkipAreReportedWithReasons() throws {
        let suite = try SyntheticSuite()
        defer { suite.remove() }
        try suite.addCase("test_relu_ok", op: "Relu", inputs: [("x", [3], [-1, 0, 2])], outputs: [("y", [3], [0, 0, 2])])
        try suite.addCase("test_relu_wrong", op: "Relu", inputs: [("x", [3], [-1, 0, 2])], outputs: [("y", [3], [0, 0, 3])])
        try suite.addCase("test_frob", op: "Frobnicate", inputs: [("x", [1], [1])], outputs: [("y", [1], [1])])
        try suite.addCase("test_relu_uint8", op: "Relu", inputs: [("x", [1], [1])], outputs: [("y", [1], [1])], elementType: 2)

        let conformance = ONNXConformance(dataDirectory: suite.root)
        #expect(try conformance.listCases() == ["test_frob", "test_relu_ok", "test_relu_uint8", "test_relu_wrong"])
        var seen: [String] = []
        let summary = try conformance.runAll(backend: ReferenceBackend()) { seen.append($0.name) }
        #expect(seen.count == 4)
        let byName = Dictionary(uniqueKeysWithValues: summary.results.map { ($0.name, $0) })
        #expect(byName["test_relu_ok"]?.status == .passed)
        #expect(byName["test_relu_ok"]?.op == "Relu")
        guard case .failed(let reason) = byName["test_relu_wrong"]?.status else {
            Issue.record("expected a failure")
            return
        }
        #expect(reason.contains("1 of 3 values differ"))
        #expect(reason.contains("got 2.0, expected 3.0"))
        #expect(byName["test_frob"]?.status == .skipped("op Frobnicate not implemented"))
        #expect(byName["test_relu_uint8"]?.status == .skipped("dtype uint8 unsupported"))
        #expect((summary.passed, summary.failed, summary.skipped) == (1, 1, 2))

        let relu = try #require(summary.perOperator.first { $0.op == "Relu" })
        #expect(relu.passed == 1 && relu.failed == 1 && relu.skipped == 1)

        let text = summary.renderText()
        #expect(text.split(separator: "\n").last == "1 passed, 1 failed, 2 skipped")
        #expect(text.contains("Failures:"))
        #expect(text.contains("op Frobnicate not implemented (1): test_frob"))

        let filtered = try conformance.runAll(backend: ReferenceBackend(), filter: "relu_ok")
        #expect(filtered.results.map(\.name) == ["test_relu_ok"])
    }

    @Test func aCorruptTestFileIsAFailureNamingTheFile() throws {
        let suite = try SyntheticSuite()
        defer { suite.remove() }
        try suite.addCase("test_cut", op: "Relu", inputs: [("x", [3], [-1, 0, 2])], outputs: [("y", [3], [0, 0, 2])])
        var w = ProtoWriter()
        Fixture.floatTensor(&w, name: "x", dims: [3], values: [-1, 0, 2])
        try suite.write("test_cut/test_data_set_0/input_0.pb", Array(w.bytes.dropLast(5)))
        let result = ONNXConformance(dataDirectory: suite.root).run(case: "test_cut", backend: ReferenceBackend())
        guard case .failed(let reason) = result.status else {
            Issue.record("expected a failure, got \(result.status)")
            return
        }
        #expect(reason.contains("input_0.pb"))
        #expect(reason.contains("byte"))
    }

    @Test func comparisonFollowsOnnxTolerances() throws {
        let c = ONNXConformance(dataDirectory: "/nonexistent")
        #expect(!c.isAvailable)
        let nan = Float.nan
        #expect(try c.compare(Tensor([1, nan, .infinity] as [Float]), Tensor([1.0005, nan, .infinity] as [Float])) == nil)
        #expect(try c.compare(Tensor([1.002] as [Float]), Tensor([1] as [Float])) != nil)
        #expect(try c.compare(Tensor([nan] as [Float]), Tensor([1] as [Float])) != nil)
        #expect(try c.compare(Tensor([-Float.infinity] as [Float]), Tensor([.infinity] as [Float])) != nil)
        #expect(try c.compare(Tensor([1] as [Float]), Tensor([1] as [Double]))?.contains("dtype float32, expected float64") == true)
        #expect(try c.compare(Tensor([1, 2] as [Float]), Tensor([1, 2] as [Float]).reshaped([1, 2]))?.contains("shape") == true)
        #expect(try c.compare(Tensor([Int64.max] as [Int64]), Tensor([Int64.max - 1] as [Int64])) != nil)
        #expect(try c.compare(Tensor([true, false]), Tensor([true, false])) == nil)
        // bfloat16 values one bfloat16 step apart match; two steps apart do not.
        let bf = try Tensor([0.5] as [Float]).cast(to: .bfloat16)
        #expect(try c.compare(try Tensor([0.50390625] as [Float]).cast(to: .bfloat16), bf) == nil)
        #expect(try c.compare(try Tensor([0.51171875] as [Float]).cast(to: .bfloat16), bf) != nil)
    }

    @Test func missingDataDirectoryIsAnIOError() {
        #expect(throws: ONNXError.self) { _ = try ONNXConformance(dataDirectory: "/nonexistent/onnx").listCases() }
    }
}
