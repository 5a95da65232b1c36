// eth_classify: validate the Ethernet and IP headers of everything the RX nodes bring and send
// each packet to the stage that handles it. Frames are untrusted: every length is checked before
// a header is read.
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "pipelines/node.h"
#include "pipelines/stages.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t {
    next_drop,
    next_arp,
    next_icmp_local,
    next_gtpu_input,
    next_pdr_dl,
    next_tcp_local,
    next_count
};
constexpr const char* next_names[next_count] = {"drop",       "arp",    "icmp_local",
                                                "gtpu_input", "pdr_dl", "tcp_local"};

constexpr uint16_t eth_len = sizeof(rte_ether_hdr);

// ICMP error messages TCP acts on (tcpstack/icmp.h): Destination Unreachable, Time Exceeded,
// Parameter Problem; ICMPv6 also Packet Too Big.
bool icmp_error_type(bool v6, uint8_t type) {
    return v6 ? (type >= 1 && type <= 4) : (type == 3 || type == 11 || type == 12);
}

bool ipv6_is_ours(const dataplane::PortRuntime& p, const uint8_t* dst) {
    static constexpr uint8_t all_nodes[16] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr uint8_t solicited_prefix[12] = {0xff, 0x02, 0, 0, 0, 0,
                                                     0,    0,    0, 0, 0, 1};  // ff02::1:ff00:0/104
    if (std::memcmp(dst, p.ipv6_link_local.data(), 16) == 0 ||
        (p.has_ipv6 && std::memcmp(dst, p.ipv6.data(), 16) == 0) ||
        std::memcmp(dst, all_nodes, 16) == 0) {
        return true;
    }
    // Solicited-node multicast (RFC 4291 §2.7.1) of one of our addresses.
    if (std::memcmp(dst, solicited_prefix, 12) == 0 && dst[12] == 0xff) {
        return std::memcmp(dst + 13, p.ipv6_link_local.data() + 13, 3) == 0 ||
               (p.has_ipv6 && std::memcmp(dst + 13, p.ipv6.data() + 13, 3) == 0);
    }
    return false;
}

rte_edge_t classify(const dataplane::PortRuntime& port, rte_mbuf* m, DropReason& reason) {
    const uint32_t len = rte_pktmbuf_data_len(m);
    if (rte_pktmbuf_pkt_len(m) > uint32_t{port.mtu} + eth_len) {
        reason = DropReason::oversized_frame;
        return next_drop;
    }
    if (len < eth_len) {
        reason = DropReason::runt_frame;
        return next_drop;
    }
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (!rte_is_same_ether_addr(&eth->dst_addr, &port.mac) &&
        !rte_is_multicast_ether_addr(&eth->dst_addr)) {  // broadcast is multicast too
        reason = DropReason::not_our_mac;
        return next_drop;
    }
    dataplane::meta(m).l3_offset = eth_len;
    dataplane::meta(m).from_proxy = 0;  // only tcp_local / proxy_input set it
    const uint32_t l3_len = len - eth_len;
    switch (rte_be_to_cpu_16(eth->ether_type)) {
        case RTE_ETHER_TYPE_ARP:
            return next_arp;
        case RTE_ETHER_TYPE_IPV4: {
            if (l3_len < sizeof(rte_ipv4_hdr)) {
                reason = DropReason::runt_frame;
                return next_drop;
            }
            const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
            const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
            const uint32_t total = rte_be_to_cpu_16(ip->total_length);
            if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || total < ihl ||
                total > l3_len) {
                reason = DropReason::ipv4_bad_header;
                return next_drop;
            }
            if ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
                ((m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) != RTE_MBUF_F_RX_IP_CKSUM_GOOD &&
                 rte_raw_cksum(ip, ihl) != 0xffff)) {
                reason = DropReason::ipv4_bad_checksum;
                return next_drop;
            }
            if (total < l3_len) {  // Ethernet padding after the datagram
                rte_pktmbuf_trim(m, static_cast<uint16_t>(l3_len - total));
            }
            if (!port.has_ipv4 || rte_be_to_cpu_32(ip->dst_addr) != port.ipv4) {
                if (port.role == config::PortRole::n6) {
                    return next_pdr_dl;  // downlink user traffic, fragments included
                }
                reason = DropReason::ipv4_not_for_us;
                return next_drop;
            }
            if ((rte_be_to_cpu_16(ip->fragment_offset) &
                 (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
                reason = DropReason::ipv4_fragment;
                return next_drop;
            }
            if (ip->next_proto_id == IPPROTO_ICMP) {
                const uint8_t* icmp = reinterpret_cast<const uint8_t*>(ip) + ihl;
                if (port.role == config::PortRole::n6 && total > ihl &&
                    icmp_error_type(false, icmp[0])) {
                    return next_tcp_local;  // about braid's TCP (TcpHost::input_icmp)
                }
                return next_icmp_local;
            }
            if (ip->next_proto_id == IPPROTO_TCP && port.role == config::PortRole::n6) {
                return next_tcp_local;  // braid's own TCP endpoint on N6 (dataplane/tcp_host.h)
            }
            if (ip->next_proto_id == IPPROTO_UDP && port.role == config::PortRole::n3) {
                if (total - ihl < sizeof(rte_udp_hdr)) {
                    reason = DropReason::udp_bad_header;
                    return next_drop;
                }
                const auto* udp = reinterpret_cast<const rte_udp_hdr*>(
                    reinterpret_cast<const uint8_t*>(ip) + ihl);
                if (rte_be_to_cpu_16(udp->dgram_len) != total - ihl) {
                    reason = DropReason::udp_bad_header;
                    return next_drop;
                }
                if (udp->dgram_cksum != 0 &&
                    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_GOOD &&
                    rte_ipv4_udptcp_cksum_verify(ip, udp) != 0) {
                    reason = DropReason::udp_bad_checksum;
                    return next_drop;
                }
                if (rte_be_to_cpu_16(udp->dst_port) == 2152) {  // TS 29.281 §4.4.2
                    return next_gtpu_input;
                }
            }
            reason = DropReason::ipv4_no_handler;
            return next_drop;
        }
        case RTE_ETHER_TYPE_IPV6: {
            if (l3_len < sizeof(rte_ipv6_hdr)) {
                reason = DropReason::runt_frame;
                return next_drop;
            }
            const auto* ip6 = reinterpret_cast<const rte_ipv6_hdr*>(eth + 1);
            const uint32_t total = sizeof(rte_ipv6_hdr) + rte_be_to_cpu_16(ip6->payload_len);
            if ((rte_be_to_cpu_32(ip6->vtc_flow) >> 28) != 6 || total > l3_len) {
                reason = DropReason::ipv6_bad_header;
                return next_drop;
            }
            if (total < l3_len) {
                rte_pktmbuf_trim(m, static_cast<uint16_t>(l3_len - total));
            }
            if (!ipv6_is_ours(port, ip6->dst_addr)) {
                if (port.role == config::PortRole::n6 && (ip6->dst_addr[0] & 0xe0) == 0x20) {
                    return next_pdr_dl;  // global unicast (2000::/3): downlink user traffic
                }
                reason = DropReason::ipv6_not_for_us;
                return next_drop;
            }
            if (ip6->proto == IPPROTO_ICMPV6) {
                const uint8_t* icmp = reinterpret_cast<const uint8_t*>(ip6 + 1);
                if (port.role == config::PortRole::n6 && total > sizeof(rte_ipv6_hdr) &&
                    icmp_error_type(true, icmp[0])) {
                    return next_tcp_local;
                }
                return next_icmp_local;
            }
            if (ip6->proto == IPPROTO_TCP && port.role == config::PortRole::n6) {
                return next_tcp_local;
            }
            reason = DropReason::ipv6_no_handler;
            return next_drop;
        }
        case RTE_ETHER_TYPE_VLAN:
        case RTE_ETHER_TYPE_QINQ:
            reason = DropReason::vlan_unsupported;
            return next_drop;
        default:
            reason = DropReason::unknown_ethertype;
            return next_drop;
    }
}

}  // namespace

StageResult eth_classify_packet(const dataplane::PortRuntime& port, rte_mbuf* m) {
    DropReason reason = DropReason::runt_frame;
    switch (classify(port, m, reason)) {
        case next_arp:
            return {Verdict::arp, reason};
        case next_icmp_local:
            return {Verdict::icmp_local, reason};
        case next_gtpu_input:
            return {Verdict::gtpu_input, reason};
        case next_pdr_dl:
            return {Verdict::pdr_dl, reason};
        case next_tcp_local:
            return {Verdict::tcp_local, reason};
        default:
            return {Verdict::drop, reason};
    }
}

namespace {

uint16_t eth_classify_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const auto& ports = app().ports();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        DropReason reason = DropReason::runt_frame;
        rte_edge_t next = classify(ports[dataplane::meta(m).port_index], m, reason);
        if (next == next_drop) {
            enqueue_drop(graph, node, next_drop, m, reason);
        } else {
            rte_node_enqueue_x1(graph, node, next, m);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef eth_classify_node = {"eth_classify", eth_classify_process, 0,
                                          next_names,     next_count,           nullptr};

}  // namespace braid::pipelines
