/// What a collective state machine asks its shell to do.
public enum CollectiveDirective: Sendable {
    /// Send `message` to the rank `to` (a rank of the whole group, not of a sub-ring).
    case send(CollectiveMessage, to: Int)
    /// The operation is complete; read its result from the machine.
    case finished
}

/// One rank's side of a collective operation, as a value with no I/O: events in (start, a
/// message received), directives out (send this chunk to that rank, finished).
///
/// Messages may arrive in any order and before the local side has started — a machine keeps
/// early ones until their step comes, so a shell can deliver whatever arrives whenever it does.
/// The reduction order is fixed by the algorithm, never by arrival order, so every rank ends
/// with the same bits.
public protocol CollectiveStateMachine: Sendable {
    /// The operation's tag; every message of it carries this tag.
    var tag: UInt64 { get }
    /// Whether the operation has completed on this rank.
    var isFinished: Bool { get }
    /// The ranks whose messages the machine is still waiting for (for timeouts and errors).
    var awaitedRanks: [Int] { get }
    /// Starts the operation: the first messages to send.
    mutating func start() throws(CollectiveError) -> [CollectiveDirective]
    /// Takes in a message of this operation.
    ///
    /// - Throws: `CollectiveError.protocolViolation` for a message that does not fit: a step
    ///   outside the algorithm, a repeated step, a sender that is not the expected neighbour or a
    ///   chunk of the wrong length.
    mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective]
}

extension CollectiveStateMachine {
    /// Drives a set of machines (one per rank) to completion by delivering every message at once,
    /// in the order given by `shuffle` — the reference shell tests use.
    ///
    /// - Returns: the finished machines, by rank.
    public static func runLockstep(
        _ machines: [Self], reorder: (inout [(message: CollectiveMessage, to: Int)]) -> Void = { _ in }
    ) throws(CollectiveError) -> [Self] {
        var machines = machines
        var inFlight: [(message: CollectiveMessage, to: Int)] = []
        func take(_ directives: [CollectiveDirective]) {
            for d in directives { if case .send(let m, let to) = d { inFlight.append((m, to)) } }
        }
        for r in machines.indices { take(try machines[r].start()) }
        while !inFlight.isEmpty {
            reorder(&inFlight)
            let next = inFlight.removeFirst()
            take(try machines[next.to].receive(next.message))
        }
        return machines
    }
}

/// Modular arithmetic on ring positions.
@inline(__always) func wrap(_ x: Int, _ n: Int) -> Int { ((x % n) + n) % n }
