import DeepseekModels
import DeepseekTraining

#if canImport(Glibc)
import Glibc
#endif

/// A scenario: a cluster, a model from the zoo, a parallel layout and the knobs of a run, as
/// read from a YAML file in `Scenarios/` (fields in docs/simulation.md).
///
/// ```swift
/// let scenario = try Scenario(yaml: text, file: "Scenarios/gpt3-175b-1024-a100.yaml")
/// let report = try scenario.run()
/// print(report.markdown())
/// ```
public struct Scenario: Sendable {
    public var name: String
    /// The published setup the scenario models.
    public var models: String
    public var topology: ClusterTopology
    public var device: DeviceModel
    public var modelName: String
    public var modelSize: String?
    public var tokens: Int?
    public var microbatchSize: Int
    public var layout: ParallelLayout
    public var precision: ComputePrecision
    public var optimizer: String
    public var algorithm: CollectiveAlgorithm
    public var compression: GradientCompression
    public var bucketBytes: Double
    public var faults: FaultSchedule
    public var seed: UInt64
    /// Data-parallel size of the smaller configuration scaling efficiency is measured against.
    public var baselineDataParallel: Int?
    /// A parameter to sweep (`data`, `nodes`, `bandwidth_gbps`, `density`) and its values.
    public var sweep: (parameter: String, values: [Double])?
    /// The measured machine profile `cluster.profile` named, if any.
    public var profile: MachineProfile?

    /// Optimizer state bytes per parameter for mixed-precision training.
    public var optimizerBytes: Double { optimizer == "sgd" ? 8 : 12 }

    /// Builds the model and the configuration of one simulated iteration.
    public func configuration(trace: Bool = false) throws -> ClusterConfiguration {
        let zoo = try ModelZoo.build(name: modelName, size: modelSize, batch: microbatchSize, tokens: tokens, materialize: false)
        let workload = try WorkloadProfile(zoo)
        return ClusterConfiguration(
            topology: topology, device: device, workload: workload, layout: layout, precision: precision, algorithm: algorithm, compression: compression,
            optimizerBytesPerParameter: optimizerBytes, bucketBytes: bucketBytes, faults: faults, seed: seed, trace: trace)
    }
}

/// Typed access to a YAML map that names the field and line in every error.
struct FieldReader {
    let node: YAMLNode
    let path: String

    init(_ node: YAMLNode, path: String) throws(SimulationError) {
        guard case .map = node else { throw SimulationError(.invalidField, "line \(node.line): \(path.isEmpty ? "the file" : path) must be a map of \"key: value\" lines", field: path, line: node.line) }
        (self.node, self.path) = (node, path)
    }

    func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func check(allowed: [String]) throws(SimulationError) {
        guard case .map(let pairs, _) = node else { return }
        for (key, value) in pairs where !allowed.contains(key) {
            throw SimulationError(.invalidField, "line \(value.line): unknown field \"\(name(key))\"; known fields here: \(allowed.joined(separator: ", "))", field: name(key), line: value.line)
        }
    }

    func sub(_ key: String) throws(SimulationError) -> FieldReader? { try node[key].map { n throws(SimulationError) in try FieldReader(n, path: name(key)) } }

    func string(_ key: String) throws(SimulationError) -> (String, Int)? {
        guard let v = node[key] else { return nil }
        guard case .scalar(let s, let line) = v else { throw SimulationError(.invalidField, "line \(v.line): \(name(key)) must be a single value", field: name(key), line: v.line) }
        return (s, line)
    }

    func number(_ key: String, min: Double? = nil, positive: Bool = false) throws(SimulationError) -> Double? {
        guard let (s, line) = try string(key) else { return nil }
        guard let v = Double(s.replacingUnderscores), v.isFinite else {
            throw SimulationError(.invalidField, "line \(line): \(name(key)) must be a number, got \"\(s)\"", field: name(key), line: line)
        }
        if positive && v <= 0 { throw SimulationError(.invalidField, "line \(line): \(name(key)) must be positive, got \(s)", field: name(key), line: line) }
        if let min, v < min { throw SimulationError(.invalidField, "line \(line): \(name(key)) must be at least \(min), got \(s)", field: name(key), line: line) }
        return v
    }

    func integer(_ key: String, min: Int = 1) throws(SimulationError) -> Int? {
        guard let v = try number(key, min: Double(min)) else { return nil }
        guard v == v.rounded() else { throw SimulationError(.invalidField, "line \(node[key]!.line): \(name(key)) must be a whole number, got \(v)", field: name(key), line: node[key]!.line) }
        return Int(v)
    }

    func required<T>(_ key: String, _ value: T?) throws(SimulationError) -> T {
        guard let value else { throw SimulationError(.invalidField, "line \(node.line): \(name(key)) is missing", field: name(key), line: node.line) }
        return value
    }
}

extension String {
    var replacingUnderscores: String { String(filter { $0 != "_" }) }
}

extension Scenario {
    /// The text of the file at `path`, or `nil` when it cannot be read.
    public static func readTextFile(_ path: String) -> String? {
        #if canImport(Glibc)
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
        #else
        return nil
        #endif
    }
}
