#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import CDeepseekURing

/// A serial executor on a thread of its own, for actors that block in system calls.
///
/// The SSD tier waits in `io_uring_enter` for its requests; doing that on the cooperative
/// thread pool (two threads on a two-core machine) would stall compute meanwhile. Jobs run in
/// the order they were enqueued. `stop()` lets the thread finish the jobs already queued and
/// exit; jobs enqueued after that go to the global executor.
final class IOThread: SerialExecutor, @unchecked Sendable {
    // Guarded by `mutex`.
    private var jobs: [UnownedJob] = []
    private var stopping = false
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init(name: String) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        final class Start {
            let thread: IOThread
            let name: String
            init(_ thread: IOThread, _ name: String) { self.thread = thread; self.name = name }
        }
        let start = Unmanaged.passRetained(Start(self, name)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let start = Unmanaged<Start>.fromOpaque(raw!).takeRetainedValue()
            cdskur_name_thread(String(start.name.prefix(15)))
            start.thread.loop()
            return nil
        }, start)
        precondition(rc == 0, "IOThread: pthread_create failed with \(rc)")
        pthread_detach(handle)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pthread_mutex_lock(mutex)
        if stopping {
            pthread_mutex_unlock(mutex)
            globalConcurrentExecutor.enqueue(ExecutorJob(job))
            return
        }
        jobs.append(job)
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// Finishes the queued jobs, then ends the thread.
    func stop() {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }

    /// The thread's body; it holds `self` until it exits.
    private func loop() {
        while true {
            pthread_mutex_lock(mutex)
            while jobs.isEmpty && !stopping { pthread_cond_wait(condition, mutex) }
            if jobs.isEmpty && stopping {
                pthread_mutex_unlock(mutex)
                return
            }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            pthread_mutex_unlock(mutex)
            for job in batch { job.runSynchronously(on: asUnownedSerialExecutor()) }
        }
    }
}
