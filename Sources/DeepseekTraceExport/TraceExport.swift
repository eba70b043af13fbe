public import DeepseekTracing

/// The file formats traces are exported in.
public enum TraceFormat: String, Sendable, Hashable, CaseIterable {
    /// Chrome Trace Event JSON: opens in Perfetto UI and chrome://tracing; readable by
    /// `TraceReader` and `deepseek trace`.
    case chromeJSON = "json"
    /// Perfetto's protobuf trace: several times smaller, for large traces (Perfetto UI).
    case perfetto

    /// The format a file name suggests: `.perfetto-trace`, `.pftrace` and `.pb` are protobuf,
    /// anything else JSON.
    public init(path: String) {
        let lower = path.lowercased()
        self = [".perfetto-trace", ".pftrace", ".pb"].contains { lower.hasSuffix($0) } ? .perfetto : .chromeJSON
    }
}

/// One-call export for code that has a list of events, such as `deepseek train --trace`.
///
/// ```swift
/// let report = try TraceExport.write(events: ring.drain(), to: "run.json",
///                                    bounds: TraceBounds(sampleOneIn: 10))
/// print("trace: \(report.bytes) bytes")
/// ```
public enum TraceExport {
    /// What an export wrote.
    public struct Report: Sendable, Hashable {
        /// Events after bounding.
        public var events: Int
        /// Bytes in the file.
        public var bytes: Int
        public var format: TraceFormat
    }

    /// Bounds `events` and writes them to `path`.
    ///
    /// - Parameters:
    ///   - format: the file format; by default chosen from the file name.
    ///   - bounds: what to keep (everything by default).
    ///   - metadata: key/value pairs stored in the file (JSON only): seed, command line, drops.
    /// - Throws: `TraceExportError.io` when the file cannot be written.
    @discardableResult
    public static func write(
        events: [TraceEvent], to path: String, format: TraceFormat? = nil, bounds: TraceBounds = .none,
        metadata: [String: String] = [:]
    ) throws -> Report {
        let kept = bounds == .none ? events : bounds.apply(to: events)
        let format = format ?? TraceFormat(path: path)
        switch format {
        case .chromeJSON:
            let writer = try ChromeTraceWriter(path: path, settings: .init(metadata: metadata))
            try writer.write(kept)
            try writer.finish()
            return Report(events: kept.count, bytes: writer.statistics.bytes, format: format)
        case .perfetto:
            let writer = try PerfettoTraceWriter(path: path)
            try writer.write(kept)
            try writer.finish()
            return Report(events: kept.count, bytes: writer.byteCount, format: format)
        }
    }

    /// Writes what a ring buffer holds (draining it) and records its drop counters in the file.
    @discardableResult
    public static func write(
        recorder: RingBufferRecorder, to path: String, format: TraceFormat? = nil, bounds: TraceBounds = .none,
        metadata: [String: String] = [:]
    ) throws -> Report {
        let statistics = recorder.statistics
        var metadata = metadata
        metadata["recorder.recorded"] = String(statistics.recorded)
        metadata["recorder.dropped"] = String(statistics.dropped)
        metadata["recorder.overwritten"] = String(statistics.overwritten)
        return try write(events: recorder.drain(), to: path, format: format, bounds: bounds, metadata: metadata)
    }
}
