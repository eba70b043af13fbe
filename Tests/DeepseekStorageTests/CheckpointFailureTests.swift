import DeepseekCore
import DeepseekStorage
import DeepseekTensor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sends SIGKILL to this process after `microseconds`, from a thread of its own, whatever the
/// process is doing then.
func killSelf(afterMicroseconds microseconds: Int) {
    var thread = pthread_t()
    let argument = UnsafeMutableRawPointer(bitPattern: max(microseconds, 1))
    _ = pthread_create(&thread, nil, { argument in
        usleep(UInt32(Int(bitPattern: argument)))
        kill(getpid(), SIGKILL)
        return nil
    }, argument)
}

/// Mounting a small tmpfs needs root; elsewhere the full-disk tests are skipped visibly.
let canMountTmpfs: Bool = {
    guard geteuid() == 0 else { return false }
    let probe = freshDirectory("mount-probe")
    defer { rmdir(probe) }
    guard mount("tmpfs", probe, "tmpfs", 0, "size=64k") == 0 else { return false }
    umount(probe)
    return true
}()

/// A tmpfs of `size` mounted on a fresh directory.
func smallDisk(_ size: String) throws -> String {
    let path = freshDirectory("disk")
    try #require(mount("tmpfs", path, "tmpfs", 0, "size=\(size)") == 0, "mount failed: errno \(errno)")
    return path
}

@Suite(.serialized) struct CheckpointFailureTests {
    @Test func killingTheWriterAtRandomPointsNeverLeavesACheckpointThatLoadsWrong() async throws {
        var rng = SeededRandom(seed: 2024)
        var killedMidWrite = 0
        var newestSteps: [Int] = []
        for _ in 0..<50 {
            let path = freshDirectory("crash")
            let dir = try TensorCheckpointDirectory(path, keepLast: 3)
            try dir.save(crashTestCheckpoint(step: 0), step: 0)
            let delay = Int(rng.next() % 60_000)
            await #expect(processExitsWith: .signal(SIGKILL)) { [path = path as String, delay = delay as Int] in
                killSelf(afterMicroseconds: delay)
                let dir = try TensorCheckpointDirectory(path, keepLast: 3)
                var step = 1
                while true {
                    try dir.save(crashTestCheckpoint(step: step), step: step)
                    step += 1
                }
            }
            killedMidWrite += try dir.removeLeftovers()
            let latest = try #require(try dir.loadLatest())
            #expect(latest.rejected.isEmpty, "\(latest.rejected)")
            #expect(try isExactly(latest.checkpoint, step: latest.step), "step \(latest.step) loads other values")
            for step in try dir.steps() {
                #expect(try isExactly(TensorCheckpointFile.read(from: dir.path(step: step)), step: step))
            }
            newestSteps.append(latest.step)
        }
        // The kills must land at different points, a good share of them inside a write (the
        // share depends on the machine's load: 22–30 of 50 were seen).
        #expect(Set(newestSteps).count >= 2, "newest steps: \(newestSteps)")
        #expect(killedMidWrite >= 10, "only \(killedMidWrite) of 50 kills hit a write in progress")
    }

    @Test(.enabled(if: canMountTmpfs)) func aFullDiskIsAClearErrorAndThePreviousCheckpointStays() throws {
        let disk = try smallDisk("1m")
        defer { umount(disk) }
        let dir = try TensorCheckpointDirectory(disk, keepLast: 3)
        try dir.save(crashTestCheckpoint(step: 1), step: 1)
        let error = #expect(throws: StorageError.self) { try dir.save(crashTestCheckpoint(step: 2), step: 2) }
        #expect(error?.code == .outOfSpace)
        #expect(error?.message.contains("full") == true)
        #expect(error?.file == dir.path(step: 2))
        #expect(try dir.steps() == [1])
        #expect(try dir.removeLeftovers() == 0)  // the failed writer cleaned up after itself
        let latest = try #require(try dir.loadLatest())
        #expect(latest.step == 1)
        #expect(try isExactly(latest.checkpoint, step: 1))
    }

    @Test func anUnwritableDirectoryIsAClearErrorAndThePreviousCheckpointStays() throws {
        let asRoot = geteuid() == 0
        // Root ignores permission bits; a read-only file system refuses it too.
        let path = asRoot && canMountTmpfs ? try smallDisk("4m") : freshDirectory("readonly")
        defer { if asRoot && canMountTmpfs { umount(path) } else { chmod(path, 0o755) } }
        let dir = try TensorCheckpointDirectory(path, keepLast: 3)
        try dir.save(crashTestCheckpoint(step: 1), step: 1)
        if asRoot {
            try #require(canMountTmpfs, "as root, only a read-only mount can refuse a write")
            try #require(mount("tmpfs", path, "tmpfs", UInt(MS_REMOUNT | MS_RDONLY), nil) == 0)
        } else {
            chmod(path, 0o555)
        }
        let error = #expect(throws: StorageError.self) { try dir.save(crashTestCheckpoint(step: 2), step: 2) }
        #expect(error?.code == .permissionDenied)
        #expect(error?.message.contains("not writable") == true)
        let latest = try #require(try dir.loadLatest())
        #expect(latest.step == 1)
        #expect(try isExactly(latest.checkpoint, step: 1))
    }

    @Test(.enabled(if: canMountTmpfs)) func theSSDTierReportsAFullDiskAndKeepsWhatItHeld() async throws {
        let disk = try smallDisk("1m")
        defer { umount(disk) }
        let tier = try SSDTier(SSDTierSettings(directory: disk, bufferBytes: 64 << 10, buffers: 4))
        // tmpfs accepts O_DIRECT since Linux 6.6; before, the tier falls back to buffered I/O.
        #expect(tier.fileSystem == "tmpfs")
        let small = try Tensor.full([1000], value: 3)
        try await tier.store(small, for: "small")
        let error = await #expect(throws: StorageError.self) { try await tier.store(Tensor.zeros([600_000]), for: "big") }
        #expect(error?.code == .outOfSpace)
        #expect(error?.tensor == "big")
        #expect(try await tier.load("small").scalars(as: Float.self).allSatisfy { $0 == 3 })
        #expect(await !tier.contains("big"))
    }
}
