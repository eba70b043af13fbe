#include "CDeepseekVerbs.h"
#include "VerbsInternal.h"

#include <errno.h>
#include <string.h>

// The posting and polling verbs are static inline functions in verbs.h that jump through the
// provider's ops table in the context (`qp->context->ops.post_send`, ...). They have no exported
// symbol, so neither dlsym nor Swift can reach them; compiling them here costs nothing at run time
// and needs no link against libibverbs, because the ops pointers were filled in by the provider
// the dlopened library loaded.

int cdsk_verbs_post_send(struct ibv_qp *qp, const cdsk_verbs_send_wr *wr) {
    struct ibv_sge sge;
    sge.addr = wr->address;
    sge.length = wr->length;
    sge.lkey = wr->lkey;

    struct ibv_send_wr request;
    memset(&request, 0, sizeof(request));
    request.wr_id = wr->wr_id;
    request.sg_list = &sge;
    request.num_sge = 1;
    request.send_flags = (wr->signaled ? IBV_SEND_SIGNALED : 0) | (wr->inline_data ? IBV_SEND_INLINE : 0);
    switch (wr->opcode) {
    case CDSK_VERBS_OP_SEND:
        request.opcode = IBV_WR_SEND;
        break;
    case CDSK_VERBS_OP_SEND_WITH_IMM:
        request.opcode = IBV_WR_SEND_WITH_IMM;
        request.imm_data = wr->immediate;
        break;
    case CDSK_VERBS_OP_RDMA_WRITE:
        request.opcode = IBV_WR_RDMA_WRITE;
        request.wr.rdma.remote_addr = wr->remote_address;
        request.wr.rdma.rkey = wr->rkey;
        break;
    case CDSK_VERBS_OP_RDMA_WRITE_WITH_IMM:
        request.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
        request.imm_data = wr->immediate;
        request.wr.rdma.remote_addr = wr->remote_address;
        request.wr.rdma.rkey = wr->rkey;
        break;
    default:
        return EINVAL;
    }
    struct ibv_send_wr *bad = NULL;
    return ibv_post_send(qp, &request, &bad);
}

int cdsk_verbs_post_recv(struct ibv_qp *qp, uint64_t wr_id, uint64_t address, uint32_t length, uint32_t lkey) {
    struct ibv_sge sge;
    sge.addr = address;
    sge.length = length;
    sge.lkey = lkey;
    struct ibv_recv_wr request;
    memset(&request, 0, sizeof(request));
    request.wr_id = wr_id;
    request.sg_list = &sge;
    request.num_sge = 1;
    struct ibv_recv_wr *bad = NULL;
    return ibv_post_recv(qp, &request, &bad);
}

int cdsk_verbs_poll_cq(struct ibv_cq *cq, int max, cdsk_verbs_completion *out) {
    enum { batch = 32 };
    struct ibv_wc completions[batch];
    int total = 0;
    while (total < max) {
        int want = max - total < batch ? max - total : batch;
        int n = ibv_poll_cq(cq, want, completions);
        if (n < 0) return total > 0 ? total : n;
        for (int i = 0; i < n; i++) {
            cdsk_verbs_completion *c = &out[total + i];
            c->wr_id = completions[i].wr_id;
            c->status = completions[i].status;
            c->opcode = completions[i].opcode;
            c->byte_len = completions[i].byte_len;
            c->has_immediate = (completions[i].wc_flags & IBV_WC_WITH_IMM) != 0;
            c->immediate = completions[i].imm_data;
            c->qp_num = completions[i].qp_num;
            c->vendor_error = completions[i].vendor_err;
        }
        total += n;
        if (n < want) break;
    }
    return total;
}

uint64_t cdsk_verbs_load_acquire_u64(const void *address) {
    return __atomic_load_n((const uint64_t *)address, __ATOMIC_ACQUIRE);
}

void cdsk_verbs_store_release_u64(void *address, uint64_t value) {
    __atomic_store_n((uint64_t *)address, value, __ATOMIC_RELEASE);
}
