// gtpu_encap: Outer Header Creation GTP-U/UDP/IPv4 (TS 29.244 §8.2.56; TS 29.281 §5): the UE's
// packet becomes the T-PDU of a G-PDU to the FAR's peer and TEID, from braid's N3 address, UDP
// 2152 → 2152. When a QER of the PDR carries a QFI, the G-PDU has a PDU Session Container with
// DL PDU SESSION INFORMATION (TS 38.415 §5.5.2.1) for it. The UDP checksum is 0 (allowed over
// IPv4, RFC 768); the IPv4 header checksum is computed here.
//
// A packet that does not fit the N3 MTU once encapsulated (RFC 4459 §3): an IPv4 packet that
// may be fragmented is fragmented before encapsulation (each fragment its own G-PDU, reassembled
// by the UE, RFC 791); an IPv4 packet with DF gets ICMP Destination Unreachable / Fragmentation
// Needed (RFC 1191) and an IPv6 packet ICMPv6 Packet Too Big (RFC 8201, RFC 4443 §3.2), both
// with the MTU left inside the tunnel, sent from braid's N6 address to the source and
// rate-limited per worker (`braid_icmp_too_big_sent_total`; beyond the rate the packet is a
// counted drop, `encap_too_big_df` / `encap_too_big_ipv6`).
#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ip_frag.h>
#include <rte_udp.h>

#include <algorithm>
#include <cstring>

#include "dataplane/gtpu.h"
#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_n6_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx", "n6_tx"};

// ICMP errors an attacker can trigger at line rate with big packets (per worker).
constexpr uint32_t icmp_rate_per_s = 100;
constexpr uint32_t icmp_burst = 20;
// Fragments of one packet: a 9600-octet frame over a 576-octet MTU needs 18.
constexpr uint16_t max_fragments = 32;

std::optional<uint8_t> qfi_of(const dataplane::SessionRules& rules,
                              const dataplane::CompiledPdr& pdr) {
    for (uint16_t qi : pdr.qer_indices) {
        if (rules.qers[qi].qer.qfi) {
            return rules.qers[qi].qer.qfi;
        }
    }
    return std::nullopt;
}

std::optional<gtpu::DlPduSessionInfo> pdu_info(rte_mbuf* m) {
    std::optional<gtpu::DlPduSessionInfo> pdu;
    if (auto q = qfi_of(rules_of(m), pdr_of(m))) {
        pdu = gtpu::DlPduSessionInfo{};
        pdu->qfi = *q & 0x3f;
    }
    return pdu;
}

// Outer IPv4 + UDP + GTP-U (with its extension headers) in front of the UE's packet.
size_t outer_len(const std::optional<gtpu::DlPduSessionInfo>& pdu) {
    return gtpu::ipv4_gpdu_outer_len(pdu);
}

// `pdu`: the DL PDU Session Container to write (pdu_info(m), computed once by the caller).
DropReason encapsulate(dataplane::WorkerContext& wc, rte_mbuf* m,
                       const std::optional<gtpu::DlPduSessionInfo>& pdu) {
    const dataplane::Far& far = far_of(m);  // a link-specific address: its access's FAR
    const dataplane::PortRuntime* port = egress_port(config::PortRole::n3);
    if (port == nullptr || !port->has_ipv4) {
        return DropReason::no_egress_port;
    }
    const uint32_t payload = rte_pktmbuf_pkt_len(m);
    const size_t outer = outer_len(pdu);
    if (payload + outer > port->mtu || payload > UINT16_MAX - outer) {
        return DropReason::egress_mtu_exceeded;
    }
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, static_cast<uint16_t>(outer)));
    if (p == nullptr) {
        return DropReason::egress_mtu_exceeded;  // no headroom: our pools always have it
    }
    if (gtpu::encode_ipv4_gpdu_outer(
            std::span<uint8_t>(p, outer), port->ipv4, far.outer_header->peer_ipv4, wc.ip_id++,
            gtpu::Teid(far.outer_header->teid), static_cast<uint16_t>(payload), pdu) != outer) {
        return DropReason::egress_mtu_exceeded;
    }
    // Counted as built even when the packet waits for the gNB's MAC (neighbor_held).
    wc.counters.gtpu_encapsulated.add();
    return prepend_ethernet(wc, *port, m, far.outer_header->peer_ipv4, RTE_ETHER_TYPE_IPV4);
}

// ICMP Fragmentation Needed (IPv4) or Packet Too Big (IPv6) to the source of `m` (which starts
// at its IP header), built in place: as much of the original packet as RFC 1812 §4.3.2.3
// (576 octets in all) or RFC 4443 §2.4 (1280) allows, behind new IP and ICMP headers from
// braid's N6 address. Returns the drop reason, DropReason::count when `m` is ready for n6_tx.
DropReason icmp_too_big(dataplane::WorkerContext& wc, rte_mbuf* m, uint32_t mtu) {
    const dataplane::PortRuntime* port = egress_port(config::PortRole::n6);
    const uint8_t version = *rte_pktmbuf_mtod(m, const uint8_t*) >> 4;
    if (port == nullptr || (version == 4 && !port->has_ipv4) || (version == 6 && !port->has_ipv6)) {
        return version == 4 ? DropReason::encap_too_big_df : DropReason::encap_too_big_ipv6;
    }
    if (!wc.icmp_error_limiter.take(rte_rdtsc(), rte_get_tsc_hz(), icmp_rate_per_s, icmp_burst)) {
        return version == 4 ? DropReason::encap_too_big_df : DropReason::encap_too_big_ipv6;
    }
    if (rte_pktmbuf_linearize(m) != 0) {
        return DropReason::egress_mtu_exceeded;
    }
    if (version == 4) {
        const auto* orig = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
        const uint32_t source = rte_be_to_cpu_32(orig->src_addr);
        constexpr uint32_t keep_max = 576 - sizeof(rte_ipv4_hdr) - sizeof(rte_icmp_hdr);
        const uint32_t keep = std::min<uint32_t>(rte_pktmbuf_pkt_len(m), keep_max);
        rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - keep));
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(
            rte_pktmbuf_prepend(m, sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr)));
        if (ip == nullptr) {
            return DropReason::egress_mtu_exceeded;
        }
        auto* icmp = reinterpret_cast<rte_icmp_hdr*>(ip + 1);
        icmp->icmp_type = 3;   // Destination Unreachable
        icmp->icmp_code = 4;   // fragmentation needed and DF set
        icmp->icmp_ident = 0;  // unused (RFC 1191 §4)
        icmp->icmp_seq_nb = rte_cpu_to_be_16(static_cast<uint16_t>(mtu));  // next-hop MTU
        icmp->icmp_cksum = 0;
        icmp->icmp_cksum =
            static_cast<uint16_t>(~rte_raw_cksum(icmp, sizeof(rte_icmp_hdr) + keep) & 0xffff);
        std::memset(ip, 0, sizeof(*ip));
        ip->version_ihl = RTE_IPV4_VHL_DEF;
        ip->total_length =
            rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(*ip) + sizeof(*icmp) + keep));
        ip->packet_id = rte_cpu_to_be_16(wc.ip_id++);
        ip->time_to_live = 64;
        ip->next_proto_id = IPPROTO_ICMP;
        ip->src_addr = rte_cpu_to_be_32(port->ipv4);
        ip->dst_addr = rte_cpu_to_be_32(source);
        ip->hdr_checksum = rte_ipv4_cksum(ip);
        wc.counters.icmp_too_big_sent.add();
        return prepend_ethernet(wc, *port, m, source, RTE_ETHER_TYPE_IPV4);
    }
    uint8_t source[16];
    std::memcpy(source, rte_pktmbuf_mtod(m, const rte_ipv6_hdr*)->src_addr, 16);
    constexpr uint32_t keep_max = 1280 - sizeof(rte_ipv6_hdr) - 8;
    const uint32_t keep = std::min<uint32_t>(rte_pktmbuf_pkt_len(m), keep_max);
    rte_pktmbuf_trim(m, static_cast<uint16_t>(rte_pktmbuf_pkt_len(m) - keep));
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(rte_pktmbuf_prepend(m, sizeof(rte_ipv6_hdr) + 8));
    if (ip6 == nullptr) {
        return DropReason::egress_mtu_exceeded;
    }
    auto* icmp6 = reinterpret_cast<uint8_t*>(ip6 + 1);
    icmp6[0] = 2;  // Packet Too Big
    icmp6[1] = 0;
    icmp6[2] = icmp6[3] = 0;
    const uint32_t mtu_be = rte_cpu_to_be_32(std::max<uint32_t>(mtu, 1280));
    std::memcpy(icmp6 + 4, &mtu_be, 4);
    ip6->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip6->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(8 + keep));
    ip6->proto = IPPROTO_ICMPV6;
    ip6->hop_limits = 64;
    std::memcpy(ip6->src_addr, port->ipv6.data(), 16);
    std::memcpy(ip6->dst_addr, source, 16);
    const uint16_t c = rte_ipv6_udptcp_cksum(ip6, icmp6);
    std::memcpy(icmp6 + 2, &c, 2);
    wc.counters.icmp_too_big_sent.add();
    return prepend_ethernet(wc, *port, m, 0, RTE_ETHER_TYPE_IPV6);
}

// Fragment an IPv4 packet without DF so that each fragment fits `mtu` once encapsulated, then
// encapsulate each. Consumes `m`.
void fragment_and_encapsulate(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc,
                              rte_mbuf* m, const std::optional<gtpu::DlPduSessionInfo>& pdu,
                              uint32_t mtu) {
    const dataplane::PortRuntime* port = egress_port(config::PortRole::n3);
    const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
    const uint32_t hlen = rte_ipv4_hdr_len(ip);
    // Fragment payloads are multiples of 8 octets (RFC 791).
    const uint32_t frag_mtu = mtu > hlen + 8 ? hlen + ((mtu - hlen) & ~7u) : 0;
    rte_mbuf* frags[max_fragments];
    const int32_t n = frag_mtu == 0 ? -EINVAL
                                    : rte_ipv4_fragment_packet(m, frags, max_fragments,
                                                               static_cast<uint16_t>(frag_mtu),
                                                               port->pool, port->pool);
    if (n < 0) {
        enqueue_drop(graph, node, next_drop, m, DropReason::egress_mtu_exceeded);
        return;
    }
    const dataplane::MbufMeta md = dataplane::meta(m);
    rte_pktmbuf_free(m);
    wc.counters.fragmented_for_n3.add();
    for (int32_t i = 0; i < n; ++i) {
        rte_mbuf* f = frags[i];
        dataplane::meta(f) = md;
        auto* fip = rte_pktmbuf_mtod(f, rte_ipv4_hdr*);
        fip->hdr_checksum = 0;
        fip->hdr_checksum = rte_ipv4_cksum(fip);
        send_or_drop(graph, node, f, encapsulate(wc, f, pdu), next_n3_tx, next_drop);
    }
}

uint16_t gtpu_encap_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    const dataplane::PortRuntime* n3 = egress_port(config::PortRole::n3);
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const std::optional<gtpu::DlPduSessionInfo> pdu = pdu_info(m);
        const size_t outer = outer_len(pdu);
        if (n3 != nullptr && rte_pktmbuf_pkt_len(m) + outer > n3->mtu) {
            const uint32_t room = n3->mtu > outer ? static_cast<uint32_t>(n3->mtu - outer) : 0;
            const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
            const bool v4 = (ip->version_ihl >> 4) == 4;
            if (v4 && (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_DF_FLAG) == 0) {
                fragment_and_encapsulate(graph, node, wc, m, pdu, room);
                continue;
            }
            send_or_drop(graph, node, m, icmp_too_big(wc, m, room), next_n6_tx, next_drop);
            continue;
        }
        send_or_drop(graph, node, m, encapsulate(wc, m, pdu), next_n3_tx, next_drop);
    }
    return nb;
}

}  // namespace

extern const NodeDef gtpu_encap_node = {"gtpu_encap", gtpu_encap_process, 0,
                                        next_names,   next_count,         nullptr};

}  // namespace braid::pipelines
