#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// File access through libc: data loaders need whole-file reads and existence checks only, and
// this keeps the module free of a Foundation dependency.

/// Reads a whole file into memory with one allocation of its size.
func readWholeFile(_ path: String) throws(DatasetError) -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw DatasetError(
            .io, "cannot open for reading (\(errnoDescription())); check that the file exists and is readable", file: path)
    }
    defer { fclose(f) }
    var info = stat()
    let size = fstat(fileno(f), &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : 0
    var bytes = [UInt8](repeating: 0, count: size)
    let read = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
    if read < size {
        if ferror(f) != 0 { throw DatasetError(.io, "read failed (\(errnoDescription()))", file: path) }
        bytes.removeSubrange(read...)  // the file shrank while being read
    }
    // Whatever the size said, read on to the end (the file grew, or it is not a regular file).
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count {
            if ferror(f) != 0 { throw DatasetError(.io, "read failed (\(errnoDescription()))", file: path) }
            return bytes
        }
    }
}

/// Whether a path names an existing regular file that this process may read.
func isReadableFile(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG && access(path, R_OK) == 0
}

/// Joins a directory and a file name with exactly one slash between them.
func joinPath(_ directory: String, _ name: String) -> String {
    if directory.isEmpty { return name }
    return directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

private func errnoDescription() -> String {
    String(cString: strerror(errno))
}
