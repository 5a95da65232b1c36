// pdr_ul: uplink packet detection (TS 29.244 §5.2.1). A G-PDU's TEID finds the session in the
// lock-free table; its T-PDU (the UE's IP packet) is matched against the session's uplink PDRs
// in precedence order (Local F-TEID, QFI, SDF filters). The match goes into the metadata, the
// outer headers are removed when the PDR says so (Outer Header Removal GTP-U/UDP/IPv4) and the
// packet continues to qer_meter — through handoff when an MBR of the session is policed on
// another worker (DESIGN.md §5). An unknown TEID goes to gtpu_error_ind. TCP to the MPTCP
// proxy goes to proxy_input; a T-PDU from a link-specific multipath address must be that, and
// arrive in the tunnel of its own access.
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
    md.link_access = 0;
    // A subflow from one of the session's link-specific multipath addresses (issue 7, TS 23.501
    // §5.32.6.2.1): the UE uses them for MPTCP toward the proxy only; anything else from them
    // is dropped. For PDR matching the address stands for the UE's (as_ue): filters on the UE
    // address match, and a PDR whose PDI names the UE IP matches by TEID as always.
    const std::optional<dataplane::LinkAccess> link_access =
        is_ip && !rules->link.empty() ? rules->link_access(key.family, key.ue.data())
                                      : std::nullopt;
    const bool link = link_access.has_value();
    if (link && (wc.tcp == nullptr || !wc.tcp->for_proxy(key))) {
        reason = DropReason::link_addr_not_proxy;
        return next_drop;
    }
    sdf::PacketKey ue_key;
    const sdf::PacketKey* match_key = is_ip ? &key : nullptr;
    if (link) {
        ue_key = rules->as_ue(key);
        match_key = &ue_key;
    }
    const dataplane::CompiledPdr* pdr = rules->match_uplink(md.teid, qfi, match_key);
    if (pdr == nullptr) {
        reason = DropReason::pdr_no_match;
        return next_drop;
    }
    // Each link-specific address belongs to one access: it must arrive in that access's tunnel
    // when the PDR says which access its tunnel is (Source Interface Type).
    if (link && pdr->access && *pdr->access != *link_access) {
        reason = DropReason::link_addr_wrong_access;
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
        // terminates it, whatever the session (one without MPTCP gets Not Authorized). A
        // connection lives on the worker its first SYN reached; proxy_input hands another
        // worker's subflows (MP_JOIN from the UE's other access) over to it.
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
