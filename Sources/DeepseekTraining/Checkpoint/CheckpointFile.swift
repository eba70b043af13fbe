#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// Checkpoint files through libc, without Foundation: whole-file reads, and writes that replace a
// file atomically so that a crash at any moment leaves either the old file or the new one.

/// A point where a checkpoint write stops early, so tests can check what a failure leaves behind.
enum CheckpointWriteFault: Sendable {
    /// Fail like a full disk after half the bytes (the writer cleans up as it would for a real error).
    case failAfterPartialWrite
    /// Stop after half the bytes as if the process died there: nothing is cleaned up.
    case crashAfterPartialWrite
    /// Fail after the temporary file is complete and synced, just before it replaces the target.
    case failBeforeRename
}

enum CheckpointFile {
    private static let temporaryCounter = Atomic<Int>(0)

    /// Replaces `path` with `chunks` (concatenated): written to a temporary file in the same
    /// directory, synced, renamed over the target, and the directory synced, so the new name
    /// points at complete contents that survive a power loss.
    static func replace(_ path: String, with chunks: [[UInt8]], fault: CheckpointWriteFault? = nil) throws(CheckpointError) {
        let (directory, name) = split(path)
        guard !name.isEmpty, name != ".", name != ".." else {
            throw CheckpointError(.invalidArgument, "the path names a directory, not a file; give a file name such as checkpoint.dsckpt", file: path)
        }
        let serial = temporaryCounter.wrappingAdd(1, ordering: .relaxed).oldValue
        let temporary = join(directory, ".\(name).tmp-\(getpid())-\(serial)")
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let reason = errno == ENOENT ? "the directory \(directory) does not exist; create it first" : "cannot create a file in \(directory) (\(describeErrno())); check that it is writable"
            throw CheckpointError(.io, "cannot write the checkpoint: \(reason)", file: path)
        }
        var isOpen = true
        var keepTemporary = false
        defer {
            if isOpen { close(fd) }
            if !keepTemporary { unlink(temporary) }
        }
        let total = chunks.reduce(0) { $0 + $1.count }
        var written = 0
        for chunk in chunks {
            var limit = chunk.count
            if fault == .failAfterPartialWrite || fault == .crashAfterPartialWrite {
                limit = min(limit, max(0, total / 2 - written))
            }
            let failure = chunk.withUnsafeBytes { writeAll(fd, UnsafeRawBufferPointer(rebasing: $0[0..<limit])) }
            if let failure {
                throw CheckpointError(.io, "writing \(temporary) failed (\(describe(failure))); the previous checkpoint at this path is unchanged", file: path)
            }
            written += limit
            if limit < chunk.count {
                if fault == .crashAfterPartialWrite {
                    keepTemporary = true
                    throw CheckpointError(.io, "simulated crash after \(written) of \(total) bytes", file: path)
                }
                throw CheckpointError(.io, "writing \(temporary) failed (\(describe(ENOSPC))) after \(written) of \(total) bytes; the previous checkpoint at this path is unchanged", file: path)
            }
        }
        guard fsync(fd) == 0 else {
            throw CheckpointError(.io, "syncing \(temporary) to disk failed (\(describeErrno())); the previous checkpoint at this path is unchanged", file: path)
        }
        isOpen = false
        guard close(fd) == 0 else {
            throw CheckpointError(.io, "closing \(temporary) failed (\(describeErrno())); the previous checkpoint at this path is unchanged", file: path)
        }
        if fault == .failBeforeRename {
            throw CheckpointError(.io, "simulated failure before replacing the checkpoint", file: path)
        }
        guard rename(temporary, path) == 0 else {
            throw CheckpointError(
                .io, "cannot move the new checkpoint into place (\(describeErrno())); the previous file at this path is unchanged", file: path)
        }
        keepTemporary = true  // it is the checkpoint now
        try syncDirectory(directory, for: path)
    }

    /// Makes the rename durable: the new directory entry is on disk once the directory is synced.
    private static func syncDirectory(_ directory: String, for path: String) throws(CheckpointError) {
        let dfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dfd >= 0 else {
            throw CheckpointError(.io, "the checkpoint was written but its directory cannot be opened to sync it (\(describeErrno()))", file: path)
        }
        defer { close(dfd) }
        // Some file systems cannot sync a directory (EINVAL); they order the rename themselves.
        guard fsync(dfd) == 0 || errno == EINVAL else {
            throw CheckpointError(.io, "the checkpoint was written but syncing its directory failed (\(describeErrno())); it may not survive a power loss", file: path)
        }
    }

    /// The whole file.
    static func readAll(_ path: String) throws(CheckpointError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT {
                throw CheckpointError(.notFound, "no checkpoint exists at this path; check it, or find the newest with CheckpointDirectory.latest()", file: path)
            }
            throw CheckpointError(.io, "cannot open the checkpoint (\(describeErrno()))", file: path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CheckpointError(.io, "cannot inspect the checkpoint (\(describeErrno()))", file: path) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw CheckpointError(.io, "this is a directory or device, not a checkpoint file", file: path)
        }
        let size = Int(info.st_size)
        var failure: Int32?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = 0
            while count < size {
                let n = read(fd, buffer.baseAddress! + count, size - count)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { return }  // the file shrank while being read: what is left is checked as truncated
                count += n
            }
        }
        if let failure { throw CheckpointError(.io, "reading the checkpoint failed (\(describe(failure)))", file: path) }
        return bytes
    }

    /// Writes every byte, retrying interrupted and partial writes; returns the errno of a failure.
    private static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += n
        }
        return nil
    }

    /// The directory part (`.` when there is none) and the last component of a path.
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// Joins a directory and a name with exactly one slash.
    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
    static func describeErrno() -> String { describe(errno) }
}
