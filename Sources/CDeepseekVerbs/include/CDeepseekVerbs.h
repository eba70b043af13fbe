#ifndef CDEEPSEEK_VERBS_H
#define CDEEPSEEK_VERBS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// libibverbs is opened with dlopen at run time (never linked) so that hosts without it still run
// everything else. Swift sees only the opaque handle types below and this shim's own flat structs:
// the verbs structs (ibv_qp_attr, ibv_send_wr, ibv_wc, ...) hold unions, nested anonymous structs
// and enum-typed fields that do not import cleanly, and several entry points are not functions
// at all but header macros or static inline functions (see the notes on each wrapper).

struct ibv_device;
struct ibv_context;
struct ibv_pd;
struct ibv_mr;
struct ibv_cq;
struct ibv_qp;
struct ibv_device_attr;
struct ibv_qp_init_attr;
struct ibv_qp_attr;
struct _compat_ibv_port_attr;
union ibv_gid;

// MARK: - Probe

/// Why the probe found no usable RDMA device.
typedef enum cdsk_verbs_status {
    /// The library loaded and the device list was read (it may be empty).
    CDSK_VERBS_OK = 0,
    /// dlopen("libibverbs.so.1") failed; `detail` holds dlerror().
    CDSK_VERBS_LIBRARY_MISSING = 1,
    /// The library loaded but a required symbol was absent; `detail` names it.
    CDSK_VERBS_SYMBOL_MISSING = 2,
    /// ibv_get_device_list returned NULL; `list_errno` holds errno (ENOSYS: no kernel support).
    CDSK_VERBS_LIST_FAILED = 3,
} cdsk_verbs_status;

/// The most devices the probe describes; more are counted in `device_count` but not listed.
#define CDSK_VERBS_MAX_DEVICES 8

/// One RDMA device as the probe saw it.
typedef struct cdsk_verbs_device {
    /// Kernel device name, e.g. "mlx5_0".
    char name[64];
    /// 1 when ibv_open_device and ibv_query_device succeeded and the fields below are valid.
    int queried;
    /// Number of physical ports.
    int port_count;
    /// Largest number of queue pairs the device supports.
    int max_qp;
    /// Firmware version string.
    char firmware[64];
    /// Ports whose state is ACTIVE (queried with ibv_query_port); valid when `queried` is 1.
    int active_port_count;
    /// Link layer of the first active port: 1 InfiniBand, 2 Ethernet (RoCE), 0 unknown or none.
    int link_layer;
} cdsk_verbs_device;

/// The result of probing for RDMA devices.
typedef struct cdsk_verbs_probe_result {
    cdsk_verbs_status status;
    /// Devices reported by ibv_get_device_list (0 when none or on failure).
    int device_count;
    /// errno from a failed ibv_get_device_list.
    int list_errno;
    /// A human-readable reason when status is not CDSK_VERBS_OK.
    char detail[256];
    cdsk_verbs_device devices[CDSK_VERBS_MAX_DEVICES];
} cdsk_verbs_probe_result;

/// Loads libibverbs, lists RDMA devices, queries each (open, query, close) and fills `out`.
/// Returns `out->status`. Safe to call on hosts without the library or without devices.
int cdsk_verbs_probe(cdsk_verbs_probe_result *out);

// MARK: - Function table

/// The libibverbs entry points the transport uses, resolved with dlsym.
///
/// Every pointer is the library's default-versioned export (dlsym picks `@@IBVERBS_1.1`).
/// `query_port` is the exported compatibility symbol: in the header `ibv_query_port` is a macro
/// over a static inline function that prefers the provider's extended op, which
/// `cdsk_verbs_query_port` reproduces. Likewise `ibv_reg_mr` is a macro in the header; the
/// exported function is what it calls when no optional access flags are set.
typedef struct cdsk_verbs_table {
    void *library;
    struct ibv_device **(*get_device_list)(int *num_devices);
    void (*free_device_list)(struct ibv_device **list);
    const char *(*get_device_name)(struct ibv_device *device);
    struct ibv_context *(*open_device)(struct ibv_device *device);
    int (*close_device)(struct ibv_context *context);
    int (*query_device)(struct ibv_context *context, struct ibv_device_attr *attributes);
    int (*query_port)(struct ibv_context *context, uint8_t port, struct _compat_ibv_port_attr *attributes);
    int (*query_gid)(struct ibv_context *context, uint8_t port, int index, union ibv_gid *gid);
    struct ibv_pd *(*alloc_pd)(struct ibv_context *context);
    int (*dealloc_pd)(struct ibv_pd *pd);
    struct ibv_mr *(*reg_mr)(struct ibv_pd *pd, void *address, size_t length, int access);
    int (*dereg_mr)(struct ibv_mr *mr);
    struct ibv_cq *(*create_cq)(struct ibv_context *context, int depth, void *user, void *channel, int vector);
    int (*destroy_cq)(struct ibv_cq *cq);
    struct ibv_qp *(*create_qp)(struct ibv_pd *pd, struct ibv_qp_init_attr *attributes);
    int (*destroy_qp)(struct ibv_qp *qp);
    int (*modify_qp)(struct ibv_qp *qp, struct ibv_qp_attr *attributes, int mask);
} cdsk_verbs_table;

/// Opens libibverbs.so.1 and fills `table`. Returns CDSK_VERBS_OK, CDSK_VERBS_LIBRARY_MISSING or
/// CDSK_VERBS_SYMBOL_MISSING, with the reason in `detail`. The library stays loaded for the life of
/// the process (unloading verbs providers is unreliable).
int cdsk_verbs_load(cdsk_verbs_table *table, char *detail, size_t detail_size);

// MARK: - Devices and ports

/// Device names as ibv_get_device_list reports them.
typedef struct cdsk_verbs_name_list {
    int count;
    char names[CDSK_VERBS_MAX_DEVICES][64];
} cdsk_verbs_name_list;

/// Lists devices. Returns 0, or an errno (ENOSYS: the kernel exposes no RDMA devices).
int cdsk_verbs_list_devices(const cdsk_verbs_table *table, cdsk_verbs_name_list *out);

/// Opens the device called `name`, or the first one when `name` is NULL. Returns 0 or an errno
/// (ENODEV when no device matches).
int cdsk_verbs_open_device(const cdsk_verbs_table *table, const char *name, struct ibv_context **out);

/// Port properties the transport needs.
typedef struct cdsk_verbs_port_info {
    /// ibv_port_state: 4 is ACTIVE.
    int state;
    /// ibv_mtu: 1 (256 B) to 5 (4096 B).
    int active_mtu;
    uint16_t lid;
    /// 1 InfiniBand, 2 Ethernet (RoCE).
    uint8_t link_layer;
    int gid_table_length;
    uint32_t max_message_size;
} cdsk_verbs_port_info;

/// Queries `port` as the header's inline ibv_query_port does. Returns 0 or an errno.
int cdsk_verbs_query_port(const cdsk_verbs_table *table, struct ibv_context *context, uint8_t port,
                          cdsk_verbs_port_info *out);

/// Reads GID table entry `index` of `port` into 16 bytes. Returns 0 or an errno.
int cdsk_verbs_query_gid(const cdsk_verbs_table *table, struct ibv_context *context, uint8_t port, int index,
                         uint8_t out[16]);

// MARK: - Resources

int cdsk_verbs_alloc_pd(const cdsk_verbs_table *table, struct ibv_context *context, struct ibv_pd **out);
int cdsk_verbs_dealloc_pd(const cdsk_verbs_table *table, struct ibv_pd *pd);
/// Registers memory; `access` is a mask of IBV_ACCESS_* values. Returns 0 or an errno.
int cdsk_verbs_reg_mr(const cdsk_verbs_table *table, struct ibv_pd *pd, void *address, size_t length, int access,
                      struct ibv_mr **out, uint32_t *lkey, uint32_t *rkey);
int cdsk_verbs_dereg_mr(const cdsk_verbs_table *table, struct ibv_mr *mr);
int cdsk_verbs_create_cq(const cdsk_verbs_table *table, struct ibv_context *context, int depth, struct ibv_cq **out);
int cdsk_verbs_destroy_cq(const cdsk_verbs_table *table, struct ibv_cq *cq);

/// Queue depths of a reliable-connected queue pair.
typedef struct cdsk_verbs_qp_caps {
    uint32_t max_send_wr;
    uint32_t max_recv_wr;
    uint32_t max_send_sge;
    uint32_t max_recv_sge;
    uint32_t max_inline_data;
} cdsk_verbs_qp_caps;

/// Creates an RC queue pair in RESET, every send work request signalled unless asked otherwise.
int cdsk_verbs_create_rc_qp(const cdsk_verbs_table *table, struct ibv_pd *pd, struct ibv_cq *send_cq,
                            struct ibv_cq *recv_cq, const cdsk_verbs_qp_caps *caps, struct ibv_qp **out,
                            uint32_t *qp_num);
int cdsk_verbs_destroy_qp(const cdsk_verbs_table *table, struct ibv_qp *qp);

// MARK: - Queue pair transitions

/// RESET → INIT: binds the port and the remote access the peer may use.
int cdsk_verbs_qp_to_init(const cdsk_verbs_table *table, struct ibv_qp *qp, uint8_t port, int access);

/// What INIT → RTR needs: the peer's address and queue pair, and the PSN its first packet carries.
typedef struct cdsk_verbs_rtr_attr {
    uint32_t remote_qp_num;
    /// The peer's initial send PSN (24 bits).
    uint32_t receive_psn;
    uint16_t remote_lid;
    uint8_t remote_gid[16];
    /// 1 to address the peer with a GRH (RoCE always; InfiniBand across subnets).
    uint8_t is_global;
    uint8_t sgid_index;
    uint8_t hop_limit;
    uint8_t traffic_class;
    uint8_t service_level;
    /// ibv_mtu value 1...5.
    uint8_t path_mtu;
    uint8_t port;
    uint8_t max_dest_rd_atomic;
    /// Encoded RNR NAK timer (0...31) the peer is told to wait before retrying.
    uint8_t min_rnr_timer;
} cdsk_verbs_rtr_attr;

int cdsk_verbs_qp_to_rtr(const cdsk_verbs_table *table, struct ibv_qp *qp, const cdsk_verbs_rtr_attr *attr);

/// What RTR → RTS needs: this side's initial send PSN and its retry policy.
typedef struct cdsk_verbs_rts_attr {
    uint32_t send_psn;
    /// Encoded local ACK timeout (4.096 µs × 2^timeout).
    uint8_t timeout;
    uint8_t retry_count;
    /// 7 retries an RNR NAK forever.
    uint8_t rnr_retry;
    uint8_t max_rd_atomic;
} cdsk_verbs_rts_attr;

int cdsk_verbs_qp_to_rts(const cdsk_verbs_table *table, struct ibv_qp *qp, const cdsk_verbs_rts_attr *attr);
/// Any state → ERROR: outstanding work requests complete with IBV_WC_WR_FLUSH_ERR.
int cdsk_verbs_qp_to_error(const cdsk_verbs_table *table, struct ibv_qp *qp);
/// Any state → RESET.
int cdsk_verbs_qp_to_reset(const cdsk_verbs_table *table, struct ibv_qp *qp);

// MARK: - Data path

/// cdsk_verbs_send_wr.opcode values (the subset of ibv_wr_opcode the transport posts).
enum {
    CDSK_VERBS_OP_SEND = 0,
    CDSK_VERBS_OP_SEND_WITH_IMM = 1,
    CDSK_VERBS_OP_RDMA_WRITE = 2,
    CDSK_VERBS_OP_RDMA_WRITE_WITH_IMM = 3,
};

/// One send work request with one scatter/gather element.
typedef struct cdsk_verbs_send_wr {
    uint64_t wr_id;
    uint64_t address;
    uint32_t length;
    uint32_t lkey;
    int opcode;
    int signaled;
    /// Copy the payload into the work request (length ≤ the QP's max_inline_data).
    int inline_data;
    uint32_t immediate;
    uint64_t remote_address;
    uint32_t rkey;
} cdsk_verbs_send_wr;

/// Posts one send work request. ibv_post_send is a static inline function in verbs.h that calls
/// through `qp->context->ops`, so there is no symbol to dlsym and Swift cannot call it: this
/// wrapper compiles that inline call. Returns 0 or an errno.
int cdsk_verbs_post_send(struct ibv_qp *qp, const cdsk_verbs_send_wr *wr);

/// Posts one receive work request (static inline in verbs.h, as above). Returns 0 or an errno.
int cdsk_verbs_post_recv(struct ibv_qp *qp, uint64_t wr_id, uint64_t address, uint32_t length, uint32_t lkey);

/// One work completion, flattened from struct ibv_wc.
typedef struct cdsk_verbs_completion {
    uint64_t wr_id;
    /// ibv_wc_status (0 success).
    int status;
    /// ibv_wc_opcode; meaningful only when status is 0.
    int opcode;
    uint32_t byte_len;
    uint32_t immediate;
    int has_immediate;
    uint32_t qp_num;
    uint32_t vendor_error;
} cdsk_verbs_completion;

/// Polls up to `max` completions (static inline ibv_poll_cq in verbs.h, as above). Returns the
/// number polled (0 when the queue is empty) or a negative value on failure.
int cdsk_verbs_poll_cq(struct ibv_cq *cq, int max, cdsk_verbs_completion *out);

/// Reads a 64-bit word that the NIC (or a peer's RDMA write) updates, with acquire ordering, so
/// the compiler neither caches it in a register nor reorders later reads before it.
uint64_t cdsk_verbs_load_acquire_u64(const void *address);
/// Stores a 64-bit word another party reads, with release ordering.
void cdsk_verbs_store_release_u64(void *address, uint64_t value);

#ifdef __cplusplus
}
#endif

#endif
