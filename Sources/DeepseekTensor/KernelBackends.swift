import Synchronization

/// Chooses the kernel backend that tensor operations run on.
///
/// A process has one default backend (the `ReferenceBackend` until a composition root installs a
/// faster one, e.g. the OpenBLAS CPU backend); a task can override it for a scope:
///
/// ```swift
/// KernelBackends.default = CPUBackend()
/// let y = try KernelBackends.using(ReferenceBackend()) { try x.matmul(w) }
/// ```
public enum KernelBackends {
    private static let processDefault = Mutex<any KernelBackend>(ReferenceBackend())

    @TaskLocal private static var scoped: (any KernelBackend)?

    /// The process-wide default backend.
    public static var `default`: any KernelBackend {
        get { processDefault.withLock { $0 } }
        set { processDefault.withLock { $0 = newValue } }
    }

    /// The backend operations in the current task run on.
    @inlinable
    public static var current: any KernelBackend { scopedBackend ?? `default` }

    @usableFromInline static var scopedBackend: (any KernelBackend)? { scoped }

    /// Runs `body` with `backend` as the current backend of this task and its child tasks.
    public static func using<R>(_ backend: any KernelBackend, _ body: () throws -> R) rethrows -> R {
        try $scoped.withValue(backend, operation: body)
    }

    /// Runs the asynchronous `body` with `backend` as the current backend.
    public static func using<R>(
        _ backend: any KernelBackend, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R
    ) async rethrows -> R {
        try await $scoped.withValue(backend, operation: body, isolation: isolation)
    }
}
