#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekTraining

/// A fresh directory under the system temporary directory, removed with its files by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/deepseek-data-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: \(String(cString: strerror(errno)))")
        path = String(cString: made!)
    }

    /// Writes `bytes` to `name` inside the directory and returns the full path.
    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let full = path + "/" + name
        guard let f = fopen(full, "wb") else { preconditionFailure("cannot create \(full)") }
        defer { fclose(f) }
        let written = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
        precondition(written == bytes.count, "short write to \(full)")
        return full
    }

    func remove() {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}

/// Big-endian bytes of a 32-bit value, as IDX headers store dimensions.
func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
}

/// An IDX file of unsigned bytes: header and payload.
func idxBytes(dimensions: [Int], payload: [UInt8], typeByte: UInt8 = 0x08) -> [UInt8] {
    var bytes: [UInt8] = [0, 0, typeByte, UInt8(dimensions.count)]
    for dim in dimensions { bytes += bigEndian(UInt32(dim)) }
    return bytes + payload
}

/// Writes a small data set in the Fashion-MNIST layout: `count` images per split whose pixels
/// are `(example * 7 + pixel) % 256`, and labels `example % 10`.
func writeMiniFashionMNIST(
    in directory: TemporaryDirectory, count: Int = 3, compressed: Bool = true, labels: [UInt8]? = nil
) throws {
    for prefix in ["train", "t10k"] {
        var pixels: [UInt8] = []
        for example in 0..<count {
            for pixel in 0..<784 { pixels.append(UInt8((example * 7 + pixel) % 256)) }
        }
        let images = idxBytes(dimensions: [count, 28, 28], payload: pixels)
        let labelFile = idxBytes(dimensions: [labels?.count ?? count], payload: labels ?? (0..<count).map { UInt8($0 % 10) })
        if compressed {
            directory.write("\(prefix)-images-idx3-ubyte.gz", try Gzip.compress(images))
            directory.write("\(prefix)-labels-idx1-ubyte.gz", try Gzip.compress(labelFile))
        } else {
            directory.write("\(prefix)-images-idx3-ubyte", images)
            directory.write("\(prefix)-labels-idx1-ubyte", labelFile)
        }
    }
}
