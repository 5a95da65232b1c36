// buffer: FAR apply action BUFF (TS 29.244 §5.2.3). The packet goes to the control core through
// this worker's w2m_pkts ring; the control core keeps a bounded FIFO per session (oldest
// dropped first, counted; dataplane/packet_buffer.h), notifies the SMF when the FAR asks
// (NOCP), and releases the packets into pdr_dl when the FAR says forward again. Only the SEID
// travels with the packet: a snapshot pointer must not outlive this graph walk.
#include <rte_ring.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_count };
constexpr const char* next_names[next_count] = {"drop"};

uint16_t buffer_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        dataplane::meta(m).rules = nullptr;
        if (rte_ring_sp_enqueue(wc.w2m_pkts, m) != 0) {
            enqueue_drop(graph, node, next_drop, m, DropReason::buffer_ring_full);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef buffer_node = {"buffer", buffer_process, 0, next_names, next_count, nullptr};

}  // namespace braid::pipelines
