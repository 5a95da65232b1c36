// far_forward: the FAR of the matched PDR (TS 29.244 §5.2.3, Apply Action §8.2.26). DROP: a
// counted drop. BUFF (downlink): to the buffer node (the control core holds the packets). FORW
// toward the core (N6): a new Ethernet header to the next hop on the N6 port. FORW toward the
// access: gtpu_encap builds the GTP-U tunnel of the FAR's Outer Header Creation.
#include <rte_ip.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n6_tx, next_gtpu_encap, next_buffer, next_count };
constexpr const char* next_names[next_count] = {"drop", "n6_tx", "gtpu_encap", "buffer"};
// Not an edge: prepend_ethernet kept the packet until its next hop resolves.
constexpr rte_edge_t next_held = next_count;

rte_edge_t forward_to_core(dataplane::WorkerContext& wc, rte_mbuf* m, DropReason& reason) {
    const dataplane::PortRuntime* port = egress_port(config::PortRole::n6);
    if (port == nullptr) {
        reason = DropReason::no_egress_port;
        return next_drop;
    }
    const uint8_t version = *rte_pktmbuf_mtod(m, const uint8_t*) >> 4;
    uint32_t dst = 0;
    if (version == 4) {
        dst = rte_be_to_cpu_32(rte_pktmbuf_mtod(m, const rte_ipv4_hdr*)->dst_addr);
    }
    reason = prepend_ethernet(wc, *port, m, dst,
                              version == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
    if (reason != DropReason::count && reason != neighbor_held) {
        return next_drop;
    }
    wc.counters.gtpu_decapsulated.add();
    if (reason == neighbor_held) {
        return next_held;
    }
    return next_n6_tx;
}

uint16_t far_forward_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const dataplane::Far& far = far_of(m);
        DropReason reason = DropReason::far_drop;
        rte_edge_t next = next_drop;
        if (far.action.forward) {
            if (far.destination == dataplane::Interface::access) {
                next = next_gtpu_encap;
            } else if (far.destination == dataplane::Interface::core ||
                       far.destination == dataplane::Interface::sgi_lan) {
                next = forward_to_core(wc, m, reason);
            } else {
                reason = DropReason::far_unsupported;  // toward the CP function
            }
        } else if (far.action.buffer) {
            // Buffering is for downlink data to an idle UE (TS 23.501 §5.8.3).
            if (dataplane::meta(m).uplink == 0) {
                next = next_buffer;
            } else {
                reason = DropReason::far_unsupported;
            }
        }
        if (next == next_drop) {
            enqueue_drop(graph, node, next_drop, m, reason);
        } else if (next != next_held) {
            rte_node_enqueue_x1(graph, node, next, m);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef far_forward_node = {"far_forward", far_forward_process, 0,
                                         next_names,    next_count,          nullptr};

}  // namespace braid::pipelines
