/// The benchmark groups the runner knows, in the order `all` runs them.
enum Group: String, CaseIterable, Sendable {
    case peak
    case sgemm
    case elementwise
    case conv2d
    case openclSgemm = "opencl-sgemm"
    case actorCall = "actor-call"
    case remoteCall = "remote-call"
    case stream
    case pipelined
    case engine
    case training
    case storage
    case models
    case tracing
    case vision
    case collectives
    case simulation
}

/// Command-line options of `deepseek-bench`.
struct Options: Sendable {
    var groups: [Group] = []
    var repetitions = 7
    var threads = [1, 2]
    var sizes: [Int]?
    /// The Python with torch, when given by `--python`; otherwise looked up under the repository.
    var python: String?
    var noPython = false
    var json = false
    /// Also write the JSON document to this file (Markdown still goes to standard output).
    var jsonOut: String?
    var minimumSampleSeconds = 0.05

    static let usage = """
        usage: deepseek-bench <group>... [options]

        Measures each hot path and its baseline in the same run and prints a Markdown table of
        medians and ratios per group (or JSON with --json). Build in release mode:
            swift run -c release --package-path Tools/Benchmarks deepseek-bench sgemm

        groups:
          peak           FMA peak GFLOP/s of the cores (unrolled AVX-512/AVX2 loop)
          sgemm          Tensor.matmul on CPUBackend vs cblas_sgemm on the same OpenBLAS vs PyTorch
          elementwise    add and relu of 16M float32 on CPUBackend vs memcpy bandwidth vs PyTorch
          conv2d         conv2d [64,32,28,28] * [64,32,3,3] pad 1 on CPUBackend vs PyTorch
          opencl-sgemm   OpenCLBackend matmul vs its naive kernel vs CPUBackend
          engine         graph engine: dispatch per empty op, MLP forward+backward vs the same kernels in
                         sequence, planning a 10,000-node graph and a plan-cache hit, CPU+OpenCL branches
          training       training steps (MLP, LeNet-5, a Transformer encoder layer) vs the same steps in PyTorch
          models         MiniLM-L6 sentence embeddings, batch 32 × 128 tokens, vs the same model in PyTorch
          vision         ResNet-50 inference, batch 8 at 224×224, vs the same network in PyTorch
          actor-call     local distributed-actor call vs a plain actor method call
          remote-call    distributed call round trip over URingTransport (loopback TCP) vs C ping-pong
          stream         1 MiB and 64 MiB tensors between two nodes vs a C socket stream
          pipelined      64 concurrent remote callers vs a C client with 64 requests in flight
          storage        SSD tier: 1 GiB sequential read/write, random 64 KiB reads vs a raw C io_uring loop
          collectives    ring all-reduce of 1/16/64 MiB among 4 nodes (io_uring loopback) vs point-to-point throughput
          simulation     cluster simulator: message events/s, GPT-3 175B iteration on 1024 simulated GPUs
          tracing        RingBufferRecorder vs a preallocated array; JSON/protobuf export of 1M messages
          all            every group above

        options:
          --repetitions N     samples per case; the table shows the median (default 7)
          --threads LIST      thread counts, comma-separated (default 1,2)
          --sizes LIST        square matrix sizes for sgemm / opencl-sgemm
                              (defaults 256,512,1024,2048 and 512,1024)
          --python PATH       Python with torch for the PyTorch columns
                              (default: .venv-bench/bin/python under the repository root)
          --no-python         leave the PyTorch columns empty
          --min-sample-ms MS  shortest timed sample; short calls repeat inside it (default 50)
          --json              print JSON instead of Markdown
          --json-out PATH     also write the JSON document to PATH
          -h, --help          this text
        """

    /// A message for a bad command line: what was wrong and what to write instead.
    struct UsageError: Error, CustomStringConvertible {
        var description: String
        /// True for `--help`: the description is the usage text, printed on standard output.
        var isHelp = false
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> Options {
        var options = Options()
        var i = 0
        func value(_ flag: String) throws(UsageError) -> String {
            i += 1
            guard i < arguments.count else { throw UsageError(description: "\(flag) needs a value; see --help") }
            return arguments[i]
        }
        func integers(_ flag: String, _ text: String) throws(UsageError) -> [Int] {
            let parts = text.split(separator: ",").map { Int($0.trimmingCharacters()) }
            guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw UsageError(description: "\(flag) takes positive integers separated by commas, like 1,2; got '\(text)'")
            }
            return parts.map { $0! }
        }
        while i < arguments.count {
            let arg = arguments[i]
            switch arg {
            case "-h", "--help", "help":
                throw UsageError(description: usage, isHelp: true)
            case "--repetitions":
                let text = try value(arg)
                guard let n = Int(text), n >= 1 else {
                    throw UsageError(description: "--repetitions takes a positive integer, got '\(text)'")
                }
                options.repetitions = n
            case "--threads": options.threads = try integers(arg, try value(arg))
            case "--sizes": options.sizes = try integers(arg, try value(arg))
            case "--python": options.python = try value(arg)
            case "--no-python": options.noPython = true
            case "--json": options.json = true
            case "--json-out": options.jsonOut = try value(arg)
            case "--min-sample-ms":
                let text = try value(arg)
                guard let ms = Double(text), ms >= 0 else {
                    throw UsageError(description: "--min-sample-ms takes a non-negative number, got '\(text)'")
                }
                options.minimumSampleSeconds = ms / 1000
            case "all":
                options.groups.append(contentsOf: Group.allCases)
            default:
                if let group = Group(rawValue: arg) {
                    options.groups.append(group)
                } else {
                    let known = (Group.allCases.map(\.rawValue) + ["all"]).joined(separator: ", ")
                    throw UsageError(description: "unknown group or option '\(arg)'; groups are \(known); see --help")
                }
            }
            i += 1
        }
        guard !options.groups.isEmpty else {
            throw UsageError(description: "name at least one group to run\n\n" + usage)
        }
        var seen = Set<Group>()
        options.groups = options.groups.filter { seen.insert($0).inserted }
        return options
    }

    /// The command line that reproduces a group's table, for the report.
    func command(for group: Group) -> String {
        var parts = ["swift run -c release --package-path Tools/Benchmarks deepseek-bench", group.rawValue]
        if repetitions != 7 { parts.append("--repetitions \(repetitions)") }
        if threads != [1, 2] { parts.append("--threads " + threads.map(String.init).joined(separator: ",")) }
        if let sizes, group == .sgemm || group == .openclSgemm {
            parts.append("--sizes " + sizes.map(String.init).joined(separator: ","))
        }
        if noPython { parts.append("--no-python") }
        return parts.joined(separator: " ")
    }
}

extension Substring {
    fileprivate func trimmingCharacters() -> String {
        String(self.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
