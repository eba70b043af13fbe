public import DeepseekCore

/// The identity of one node (process) in a cluster: its rank.
public struct NodeID: Sendable, Hashable, Comparable, CustomStringConvertible, WireCodable {
    public var rank: UInt32

    public init(_ rank: UInt32) { self.rank = rank }
    public init(_ rank: Int) {
        precondition(rank >= 0 && rank <= Int(UInt32.max), "node rank must be in 0...\(UInt32.max), got \(rank)")
        self.rank = UInt32(rank)
    }

    public static func < (a: NodeID, b: NodeID) -> Bool { a.rank < b.rank }
    public var description: String { "node\(rank)" }

    public func encode(to writer: inout WireWriter) { writer.writeVarint(UInt64(rank)) }
    public static func decode(from reader: inout WireReader) throws -> NodeID {
        let start = reader.offset
        let v = try reader.readVarint()
        guard v <= UInt64(UInt32.max) else { throw WireError(.malformed, "node rank \(v) exceeds 32 bits", offset: start) }
        return NodeID(UInt32(v))
    }
}

/// The identity of a distributed actor: the node it lives on, a path naming it, and an
/// incarnation number that makes a restarted actor at the same path a different actor.
///
/// Written as `node3/operators/matmul-12#7`.
public struct ActorAddress: Sendable, Hashable, CustomStringConvertible, WireCodable {
    public var node: NodeID
    /// A `/`-separated name, unique on its node while the actor lives.
    public var path: String
    /// Distinguishes successive actors that reuse a path.
    public var incarnation: UInt64

    public init(node: NodeID, path: String, incarnation: UInt64) {
        self.node = node
        self.path = path
        self.incarnation = incarnation
    }

    public var description: String { "\(node)/\(path)#\(incarnation)" }

    /// The address of a singleton system actor that every node can name without asking:
    /// incarnation 0 is reserved for these.
    public static func wellKnown(_ path: String, on node: NodeID) -> ActorAddress {
        ActorAddress(node: node, path: path, incarnation: 0)
    }

    public func encode(to writer: inout WireWriter) {
        node.encode(to: &writer)
        writer.write(path)
        writer.writeVarint(incarnation)
    }

    public static func decode(from reader: inout WireReader) throws -> ActorAddress {
        let node = try NodeID.decode(from: &reader)
        let start = reader.offset
        let path = try reader.readString()
        guard path.utf8.count <= 1024 else {
            throw WireError(.malformed, "actor path of \(path.utf8.count) bytes exceeds 1024", offset: start)
        }
        return ActorAddress(node: node, path: path, incarnation: try reader.readVarint())
    }
}
