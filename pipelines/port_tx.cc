// n3_tx / n6_tx: buffer packets for the TX queue of the port in their metadata; the worker loop
// drains partially filled buffers every workers.tx_drain_us. With the role's TX fault injector
// enabled, packets go through it first (pipelines/fault_stage.h).
#include <rte_ethdev.h>

#include "pipelines/fault_stage.h"
#include "pipelines/node.h"

namespace braid::pipelines {

namespace {

enum TxNext : rte_edge_t { tx_drop, tx_count };
constexpr const char* tx_next[tx_count] = {"drop"};  // fault injection

template <config::PortRole Role>
int tx_init(const rte_graph* graph, rte_node* node) {
    ctx(node).aux = static_cast<uint8_t>(Role);
    return common_init(graph, node);
}

uint16_t tx_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    if (wc.fault.active) [[unlikely]] {
        const uint8_t role = ctx(node).aux;
        if (wc.fault.at(role, dataplane::FaultDirection::tx).enabled()) {
            return fault_tx_process(graph, node, wc, role, objs, nb, tx_drop);
        }
    }
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

extern const NodeDef n3_tx_node = {"n3_tx", tx_process, 0,
                                   tx_next, tx_count,   tx_init<config::PortRole::n3>};
extern const NodeDef n6_tx_node = {"n6_tx", tx_process, 0,
                                   tx_next, tx_count,   tx_init<config::PortRole::n6>};

}  // namespace braid::pipelines
