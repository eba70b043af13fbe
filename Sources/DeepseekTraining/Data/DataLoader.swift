import DeepseekCore
import DeepseekTensor
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Prepares the mini-batches of an epoch ahead of the training loop, on a thread of its own at
/// the lowest priority, so gathering and augmenting batch `k + 1` fills the idle moments of the
/// step that uses batch `k` rather than taking a core from it.
///
/// The producer thread makes batches in epoch order — gathered by `Batches`, then augmented
/// (seeded by `(augmentation seed, epoch, batch index)`), then passed through `transform` — and
/// puts them in a queue of at most `prefetch` batches; `next()` takes them out. Because every
/// batch is a pure function of its epoch and index, the sequence is the same however the two
/// sides are timed. An error while making a batch is thrown by the `next()` that would have
/// returned it, and ends the epoch.
///
/// ```swift
/// let loader = try DataLoader(batches, augmentation: augment, prefetch: 4)
/// for epoch in 0..<10 {
///     await loader.epoch(epoch)
///     while let batch = try await loader.next() { try await step(batch) }
/// }
/// await loader.stop()
/// ```
///
/// Starting another epoch or calling `stop()` stops the producer and waits for it; a loader that
/// is dropped stops it too. A task waiting in `next()` that is cancelled throws
/// `CancellationError` at once. One task at a time may wait in `next()`.
public actor DataLoader {
    /// The batches each epoch is made from.
    public nonisolated let batches: Batches
    /// The augmentation applied to each batch's images, if any.
    public nonisolated let augmentation: Augmentation?
    /// The most batches made ahead and waiting in the queue.
    public nonisolated let prefetch: Int
    private let maker: BatchMaker

    /// The current epoch's queue. Outside the actor's state so `next()` can take a ready batch
    /// without hopping onto the actor: at a thousand steps a second the hop alone cost several
    /// per cent of the step.
    private nonisolated let current = Mutex<PrefetchQueue?>(nil)
    private var producer: ProducerThread?
    /// The epoch being served, once `epoch(_:)` was called.
    public private(set) var currentEpoch: Int?
    private nonisolated let waiting = Atomic<Bool>(false)

    /// - Parameters:
    ///   - batches: the data, batch size, order and seed.
    ///   - augmentation: applied to the images of every batch (float32 images only).
    ///   - prefetch: the queue's capacity, at least 1.
    ///   - transform: applied last to every batch (standardization, a dtype cast, …); it runs on
    ///     the producer thread.
    /// - Throws: `DatasetError.invalidArgument` for a prefetch depth below 1.
    public init(
        _ batches: Batches, augmentation: Augmentation? = nil, prefetch: Int = 2,
        transform: (@Sendable (MiniBatch) throws -> MiniBatch)? = nil
    ) throws(DatasetError) {
        guard prefetch >= 1 else {
            throw DatasetError(.invalidArgument, "DataLoader: prefetch depth \(prefetch) is below 1; pass at least 1")
        }
        self.batches = batches
        self.augmentation = augmentation
        self.prefetch = prefetch
        self.maker = BatchMaker(batches: batches, augmentation: augmentation, transform: transform)
    }

    deinit {
        producer?.stop()
        current.withLock { $0?.close() }
    }

    /// Batch `index` of epoch `epoch`, made the way the producer thread makes it — for checks,
    /// and for replaying a batch without a loader.
    public nonisolated func makeBatch(epoch: Int, index: Int, order: [Int]) throws -> MiniBatch {
        try maker.make(epoch: epoch, index: index, order: order)
    }

    /// Starts serving epoch `epoch` from its first batch, abandoning whatever was left of the
    /// current one.
    public func epoch(_ epoch: Int) async {
        precondition(epoch >= 0, "DataLoader.epoch: epoch \(epoch) is negative; epochs count from 0")
        await stop()
        let queue = PrefetchQueue(capacity: prefetch)
        let order = batches.order(epoch: epoch)
        let count = batches.batchesPerEpoch
        current.withLock { $0 = queue }
        currentEpoch = epoch
        // A thread of its own at the lowest priority (nice 19): making batches is memory-bound
        // copying that should fill the cores' idle moments, not take a core from the step's
        // parallel kernels (a task on the shared pool did, and the kernel waited for the worker
        // it displaced). The consumer waiting in `next()` leaves a core idle, so the thread
        // always gets to run when it is needed. It holds the maker and the queue but not the
        // loader, so dropping the loader ends it (deinit).
        let maker = self.maker
        producer = ProducerThread { thread in
            for index in 0..<count {
                if thread.isStopped { break }
                let result = Result { try maker.make(epoch: epoch, index: index, order: order) }
                guard queue.putWaiting(result) else { return }
                if case .failure = result { break }
            }
            queue.finish()
        }
    }

    /// The next batch of the current epoch, waiting for the producer if it is behind;
    /// `nil` once the epoch is over (and before any `epoch(_:)` call).
    ///
    /// - Throws: the error that making the batch threw (the epoch then ends), or
    ///   `CancellationError` when the calling task is cancelled while waiting.
    public nonisolated func next() async throws -> MiniBatch? {
        guard let queue = current.withLock({ $0 }) else { return nil }
        // A consumer cancelled before it got here must not wait for (and take) a batch.
        try Task.checkCancellation()
        let (exchanged, _) = waiting.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing)
        precondition(exchanged, "DataLoader.next: another task is already waiting in next(); call it from one task at a time")
        defer { waiting.store(false, ordering: .releasing) }
        guard let result = try await queue.take() else { return nil }
        return try result.get()
    }

    /// Whether a task is waiting in `next()` now.
    public nonisolated var hasWaitingConsumer: Bool { waiting.load(ordering: .acquiring) }

    /// Batches made and waiting in the queue now.
    public nonisolated var bufferedCount: Int { current.withLock { $0?.count ?? 0 } }

    /// Stops the producer thread and waits until it has finished; `next()` then returns `nil`.
    public func stop() async {
        current.withLock { $0?.close() }
        let thread = producer
        producer = nil
        thread?.stop()
        await thread?.finished()
    }
}

/// Makes batch `index` of an epoch: gather, augment, transform.
private struct BatchMaker: Sendable {
    let batches: Batches
    let augmentation: Augmentation?
    let transform: (@Sendable (MiniBatch) throws -> MiniBatch)?

    func make(epoch: Int, index: Int, order: [Int]) throws -> MiniBatch {
        var batch = try batches.batch(index, order: order)
        if let augmentation { batch = try augmentation.apply(to: batch, epoch: epoch, index: index) }
        if let transform { batch = try transform(batch) }
        return batch
    }
}

/// A bounded first-in first-out queue between one producing thread and one consuming task.
///
/// The producer blocks on a semaphore signalled by every take and by `close()`; the consumer
/// waits with a continuation resumed by the producer, by `close()` or by cancellation — so no
/// wait outlives the queue's use.
final class PrefetchQueue: Sendable {
    typealias Item = Result<MiniBatch, any Error>

    private struct State {
        var items: [Item] = []
        var head = 0
        var finished = false
        var closed = false
        var consumer: CheckedContinuation<Void, Never>?
        var count: Int { items.count - head }
    }

    let capacity: Int
    private let state = Mutex(State())
    /// Signalled whenever room appears or the queue closes, for a producer blocked in `putWaiting`.
    private let space = DispatchSemaphore(value: 0)

    init(capacity: Int) { self.capacity = capacity }

    var count: Int { state.withLock { $0.count } }

    /// Appends `item`, blocking the calling thread while the queue is full (a producer thread's
    /// `put`); `false` when the queue was closed.
    func putWaiting(_ item: Item) -> Bool {
        while true {
            if let accepted = offer(item) { return accepted }
            space.wait()
        }
    }

    /// Appends `item` if there is room (waking a waiting consumer): `true`; `false` when the
    /// queue was closed; `nil` when it is full.
    private func offer(_ item: Item) -> Bool? {
        let (accepted, waiter) = state.withLock { s -> (Bool?, CheckedContinuation<Void, Never>?) in
            if s.closed { return (false, nil) }
            guard s.count < capacity else { return (nil, nil) }
            s.items.append(item)
            defer { s.consumer = nil }
            return (true, s.consumer)
        }
        waiter?.resume()
        return accepted
    }

    /// Marks the end of the items: once the queue is empty, `take()` returns `nil`.
    func finish() {
        let waiter = state.withLock { s in
            s.finished = true
            defer { s.consumer = nil }
            return s.consumer
        }
        waiter?.resume()
    }

    /// Wakes both sides for good: `put` returns `false`, `take` returns `nil` once it finds no item.
    func close() {
        let c = state.withLock { s in
            s.closed = true
            s.items.removeAll()
            s.head = 0
            defer { s.consumer = nil }
            return s.consumer
        }
        c?.resume()
        space.signal()
    }

    /// The oldest item, waiting while the queue is empty; `nil` after `finish()` or `close()`.
    func take() async throws -> Item? {
        while true {
            try Task.checkCancellation()
            let (item, ended) = state.withLock { s -> (Item?, Bool) in
                if s.count > 0 {
                    let item = s.items[s.head]
                    s.head += 1
                    // Drop taken items now and then so the array does not grow over an epoch.
                    if s.head >= 64 && s.head * 2 >= s.items.count {
                        s.items.removeFirst(s.head)
                        s.head = 0
                    }
                    return (item, false)
                }
                return (nil, s.finished || s.closed)
            }
            if let item {
                space.signal()
                return item
            }
            if ended { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { c in
                    let resumeNow = state.withLock { s in
                        // Checked under the lock the cancellation handler takes, so a cancel between
                        // the check above and here is not lost.
                        if s.count > 0 || s.finished || s.closed || Task.isCancelled { return true }
                        s.consumer = c
                        return false
                    }
                    if resumeNow { c.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { s in
                    defer { s.consumer = nil }
                    return s.consumer
                }
                waiter?.resume()
            }
        }
    }
}

/// The data loader's producer: a thread of its own at the lowest scheduling priority.
final class ProducerThread: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let done = Mutex<(finished: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    private let body: @Sendable (ProducerThread) -> Void

    /// Starts `body` on a new thread at nice 19.
    init(_ body: @escaping @Sendable (ProducerThread) -> Void) {
        self.body = body
        var t = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&t, nil, { raw in
            let thread = Unmanaged<ProducerThread>.fromOpaque(raw!).takeRetainedValue()
            // Lowest priority: on Linux the nice value is per thread, and `who` 0 is the caller.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            thread.body(thread)
            let waiters = thread.done.withLock { d -> [CheckedContinuation<Void, Never>] in
                d.finished = true
                defer { d.waiters = [] }
                return d.waiters
            }
            for w in waiters { w.resume() }
            return nil
        }, context)
        pthread_detach(t)
    }

    /// Whether `stop()` was called: the body should return.
    var isStopped: Bool { stopped.load(ordering: .acquiring) }

    /// Asks the body to return (it checks between batches).
    func stop() { stopped.store(true, ordering: .releasing) }

    /// Returns once the body has returned.
    func finished() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = done.withLock { d -> Bool in
                if d.finished { return true }
                d.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
}
