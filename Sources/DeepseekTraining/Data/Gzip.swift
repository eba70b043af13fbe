internal import CDeepseekZlib
import DeepseekTensor

/// Whole-buffer gzip compression and decompression, through the system zlib.
///
/// Data sets such as Fashion-MNIST ship as `.gz` files; `decompress` inflates one in a single
/// pass when its gzip trailer states the size honestly, and in at most two passes otherwise.
///
/// ```swift
/// let packed = try Gzip.compress(Array("hello".utf8))
/// let bytes = try Gzip.decompress(packed)        // the five bytes again
/// ```
public enum Gzip {
    /// Whether `bytes` start like a gzip member (magic `1f 8b`) or a zlib stream (a valid
    /// two-byte header), i.e. whether `decompress` should be tried on them.
    public static func isCompressed(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 2 else { return false }
        if bytes[0] == 0x1F && bytes[1] == 0x8B { return true }
        // zlib: compression method 8, window at most 32 KiB, header check divisible by 31.
        return bytes[0] & 0x0F == 8 && bytes[0] >> 4 <= 7 && (UInt16(bytes[0]) << 8 | UInt16(bytes[1])) % 31 == 0
    }

    /// Inflates a whole gzip (possibly several concatenated members) or zlib buffer.
    ///
    /// - Parameters:
    ///   - bytes: the compressed bytes; the format is detected from the header.
    ///   - file: the file the bytes came from, named in error messages.
    /// - Throws: `DatasetError.corrupt` for bytes that are not gzip/zlib, fail their checksum,
    ///   end early or carry trailing garbage; `DatasetError.resource` when memory runs out.
    /// - Complexity: O(n) in the decompressed size.
    public static func decompress(_ bytes: [UInt8], file: String? = nil) throws(DatasetError) -> [UInt8] {
        var capacity = sizeHint(bytes)
        // Two passes at most: a short first buffer makes the shim report the exact size.
        for _ in 0..<2 {
            var status = 0
            var needed = 0
            var message = [CChar](repeating: 0, count: 256)
            let output = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, initialized in
                bytes.withUnsafeBufferPointer { input in
                    message.withUnsafeMutableBufferPointer { text in
                        status = Int(
                            cdeepseek_gunzip(
                                input.baseAddress, input.count, buffer.baseAddress, buffer.count, &needed,
                                text.baseAddress, text.count))
                    }
                }
                initialized = status == CDEEPSEEK_Z_OK ? needed : 0
            }
            switch status {
            case CDEEPSEEK_Z_OK:
                return output
            case CDEEPSEEK_Z_NEED_SPACE:
                // An allocation the machine cannot hold would trap, so refuse it here.
                guard needed <= TensorStorage.physicalMemory else {
                    throw DatasetError(
                        .resource,
                        "the data decompresses to \(needed) bytes, more than this machine's memory; use a smaller file",
                        file: file)
                }
                capacity = needed
            default:
                let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                throw inflateError(status, detail: detail, compressedCount: bytes.count, file: file)
            }
        }
        // The second pass has exactly the size the first one measured, so it always fits.
        throw DatasetError(.resource, "decompression did not fit the \(capacity) bytes zlib measured", file: file)
    }

    /// Compresses a buffer into one gzip member.
    ///
    /// - Parameter level: 0 (store) to 9 (smallest); 6 is zlib's default balance of speed and size.
    /// - Throws: `DatasetError.invalidArgument` for a level outside 0...9, `DatasetError.resource`
    ///   when zlib cannot allocate its working memory.
    public static func compress(_ bytes: [UInt8], level: Int = 6) throws(DatasetError) -> [UInt8] {
        guard (0...9).contains(level) else {
            throw DatasetError(.invalidArgument, "gzip: compression level \(level) is outside 0...9; use 6 for the usual trade-off")
        }
        let bound = cdeepseek_gzip_bound(bytes.count)
        guard bound > 0 else {
            throw DatasetError(.resource, "gzip: zlib could not initialise (out of memory?)")
        }
        var status = 0
        let output = [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            var written = 0
            bytes.withUnsafeBufferPointer { input in
                status = Int(
                    cdeepseek_gzip(input.baseAddress, input.count, buffer.baseAddress, buffer.count, &written, Int32(level)))
            }
            initialized = status == CDEEPSEEK_Z_OK ? written : 0
        }
        guard status == CDEEPSEEK_Z_OK else {
            throw DatasetError(.resource, "gzip: compressing \(bytes.count) bytes failed (zlib status \(status)); free memory and retry")
        }
        return output
    }

    /// A first guess at the decompressed size: a gzip member's trailer holds its size modulo 2^32.
    private static func sizeHint(_ bytes: [UInt8]) -> Int {
        // A damaged trailer must not make the first buffer huge; a guess that is too small only
        // costs a second pass, so the ceiling is modest (most data compresses less than 16:1).
        let ceiling = max(bytes.count.multipliedReportingOverflow(by: 16).partialValue, 1 << 20)
        if bytes.count >= 18 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            let n = bytes.count
            let stated = Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16 | Int(bytes[n - 1]) << 24
            return min(stated, ceiling)
        }
        return min(bytes.count * 4, ceiling)
    }

    private static func inflateError(_ status: Int, detail: String, compressedCount: Int, file: String?) -> DatasetError {
        let because = detail.isEmpty ? "" : " (zlib: \(detail))"
        switch status {
        case CDEEPSEEK_Z_TRUNCATED:
            return DatasetError(
                .corrupt, "the compressed data (\(compressedCount) bytes) ends before its stream does\(because); the file is truncated — download or reinstall it",
                file: file)
        case CDEEPSEEK_Z_TRAILING_DATA:
            return DatasetError(
                .corrupt, "bytes that are not gzip data follow the end of the compressed stream\(because); the file is damaged — download or reinstall it",
                file: file)
        case CDEEPSEEK_Z_DATA_ERROR:
            return DatasetError(
                .corrupt, "the bytes are not valid gzip or zlib data\(because); check that this is the right file, or download or reinstall it",
                file: file)
        case CDEEPSEEK_Z_MEMORY:
            return DatasetError(.resource, "zlib ran out of memory while decompressing; free memory and retry", file: file)
        default:
            return DatasetError(.resource, "zlib failed while decompressing (status \(status))\(because)", file: file)
        }
    }
}
