// gtpu_encap: Outer Header Creation GTP-U/UDP/IPv4 (TS 29.244 §8.2.56; TS 29.281 §5): the UE's
// packet becomes the T-PDU of a G-PDU to the FAR's peer and TEID, from braid's N3 address, UDP
// 2152 → 2152. When a QER of the PDR carries a QFI, the G-PDU has a PDU Session Container with
// DL PDU SESSION INFORMATION (TS 38.415 §5.5.2.1) for it. The UDP checksum is 0 (allowed over
// IPv4, RFC 768); the IPv4 header checksum is computed here.
#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane/gtpu.h"
#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx"};

std::optional<uint8_t> qfi_of(const dataplane::SessionRules& rules,
                              const dataplane::CompiledPdr& pdr) {
    for (uint16_t qi : pdr.qer_indices) {
        if (rules.qers[qi].qer.qfi) {
            return rules.qers[qi].qer.qfi;
        }
    }
    return std::nullopt;
}

DropReason encapsulate(dataplane::WorkerContext& wc, rte_mbuf* m) {
    const dataplane::SessionRules& rules = rules_of(m);
    const dataplane::CompiledPdr& pdr = pdr_of(m);
    const dataplane::Far& far = rules.fars[pdr.far_index];
    const dataplane::PortRuntime* port = egress_port(config::PortRole::n3);
    if (port == nullptr || !port->has_ipv4) {
        return DropReason::no_egress_port;
    }
    std::optional<gtpu::DlPduSessionInfo> pdu;
    if (auto q = qfi_of(rules, pdr)) {
        pdu = gtpu::DlPduSessionInfo{};
        pdu->qfi = *q & 0x3f;
    }
    const uint32_t payload = rte_pktmbuf_pkt_len(m);
    const size_t gtp_len = gtpu::gpdu_header_len(pdu);
    const size_t outer = sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + gtp_len;
    if (payload + outer > port->mtu || payload > UINT16_MAX - outer) {
        return DropReason::egress_mtu_exceeded;
    }
    auto* ip =
        reinterpret_cast<rte_ipv4_hdr*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(outer)));
    if (ip == nullptr) {
        return DropReason::egress_mtu_exceeded;  // no headroom: our pools always have it
    }
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    auto* gtp = reinterpret_cast<uint8_t*>(udp + 1);
    if (gtpu::encode_gpdu_header(std::span<uint8_t>(gtp, gtp_len),
                                 gtpu::Teid(far.outer_header->teid), static_cast<uint16_t>(payload),
                                 pdu) != gtp_len) {
        return DropReason::egress_mtu_exceeded;
    }
    udp->src_port = rte_cpu_to_be_16(gtpu::udp_port);
    udp->dst_port = rte_cpu_to_be_16(gtpu::udp_port);
    udp->dgram_len =
        rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + gtp_len + payload));
    udp->dgram_cksum = 0;
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->type_of_service = 0;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(outer + payload));
    ip->packet_id = rte_cpu_to_be_16(wc.ip_id++);
    ip->fragment_offset = 0;
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(port->ipv4);
    ip->dst_addr = rte_cpu_to_be_32(far.outer_header->peer_ipv4);
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    DropReason r = prepend_ethernet(wc, *port, m, far.outer_header->peer_ipv4, RTE_ETHER_TYPE_IPV4);
    if (r == DropReason::count) {
        wc.counters.gtpu_encapsulated.add();
    }
    return r;
}

uint16_t gtpu_encap_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        DropReason r = encapsulate(wc, m);
        if (r == DropReason::count) {
            rte_node_enqueue_x1(graph, node, next_n3_tx, m);
        } else {
            enqueue_drop(graph, node, next_drop, m, r);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef gtpu_encap_node = {"gtpu_encap", gtpu_encap_process, 0,
                                        next_names,   next_count,         nullptr};

}  // namespace braid::pipelines
