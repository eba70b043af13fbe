/// A task executor on the ring thread: jobs run there between passes over the ring.
///
/// The actor system starts calls that arrive with this executor as the task's preference when it
/// is asked to (`IncomingCallExecution.transportThread`): the call's decoding, a default actor's
/// handler and its reply then run on the thread that read the message, and the reply is
/// submitted with the ring's next `io_uring_enter` — no hand-off to another thread and back. A
/// handler that computes for long holds up the node's I/O meanwhile, which is why it is a choice.
/// Once the ring thread has exited, jobs go to the global concurrent executor.
final class RingExecutor: TaskExecutor, Sendable {
    let queues: SendQueues

    init(queues: SendQueues) { self.queues = queues }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !queues.enqueueJob(job) { forward(job) }
    }

    /// Runs a job elsewhere: the ring thread is gone.
    func forward(_ job: UnownedJob) {
        globalConcurrentExecutor.enqueue(ExecutorJob(job))
    }
}
