/// Page-aligned memory registered with the NIC for the life of one link.
///
/// Allocated zeroed (which also faults the pages in before the NIC pins them) and released only
/// after its queue pair is destroyed, so the NIC never touches freed memory.
struct RegisteredArena {
    let base: UnsafeMutableRawPointer
    let length: Int
    let region: VerbsMemoryRegion

    init(api: any VerbsAPI, domain: VerbsProtectionDomain, length: Int, access: VerbsAccess) throws(VerbsError) {
        let base = UnsafeMutableRawPointer.allocate(byteCount: length, alignment: 4096)
        base.initializeMemory(as: UInt8.self, repeating: 0, count: length)
        do {
            region = try api.registerMemory(domain, address: base, length: length, access: access)
        } catch {
            base.deallocate()
            throw error
        }
        self.base = base
        self.length = length
    }

    /// The NIC address of byte `offset`.
    func address(_ offset: Int) -> UInt64 { region.address + UInt64(offset) }

    /// Deregisters and frees; the queue pair using it must be gone.
    func release(api: any VerbsAPI) {
        try? api.deregisterMemory(region)
        base.deallocate()
    }
}

/// Where each buffer of a link lives.
///
/// The local arena (local write only) holds the receive ring, the send ring, the staging slots
/// large messages are written from, and the credit outbox. The window (remotely writable) holds
/// the credit mailbox the peer writes and the landing slots it writes large messages into.
struct LinkLayout {
    let receiveDepth: Int
    let bufferSize: Int
    let sendSlots: Int
    let stagingSlots: Int
    let slotSize: Int

    init(settings: VerbsTransportSettings) {
        receiveDepth = settings.receiveDepth
        bufferSize = settings.receiveBufferSize
        sendSlots = settings.receiveDepth
        stagingSlots = settings.landingSlotCount
        slotSize = settings.landingSlotSize
    }

    var receiveOffset: Int { 0 }
    var sendOffset: Int { receiveDepth * bufferSize }
    var stagingOffset: Int { sendOffset + sendSlots * bufferSize }
    var outboxOffset: Int { stagingOffset + stagingSlots * slotSize }
    var localLength: Int { outboxOffset + 64 }

    var landingOffset: Int { Int(VerbsEndpoint.mailboxSize) }
    var windowLength: Int { landingOffset + stagingSlots * slotSize }

    func receiveBuffer(_ slot: Int) -> Int { receiveOffset + slot * bufferSize }
    func sendBuffer(_ slot: Int) -> Int { sendOffset + slot * bufferSize }
    func stagingBuffer(_ slot: Int) -> Int { stagingOffset + slot * slotSize }
    func landingBuffer(_ slot: Int) -> Int { landingOffset + slot * slotSize }
}

/// What a work request was for, packed into its 64-bit ID: kind in the top byte, slot below.
enum WorkKind: UInt64 {
    case receive = 1
    case send = 2
    case stagingWrite = 3
    case creditWrite = 4

    func id(_ slot: Int) -> UInt64 { rawValue << 56 | UInt64(slot) }

    static func decode(_ id: UInt64) -> (WorkKind, Int)? {
        guard let kind = WorkKind(rawValue: id >> 56) else { return nil }
        return (kind, Int(id & 0x00FF_FFFF_FFFF_FFFF))
    }
}

/// The first byte of every SEND on a link.
enum SendType: UInt8 {
    /// The rest of the buffer is frame-stream bytes (one or more whole small frames).
    case stream = 1
    /// Stream bytes were written into a landing slot: `[type][3 pad][u32 slot][u32 length]`.
    case landed = 2
    /// The peer is shutting down in an orderly way.
    case goodbye = 3

    static let landedNoticeSize = 12
}
