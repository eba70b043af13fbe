internal import CDeepseekURing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A directory of tensor checkpoints named by step (`step-000000000040.dstensors`): saves each
/// atomically, keeps the last few, and loads the newest one that verifies.
///
/// `loadLatest()` tries the newest checkpoint first; when it is torn or damaged it says which
/// file, which tensor and why (in `rejected`) and goes on to the one before.
///
/// ```swift
/// let dir = try TensorCheckpointDirectory("/runs/a", keepLast: 3)
/// try dir.save(TensorCheckpoint(tensors: weights), step: 40)
/// if let latest = try dir.loadLatest() {
///     for problem in latest.rejected { print("skipped:", problem) }
///     use(latest.checkpoint)
/// }
/// ```
public struct TensorCheckpointDirectory: Sendable {
    /// The directory.
    public let path: String
    /// How many checkpoints `save` keeps (the newest by step).
    public let keepLast: Int
    /// Use O_DIRECT where the file system allows it.
    public var directIO: Bool

    static let prefix = "step-"
    static let suffix = ".dstensors"

    /// - Throws: `StorageError.invalidArgument` when `keepLast` is below 2 (the previous good
    ///   checkpoint is what a damaged newest one falls back to).
    public init(_ path: String, keepLast: Int = 3, directIO: Bool = true) throws(StorageError) {
        guard keepLast >= 2 else {
            throw StorageError(.invalidArgument, "keepLast must be ≥ 2 so that a previous checkpoint survives a damaged newest one, got \(keepLast)", file: path)
        }
        self.path = path
        self.keepLast = keepLast
        self.directIO = directIO
    }

    /// The file name of the checkpoint at `step`, zero-padded so names sort by step.
    public static func fileName(step: Int) -> String {
        let digits = String(step)
        return prefix + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + suffix
    }

    /// The path of the checkpoint at `step`.
    public func path(step: Int) -> String { path + "/" + Self.fileName(step: step) }

    /// The steps of the checkpoints present, oldest first (temporary files excluded).
    public func steps() throws(StorageError) -> [Int] {
        try entries().compactMap { name in
            guard name.hasPrefix(Self.prefix), name.hasSuffix(Self.suffix) else { return nil }
            let digits = name.dropFirst(Self.prefix.count).dropLast(Self.suffix.count)
            guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(digits)
        }.sorted()
    }

    /// Writes `checkpoint` as the one at `step`, then removes the oldest beyond `keepLast` and
    /// any temporary files a crashed writer left. Returns the path written.
    ///
    /// - Throws: `StorageError` from `TensorCheckpointFile.write`; the checkpoints already in
    ///   the directory are unchanged when it fails.
    @discardableResult
    public func save(_ checkpoint: TensorCheckpoint, step: Int) throws(StorageError) -> String {
        guard step >= 0 else { throw StorageError(.invalidArgument, "the step must be ≥ 0, got \(step)", file: path) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST {
            throw StorageError.system(errno, "creating the checkpoint directory", file: path)
        }
        let file = path(step: step)
        _ = try? removeLeftovers()
        try TensorCheckpointFile.write(checkpoint, to: file, directIO: directIO)
        let all = try steps()
        for old in all.dropLast(keepLast) where old != step { _ = cdskur_file_unlink(path(step: old)) }
        return file
    }

    /// The newest checkpoint that verifies, with the step it belongs to and what was wrong with
    /// any newer ones; `nil` when the directory holds no checkpoint.
    ///
    /// - Throws: the newest checkpoint's error when none of them verifies.
    public func loadLatest() throws(StorageError) -> (step: Int, checkpoint: TensorCheckpoint, rejected: [StorageError])? {
        let all = try steps()
        var rejected: [StorageError] = []
        for step in all.reversed() {
            do {
                return (step, try TensorCheckpointFile.read(from: path(step: step), directIO: directIO), rejected)
            } catch {
                rejected.append(error)
            }
        }
        if let newest = rejected.first {
            throw StorageError(
                newest.code, "no checkpoint in the directory verifies (\(rejected.count) tried); the newest: \(newest.message)", file: nil,
                tensor: nil, cause: newest)
        }
        return nil
    }

    /// Removes temporary files left by writers that crashed (names `.step-….tmp-…`).
    @discardableResult
    public func removeLeftovers() throws(StorageError) -> Int {
        var removed = 0
        for name in try entries() where name.hasPrefix("." + Self.prefix) && name.contains(".tmp-") {
            if cdskur_file_unlink(path + "/" + name) == 0 { removed += 1 }
        }
        return removed
    }

    private func entries() throws(StorageError) -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return [] }
            throw StorageError.system(errno, "listing the checkpoint directory", file: path)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            names.append(withUnsafeBytes(of: entry.pointee.d_name) { raw in String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self) })
        }
        return names
    }
}
