/// Where a node stands in its cluster: its rank, the world size, and how to reach the coordinator.
public struct ClusterPlacement: Sendable, Equatable, CustomStringConvertible {
    public var rank: Int
    public var worldSize: Int
    /// The host of rank 0, which every node contacts first.
    public var coordinatorHost: String
    public var coordinatorPort: Int
    /// Which launcher the values came from (`flags`, `slurm`, `openmpi`, `torchrun`).
    public var source: String

    public init(rank: Int, worldSize: Int, coordinatorHost: String, coordinatorPort: Int, source: String) {
        self.rank = rank
        self.worldSize = worldSize
        self.coordinatorHost = coordinatorHost
        self.coordinatorPort = coordinatorPort
        self.source = source
    }

    public var description: String {
        "rank \(rank) of \(worldSize), coordinator \(coordinatorHost):\(coordinatorPort) (from \(source))"
    }
}

/// Reads a node's placement from the environment its launcher set.
///
/// Understands Slurm (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LAUNCH_NODE_IPADDR`), Open MPI
/// (`OMPI_COMM_WORLD_RANK`, `OMPI_COMM_WORLD_SIZE`) and torchrun-style variables (`RANK`,
/// `WORLD_SIZE`, `MASTER_ADDR`, `MASTER_PORT`). The coordinator address can always be given with
/// `MASTER_ADDR`/`MASTER_PORT`. The caller passes the environment in — this type never reads the
/// process environment itself.
public enum LaunchEnvironment {
    /// A problem with the launcher's variables.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static let defaultPort = 29_500

    /// The placement described by `environment`, or `nil` when no launcher variables are present.
    ///
    /// - Throws: `Problem` naming the variable that is malformed or inconsistent.
    public static func placement(from environment: [String: String]) throws -> ClusterPlacement? {
        func integer(_ name: String) throws -> Int? {
            guard let text = environment[name] else { return nil }
            let trimmed = text.trimmingPrefix(while: \.isWhitespace)
            let end = trimmed.lastIndex { !$0.isWhitespace }.map { trimmed.index(after: $0) } ?? trimmed.startIndex
            guard let v = Int(trimmed[..<end]), v >= 0 else {
                throw Problem(description: "\(name)=\(text) is not a non-negative integer")
            }
            return v
        }
        let port = try integer("MASTER_PORT") ?? defaultPort
        guard port > 0 && port < 65_536 else { throw Problem(description: "MASTER_PORT=\(port) is not a TCP port") }
        let candidates: [(String, String, String, String?)] = [
            ("slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LAUNCH_NODE_IPADDR"),
            ("openmpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", nil),
            ("torchrun", "RANK", "WORLD_SIZE", nil),
        ]
        for (source, rankName, sizeName, hostName) in candidates {
            guard let rank = try integer(rankName) else { continue }
            guard let size = try integer(sizeName) else {
                throw Problem(description: "\(rankName) is set but \(sizeName) is not; the launcher must set both")
            }
            guard size >= 1, rank < size else {
                throw Problem(description: "\(rankName)=\(rank) is not below \(sizeName)=\(size)")
            }
            let host = environment["MASTER_ADDR"] ?? hostName.flatMap { environment[$0] } ?? "127.0.0.1"
            return ClusterPlacement(rank: rank, worldSize: size, coordinatorHost: host, coordinatorPort: port, source: source)
        }
        return nil
    }
}
