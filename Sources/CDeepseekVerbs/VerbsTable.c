#include "CDeepseekVerbs.h"
#include "VerbsInternal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

// Resource and connection-setup calls: everything goes through the dlsym-resolved table, so a
// host without libibverbs loads this code and simply reports the library missing.

static int cdsk_errno_or(int fallback) { return errno != 0 ? errno : fallback; }

int cdsk_verbs_load(cdsk_verbs_table *table, char *detail, size_t detail_size) {
    memset(table, 0, sizeof(*table));
    if (detail_size > 0) detail[0] = '\0';
    void *library = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *why = dlerror();
        snprintf(detail, detail_size, "%s", why != NULL ? why : "dlopen(libibverbs.so.1) failed");
        return CDSK_VERBS_LIBRARY_MISSING;
    }
    table->library = library;
#define CDSK_RESOLVE(field, symbol)                                                                \
    do {                                                                                           \
        *(void **)(&table->field) = dlsym(library, symbol);                                        \
        if (table->field == NULL) {                                                                \
            snprintf(detail, detail_size, "libibverbs.so.1 lacks %s", symbol);                     \
            return CDSK_VERBS_SYMBOL_MISSING;                                                      \
        }                                                                                          \
    } while (0)
    CDSK_RESOLVE(get_device_list, "ibv_get_device_list");
    CDSK_RESOLVE(free_device_list, "ibv_free_device_list");
    CDSK_RESOLVE(get_device_name, "ibv_get_device_name");
    CDSK_RESOLVE(open_device, "ibv_open_device");
    CDSK_RESOLVE(close_device, "ibv_close_device");
    CDSK_RESOLVE(query_device, "ibv_query_device");
    CDSK_RESOLVE(query_port, "ibv_query_port");
    CDSK_RESOLVE(query_gid, "ibv_query_gid");
    CDSK_RESOLVE(alloc_pd, "ibv_alloc_pd");
    CDSK_RESOLVE(dealloc_pd, "ibv_dealloc_pd");
    CDSK_RESOLVE(reg_mr, "ibv_reg_mr");
    CDSK_RESOLVE(dereg_mr, "ibv_dereg_mr");
    CDSK_RESOLVE(create_cq, "ibv_create_cq");
    CDSK_RESOLVE(destroy_cq, "ibv_destroy_cq");
    CDSK_RESOLVE(create_qp, "ibv_create_qp");
    CDSK_RESOLVE(destroy_qp, "ibv_destroy_qp");
    CDSK_RESOLVE(modify_qp, "ibv_modify_qp");
#undef CDSK_RESOLVE
    // The library stays loaded on purpose (providers do not unload reliably), even on failure.
    return CDSK_VERBS_OK;
}

int cdsk_verbs_list_devices(const cdsk_verbs_table *table, cdsk_verbs_name_list *out) {
    memset(out, 0, sizeof(*out));
    int count = 0;
    errno = 0;
    struct ibv_device **list = table->get_device_list(&count);
    if (list == NULL) return cdsk_errno_or(ENODEV);
    out->count = count;
    for (int i = 0; i < count && i < CDSK_VERBS_MAX_DEVICES; i++) {
        const char *name = table->get_device_name(list[i]);
        snprintf(out->names[i], sizeof(out->names[i]), "%s", name != NULL ? name : "");
    }
    table->free_device_list(list);
    return 0;
}

int cdsk_verbs_open_device(const cdsk_verbs_table *table, const char *name, struct ibv_context **out) {
    *out = NULL;
    int count = 0;
    errno = 0;
    struct ibv_device **list = table->get_device_list(&count);
    if (list == NULL) return cdsk_errno_or(ENODEV);
    int result = ENODEV;
    for (int i = 0; i < count; i++) {
        const char *candidate = table->get_device_name(list[i]);
        if (name != NULL && (candidate == NULL || strcmp(candidate, name) != 0)) continue;
        errno = 0;
        *out = table->open_device(list[i]);
        result = *out != NULL ? 0 : cdsk_errno_or(EIO);
        break;
    }
    // Contexts stay valid after the list is freed.
    table->free_device_list(list);
    return result;
}

int cdsk_verbs_query_port_with(cdsk_verbs_query_port_fn exported, struct ibv_context *context, uint8_t port,
                               struct ibv_port_attr *out) {
    // Mirrors the header's ___ibv_query_port: providers with the extended context fill the full
    // struct; older ones go through the exported compatibility entry point.
    memset(out, 0, sizeof(*out));
    struct verbs_context *extended = verbs_get_ctx_op(context, query_port);
    if (extended != NULL) return extended->query_port(context, port, out, sizeof(*out));
    return exported(context, port, (struct _compat_ibv_port_attr *)out);
}

int cdsk_verbs_query_port(const cdsk_verbs_table *table, struct ibv_context *context, uint8_t port,
                          cdsk_verbs_port_info *out) {
    memset(out, 0, sizeof(*out));
    struct ibv_port_attr attributes;
    errno = 0;
    int rc = cdsk_verbs_query_port_with(table->query_port, context, port, &attributes);
    if (rc != 0) return rc > 0 ? rc : cdsk_errno_or(EIO);
    out->state = attributes.state;
    out->active_mtu = attributes.active_mtu;
    out->lid = attributes.lid;
    out->link_layer = attributes.link_layer;
    out->gid_table_length = attributes.gid_tbl_len;
    out->max_message_size = attributes.max_msg_sz;
    return 0;
}

int cdsk_verbs_query_gid(const cdsk_verbs_table *table, struct ibv_context *context, uint8_t port, int index,
                         uint8_t out[16]) {
    union ibv_gid gid;
    errno = 0;
    int rc = table->query_gid(context, port, index, &gid);
    if (rc != 0) return rc > 0 ? rc : cdsk_errno_or(EIO);
    memcpy(out, gid.raw, 16);
    return 0;
}

int cdsk_verbs_alloc_pd(const cdsk_verbs_table *table, struct ibv_context *context, struct ibv_pd **out) {
    errno = 0;
    *out = table->alloc_pd(context);
    return *out != NULL ? 0 : cdsk_errno_or(ENOMEM);
}

int cdsk_verbs_dealloc_pd(const cdsk_verbs_table *table, struct ibv_pd *pd) { return table->dealloc_pd(pd); }

int cdsk_verbs_reg_mr(const cdsk_verbs_table *table, struct ibv_pd *pd, void *address, size_t length, int access,
                      struct ibv_mr **out, uint32_t *lkey, uint32_t *rkey) {
    errno = 0;
    *out = table->reg_mr(pd, address, length, access);
    if (*out == NULL) return cdsk_errno_or(ENOMEM);
    *lkey = (*out)->lkey;
    *rkey = (*out)->rkey;
    return 0;
}

int cdsk_verbs_dereg_mr(const cdsk_verbs_table *table, struct ibv_mr *mr) { return table->dereg_mr(mr); }

int cdsk_verbs_create_cq(const cdsk_verbs_table *table, struct ibv_context *context, int depth, struct ibv_cq **out) {
    errno = 0;
    *out = table->create_cq(context, depth, NULL, NULL, 0);
    return *out != NULL ? 0 : cdsk_errno_or(ENOMEM);
}

int cdsk_verbs_destroy_cq(const cdsk_verbs_table *table, struct ibv_cq *cq) { return table->destroy_cq(cq); }

int cdsk_verbs_create_rc_qp(const cdsk_verbs_table *table, struct ibv_pd *pd, struct ibv_cq *send_cq,
                            struct ibv_cq *recv_cq, const cdsk_verbs_qp_caps *caps, struct ibv_qp **out,
                            uint32_t *qp_num) {
    struct ibv_qp_init_attr attributes;
    memset(&attributes, 0, sizeof(attributes));
    attributes.send_cq = send_cq;
    attributes.recv_cq = recv_cq;
    attributes.qp_type = IBV_QPT_RC;
    attributes.sq_sig_all = 0;
    attributes.cap.max_send_wr = caps->max_send_wr;
    attributes.cap.max_recv_wr = caps->max_recv_wr;
    attributes.cap.max_send_sge = caps->max_send_sge;
    attributes.cap.max_recv_sge = caps->max_recv_sge;
    attributes.cap.max_inline_data = caps->max_inline_data;
    errno = 0;
    *out = table->create_qp(pd, &attributes);
    if (*out == NULL) return cdsk_errno_or(ENOMEM);
    *qp_num = (*out)->qp_num;
    return 0;
}

int cdsk_verbs_destroy_qp(const cdsk_verbs_table *table, struct ibv_qp *qp) { return table->destroy_qp(qp); }

int cdsk_verbs_qp_to_init(const cdsk_verbs_table *table, struct ibv_qp *qp, uint8_t port, int access) {
    struct ibv_qp_attr attributes;
    memset(&attributes, 0, sizeof(attributes));
    attributes.qp_state = IBV_QPS_INIT;
    attributes.pkey_index = 0;
    attributes.port_num = port;
    attributes.qp_access_flags = (unsigned int)access;
    return table->modify_qp(qp, &attributes, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

int cdsk_verbs_qp_to_rtr(const cdsk_verbs_table *table, struct ibv_qp *qp, const cdsk_verbs_rtr_attr *attr) {
    struct ibv_qp_attr attributes;
    memset(&attributes, 0, sizeof(attributes));
    attributes.qp_state = IBV_QPS_RTR;
    attributes.path_mtu = (enum ibv_mtu)attr->path_mtu;
    attributes.dest_qp_num = attr->remote_qp_num;
    attributes.rq_psn = attr->receive_psn;
    attributes.max_dest_rd_atomic = attr->max_dest_rd_atomic;
    attributes.min_rnr_timer = attr->min_rnr_timer;
    attributes.ah_attr.dlid = attr->remote_lid;
    attributes.ah_attr.sl = attr->service_level;
    attributes.ah_attr.src_path_bits = 0;
    attributes.ah_attr.port_num = attr->port;
    if (attr->is_global) {
        // RoCE has no LIDs: packets are routed by GID, so a GRH is mandatory there.
        attributes.ah_attr.is_global = 1;
        memcpy(attributes.ah_attr.grh.dgid.raw, attr->remote_gid, 16);
        attributes.ah_attr.grh.sgid_index = attr->sgid_index;
        attributes.ah_attr.grh.hop_limit = attr->hop_limit;
        attributes.ah_attr.grh.traffic_class = attr->traffic_class;
        attributes.ah_attr.grh.flow_label = 0;
    }
    return table->modify_qp(qp, &attributes,
                            IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                                IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
}

int cdsk_verbs_qp_to_rts(const cdsk_verbs_table *table, struct ibv_qp *qp, const cdsk_verbs_rts_attr *attr) {
    struct ibv_qp_attr attributes;
    memset(&attributes, 0, sizeof(attributes));
    attributes.qp_state = IBV_QPS_RTS;
    attributes.sq_psn = attr->send_psn;
    attributes.timeout = attr->timeout;
    attributes.retry_cnt = attr->retry_count;
    attributes.rnr_retry = attr->rnr_retry;
    attributes.max_rd_atomic = attr->max_rd_atomic;
    return table->modify_qp(qp, &attributes,
                            IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                IBV_QP_MAX_QP_RD_ATOMIC);
}

int cdsk_verbs_qp_to_error(const cdsk_verbs_table *table, struct ibv_qp *qp) {
    struct ibv_qp_attr attributes;
    memset(&attributes, 0, sizeof(attributes));
    attributes.qp_state = IBV_QPS_ERR;
    return table->modify_qp(qp, &attributes, IBV_QP_STATE);
}

int cdsk_verbs_qp_to_reset(const cdsk_verbs_table *table, struct ibv_qp *qp) {
    struct ibv_qp_attr attributes;
    memset(&attributes, 0, sizeof(attributes));
    attributes.qp_state = IBV_QPS_RESET;
    return table->modify_qp(qp, &attributes, IBV_QP_STATE);
}
