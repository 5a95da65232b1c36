// gtpu_error_ind: GTP-U tunnel management errors (TS 29.281 §7.3.1; spec §2.8).
//   - From pdr_ul, a G-PDU whose TEID no session owns: discarded, and (TEID ≠ 0, within the
//     per-worker rate limit) answered in place with an Error Indication to its sender, UDP port
//     2152: header TEID 0, S = 1, TEID Data I = the unknown TEID, GTP-U Peer Address = the
//     address it was sent to (braid's), and a UDP Port extension header with the G-PDU's source
//     port.
//   - From gtpu_input, an Error Indication a peer sent us: the TEID and peer address go to the
//     control core (W2M), which reports them to the SMF (PFCP Error Indication Report).
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <span>

#include "dataplane/gtpu.h"
#include "pipelines/node.h"
#include "pipelines/stages.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_n3_tx, next_n6_tx, next_count };
constexpr const char* next_names[next_count] = {"drop", "n3_tx", "n6_tx"};

constexpr uint32_t error_ind_rate_per_s = 100;
constexpr uint32_t error_ind_burst = 20;

}  // namespace

StageResult gtpu_error_ind_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                                  dataplane::WorkerContext* wc) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const uint16_t gtp_len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(rte_udp_hdr);
    gtpu::ParseResult r =
        gtpu::parse(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(udp + 1), gtp_len));
    if (!r.ok()) {
        return {Verdict::drop, DropReason::gtpu_malformed};
    }
    const gtpu::Packet& p = *r.packet();
    if (p.header.type == gtpu::MessageType::error_indication) {
        auto parsed = gtpu::parse_error_indication(p.payload);
        const gtpu::ErrorIndicationIes* ies = parsed.value();
        if (ies == nullptr) {
            return {Verdict::drop, DropReason::gtpu_malformed};
        }
        if (wc != nullptr) {
            dataplane::W2MEvent ev{};
            ev.type = dataplane::W2MEvent::Type::error_ind_received;
            ev.port_index = port.index;
            // The peer address IE names the far end of the tunnel the peer did not know; for
            // an IPv6 peer braid reports the sender's IPv4 address (N3 is IPv4 here).
            ev.ipv4 =
                ies->peer.is_ipv4() ? ies->peer.ipv4_host_order() : rte_be_to_cpu_32(ip->src_addr);
            ev.value = ies->teid_data_i.value();
            if (rte_ring_sp_enqueue_elem(wc->w2m, &ev, sizeof(ev)) != 0) {
                wc->counters.w2m_full.add();
            }
        }
        return {Verdict::drop, DropReason::gtpu_error_ind_received};
    }
    if (p.header.type != gtpu::MessageType::g_pdu || p.header.teid.value() == 0) {
        return {Verdict::drop, DropReason::gtpu_unknown_teid};
    }
    if (wc != nullptr && !wc->error_ind_limiter.take(rte_rdtsc(), rte_get_tsc_hz(),
                                                     error_ind_rate_per_s, error_ind_burst)) {
        return {Verdict::drop, DropReason::gtpu_unknown_teid};
    }
    uint8_t reply[40];
    const size_t len = gtpu::encode_error_indication(
        reply, 0, p.header.teid, gtpu::PeerAddress::ipv4(rte_be_to_cpu_32(ip->dst_addr)),
        rte_be_to_cpu_16(udp->src_port));
    if (len == 0 || !gtpu_reply_in_place(port, m, reply, len, gtpu::udp_port)) {
        return {Verdict::drop, DropReason::gtpu_unknown_teid};
    }
    if (wc != nullptr) {
        wc->counters.error_ind_sent.add();
    }
    return {Verdict::tx, DropReason::count};
}

namespace {

uint16_t gtpu_error_ind_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext* wc = ctx(node).wc;
    return answer_or_drop(graph, node, objs, nb, next_drop, next_n3_tx,
                          [wc](const dataplane::PortRuntime& port, rte_mbuf* m) {
                              return gtpu_error_ind_packet(port, m, wc);
                          });
}

}  // namespace

extern const NodeDef gtpu_error_ind_node = {
    "gtpu_error_ind", gtpu_error_ind_process, 0, next_names, next_count, nullptr};

}  // namespace braid::pipelines
