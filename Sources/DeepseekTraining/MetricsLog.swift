#if canImport(Glibc)
import Glibc
#endif

/// Writes one CSV row per epoch as training goes (`epoch,steps,train_loss,test_loss,
/// test_accuracy,seconds,samples_per_second`), so a long run can be watched and plotted.
public final class MetricsCSV: TrainerCallback, @unchecked Sendable {
    public let path: String
    private let fd: Int32

    /// Creates (or truncates) the file and writes the header.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DatasetError(.io, "cannot create the metrics file: \(String(cString: strerror(errno))); check the directory exists and is writable", file: path)
        }
        try append("epoch,steps,train_loss,test_loss,test_accuracy,seconds,samples_per_second\n")
    }

    deinit { close(fd) }

    public func trainerDidFinishEpoch(_ r: EpochReport) {
        try? append("\(r.epoch + 1),\(r.steps),\(r.meanLoss),\(r.testLoss),\(r.testAccuracy),\(r.seconds),\(r.samplesPerSecond)\n")
    }

    private func append(_ text: String) throws {
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count else {
            throw DatasetError(.io, "cannot write the metrics file: \(String(cString: strerror(errno)))", file: path)
        }
    }
}

/// A run's final metrics as one JSON object, written atomically (a temporary file renamed over
/// the target), for scripts that read a run's outcome.
public enum MetricsJSON {
    /// Writes `metrics` (numbers; non-finite values become `null`) to `path`.
    public static func write(_ metrics: [(key: String, value: Double)], to path: String) throws {
        let fields = metrics.map { key, value -> String in
            let number: String
            if !value.isFinite { number = "null" } else if value == value.rounded() && abs(value) < 1e15 { number = String(Int(value)) } else { number = "\(value)" }
            return "  \"\(key)\": \(number)"
        }
        let text = "{\n" + fields.joined(separator: ",\n") + "\n}\n"
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw DatasetError(.io, "cannot create the metrics file: \(String(cString: strerror(errno))); check the directory exists and is writable", file: path)
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DatasetError(.io, "cannot write the metrics file: \(reason)", file: path)
        }
    }
}
