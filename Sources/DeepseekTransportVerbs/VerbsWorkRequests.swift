/// The state of a queue pair (`enum ibv_qp_state`), with the transitions the InfiniBand
/// specification allows through `ibv_modify_qp`.
///
/// A reliable-connected queue pair is born in `.reset`, is bound to a port in `.initialized`
/// (receives may be posted from here on), learns its peer in `.readyToReceive` and may send only
/// in `.readyToSend`. Any state may go to `.error` (outstanding work is flushed) or back to
/// `.reset`.
public enum VerbsQueuePairState: Int32, Sendable, Hashable, CustomStringConvertible {
    case reset = 0
    case initialized = 1
    case readyToReceive = 2
    case readyToSend = 3
    case sendQueueDrained = 4
    case sendQueueError = 5
    case error = 6

    /// Whether `ibv_modify_qp` may move a queue pair from this state to `next`.
    public func canMove(to next: VerbsQueuePairState) -> Bool {
        switch (self, next) {
        case (_, .reset), (_, .error): true
        case (.reset, .initialized), (.initialized, .initialized), (.initialized, .readyToReceive): true
        case (.readyToReceive, .readyToSend), (.readyToSend, .readyToSend): true
        case (.readyToSend, .sendQueueDrained), (.sendQueueDrained, .readyToSend), (.sendQueueDrained, .sendQueueDrained): true
        case (.sendQueueError, .readyToSend): true
        default: false
        }
    }

    /// Whether receive work requests may be posted (every state after `.reset`).
    public var acceptsReceives: Bool { self != .reset }
    /// Whether send work requests may be posted.
    public var acceptsSends: Bool { self == .readyToSend }
    /// Whether arriving packets are processed (the responder side is live).
    public var receivesPackets: Bool { self == .readyToReceive || self == .readyToSend || self == .sendQueueDrained }

    public var description: String {
        switch self {
        case .reset: "RESET"
        case .initialized: "INIT"
        case .readyToReceive: "RTR"
        case .readyToSend: "RTS"
        case .sendQueueDrained: "SQD"
        case .sendQueueError: "SQE"
        case .error: "ERR"
        }
    }
}

/// A call of `ibv_modify_qp` with the attributes each step needs.
public enum VerbsQueuePairTransition: Sendable, Hashable {
    /// RESET → INIT: bind the port and say what remote peers may do to this side's memory.
    case initialize(port: UInt8, access: VerbsAccess)
    /// INIT → RTR: the peer's address and queue pair, and the PSN its first packet will carry.
    case readyToReceive(VerbsReceiveAttributes)
    /// RTR → RTS: this side's first PSN and its retry policy.
    case readyToSend(VerbsSendAttributes)
    /// Any → ERR: outstanding work completes as flushed.
    case error
    /// Any → RESET.
    case reset

    /// The state this transition leads to.
    public var target: VerbsQueuePairState {
        switch self {
        case .initialize: .initialized
        case .readyToReceive: .readyToReceive
        case .readyToSend: .readyToSend
        case .error: .error
        case .reset: .reset
        }
    }
}

/// The packet sequence numbers of RC traffic are 24 bits wide.
public let verbsPacketSequenceMask: UInt32 = 0x00FF_FFFF

/// What INIT → RTR needs to know about the peer.
public struct VerbsReceiveAttributes: Sendable, Hashable {
    public var remoteQueuePair: UInt32
    /// The PSN of the first packet the peer will send (its send PSN).
    public var receivePacketSequence: UInt32
    public var remoteLID: UInt16
    public var remoteGID: VerbsGID
    /// Address the peer with a global route header (RoCE always needs one).
    public var useGlobalRoute: Bool
    public var sourceGIDIndex: UInt8
    public var pathMTU: VerbsMTU
    public var port: UInt8
    /// Encoded RNR NAK timer (0…31) the peer waits before retrying a send that found no receive.
    public var minimumRNRTimer: UInt8

    public init(
        remoteQueuePair: UInt32, receivePacketSequence: UInt32, remoteLID: UInt16, remoteGID: VerbsGID, useGlobalRoute: Bool,
        sourceGIDIndex: UInt8, pathMTU: VerbsMTU, port: UInt8, minimumRNRTimer: UInt8 = 12
    ) {
        self.remoteQueuePair = remoteQueuePair
        self.receivePacketSequence = receivePacketSequence
        self.remoteLID = remoteLID
        self.remoteGID = remoteGID
        self.useGlobalRoute = useGlobalRoute
        self.sourceGIDIndex = sourceGIDIndex
        self.pathMTU = pathMTU
        self.port = port
        self.minimumRNRTimer = minimumRNRTimer
    }
}

/// What RTR → RTS needs: the first PSN this side sends and its retry policy.
public struct VerbsSendAttributes: Sendable, Hashable {
    public var sendPacketSequence: UInt32
    /// Encoded ACK timeout: 4.096 µs × 2^timeout (14 ≈ 67 ms).
    public var timeout: UInt8
    /// Retransmissions before a send fails with `retryExceeded` (0…7).
    public var retryCount: UInt8
    /// Retries after a receiver-not-ready NAK before `rnrRetryExceeded` (7 means forever).
    public var rnrRetry: UInt8

    public init(sendPacketSequence: UInt32, timeout: UInt8 = 14, retryCount: UInt8 = 7, rnrRetry: UInt8 = 7) {
        self.sendPacketSequence = sendPacketSequence
        self.timeout = timeout
        self.retryCount = retryCount
        self.rnrRetry = rnrRetry
    }
}

/// One send work request with a single gather element.
public struct VerbsSendRequest: Sendable, Hashable {
    public enum Operation: Sendable, Hashable {
        /// Consumes one receive posted by the peer.
        case send
        /// Writes into the peer's registered memory at `remoteAddress` (needs its `remoteKey`);
        /// consumes no receive on the peer.
        case rdmaWrite(remoteAddress: UInt64, remoteKey: UInt32)
    }

    /// Returned in this request's completion.
    public var workRequestID: UInt64
    public var operation: Operation
    /// Local source bytes; must lie in memory registered under `localKey`.
    public var address: UInt64
    public var length: Int
    public var localKey: UInt32
    /// Whether the request produces a completion when it succeeds (errors always do).
    public var signaled: Bool

    public init(workRequestID: UInt64, operation: Operation, address: UInt64, length: Int, localKey: UInt32, signaled: Bool = true) {
        self.workRequestID = workRequestID
        self.operation = operation
        self.address = address
        self.length = length
        self.localKey = localKey
        self.signaled = signaled
    }
}

/// One receive buffer posted to a queue pair.
public struct VerbsReceiveRequest: Sendable, Hashable {
    public var workRequestID: UInt64
    public var address: UInt64
    public var length: Int
    public var localKey: UInt32
    public init(workRequestID: UInt64, address: UInt64, length: Int, localKey: UInt32) {
        self.workRequestID = workRequestID
        self.address = address
        self.length = length
        self.localKey = localKey
    }
}

/// The outcome of a work request (`enum ibv_wc_status`).
public struct VerbsCompletionStatus: Sendable, Hashable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let success = Self(rawValue: 0)
    public static let localLengthError = Self(rawValue: 1)
    public static let localQueuePairOperationError = Self(rawValue: 2)
    /// A work request named memory not registered under its key.
    public static let localProtectionError = Self(rawValue: 4)
    /// The queue pair went to ERR; this request was never executed.
    public static let workRequestFlushed = Self(rawValue: 5)
    public static let localAccessError = Self(rawValue: 8)
    public static let remoteInvalidRequest = Self(rawValue: 9)
    /// An RDMA access named peer memory outside a region registered for it, or a wrong key.
    public static let remoteAccessError = Self(rawValue: 10)
    public static let remoteOperationError = Self(rawValue: 11)
    /// No acknowledgement within the retries: the peer is gone, or its PSN does not match.
    public static let retryExceeded = Self(rawValue: 12)
    /// The peer had no receive posted, for longer than the RNR retries allow.
    public static let rnrRetryExceeded = Self(rawValue: 13)
    public static let fatalError = Self(rawValue: 19)
    public static let generalError = Self(rawValue: 21)

    public var isSuccess: Bool { rawValue == 0 }

    public var description: String {
        switch rawValue {
        case 0: "success"
        case 1: "local length error"
        case 2: "local QP operation error"
        case 4: "local protection error (memory not registered under that key)"
        case 5: "work request flushed"
        case 8: "local access error"
        case 9: "remote invalid request"
        case 10: "remote access error (bad remote key or range)"
        case 11: "remote operation error"
        case 12: "transport retry counter exceeded (peer gone or PSN mismatch)"
        case 13: "RNR retry counter exceeded (no receive posted at the peer)"
        case 19: "fatal error"
        case 21: "general error"
        default: "completion status \(rawValue)"
        }
    }
}

/// A work completion (`struct ibv_wc`), as the transport uses it.
public struct VerbsCompletion: Sendable, Hashable {
    public enum Opcode: Int32, Sendable, Hashable {
        case send = 0
        case rdmaWrite = 1
        case rdmaRead = 2
        case receive = 128
        case receiveWriteWithImmediate = 129
        case other = -1
    }

    public var workRequestID: UInt64
    public var status: VerbsCompletionStatus
    /// Valid only when `status` is success (as on hardware).
    public var opcode: Opcode
    /// Bytes received, for receive completions.
    public var byteCount: Int
    public var queuePairNumber: UInt32
    public var vendorError: UInt32

    public init(
        workRequestID: UInt64, status: VerbsCompletionStatus, opcode: Opcode, byteCount: Int, queuePairNumber: UInt32,
        vendorError: UInt32 = 0
    ) {
        self.workRequestID = workRequestID
        self.status = status
        self.opcode = opcode
        self.byteCount = byteCount
        self.queuePairNumber = queuePairNumber
        self.vendorError = vendorError
    }
}
