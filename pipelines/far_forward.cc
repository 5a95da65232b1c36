// far_forward: the FAR of the matched PDR (TS 29.244 §5.2.3, Apply Action §8.2.26). DROP: a
// counted drop. BUFF (downlink): to the buffer node (the control core holds the packets). FORW
// toward the core (N6): a new Ethernet header to the next hop on the N6 port. FORW toward the
// access: gtpu_encap builds the GTP-U tunnel of the FAR's Outer Header Creation. DUPL: first a
// copy to each of the FAR's Duplicating Parameters (see duplicate()), then the packet itself as
// the other flags say.
#include <rte_ip.h>

#include "dataplane/gtpu.h"
#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t {
    next_drop,
    next_n6_tx,
    next_gtpu_encap,
    next_buffer,
    next_n3_tx,
    next_count
};
constexpr const char* next_names[next_count] = {"drop", "n6_tx", "gtpu_encap", "buffer", "n3_tx"};
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

// DUPL (TS 29.244 §5.2.3, Duplicating Parameters §7.5.2.3-3): a copy of the packet (the UE's
// IP packet, as the FAR sees it) to each copy destination, as the T-PDU of a G-PDU from braid's
// address on the egress port (N6 for a core / N6-LAN destination, else N3) to the destination's
// peer and TEID, without a PDU Session Container. A copy is never fragmented: one that does not
// fit the port's MTU, or finds no mbuf, is a counted drop; the original goes on regardless.
void duplicate(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc, rte_mbuf* m,
               const dataplane::Far& far) {
    const size_t outer = gtpu::ipv4_gpdu_outer_len(std::nullopt);
    const uint32_t payload = rte_pktmbuf_pkt_len(m);
    for (const dataplane::Duplicate& d : far.duplicates) {
        const bool to_n6 = d.destination == dataplane::Interface::core ||
                           d.destination == dataplane::Interface::sgi_lan;
        const dataplane::PortRuntime* port =
            egress_port(to_n6 ? config::PortRole::n6 : config::PortRole::n3);
        DropReason reason = DropReason::count;
        if (port == nullptr || !port->has_ipv4) {
            reason = DropReason::no_egress_port;
        } else if (payload + outer > port->mtu || payload > UINT16_MAX - outer) {
            reason = DropReason::duplicate_too_big;
        }
        rte_mbuf* c =
            reason == DropReason::count ? rte_pktmbuf_copy(m, port->pool, 0, UINT32_MAX) : nullptr;
        if (c == nullptr) {
            if (reason == DropReason::count) {
                reason = DropReason::duplicate_no_mbuf;
            }
            wc.counters.drops[static_cast<size_t>(reason)].add();
            continue;
        }
        auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(c, static_cast<uint16_t>(outer)));
        if (p == nullptr || gtpu::encode_ipv4_gpdu_outer(
                                std::span<uint8_t>(p, outer), port->ipv4, d.outer_header.peer_ipv4,
                                wc.ip_id++, gtpu::Teid(d.outer_header.teid),
                                static_cast<uint16_t>(payload), std::nullopt) != outer) {
            enqueue_drop(graph, node, next_drop, c, DropReason::duplicate_too_big);
            continue;
        }
        wc.counters.far_duplicated.add();
        send_or_drop(graph, node, c,
                     prepend_ethernet(wc, *port, c, d.outer_header.peer_ipv4, RTE_ETHER_TYPE_IPV4),
                     to_n6 ? next_n6_tx : next_n3_tx, next_drop);
    }
}

uint16_t far_forward_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const dataplane::Far& far = far_of(m);
        if (far.action.duplicate) {
            duplicate(graph, node, wc, m, far);
        }
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
