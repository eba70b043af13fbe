public import DeepseekCore
import Synchronization

/// A call this node sent and has not yet had answered: who waits, on whom, for what, since when.
///
/// The live form of the wait-for graph: a node that seems hung lists these (`deepseek node`
/// prints them on `SIGUSR1`), and the trace analysis derives the same from flow events.
public struct PendingCallSnapshot: Sendable, Hashable, CustomStringConvertible {
    /// The call's number on this node.
    public var callID: UInt64
    /// The actor whose handler made the call, or `nil` when it came from outside any actor
    /// (a test, the CLI, a detached task).
    public var caller: ActorAddress?
    /// The actor that was called.
    public var callee: ActorAddress
    /// The distributed function that was called.
    public var target: String
    /// When the call was sent, on the system's clock.
    public var sentAt: Instant

    public init(callID: UInt64, caller: ActorAddress?, callee: ActorAddress, target: String, sentAt: Instant) {
        self.callID = callID
        self.caller = caller
        self.callee = callee
        self.target = target
        self.sentAt = sentAt
    }

    public var description: String {
        "\(caller.map(\.description) ?? "(no actor)") waits on \(callee) for \(target) (call \(callID))"
    }
}

extension DeepseekActorSystem {
    /// The actor whose handler the current task is running, if any: outgoing calls name it as
    /// their caller in traces and in `pendingCalls()`.
    @TaskLocal public static var currentActor: ActorAddress?

    /// Every call sent from this node that has no reply yet, oldest first.
    public func pendingCalls() -> [PendingCallSnapshot] {
        state.withLock { s in s.waits.values.sorted { ($0.sentAt, $0.callID) < ($1.sentAt, $1.callID) } }
    }

    /// The pending calls as text, one per line with how long each has waited, for a person
    /// diagnosing a hang; "no pending calls" when there are none.
    public func waitReport() -> String {
        let calls = pendingCalls()
        guard !calls.isEmpty else { return "\(node): no pending calls" }
        let now = settings.clock.now()
        var lines = ["\(node): \(calls.count) pending call\(calls.count == 1 ? "" : "s")"]
        for c in calls {
            let waited = Double(now.nanoseconds(since: c.sentAt)) / 1e9
            lines.append("  \(c.caller.map(\.description) ?? "(no actor)") → \(c.callee) \(Self.functionName(c.target)) — waiting \(Self.seconds(waited)) (call \(c.callID))")
        }
        return lines.joined(separator: "\n")
    }

    static func seconds(_ s: Double) -> String {
        let ms = (s * 1000).rounded()
        return ms < 1000 ? "\(Int(ms)) ms" : "\(Int(ms) / 1000).\(String(format: Int(ms) % 1000)) s"
    }
}

extension String {
    /// Three digits with leading zeros.
    fileprivate init(format value: Int) {
        let s = Swift.String(value)
        self = Swift.String(repeating: "0", count: Swift.max(0, 3 - s.count)) + s
    }
}
