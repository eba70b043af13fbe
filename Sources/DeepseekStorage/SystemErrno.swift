internal import CDeepseekURing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// The errno values StorageError classifies, named once so the classification reads plainly.
let ENOSPC_ = ENOSPC
let EDQUOT_ = EDQUOT
let EFBIG_ = EFBIG
let EACCES_ = EACCES
let EPERM_ = EPERM
let EROFS_ = EROFS
let ENOENT_ = ENOENT

/// Text for errno values, as the C library words them.
enum SystemErrno {
    static func text(_ code: Int32) -> String { "\(String(cString: cdskur_strerror(code))) (errno \(abs(code)))" }
}
