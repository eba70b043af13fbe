#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a finished child process left behind.
struct ProcessResult {
    /// The exit status, or 128 + signal number when a signal ended it.
    var exitCode: Int32
    var stdout: String
    var stderr: String
    /// Whether the deadline passed and the child was killed.
    var timedOut: Bool
}

/// Where the `deepseek` binary built with this test bundle lives, if it exists.
///
/// SwiftPM puts executables and the test bundle in the same build directory, so the binary is
/// looked for next to the running test executable, then in `.build/debug`.
let deepseekBinary: String? = {
    var candidates: [String] = []
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    if length > 0 {
        let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if let slash = path.lastIndex(of: "/") { candidates.append(String(path[..<slash]) + "/deepseek") }
    }
    if let first = CommandLine.arguments.first, let slash = first.lastIndex(of: "/") {
        candidates.append(String(first[..<slash]) + "/deepseek")
    }
    candidates.append(".build/debug/deepseek")
    return candidates.first { access($0, X_OK) == 0 }
}()

/// Runs `path` with `arguments`, stdin from /dev/null, and collects its output.
///
/// The wait is bounded: after `timeout` seconds the child is killed and `timedOut` is set.
func runProcess(_ path: String, _ arguments: [String], timeout: Double = 120) -> ProcessResult {
    var outPipe: [Int32] = [-1, -1]
    var errPipe: [Int32] = [-1, -1]
    guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
        return ProcessResult(exitCode: -1, stdout: "", stderr: "pipe failed: errno \(errno)", timedOut: false)
    }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
    posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
    for fd in outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }

    let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, environ)
    close(outPipe[1])
    close(errPipe[1])
    defer {
        close(outPipe[0])
        close(errPipe[0])
    }
    guard spawned == 0 else {
        return ProcessResult(exitCode: -1, stdout: "", stderr: "posix_spawn failed: errno \(spawned)", timedOut: false)
    }

    var output: [[UInt8]] = [[], []]
    var open = [true, true]
    var timedOut = false
    let deadline = monotonicSeconds() + timeout
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while open[0] || open[1] {
        let remaining = deadline - monotonicSeconds()
        if remaining <= 0 {
            timedOut = true
            kill(pid, SIGKILL)
            break
        }
        var fds = [
            pollfd(fd: open[0] ? outPipe[0] : -1, events: Int16(POLLIN), revents: 0),
            pollfd(fd: open[1] ? errPipe[0] : -1, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&fds, 2, Int32(min(remaining, 1) * 1000))
        if ready < 0 && errno != EINTR { break }
        for index in 0..<2 where open[index] && fds[index].revents != 0 {
            let count = chunk.withUnsafeMutableBytes { read(fds[index].fd, $0.baseAddress, $0.count) }
            if count > 0 { output[index] += chunk[0..<count] } else { open[index] = false }
        }
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // The W* macros are not imported into Swift; the low 7 bits are the terminating signal.
    let signal = status & 0x7F
    let exitCode = signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    return ProcessResult(
        exitCode: exitCode, stdout: String(decoding: output[0], as: UTF8.self),
        stderr: String(decoding: output[1], as: UTF8.self), timedOut: timedOut)
}

private func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
