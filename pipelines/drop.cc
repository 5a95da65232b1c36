// drop: the one sink. Counts each packet under the reason the sending node recorded, frees it.
#include "pipelines/node.h"

namespace braid::pipelines {

namespace {

uint16_t drop_process(rte_graph* /*graph*/, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        uint16_t r = dataplane::meta(static_cast<rte_mbuf*>(objs[i])).drop_reason;
        wc.counters.drops[r < drop_reason_count ? r : 0].add();
    }
    rte_pktmbuf_free_bulk(reinterpret_cast<rte_mbuf**>(objs), nb);
    return nb;
}

}  // namespace

extern const NodeDef drop_node = {"drop", drop_process, 0, nullptr, 0, nullptr};

}  // namespace braid::pipelines
