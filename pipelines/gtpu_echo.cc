// gtpu_echo: GTP-U path management (TS 29.281 §7.2), answered in place on N3. An Echo Request
// gets an Echo Response (§7.2.2: same sequence number, TEID 0, Recovery 0, addresses and ports
// swapped). A message carrying an extension header that braid does not know and that is marked
// comprehension-required gets a Supported Extension Headers Notification listing what braid
// understands (§5.2.1, §7.2.3), rate-limited like Error Indications. An Echo Response (to the
// control core's probes, dataplane/gtpu_paths.h) is passed to the control core and consumed.
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
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

// Rate of the replies an attacker can trigger at line rate (per worker).
constexpr uint32_t reply_rate_per_s = 100;
constexpr uint32_t reply_burst = 20;

}  // namespace

bool gtpu_reply_in_place(const dataplane::PortRuntime& port, rte_mbuf* m, const uint8_t* gtp,
                         size_t len, uint16_t dst_port) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const size_t headers = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
    const size_t old_total = rte_pktmbuf_pkt_len(m);
    const size_t new_total = headers + len;
    if (rte_pktmbuf_data_len(m) != old_total || new_total > old_total + rte_pktmbuf_tailroom(m)) {
        return false;  // multi-segment or no room: never the case for our replies
    }
    if (new_total > old_total) {
        rte_pktmbuf_append(m, static_cast<uint16_t>(new_total - old_total));
    } else if (new_total < old_total) {
        rte_pktmbuf_trim(m, static_cast<uint16_t>(old_total - new_total));
    }
    std::memmove(udp + 1, gtp, len);
    const rte_be16_t sport = udp->src_port;
    udp->src_port = udp->dst_port;
    udp->dst_port = dst_port != 0 ? rte_cpu_to_be_16(dst_port) : sport;
    udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_udp_hdr) + len));
    ip->dst_addr = ip->src_addr;
    ip->src_addr = rte_cpu_to_be_32(port.ipv4);
    ip->time_to_live = 64;
    ip->fragment_offset = 0;
    ip->total_length =
        rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr) + len));
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    udp->dgram_cksum = 0;
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
    m->ol_flags &= ~(RTE_MBUF_F_RX_IP_CKSUM_MASK | RTE_MBUF_F_RX_L4_CKSUM_MASK);
    reply_to_sender(eth, port);
    return true;
}

StageResult gtpu_echo_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                             dataplane::WorkerContext* wc) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const uint16_t gtp_len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(rte_udp_hdr);
    gtpu::ParseResult r =
        gtpu::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(udp + 1), gtp_len));
    uint8_t reply[64];
    size_t len = 0;
    uint16_t dst_port = 0;  // Echo Response: back to the request's source port
    if (!r.ok() && r.error() == gtpu::ParseError::unknown_required_ext_header) {
        if (wc != nullptr && !wc->error_ind_limiter.take(rte_rdtsc(), rte_get_tsc_hz(),
                                                         reply_rate_per_s, reply_burst)) {
            return {Verdict::drop, DropReason::gtpu_unknown_ext_header};
        }
        // The sequence number is ignored by the receiver (§7.2.3); braid sends 0.
        len = gtpu::encode_supported_ext_headers_notification(reply, 0);
        dst_port = gtpu::udp_port;
        if (wc != nullptr) {
            wc->counters.sehn_sent.add();
        }
    } else if (r.ok() && r.packet()->header.type == gtpu::MessageType::echo_response &&
               r.packet()->header.seq) {
        // An answer to the control core's path probing (dataplane/gtpu_paths.h).
        if (wc != nullptr) {
            dataplane::W2MEvent ev{};
            ev.type = dataplane::W2MEvent::Type::echo_response;
            ev.port_index = port.index;
            ev.ipv4 = rte_be_to_cpu_32(ip->src_addr);
            ev.value = *r.packet()->header.seq;
            if (rte_ring_sp_enqueue_elem(wc->w2m, &ev, sizeof(ev)) != 0) {
                wc->counters.w2m_full.add();
            }
        }
        return {Verdict::drop, DropReason::gtpu_echo_response_received};
    } else if (r.ok() && r.packet()->header.type == gtpu::MessageType::echo_request &&
               r.packet()->header.seq) {
        len = gtpu::encode_echo_response(reply, *r.packet()->header.seq);
    } else {
        return {Verdict::drop, DropReason::gtpu_malformed};
    }
    if (len == 0 || !gtpu_reply_in_place(port, m, reply, len, dst_port)) {
        return {Verdict::drop, DropReason::gtpu_malformed};
    }
    return {Verdict::tx, DropReason::count};
}

namespace {

uint16_t gtpu_echo_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext* wc = ctx(node).wc;
    return answer_or_drop(graph, node, objs, nb, next_drop, next_n3_tx,
                          [wc](const dataplane::PortRuntime& port, rte_mbuf* m) {
                              return gtpu_echo_packet(port, m, wc);
                          });
}

}  // namespace

extern const NodeDef gtpu_echo_node = {"gtpu_echo", gtpu_echo_process, 0,
                                       next_names,  next_count,        nullptr};

}  // namespace braid::pipelines
