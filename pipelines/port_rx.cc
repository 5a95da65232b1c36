// n3_rx / n6_rx: source nodes polling the RX queues of N3 (resp. N6) ports given to this worker,
// and ctrl_tx: packets the control core hands this worker: to send (ARP requests, End Markers)
// or to run through pdr_dl (released buffered packets).
#include <rte_ethdev.h>
#include <rte_ring.h>

#include "pipelines/fault_stage.h"
#include "pipelines/node.h"

namespace braid::pipelines {

namespace {

enum RxNext : rte_edge_t { rx_eth_classify, rx_drop, rx_count };
constexpr const char* rx_next[rx_count] = {"eth_classify", "drop"};  // drop: fault injection

template <config::PortRole Role>
int rx_init(const rte_graph* graph, rte_node* node) {
    ctx(node).aux = static_cast<uint8_t>(Role);
    return common_init(graph, node);
}

uint16_t rx_process(rte_graph* graph, rte_node* node, void** /*objs*/, uint16_t /*nb*/) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    const uint8_t role = ctx(node).aux;
    if (wc.fault.attention()) [[unlikely]] {
        return fault_rx_process(graph, node, wc, role, rx_eth_classify, rx_drop);
    }
    uint16_t total = 0;
    for (uint16_t i = 0; i < wc.n_rx[role]; ++i) {
        const dataplane::RxQueueRef& q = wc.rx[role][i];
        void** out = rte_node_next_stream_get(graph, node, rx_eth_classify, wc.burst);
        auto** pkts = reinterpret_cast<rte_mbuf**>(out);
        uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, wc.burst);
        for (uint16_t k = 0; k < n; ++k) {
            dataplane::meta(pkts[k]).port_index = q.port_index;
        }
        rte_node_next_stream_put(graph, node, rx_eth_classify, n);
        total = static_cast<uint16_t>(total + n);
    }
    wc.rx_this_loop += total;
    wc.counters.rx_packets.add(total);
    return total;
}

enum CtrlNext : rte_edge_t { ctrl_n3_tx, ctrl_n6_tx, ctrl_pdr_dl, ctrl_count };
constexpr const char* ctrl_next[ctrl_count] = {"n3_tx", "n6_tx", "pdr_dl"};

uint16_t ctrl_tx_process(rte_graph* graph, rte_node* node, void** /*objs*/, uint16_t /*nb*/) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    rte_mbuf* pkts[32];
    unsigned n =
        rte_ring_sc_dequeue_burst(wc.m2w_pkts, reinterpret_cast<void**>(pkts), 32, nullptr);
    for (unsigned i = 0; i < n; ++i) {
        auto& md = dataplane::meta(pkts[i]);
        if (md.inner_offset == dataplane::release_to_pdr_dl) {
            md.inner_offset = 0;
            md.l3_offset = 0;
            rte_node_enqueue_x1(graph, node, ctrl_pdr_dl, pkts[i]);
            continue;
        }
        const auto& port = app().ports()[md.port_index];
        rte_node_enqueue_x1(graph, node, tx_edge_for(port, ctrl_n3_tx), pkts[i]);
    }
    return static_cast<uint16_t>(n);
}

}  // namespace

extern const NodeDef n3_rx_node = {"n3_rx", rx_process, RTE_NODE_SOURCE_F,
                                   rx_next, rx_count,   rx_init<config::PortRole::n3>};
extern const NodeDef n6_rx_node = {"n6_rx", rx_process, RTE_NODE_SOURCE_F,
                                   rx_next, rx_count,   rx_init<config::PortRole::n6>};
extern const NodeDef ctrl_tx_node = {"ctrl_tx", ctrl_tx_process, RTE_NODE_SOURCE_F,
                                     ctrl_next, ctrl_count,      nullptr};

}  // namespace braid::pipelines
