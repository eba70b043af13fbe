#ifndef CDEEPSEEK_VERBS_INTERNAL_H
#define CDEEPSEEK_VERBS_INTERNAL_H

#include "CDeepseekVerbs.h"

#include <infiniband/verbs.h>

/// The exported `ibv_query_port` takes the older, shorter attribute struct; see
/// `cdsk_verbs_query_port_with`.
typedef int (*cdsk_verbs_query_port_fn)(struct ibv_context *, uint8_t, struct _compat_ibv_port_attr *);

/// Queries a port the way the header's inline `ibv_query_port` does, with the exported
/// compatibility function passed in (it was resolved with dlsym, not linked).
int cdsk_verbs_query_port_with(cdsk_verbs_query_port_fn exported, struct ibv_context *context, uint8_t port,
                               struct ibv_port_attr *out);

#endif
