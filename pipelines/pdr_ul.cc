// pdr_ul: uplink packet detection (TS 29.244 §5.2.1). A G-PDU's TEID finds the session in the
// lock-free table; its T-PDU (the UE's IP packet) is matched against the session's uplink PDRs
// in precedence order (Local F-TEID, QFI, SDF filters). The match goes into the metadata, the
// outer headers are removed when the PDR says so (Outer Header Removal GTP-U/UDP/IPv4) and the
// packet continues to qer_meter — through handoff when an MBR of the session is policed on
// another worker (DESIGN.md §5). An unknown TEID goes to gtpu_error_ind.
#include "dataplane/tcp_host.h"
#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t {
    next_drop,
    next_qer_meter,
    next_gtpu_error_ind,
    next_handoff,
    next_proxy_input,
    next_count
};
constexpr const char* next_names[next_count] = {"drop", "qer_meter", "gtpu_error_ind", "handoff",
                                                "proxy_input"};

rte_edge_t classify(const dataplane::WorkerContext& wc, rte_mbuf* m, DropReason& reason) {
    auto& md = dataplane::meta(m);
    const dataplane::SessionRules* rules = app().sessions().by_teid(md.teid);
    if (rules == nullptr) {
        return next_gtpu_error_ind;
    }
    const uint8_t* inner = rte_pktmbuf_mtod_offset(m, const uint8_t*, md.inner_offset);
    const size_t inner_len = rte_pktmbuf_data_len(m) - md.inner_offset;
    sdf::PacketKey key;
    const bool is_ip =
        inner_len > 0 && sdf::extract_key(inner, inner_len, sdf::Direction::uplink, key);
    const std::optional<uint8_t> qfi =
        md.qfi == dataplane::no_qfi ? std::nullopt : std::optional<uint8_t>(md.qfi);
    const dataplane::CompiledPdr* pdr = rules->match_uplink(md.teid, qfi, is_ip ? &key : nullptr);
    if (pdr == nullptr) {
        reason = DropReason::pdr_no_match;
        return next_drop;
    }
    md.rules = rules;
    md.seid = rules->seid;
    md.pdr_index = static_cast<uint16_t>(pdr - rules->pdrs.data());
    if (pdr->remove_outer_header) {
        if (!is_ip) {
            reason = DropReason::inner_malformed;
            return next_drop;
        }
        rte_pktmbuf_adj(m, md.inner_offset);  // the mbuf now starts at the UE's IP packet
        md.inner_offset = 0;
        // TCP to the MPTCP proxy's address (RFC 8803 converter, issue 7): this worker's proxy
        // terminates it, whatever the session (one without MPTCP gets Not Authorized). Not
        // handed off: the proxy's connections live on the worker their first SYN reached.
        if (wc.tcp != nullptr && wc.tcp->for_proxy(key)) {
            return next_proxy_input;
        }
    } else {
        // braid forwards T-PDUs only; relaying GTP-U toward the core (N9) is not done.
        reason = DropReason::far_unsupported;
        return next_drop;
    }
    return hand_off_to_owner(m, *rules, *pdr, wc) ? next_handoff : next_qer_meter;
}

uint16_t pdr_ul_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        DropReason reason = DropReason::pdr_no_match;
        rte_edge_t next = classify(wc, m, reason);
        if (next == next_drop) {
            enqueue_drop(graph, node, next_drop, m, reason);
        } else {
            rte_node_enqueue_x1(graph, node, next, m);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef pdr_ul_node = {"pdr_ul", pdr_ul_process, 0, next_names, next_count, nullptr};

}  // namespace braid::pipelines
