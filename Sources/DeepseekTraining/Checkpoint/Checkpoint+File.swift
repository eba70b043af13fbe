extension Checkpoint {
    /// Conventional extension of checkpoint files.
    public static let fileExtension = "dsckpt"

    /// Writes the checkpoint to `path`, replacing any file there atomically.
    ///
    /// The bytes go to a temporary file in the same directory, which is synced to disk and then
    /// renamed over `path`; the directory is synced last. A crash or an error at any point leaves
    /// the previous file at `path` intact (a crash may leave a hidden `.name.tmp-…` file beside
    /// it, which readers ignore). The same checkpoint always encodes to the same bytes.
    ///
    /// - Throws: `CheckpointError.invalidArgument` for a meta tensor (no values) or a path that
    ///   names a directory; `.io` when the directory is missing or not writable, or the disk is full.
    public func write(to path: String) throws(CheckpointError) {
        try write(to: path, fault: nil)
    }

    func write(to path: String, fault: CheckpointWriteFault?) throws(CheckpointError) {
        let payload = try encodedPayload()
        try CheckpointFile.replace(path, with: [Self.header(for: payload), payload], fault: fault)
    }

    /// The encoded file, as `write(to:)` stores it.
    public func encoded() throws(CheckpointError) -> [UInt8] {
        let payload = try encodedPayload()
        return Self.header(for: payload) + payload
    }

    /// Reads a checkpoint written by `write(to:)`.
    ///
    /// The header, length and checksum are verified before anything is decoded.
    /// - Throws: `CheckpointError` with code `.notFound`, `.io`, `.notACheckpoint`,
    ///   `.unsupportedVersion`, `.truncated`, `.checksumMismatch` or `.corrupt`, naming the file.
    public static func read(from path: String) throws(CheckpointError) -> Checkpoint {
        try decode(file: try CheckpointFile.readAll(path), path: path)
    }

    /// Decodes checkpoint bytes (a whole file); `source` names them in errors.
    public static func decode(_ bytes: [UInt8], source: String = "<memory>") throws(CheckpointError) -> Checkpoint {
        try decode(file: bytes, path: source)
    }
}
