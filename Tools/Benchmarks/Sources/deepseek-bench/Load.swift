import Foundation

/// How much of the machine other processes used while a group ran.
///
/// Busy time of all cores comes from /proc/stat; this process's CPU time and that of its finished
/// children (the PyTorch script) is subtracted. What remains is other work competing for the
/// cores: a group measured with a large share of it is noisy and should be run again.
struct OtherLoad {
    private var busyStart: Double
    private var ownStart: Double
    private var wallStart: Double

    init() {
        busyStart = Self.machineBusySeconds() ?? .nan
        ownStart = Self.ownSeconds()
        wallStart = monotonicSeconds()
    }

    /// Other processes' CPU use since `init`, as a fraction of all cores (0 = quiet), or nil
    /// where /proc/stat is unreadable.
    func fraction() -> Double? {
        guard let busy = Self.machineBusySeconds(), busyStart.isFinite else { return nil }
        let wall = monotonicSeconds() - wallStart
        let cores = Double(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let others = (busy - busyStart) - (Self.ownSeconds() - ownStart)
        return max(0, others) / (wall * cores)
    }

    /// Seconds all cores spent busy since boot (user, nice, system, irq, softirq, steal).
    static func machineBusySeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return nil }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return nil }
        let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        return busy / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds of this process and its waited-for children.
    static func ownSeconds() -> Double {
        var children = rusage()
        getrusage(__rusage_who_t(truncatingIfNeeded: RUSAGE_CHILDREN.rawValue), &children)
        let c = Double(children.ru_utime.tv_sec) + Double(children.ru_utime.tv_usec) * 1e-6
            + Double(children.ru_stime.tv_sec) + Double(children.ru_stime.tv_usec) * 1e-6
        return processCPUSeconds() + c
    }
}
