// gtpu_input: GTP-U (TS 29.281) arriving on N3 at braid's address, UDP port 2152. Path
// management first: an Echo Request is answered with an Echo Response in place (§7.2.2: same
// sequence number, TEID 0, Recovery 0; addresses and ports swapped). G-PDUs and the other
// messages are counted drops until the user-plane datapath exists (docs/FEATURES.md).
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>
#include <span>

#include "dataplane/gtpu.h"
#include "pipelines/node.h"
#include "pipelines/stages.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_n6_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx", "n6_tx"};

StageResult echo_response(const dataplane::PortRuntime& port, rte_mbuf* m, rte_ipv4_hdr* ip,
                          rte_udp_hdr* udp, uint16_t seq) {
    auto* gtp = reinterpret_cast<uint8_t*>(udp + 1);
    const uint16_t old_len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(rte_udp_hdr);
    // The response (16 octets: header, optional fields, Recovery IE) fits in place: the request
    // carried at least the 12 octets of header and optional fields (S = 1).
    uint8_t reply[16];
    const size_t len = gtpu::encode_echo_response(reply, seq);
    if (len == 0 || len > old_len + rte_pktmbuf_tailroom(m)) {
        return {Verdict::drop, DropReason::gtpu_malformed};
    }
    if (len > old_len) {
        rte_pktmbuf_append(m, static_cast<uint16_t>(len - old_len));
    } else if (len < old_len) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(old_len - len));
    }
    std::memcpy(gtp, reply, len);
    const rte_be16_t sport = udp->src_port;
    udp->src_port = udp->dst_port;
    udp->dst_port = sport;
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + len));
    ip->dst_addr = ip->src_addr;
    ip->src_addr = rte_cpu_to_be_32(port.ipv4);
    ip->time_to_live = 64;
    ip->total_length =
        rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + len));
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    reply_to_sender(eth, port);
    return {Verdict::tx, DropReason::count};
}

}  // namespace

StageResult gtpu_input_packet(const dataplane::PortRuntime& port, rte_mbuf* m) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    const uint16_t ihl = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
    if (ihl != sizeof(rte_ipv4_hdr)) {
        // Options are legal but rare on N3; the in-place reply below assumes none.
        return {Verdict::drop, DropReason::gtpu_unhandled_message};
    }
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const uint16_t gtp_len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(rte_udp_hdr);
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(udp + 1), gtp_len);
    gtpu::ParseResult r = gtpu::parse(bytes);
    if (!r.ok()) {
        return {Verdict::drop, r.error() == gtpu::ParseError::unknown_required_ext_header
                                   ? DropReason::gtpu_unknown_ext_header
                                   : DropReason::gtpu_malformed};
    }
    const gtpu::Packet& p = *r.packet();
    switch (p.header.type) {
        case gtpu::MessageType::echo_request:
            if (!p.header.seq) {
                return {Verdict::drop, DropReason::gtpu_malformed};  // §7.2.1: S = 1
            }
            return echo_response(port, m, ip, udp, *p.header.seq);
        case gtpu::MessageType::g_pdu:
            return {Verdict::drop, DropReason::gtpu_no_datapath};
        default:
            return {Verdict::drop, DropReason::gtpu_unhandled_message};
    }
}

namespace {

uint16_t gtpu_input_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    return answer_or_drop(graph, node, objs, nb, next_drop, next_n3_tx, gtpu_input_packet);
}

}  // namespace

extern const NodeDef gtpu_input_node = {"gtpu_input", gtpu_input_process, 0,
                                        next_names,   next_count,         nullptr};

}  // namespace braid::pipelines
