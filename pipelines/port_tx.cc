// n3_tx / n6_tx: buffer packets for the TX queue of the port in their metadata; the worker loop
// drains partially filled buffers every workers.tx_drain_us.
#include <rte_ethdev.h>

#include "pipelines/node.h"

namespace braid::pipelines {

namespace {

uint16_t tx_process(rte_graph* /*graph*/, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    const auto& ports = app().ports();
    uint64_t sent = 0;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const auto& port = ports[dataplane::meta(m).port_index];
        sent += rte_eth_tx_buffer(port.port_id, wc.txq, wc.tx_buffers[port.index], m);
    }
    wc.counters.tx_packets.add(sent);
    return nb;
}

}  // namespace

extern const NodeDef n3_tx_node = {"n3_tx", tx_process, 0, nullptr, 0, nullptr};
extern const NodeDef n6_tx_node = {"n6_tx", tx_process, 0, nullptr, 0, nullptr};

}  // namespace braid::pipelines
