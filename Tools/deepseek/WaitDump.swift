import DeepseekActors
import Dispatch
import Foundation

/// Prints a node's unanswered calls — who waits on whom, for what, for how long — each time the
/// process receives `SIGUSR1`, so a person can ask a node that seems hung what it is waiting
/// for without stopping it: `kill -USR1 <pid>`.
enum WaitDump {
    /// Installs the handler; keep the returned source alive as long as the dump should work.
    static func install(_ system: DeepseekActorSystem, say: @escaping @Sendable (String) -> Void) -> any DispatchSourceSignal {
        // The default action of SIGUSR1 ends the process; the dispatch source sees it only when
        // the signal itself is ignored.
        signal(SIGUSR1, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: .global())
        source.setEventHandler { say("SIGUSR1: " + system.waitReport()) }
        source.resume()
        return source
    }
}
