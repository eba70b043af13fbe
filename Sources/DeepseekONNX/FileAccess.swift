#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// File access through libc: the module needs only whole-file reads and directory listings, and
// this keeps it free of a Foundation dependency.

/// Reads a whole file into memory.
func readFile(_ path: String) throws(ONNXError) -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw ONNXError(.io, "cannot open for reading (\(errnoDescription())); check that the file exists and is readable", file: path)
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count {
            if ferror(f) != 0 { throw ONNXError(.io, "read failed (\(errnoDescription()))", file: path) }
            return bytes
        }
    }
}

/// The names in a directory (without `.` and `..`), sorted.
func listDirectory(_ path: String) throws(ONNXError) -> [String] {
    guard let dir = opendir(path) else {
        throw ONNXError(.io, "cannot list directory (\(errnoDescription())); check the path", file: path)
    }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Whether a path names an existing directory.
func isDirectory(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
}

/// Whether a path names an existing file or directory.
func fileExists(_ path: String) -> Bool {
    var s = stat()
    return stat(path, &s) == 0
}

private func errnoDescription() -> String {
    String(cString: strerror(errno))
}
