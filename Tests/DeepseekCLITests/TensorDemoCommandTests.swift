import Testing

@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct TensorDemoCommandTests {
    func run(_ arguments: [String]) throws -> ProcessResult {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, arguments)
        #expect(!result.timedOut, "deepseek \(arguments.joined(separator: " ")) did not finish in time")
        return result
    }

    /// The checksum printed on each operation's line, in order.
    func checksums(_ output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let index = words.firstIndex(of: "checksum"), index + 1 < words.count else { return nil }
            return String(words[index + 1])
        }
    }

    @Test(arguments: ["reference", "cpu"])
    func demoRunsEachOperationAndAgreesWithTheReference(backend: String) throws {
        let result = try run(["tensor-demo", "--backend", backend, "--size", "24", "--repeats", "1"])
        #expect(result.exitCode == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("backend: \(backend)"))
        for operation in ["matmul", "softmax", "conv2d"] {
            #expect(result.stdout.contains(operation))
        }
        #expect(result.stdout.contains("[24, 24] · [24, 24] → [24, 24]"))
        #expect(result.stdout.contains("→ [2, 8, 32, 32]"))
        #expect(checksums(result.stdout).count == 3)
        #expect(result.stdout.contains("vs reference"))
    }

    @Test func sameSeedGivesSameChecksums() throws {
        let arguments = ["tensor-demo", "--backend", "reference", "--size", "16", "--repeats", "1", "--no-verify", "--seed", "7"]
        let first = try run(arguments)
        let second = try run(arguments)
        let other = try run(["tensor-demo", "--backend", "reference", "--size", "16", "--repeats", "1", "--no-verify", "--seed", "8"])
        #expect(checksums(first.stdout).count == 3)
        #expect(checksums(first.stdout) == checksums(second.stdout))
        #expect(checksums(first.stdout) != checksums(other.stdout))
    }

    @Test(arguments: [["--size", "0"], ["--repeats", "1000"], ["--backend", "tpu"], ["--seed", "minus-one"]])
    func badArgumentsFailWithAMessage(arguments: [String]) throws {
        let result = try run(["tensor-demo"] + arguments)
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("Error:"))
        #expect(result.stderr.contains(arguments[0]))
    }
}
