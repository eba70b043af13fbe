/// What a `VerbsTransport` has done so far, for tests, benchmarks and `deepseek info`.
public struct VerbsTransportCounters: Sendable, Equatable {
    /// Messages handed to the NIC and their frame bytes (headers included).
    public var messagesSent = 0
    public var bytesSent = 0
    /// Messages delivered to the receiver.
    public var messagesReceived = 0
    /// SEND work requests posted (packed small messages, landed notices, goodbyes).
    public var sendRequests = 0
    /// RDMA writes of large-message slices into peers' landing slots.
    public var landingWrites = 0
    /// RDMA writes of flow-control credits into peers' mailboxes.
    public var creditWrites = 0
    /// Links that reached RTS on both sides, and links closed for any reason.
    public var linksEstablished = 0
    public var linksClosed = 0
    /// Links closed because a work request failed or the stream was corrupt.
    public var linkFailures = 0

    public init() {}
}
