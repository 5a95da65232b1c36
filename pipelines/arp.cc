// arp: answer requests for braid's addresses (RFC 826) and report what ARP traffic teaches us
// to the control core, which owns the neighbor table.
#include <rte_arp.h>
#include <rte_ring_elem.h>

#include <cstring>

#include "pipelines/node.h"
#include "pipelines/stages.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_n6_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx", "n6_tx"};

void report(dataplane::WorkerContext* wc, uint16_t port_index, const rte_arp_ipv4& a,
            bool addressed_to_us) {
    if (wc == nullptr) {
        return;
    }
    dataplane::W2MEvent ev{};
    ev.type = dataplane::W2MEvent::Type::arp_seen;
    ev.port_index = port_index;
    ev.ipv4 = rte_be_to_cpu_32(a.arp_sip);
    std::memcpy(ev.mac, a.arp_sha.addr_bytes, 6);
    ev.addressed_to_us = addressed_to_us ? 1 : 0;
    if (rte_ring_sp_enqueue_elem(wc->w2m, &ev, sizeof(ev)) != 0) {
        wc->counters.w2m_full.add();
    }
}

}  // namespace

StageResult arp_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                       dataplane::WorkerContext* wc) {
    if (rte_pktmbuf_data_len(m) < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) {
        return {Verdict::drop, DropReason::runt_frame};
    }
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
        arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
        arp->arp_hlen != RTE_ETHER_ADDR_LEN || arp->arp_plen != 4 ||
        rte_is_multicast_ether_addr(&arp->arp_data.arp_sha)) {
        return {Verdict::drop, DropReason::arp_malformed};
    }
    rte_arp_ipv4& a = arp->arp_data;
    const uint32_t tip = rte_be_to_cpu_32(a.arp_tip);
    const bool for_us = port.has_ipv4 && tip == port.ipv4;
    const uint16_t op = rte_be_to_cpu_16(arp->arp_opcode);
    if (op == RTE_ARP_OP_REQUEST && for_us && a.arp_sip != a.arp_tip) {
        report(wc, port.index, a, true);
        // Turn the request into the reply, in place.
        arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
        a.arp_tha = a.arp_sha;
        a.arp_tip = a.arp_sip;
        a.arp_sha = port.mac;
        a.arp_sip = rte_cpu_to_be_32(port.ipv4);
        reply_to_sender(eth, port);
        return {Verdict::tx, DropReason::count};
    }
    if (op == RTE_ARP_OP_REPLY) {
        report(wc, port.index, a, for_us);
        return {Verdict::drop, DropReason::arp_reply_consumed};
    }
    if (op == RTE_ARP_OP_REQUEST) {
        // Someone else's request, or a gratuitous announcement: refresh what we know.
        report(wc, port.index, a, false);
        return {Verdict::drop, a.arp_sip == a.arp_tip ? DropReason::arp_reply_consumed
                                                      : DropReason::arp_not_for_us};
    }
    return {Verdict::drop, DropReason::arp_malformed};
}

namespace {

uint16_t arp_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext* wc = ctx(node).wc;
    return answer_or_drop(
        graph, node, objs, nb, next_drop, next_n3_tx,
        [wc](const dataplane::PortRuntime& port, rte_mbuf* m) { return arp_packet(port, m, wc); });
}

}  // namespace

extern const NodeDef arp_node = {"arp", arp_process, 0, next_names, next_count, nullptr};

}  // namespace braid::pipelines
