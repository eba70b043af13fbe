#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory of checkpoints named by step (`checkpoint-000000001200.dsckpt`): saves each new
/// one atomically, finds the newest, and keeps only the last few.
///
/// ```swift
/// let directory = try CheckpointDirectory("/runs/a", keepLast: 3)
/// try directory.save(checkpoint, step: trainer.globalStep)
/// if let resumed = try directory.loadLatest() { try resumed.restore(into: model, optimizer: &optimizer) }
/// ```
public struct CheckpointDirectory: Sendable {
    /// The directory.
    public let path: String
    /// How many checkpoints `save` keeps (the newest by step).
    public let keepLast: Int

    static let prefix = "checkpoint-"

    /// - Throws: `CheckpointError.invalidArgument` when `keepLast` is below 1.
    public init(_ path: String, keepLast: Int = 3) throws(CheckpointError) {
        guard keepLast >= 1 else {
            throw CheckpointError(.invalidArgument, "CheckpointDirectory: keepLast must be ≥ 1 (the newest checkpoint is always kept), got \(keepLast)", file: path)
        }
        self.path = path
        self.keepLast = keepLast
    }

    /// The file name of the checkpoint at `step`; steps are zero-padded so names sort by step.
    public static func fileName(step: Int) -> String {
        let digits = String(step)
        return prefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + "." + Checkpoint.fileExtension
    }

    /// The path of the checkpoint at `step`.
    public func path(step: Int) -> String { CheckpointFile.join(path, Self.fileName(step: step)) }

    /// The step a checkpoint file name stands for, or `nil` for any other name (temporary files included).
    static func step(fromFileName name: String) -> Int? {
        let suffix = "." + Checkpoint.fileExtension
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// The steps of the checkpoints in the directory, oldest first; empty when the directory does not exist.
    public func steps() throws(CheckpointError) -> [Int] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw CheckpointError(.io, "cannot list the checkpoint directory (\(CheckpointFile.describeErrno()))", file: path)
        }
        defer { closedir(dir) }
        var steps: [Int] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if let step = Self.step(fromFileName: name) { steps.append(step) }
        }
        return steps.sorted()
    }

    /// The newest checkpoint's step and path, or `nil` when there is none.
    public func latest() throws(CheckpointError) -> (step: Int, path: String)? {
        guard let step = try steps().last else { return nil }
        return (step, path(step: step))
    }

    /// Reads the newest checkpoint, or returns `nil` when there is none.
    ///
    /// A damaged newest file is an error, not a reason to fall back silently: the error names
    /// it, and `read(step:)` loads an older one deliberately.
    public func loadLatest() throws(CheckpointError) -> Checkpoint? {
        guard let (_, file) = try latest() else { return nil }
        return try Checkpoint.read(from: file)
    }

    /// Reads the checkpoint at `step`.
    public func read(step: Int) throws(CheckpointError) -> Checkpoint {
        try Checkpoint.read(from: path(step: step))
    }

    /// Writes `checkpoint` as the one at `step` (creating the directory when needed), then
    /// removes the oldest checkpoints beyond `keepLast`. The file just written is never removed,
    /// even when newer steps already exist.
    ///
    /// - Returns: the path written.
    @discardableResult
    public func save(_ checkpoint: Checkpoint, step: Int) throws(CheckpointError) -> String {
        guard step >= 0 else {
            throw CheckpointError(.invalidArgument, "CheckpointDirectory: the step must be ≥ 0, got \(step)", file: path)
        }
        try createDirectories()
        let file = path(step: step)
        try checkpoint.write(to: file)
        try prune(keeping: step)
        return file
    }

    /// Removes all but the newest `keepLast` checkpoints (and never `step`, when given).
    ///
    /// - Returns: the steps removed.
    @discardableResult
    public func prune(keeping step: Int? = nil) throws(CheckpointError) -> [Int] {
        let all = try steps()
        let keep = Set(all.suffix(keepLast)).union(step.map { [$0] } ?? [])
        var removed: [Int] = []
        for s in all where !keep.contains(s) {
            guard unlink(path(step: s)) == 0 || errno == ENOENT else {
                throw CheckpointError(.io, "cannot remove an old checkpoint (\(CheckpointFile.describeErrno()))", file: path(step: s))
            }
            removed.append(s)
        }
        return removed
    }

    /// `mkdir -p` for the directory.
    private func createDirectories() throws(CheckpointError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            var info = stat()
            if stat(current, &info) == 0 {
                guard (info.st_mode & S_IFMT) == S_IFDIR else {
                    throw CheckpointError(.io, "cannot create the checkpoint directory: \(current) exists and is not a directory", file: path)
                }
                continue
            }
            guard mkdir(current, 0o755) == 0 || errno == EEXIST else {
                throw CheckpointError(.io, "cannot create the checkpoint directory \(current) (\(CheckpointFile.describeErrno()))", file: path)
            }
        }
    }
}
