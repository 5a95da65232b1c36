// gtpu_input: GTP-U (TS 29.281) arriving on N3 at braid's address, UDP port 2152 (eth_classify
// checked the IPv4 and UDP headers). Parses the header and the extension header chain once (the
// common uplink G-PDUs by gtpu::parse_gpdu_fast, everything else by gtpu::parse) and dispatches:
// G-PDUs to pdr_ul (TEID, QFI and T-PDU offset in the metadata), path management (Echo Request, and
// messages with an unknown comprehension-required extension header, which get a Supported Extension
// Headers Notification) to gtpu_echo, Error Indications to gtpu_error_ind; End Markers and the rest
// are counted drops.
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <span>

#include "dataplane/gtpu.h"
#include "pipelines/node.h"
#include "pipelines/stages.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_pdr_ul, next_gtpu_echo, next_gtpu_error_ind, next_count };
constexpr const char* next_names[next_count] = {"drop", "pdr_ul", "gtpu_echo", "gtpu_error_ind"};

}  // namespace

StageResult gtpu_input_packet(const dataplane::PortRuntime& /*port*/, rte_mbuf* m) {
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    const uint16_t ihl = static_cast<uint16_t>((ip->version_ihl & 0x0f) * 4);
    if (ihl != sizeof(rte_ipv4_hdr)) {
        // Options are legal but unseen on N3; the in-place replies assume none.
        return {Verdict::drop, DropReason::gtpu_unhandled_message};
    }
    auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
    const uint16_t gtp_len = rte_be_to_cpu_16(udp->dgram_len) - sizeof(rte_udp_hdr);
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(udp + 1), gtp_len);
    if (const auto g = gtpu::parse_gpdu_fast(bytes)) {  // the common G-PDUs, without a Packet
        auto& md = dataplane::meta(m);
        md.inner_offset = static_cast<uint16_t>(bytes.data() + g->payload_offset -
                                                rte_pktmbuf_mtod(m, const uint8_t*));
        md.teid = g->teid;
        md.qfi = g->qfi.value_or(dataplane::no_qfi);
        md.uplink = 1;
        return {Verdict::pdr_ul, DropReason::count};
    }
    gtpu::ParseResult r = gtpu::parse(bytes);
    if (!r.ok()) {
        if (r.error() == gtpu::ParseError::unknown_required_ext_header) {
            return {Verdict::gtpu_echo, DropReason::count};  // answered with a SEHN
        }
        return {Verdict::drop, DropReason::gtpu_malformed};
    }
    const gtpu::Packet& p = *r.packet();
    switch (p.header.type) {
        case gtpu::MessageType::g_pdu: {
            auto& md = dataplane::meta(m);
            md.inner_offset =
                static_cast<uint16_t>(p.payload.data() - rte_pktmbuf_mtod(m, uint8_t*));
            md.teid = p.header.teid.value();
            md.qfi = p.pdu_session ? gtpu::qfi(*p.pdu_session) : dataplane::no_qfi;
            md.uplink = 1;
            return {Verdict::pdr_ul, DropReason::count};
        }
        case gtpu::MessageType::echo_request:
            if (!p.header.seq) {
                return {Verdict::drop, DropReason::gtpu_malformed};  // §7.2.1: S = 1
            }
            return {Verdict::gtpu_echo, DropReason::count};
        case gtpu::MessageType::echo_response:
            if (!p.header.seq) {
                return {Verdict::drop, DropReason::gtpu_malformed};  // §7.2.2: S = 1
            }
            return {Verdict::gtpu_echo, DropReason::count};  // to path management
        case gtpu::MessageType::error_indication:
            return {Verdict::gtpu_error_ind, DropReason::count};
        case gtpu::MessageType::end_marker:
            return {Verdict::drop, DropReason::gtpu_end_marker_received};
        default:
            return {Verdict::drop, DropReason::gtpu_unhandled_message};
    }
}

namespace {

uint16_t gtpu_input_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const auto& ports = app().ports();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        StageResult r = gtpu_input_packet(ports[dataplane::meta(m).port_index], m);
        switch (r.verdict) {
            case Verdict::pdr_ul:
                rte_node_enqueue_x1(graph, node, next_pdr_ul, m);
                break;
            case Verdict::gtpu_echo:
                rte_node_enqueue_x1(graph, node, next_gtpu_echo, m);
                break;
            case Verdict::gtpu_error_ind:
                rte_node_enqueue_x1(graph, node, next_gtpu_error_ind, m);
                break;
            default:
                enqueue_drop(graph, node, next_drop, m, r.reason);
                break;
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef gtpu_input_node = {"gtpu_input", gtpu_input_process, 0,
                                        next_names,   next_count,         nullptr};

}  // namespace braid::pipelines
