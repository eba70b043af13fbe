import Foundation

/// One PyTorch timing as printed by `pytorch_baselines.py`.
struct PyTorchResult: Decodable, Sendable {
    var group: String
    var name: String
    var threads: Int
    /// Median seconds per call.
    var seconds: Double
    var samples: [Double]
}

/// PyTorch CPU figures measured in the same run, through the repository's Python script.
///
/// The script runs in a child process with the virtualenv's Python; a missing Python or torch
/// leaves the PyTorch columns empty with a note saying how to install it. Never needed for
/// tests or CI.
struct PyTorchBaseline {
    /// The Python that imports torch, or nil when PyTorch is unavailable.
    var python: String?
    var script: String?
    /// Why PyTorch columns are empty, for the table notes.
    var unavailableReason: String?
    var version: String?
    private var cache: [String: PyTorchResult] = [:]

    static let notInstalled = "PyTorch: not installed (pip install torch into .venv-bench)"

    /// Finds the Python: `--python PATH`, otherwise `.venv-bench/bin/python` under the repository root.
    init(options: Options) {
        guard !options.noPython else {
            unavailableReason = "PyTorch: skipped (--no-python)"
            return
        }
        let root = repositoryRoot()
        let candidate = options.python ?? root.map { $0 + "/.venv-bench/bin/python" }
        guard let candidate, FileManager.default.isExecutableFile(atPath: candidate) else {
            unavailableReason = options.python.map { "PyTorch: \($0) is not an executable Python" } ?? Self.notInstalled
            return
        }
        guard let root, FileManager.default.fileExists(atPath: root + "/Tools/Benchmarks/pytorch_baselines.py") else {
            unavailableReason = "PyTorch: Tools/Benchmarks/pytorch_baselines.py not found; run from inside the repository"
            return
        }
        python = candidate
        script = root + "/Tools/Benchmarks/pytorch_baselines.py"
    }

    /// Runs the script for one group and keeps its results; on failure the columns stay empty.
    mutating func measure(group: String, threads: [Int], sizes: [Int]? = nil, repetitions: Int, minimumSampleSeconds: Double) {
        guard let python, let script else { return }
        var arguments = [
            script, "--groups", group, "--threads", threads.map(String.init).joined(separator: ","),
            "--repetitions", String(repetitions), "--min-sample-ms", String(minimumSampleSeconds * 1000),
        ]
        if let sizes { arguments += ["--sizes", sizes.map(String.init).joined(separator: ",")] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            unavailableReason = "PyTorch: could not start \(python): \(error)"
            self.python = nil
            return
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        struct Document: Decodable {
            var torch: String?
            var error: String?
            var results: [PyTorchResult]?
        }
        guard let document = try? JSONDecoder().decode(Document.self, from: data) else {
            unavailableReason = "PyTorch: the script exited with status \(process.terminationStatus) and printed no JSON"
            return
        }
        if let error = document.error {
            unavailableReason = "PyTorch: \(error) (pip install torch into .venv-bench)"
            self.python = nil
            return
        }
        version = document.torch
        for result in document.results ?? [] {
            cache[Self.key(result.group, result.name, result.threads)] = result
        }
    }

    /// Median seconds per call of a PyTorch case, or nil when it was not measured.
    func seconds(group: String, name: String, threads: Int) -> Double? {
        cache[Self.key(group, name, threads)]?.seconds
    }

    private static func key(_ group: String, _ name: String, _ threads: Int) -> String {
        "\(group)/\(name)/\(threads)"
    }
}

/// The repository root: the nearest directory at or above the working directory, or above this
/// source file, that holds `Tools/Benchmarks/Package.swift`.
func repositoryRoot() -> String? {
    let fm = FileManager.default
    var starts = [fm.currentDirectoryPath]
    starts.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().path)
    for start in starts {
        var url = URL(fileURLWithPath: start).standardizedFileURL
        while true {
            if fm.fileExists(atPath: url.appendingPathComponent("Tools/Benchmarks/Package.swift").path) {
                return url.path
            }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { break }
            url = parent
        }
    }
    return nil
}
