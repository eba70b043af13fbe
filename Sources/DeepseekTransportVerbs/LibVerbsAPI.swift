import CDeepseekVerbs

#if canImport(Glibc)
import Glibc
#endif

/// libibverbs, loaded once per process with `dlopen` and kept loaded (providers do not unload
/// reliably). Immutable after loading, hence `@unchecked Sendable`.
final class LoadedVerbsLibrary: @unchecked Sendable {
    let table: UnsafeMutablePointer<cdsk_verbs_table>

    private init(table: UnsafeMutablePointer<cdsk_verbs_table>) { self.table = table }

    static let shared: Result<LoadedVerbsLibrary, VerbsError> = {
        let table = UnsafeMutablePointer<cdsk_verbs_table>.allocate(capacity: 1)
        var detail = [CChar](repeating: 0, count: 256)
        let status = cdsk_verbs_load(table, &detail, detail.count)
        let text = String(decoding: detail.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch cdsk_verbs_status(UInt32(status)) {
        case CDSK_VERBS_OK:
            return .success(LoadedVerbsLibrary(table: table))
        case CDSK_VERBS_LIBRARY_MISSING:
            table.deallocate()
            return .failure(VerbsError(.unavailable, "libibverbs.so.1 could not be loaded (\(text)); install libibverbs1 and a provider"))
        default:
            table.deallocate()
            return .failure(VerbsError(.unavailable, "libibverbs.so.1 is unusable: \(text)"))
        }
    }()
}

/// The verbs layer on real hardware: every call goes through the `dlopen`ed libibverbs function
/// table of `CDeepseekVerbs`, and posting and polling through its compiled wrappers of the
/// header's inline functions.
///
/// ```swift
/// let api = try LibVerbsAPI.load()          // throws `.unavailable` without libibverbs
/// let names = try api.deviceNames()         // throws `.unavailable` (ENOSYS) without devices
/// ```
public struct LibVerbsAPI: VerbsAPI {
    let library: LoadedVerbsLibrary
    private var table: UnsafePointer<cdsk_verbs_table> { UnsafePointer(library.table) }

    /// Loads libibverbs (once per process).
    ///
    /// - Throws: `VerbsError.unavailable` when the library or one of its symbols is missing.
    public static func load() throws(VerbsError) -> LibVerbsAPI {
        switch LoadedVerbsLibrary.shared {
        case .success(let library): return LibVerbsAPI(library: library)
        case .failure(let error): throw error
        }
    }

    private func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(VerbsError) {
        guard rc != 0 else { return }
        throw VerbsError(.callFailed, "\(what()) failed: \(errnoText(rc)) (errno \(rc))", errno: rc)
    }

    private func pointer(_ handle: UInt, _ what: String) -> OpaquePointer {
        guard let p = OpaquePointer(bitPattern: handle) else { preconditionFailure("a null \(what) handle reached LibVerbsAPI") }
        return p
    }

    public func deviceNames() throws(VerbsError) -> [String] {
        var list = cdsk_verbs_name_list()
        let rc = cdsk_verbs_list_devices(table, &list)
        guard rc == 0 else {
            throw VerbsError(
                rc == ENOSYS ? .unavailable : .callFailed,
                "ibv_get_device_list failed: \(errnoText(rc))\(rc == ENOSYS ? " (the kernel exposes no RDMA devices)" : "")",
                errno: rc)
        }
        return withUnsafeBytes(of: list.names) { raw in
            (0..<min(Int(list.count), Int(CDSK_VERBS_MAX_DEVICES))).map { i in
                let row = raw[(i * 64)..<(i * 64 + 64)]
                return String(decoding: row.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
    }

    public func openDevice(named name: String?) throws(VerbsError) -> VerbsDevice {
        var context: OpaquePointer?
        let rc: Int32 = if let name { cdsk_verbs_open_device(table, name, &context) } else { cdsk_verbs_open_device(table, nil, &context) }
        guard rc == 0, let context else {
            let which = name.map { "RDMA device \($0)" } ?? "the first RDMA device"
            throw VerbsError(
                rc == ENODEV || rc == ENOSYS ? .unavailable : .callFailed, "opening \(which) failed: \(errnoText(rc))", errno: rc)
        }
        var resolved = name ?? "?"
        if name == nil, let first = try? deviceNames().first { resolved = first }
        return VerbsDevice(handle: UInt(bitPattern: context), name: resolved)
    }

    public func closeDevice(_ device: VerbsDevice) throws(VerbsError) {
        try check(table.pointee.close_device(pointer(device.handle, "device")), "ibv_close_device(\(device.name))")
    }

    public func queryPort(_ device: VerbsDevice, port: UInt8) throws(VerbsError) -> VerbsPortAttributes {
        var info = cdsk_verbs_port_info()
        try check(cdsk_verbs_query_port(table, pointer(device.handle, "device"), port, &info), "ibv_query_port(\(device.name), \(port))")
        return VerbsPortAttributes(
            state: info.state, activeMTU: VerbsMTU(rawValue: UInt8(clamping: info.active_mtu)) ?? .bytes1024, lid: info.lid,
            linkLayer: VerbsLinkLayer(rawValue: info.link_layer) ?? .unspecified, gidTableLength: Int(info.gid_table_length))
    }

    public func queryGID(_ device: VerbsDevice, port: UInt8, index: Int) throws(VerbsError) -> VerbsGID {
        var bytes = [UInt8](repeating: 0, count: 16)
        try check(
            cdsk_verbs_query_gid(table, pointer(device.handle, "device"), port, Int32(index), &bytes),
            "ibv_query_gid(\(device.name), port \(port), index \(index))")
        return VerbsGID(bytes: bytes)
    }

    public func allocateProtectionDomain(_ device: VerbsDevice) throws(VerbsError) -> VerbsProtectionDomain {
        var pd: OpaquePointer?
        try check(cdsk_verbs_alloc_pd(table, pointer(device.handle, "device"), &pd), "ibv_alloc_pd(\(device.name))")
        return VerbsProtectionDomain(handle: UInt(bitPattern: pd))
    }

    public func deallocateProtectionDomain(_ domain: VerbsProtectionDomain) throws(VerbsError) {
        try check(cdsk_verbs_dealloc_pd(table, pointer(domain.handle, "protection domain")), "ibv_dealloc_pd")
    }

    public func registerMemory(
        _ domain: VerbsProtectionDomain, address: UnsafeMutableRawPointer, length: Int, access: VerbsAccess
    ) throws(VerbsError) -> VerbsMemoryRegion {
        var mr: OpaquePointer?
        var lkey: UInt32 = 0
        var rkey: UInt32 = 0
        try check(
            cdsk_verbs_reg_mr(table, pointer(domain.handle, "protection domain"), address, length, access.rawValue, &mr, &lkey, &rkey),
            "ibv_reg_mr of \(length) bytes")
        return VerbsMemoryRegion(
            handle: UInt(bitPattern: mr), address: UInt64(UInt(bitPattern: address)), length: length, localKey: lkey, remoteKey: rkey)
    }

    public func deregisterMemory(_ region: VerbsMemoryRegion) throws(VerbsError) {
        try check(cdsk_verbs_dereg_mr(table, pointer(region.handle, "memory region")), "ibv_dereg_mr")
    }

    public func createCompletionQueue(_ device: VerbsDevice, depth: Int) throws(VerbsError) -> VerbsCompletionQueue {
        var cq: OpaquePointer?
        try check(cdsk_verbs_create_cq(table, pointer(device.handle, "device"), Int32(depth), &cq), "ibv_create_cq(depth \(depth))")
        return VerbsCompletionQueue(handle: UInt(bitPattern: cq), depth: depth)
    }

    public func destroyCompletionQueue(_ queue: VerbsCompletionQueue) throws(VerbsError) {
        try check(cdsk_verbs_destroy_cq(table, pointer(queue.handle, "completion queue")), "ibv_destroy_cq")
    }

    public func createQueuePair(
        _ domain: VerbsProtectionDomain, sendCompletions: VerbsCompletionQueue, receiveCompletions: VerbsCompletionQueue,
        capabilities: VerbsQueuePairCapabilities
    ) throws(VerbsError) -> VerbsQueuePair {
        var caps = cdsk_verbs_qp_caps(
            max_send_wr: UInt32(capabilities.maximumSendRequests), max_recv_wr: UInt32(capabilities.maximumReceiveRequests),
            max_send_sge: 1, max_recv_sge: 1, max_inline_data: UInt32(capabilities.maximumInlineBytes))
        var qp: OpaquePointer?
        var number: UInt32 = 0
        try check(
            cdsk_verbs_create_rc_qp(
                table, pointer(domain.handle, "protection domain"), pointer(sendCompletions.handle, "completion queue"),
                pointer(receiveCompletions.handle, "completion queue"), &caps, &qp, &number),
            "ibv_create_qp(RC, \(capabilities.maximumSendRequests) send / \(capabilities.maximumReceiveRequests) receive)")
        return VerbsQueuePair(handle: UInt(bitPattern: qp), number: number)
    }

    public func destroyQueuePair(_ queuePair: VerbsQueuePair) throws(VerbsError) {
        try check(cdsk_verbs_destroy_qp(table, pointer(queuePair.handle, "queue pair")), "ibv_destroy_qp(\(queuePair.number))")
    }

    public func modifyQueuePair(_ queuePair: VerbsQueuePair, _ transition: VerbsQueuePairTransition) throws(VerbsError) {
        let qp = pointer(queuePair.handle, "queue pair")
        let rc: Int32
        switch transition {
        case .initialize(let port, let access):
            rc = cdsk_verbs_qp_to_init(table, qp, port, access.rawValue)
        case .readyToReceive(let a):
            var attr = cdsk_verbs_rtr_attr()
            attr.remote_qp_num = a.remoteQueuePair
            attr.receive_psn = a.receivePacketSequence
            attr.remote_lid = a.remoteLID
            withUnsafeMutableBytes(of: &attr.remote_gid) { $0.copyBytes(from: a.remoteGID.bytes) }
            attr.is_global = a.useGlobalRoute ? 1 : 0
            attr.sgid_index = a.sourceGIDIndex
            // Enough hops for routed RoCE v2; ignored by InfiniBand within a subnet.
            attr.hop_limit = 64
            attr.path_mtu = a.pathMTU.rawValue
            attr.port = a.port
            attr.max_dest_rd_atomic = 1
            attr.min_rnr_timer = a.minimumRNRTimer
            rc = cdsk_verbs_qp_to_rtr(table, qp, &attr)
        case .readyToSend(let a):
            var attr = cdsk_verbs_rts_attr(
                send_psn: a.sendPacketSequence, timeout: a.timeout, retry_count: a.retryCount, rnr_retry: a.rnrRetry, max_rd_atomic: 1)
            rc = cdsk_verbs_qp_to_rts(table, qp, &attr)
        case .error:
            rc = cdsk_verbs_qp_to_error(table, qp)
        case .reset:
            rc = cdsk_verbs_qp_to_reset(table, qp)
        }
        try check(rc, "ibv_modify_qp(\(queuePair.number) → \(transition.target))")
    }

    public func postSend(_ queuePair: VerbsQueuePair, _ request: VerbsSendRequest) throws(VerbsError) {
        var wr = cdsk_verbs_send_wr()
        wr.wr_id = request.workRequestID
        wr.address = request.address
        wr.length = UInt32(request.length)
        wr.lkey = request.localKey
        wr.signaled = request.signaled ? 1 : 0
        switch request.operation {
        case .send:
            wr.opcode = Int32(CDSK_VERBS_OP_SEND)
        case .rdmaWrite(let remoteAddress, let remoteKey):
            wr.opcode = Int32(CDSK_VERBS_OP_RDMA_WRITE)
            wr.remote_address = remoteAddress
            wr.rkey = remoteKey
        }
        try check(cdsk_verbs_post_send(pointer(queuePair.handle, "queue pair"), &wr), "ibv_post_send on QP \(queuePair.number)")
    }

    public func postReceive(_ queuePair: VerbsQueuePair, _ request: VerbsReceiveRequest) throws(VerbsError) {
        try check(
            cdsk_verbs_post_recv(
                pointer(queuePair.handle, "queue pair"), request.workRequestID, request.address, UInt32(request.length), request.localKey),
            "ibv_post_recv on QP \(queuePair.number)")
    }

    public func pollCompletions(
        _ queue: VerbsCompletionQueue, maximum: Int, into completions: inout [VerbsCompletion]
    ) throws(VerbsError) -> Int {
        let cq = pointer(queue.handle, "completion queue")
        // Stack scratch: this runs on every pass of the progress thread.
        let n = withUnsafeTemporaryAllocation(of: cdsk_verbs_completion.self, capacity: maximum) { raw -> Int32 in
            let n = cdsk_verbs_poll_cq(cq, Int32(maximum), raw.baseAddress!)
            for i in 0..<Int(max(n, 0)) {
                let c = raw[i]
                completions.append(
                    VerbsCompletion(
                        workRequestID: c.wr_id, status: VerbsCompletionStatus(rawValue: c.status),
                        opcode: VerbsCompletion.Opcode(rawValue: c.opcode) ?? .other, byteCount: Int(c.byte_len),
                        queuePairNumber: c.qp_num, vendorError: c.vendor_error))
            }
            return n
        }
        guard n >= 0 else { throw VerbsError(.callFailed, "ibv_poll_cq failed (\(n))", errno: -n) }
        return Int(n)
    }
}

func errnoText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}
