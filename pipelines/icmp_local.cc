// icmp_local: ICMP for braid's own addresses. Echo request → echo reply (RFC 792, RFC 4443
// §4.1); IPv6 Neighbor Discovery (RFC 4861): a solicitation for our address → advertisement
// (§7.2.4), and what solicitations and advertisements teach (§7.2.3, §7.2.5) reported to the
// control core's neighbor table. Every ND message is checked by dataplane/nd.h; a bad one is a
// drop with a named reason. eth_classify has validated the IP header and that the destination
// is ours.
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_ring_elem.h>

#include <cstring>

#include "dataplane/nd.h"
#include "pipelines/node.h"
#include "pipelines/stages.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_n6_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx", "n6_tx"};

constexpr uint8_t icmp6_echo_request = 128;
constexpr uint8_t icmp6_echo_reply = 129;
constexpr uint8_t icmp6_neighbor_solicit = 135;
constexpr uint8_t icmp6_neighbor_advert = 136;
constexpr uint8_t nd_opt_target_lladdr = 2;

DropReason handle_ipv4(const dataplane::PortRuntime& port, rte_mbuf* m, bool& send) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    const uint16_t ihl = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
    const uint16_t icmp_len = static_cast<uint16_t>(rte_be_to_cpu_16(ip->total_length) - ihl);
    if (icmp_len < sizeof(rte_icmp_hdr)) {
        return DropReason::icmp_malformed;
    }
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(reinterpret_cast<uint8_t*>(ip) + ihl);
    if (rte_raw_cksum(icmp, icmp_len) != 0xffff) {
        return DropReason::icmp_bad_checksum;
    }
    if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0) {
        return DropReason::icmp_unhandled;
    }
    // RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), with m the type/code word (8/0 -> 0/0): the
    // reply costs the same whatever the payload size.
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    uint32_t sum = static_cast<uint16_t>(~rte_be_to_cpu_16(icmp->icmp_cksum)) +
                   static_cast<uint16_t>(~(RTE_IP_ICMP_ECHO_REQUEST << 8)) +
                   (RTE_IP_ICMP_ECHO_REPLY << 8);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    icmp->icmp_cksum = rte_cpu_to_be_16(static_cast<uint16_t>(~sum));
    if (icmp->icmp_cksum == 0) {
        // A zero result is ambiguous: right when the message sums to -0, wrong for an all-zero
        // message, whose checksum is 0xffff (found by fuzz_packets). One case in 65536: sum it.
        icmp->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, icmp_len));
    }
    ip->dst_addr = ip->src_addr;
    ip->src_addr = rte_cpu_to_be_32(port.ipv4);
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    m->ol_flags &= ~RTE_MBUF_F_RX_IP_CKSUM_MASK;
    reply_to_sender(eth, port);
    send = true;
    return DropReason::icmp_unhandled;
}

bool is_our_unicast6(const dataplane::PortRuntime& port, const uint8_t* a) {
    return std::memcmp(a, port.ipv6_link_local.data(), 16) == 0 ||
           (port.has_ipv6 && std::memcmp(a, port.ipv6.data(), 16) == 0);
}

void set_icmp6_checksum(rte_ipv6_hdr* ip6, uint8_t* icmp) {
    icmp[2] = icmp[3] = 0;
    uint16_t c = rte_ipv6_udptcp_cksum(ip6, icmp);
    std::memcpy(icmp + 2, &c, 2);
}

DropReason nd_drop_reason(dataplane::nd::ParseError e) {
    using E = dataplane::nd::ParseError;
    switch (e) {
        case E::bad_hop_limit:
            return DropReason::nd_bad_hop_limit;
        case E::bad_code:
            return DropReason::nd_bad_code;
        case E::truncated:
            return DropReason::nd_truncated;
        case E::bad_target:
            return DropReason::nd_multicast_target;
        case E::bad_option:
            return DropReason::nd_bad_option;
        case E::bad_source:
            return DropReason::nd_bad_source;
        case E::solicited_to_multicast:
            return DropReason::nd_solicited_to_multicast;
    }
    return DropReason::icmp_malformed;
}

// Tell the control core, which owns the neighbor table, what a Neighbor Discovery message taught
// us (the ND counterpart of arp.cc's report).
void report_nd(dataplane::WorkerContext* wc, uint16_t port_index, const uint8_t* ip,
               const dataplane::MacAddr& mac, bool addressed_to_us) {
    if (wc == nullptr || wc->w2m == nullptr) {
        return;
    }
    dataplane::W2MEvent ev{};
    ev.type = dataplane::W2MEvent::Type::arp_seen;
    ev.port_index = port_index;
    ev.v6 = 1;
    std::memcpy(ev.ipv6, ip, 16);
    std::memcpy(ev.mac, mac.data(), 6);
    ev.addressed_to_us = addressed_to_us ? 1 : 0;
    if (rte_ring_sp_enqueue_elem(wc->w2m, &ev, sizeof(ev)) != 0) {
        wc->counters.w2m_full.add();
    }
}

// A Neighbor Solicitation for one of our addresses becomes, in place, the Neighbor Advertisement
// that answers it (RFC 4861 §7.2.4): unicast to the soliciting node with S and O set and our
// target link-layer address; for a DAD probe (source ::), to all-nodes without S.
DropReason answer_solicitation(const dataplane::PortRuntime& port, rte_mbuf* m, rte_ether_hdr* eth,
                               rte_ipv6_hdr* ip6, uint8_t* icmp, uint16_t icmp_len, bool dad,
                               bool& send) {
    static constexpr uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    // Advertisement: 4 octets header, 4 flags, 16 target, 8 target link-layer option.
    constexpr uint16_t na_len = 32;
    if (icmp_len < na_len &&
        rte_pktmbuf_append(m, static_cast<uint16_t>(na_len - icmp_len)) == nullptr) {
        return DropReason::icmp_malformed;
    }
    if (icmp_len > na_len) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(icmp_len - na_len));
    }
    uint8_t tgt[16];
    std::memcpy(tgt, icmp + 8, 16);
    std::memcpy(ip6->dst_addr, dad ? all_nodes : ip6->src_addr, 16);
    std::memcpy(ip6->src_addr, tgt, 16);
    ip6->payload_len = rte_cpu_to_be_16(na_len);
    ip6->hop_limits = 255;
    icmp[0] = icmp6_neighbor_advert;
    icmp[1] = 0;
    icmp[4] = dad ? 0x20 : 0x60;  // S (solicited) unless DAD, O (override)
    icmp[5] = icmp[6] = icmp[7] = 0;
    std::memcpy(icmp + 8, tgt, 16);
    icmp[24] = nd_opt_target_lladdr;
    icmp[25] = 1;  // length in units of 8 octets
    std::memcpy(icmp + 26, port.mac.addr_bytes, 6);
    set_icmp6_checksum(ip6, icmp);
    reply_to_sender(eth, port);
    if (dad) {
        rte_ether_addr mc = {{0x33, 0x33, 0, 0, 0, 1}};
        eth->dst_addr = mc;
    }
    send = true;
    return DropReason::icmp_unhandled;
}

// RFC 4861 §7.2.5: an advertisement without the Override flag does not replace a link-layer
// address braid already uses for the target (only one with O set, or one for an entry still
// being resolved, does).
bool keeps_cached_address(uint16_t port_index, const dataplane::nd::Message& msg) {
    if (msg.override_flag || !msg.lladdr || dataplane::current_app == nullptr) {
        return false;
    }
    const dataplane::NeighborSnapshot* snap = dataplane::current_app->neighbor_snapshot();
    if (snap == nullptr) {
        return false;
    }
    const auto mac = snap->lookup(dataplane::NeighborKey::of_ipv6(port_index, msg.target));
    return mac && *mac != *msg.lladdr;
}

DropReason handle_nd(const dataplane::PortRuntime& port, rte_mbuf* m, dataplane::WorkerContext* wc,
                     bool& send) {
    namespace nd = dataplane::nd;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    const uint16_t icmp_len = rte_be_to_cpu_16(ip6->payload_len);
    auto* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
    nd::Ipv6Addr src, dst;
    std::memcpy(src.data(), ip6->src_addr, 16);
    std::memcpy(dst.data(), ip6->dst_addr, 16);
    const nd::ParseResult r = nd::parse(icmp, icmp_len, ip6->hop_limits, src, dst);
    if (!r.msg) {
        return nd_drop_reason(r.error);
    }
    const nd::Message& msg = *r.msg;
    const bool target_ours = is_our_unicast6(port, msg.target.data());
    static constexpr nd::Ipv6Addr unspecified{};
    if (msg.type == nd::type_solicitation) {
        if (wc != nullptr) {
            wc->counters.nd_solicitations_received.add();
        }
        if (!target_ours) {
            return DropReason::nd_not_for_us;
        }
        const bool dad = src == unspecified;
        if (msg.lladdr) {
            // RFC 4861 §7.2.3: the solicitor's address and link-layer address, for the answer
            // and for braid's own traffic to it.
            report_nd(wc, port.index, src.data(), *msg.lladdr, true);
        }
        const DropReason why = answer_solicitation(port, m, eth, ip6, icmp, icmp_len, dad, send);
        if (send && wc != nullptr) {
            wc->counters.nd_advertisements_sent.add();
        }
        return why;
    }
    // Advertisement (RFC 4861 §7.2.5): it updates an entry we have; with no entry the table
    // discards it. One for our own address means a duplicate: nothing to learn.
    if (wc != nullptr) {
        wc->counters.nd_advertisements_received.add();
    }
    if (msg.lladdr && !target_ours && !keeps_cached_address(port.index, msg)) {
        report_nd(wc, port.index, msg.target.data(), *msg.lladdr, false);
    }
    return DropReason::nd_advert_consumed;
}

DropReason handle_ipv6(const dataplane::PortRuntime& port, rte_mbuf* m,
                       dataplane::WorkerContext* wc, bool& send) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip6 = reinterpret_cast<rte_ipv6_hdr*>(eth + 1);
    const uint16_t icmp_len = rte_be_to_cpu_16(ip6->payload_len);
    auto* icmp = reinterpret_cast<uint8_t*>(ip6 + 1);
    if (icmp_len < 8) {
        return DropReason::icmp_malformed;
    }
    const uint8_t type = icmp[0];
    const bool nd_message = type == icmp6_neighbor_solicit || type == icmp6_neighbor_advert;
    if (rte_ipv6_udptcp_cksum_verify(ip6, icmp) != 0) {
        return nd_message ? DropReason::nd_bad_checksum : DropReason::icmp_bad_checksum;
    }
    const uint8_t code = icmp[1];
    if (type == icmp6_echo_request && code == 0) {
        // A reply to a multicast echo comes from our unicast address.
        uint8_t src[16];
        std::memcpy(
            src, is_our_unicast6(port, ip6->dst_addr) ? ip6->dst_addr : port.ipv6_link_local.data(),
            16);
        std::memcpy(ip6->dst_addr, ip6->src_addr, 16);
        std::memcpy(ip6->src_addr, src, 16);
        ip6->hop_limits = 64;
        icmp[0] = icmp6_echo_reply;
        set_icmp6_checksum(ip6, icmp);
        reply_to_sender(eth, port);
        send = true;
        return DropReason::icmp_unhandled;
    }
    if (nd_message) {
        return handle_nd(port, m, wc, send);
    }
    return DropReason::icmp_unhandled;
}

}  // namespace

StageResult icmp_local_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                              dataplane::WorkerContext* wc) {
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    bool send = false;
    DropReason why = eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)
                         ? handle_ipv4(port, m, send)
                         : handle_ipv6(port, m, wc, send);
    return {send ? Verdict::tx : Verdict::drop, why};
}

namespace {

uint16_t icmp_local_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext* wc = ctx(node).wc;
    return answer_or_drop(graph, node, objs, nb, next_drop, next_n3_tx,
                          [wc](const dataplane::PortRuntime& port, rte_mbuf* m) {
                              return icmp_local_packet(port, m, wc);
                          });
}

}  // namespace

extern const NodeDef icmp_local_node = {"icmp_local", icmp_local_process, 0,
                                        next_names,   next_count,         nullptr};

}  // namespace braid::pipelines
