// neighbor_release: the packets of the worker's hold queue (dataplane/neighbor_hold.h) leave
// once their next hop resolves. A source node: every walk it checks, for the price of a load and
// a compare while nothing is held, whether the neighbor snapshot changed or a millisecond passed
// (timeouts), and only then asks the queue. Released packets get their Ethernet header here and
// go to the TX node of their port, in the order they were held.
#include <rte_cycles.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_n6_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx", "n6_tx"};

uint16_t neighbor_release_process(rte_graph* graph, rte_node* node, void** /*objs*/,
                                  uint16_t /*nb*/) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    if (wc.hold == nullptr || wc.hold->empty()) [[likely]] {
        return 0;
    }
    const dataplane::NeighborSnapshot* snap = app().neighbor_snapshot();
    const uint64_t generation = snap != nullptr ? snap->generation() : 0;
    const uint64_t now_ms = worker_now_ms(wc);
    if (generation == wc.hold_generation && now_ms < wc.hold_next_poll_ms) {
        return 0;
    }
    wc.hold_generation = generation;
    wc.hold_next_poll_ms = now_ms + 1;
    const auto& ports = app().ports();
    uint16_t n = 0;
    wc.hold->poll(
        now_ms,
        [snap](const dataplane::NeighborKey& k) {
            dataplane::NeighborHold::Resolution r;
            if (snap == nullptr) {
                return r;
            }
            if (auto mac = snap->lookup(k)) {
                r.state = dataplane::NeighborHold::Resolution::State::resolved;
                r.mac = *mac;
            } else if (snap->failed(k)) {
                r.state = dataplane::NeighborHold::Resolution::State::failed;
            }
            return r;
        },
        [&](rte_mbuf* m, const dataplane::NeighborKey& k, const dataplane::MacAddr& mac) {
            const dataplane::PortRuntime& port = ports[k.port_index];
            const uint8_t version = *rte_pktmbuf_mtod(m, const uint8_t*) >> 4;
            const DropReason r = write_ethernet(
                port, m, mac, version == 6 ? RTE_ETHER_TYPE_IPV6 : RTE_ETHER_TYPE_IPV4);
            if (r == DropReason::count) {
                wc.counters.neighbor_released.add();
            }
            send_or_drop(graph, node, m, r, tx_edge_for(port, next_n3_tx), next_drop);
            ++n;
        },
        [&](rte_mbuf* m, DropReason r) {
            enqueue_drop(graph, node, next_drop, m, r);
            ++n;
        });
    wc.counters.neighbor_holding.set(wc.hold->size());
    return n;
}

}  // namespace

// (`nbr_release_node`: short enough for graph.cc's table of nodes.)
extern const NodeDef nbr_release_node = {"neighbor_release", neighbor_release_process,
                                         RTE_NODE_SOURCE_F,  next_names,
                                         next_count,         nullptr};

}  // namespace braid::pipelines
