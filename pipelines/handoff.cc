// handoff and handoff_rx: moving a packet to the worker that owns its state (DESIGN.md §5).
//
// `handoff` puts each packet on the SPSC ring from this worker to the owner named in
// MbufMeta::handoff_to (one ring per ordered worker pair, App::setup_workers); a full ring is a
// counted drop. `handoff_rx`, a source node on every worker, takes what the peers handed over
// and continues at the stage MbufMeta::resume names: qer_meter (the session's MBR), tcp_local
// (a segment of braid's own connection, no session) or proxy_input (a UE's segment for a proxy
// connection of the owner; its session found again by TEID like qer_meter's uplink).
//
// A snapshot pointer must not cross a ring: the sender reports quiescence after its walk and the
// snapshot may be freed before the owner dequeues. So the sender replaces `rules` by the
// snapshot's generation, and the owner finds the session again the way pdr_ul / pdr_dl did (by
// TEID, or by UE address), checks it is the same session (SEID) and, when the session was
// modified in between (another generation), matches the PDR again under the new rules.
#include <rte_ring.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum HandoffNext : rte_edge_t { handoff_drop, handoff_count };
constexpr const char* handoff_next[handoff_count] = {"drop"};

uint16_t handoff_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        auto& md = dataplane::meta(m);
        if (md.resume != static_cast<uint8_t>(Resume::tcp_local)) {
            md.generation = rules_of(m).generation;  // from here on `rules` is not a pointer
        }
    }
    // Runs of packets for one owner go to its ring in one burst.
    for (uint16_t i = 0; i < nb;) {
        const unsigned to = dataplane::meta(static_cast<rte_mbuf*>(objs[i])).handoff_to;
        uint16_t end = i + 1;
        while (end < nb && dataplane::meta(static_cast<rte_mbuf*>(objs[end])).handoff_to == to) {
            ++end;
        }
        rte_ring* ring = to < wc.n_workers ? wc.handoff_out[to] : nullptr;
        const unsigned put =
            ring != nullptr ? rte_ring_sp_enqueue_burst(ring, objs + i, end - i, nullptr) : 0;
        wc.counters.handoff_packets[to].add(put);
        wc.counters.handoff_drops[to].add(end - i - put);
        for (uint16_t k = static_cast<uint16_t>(i + put); k < end; ++k) {
            enqueue_drop(graph, node, handoff_drop, static_cast<rte_mbuf*>(objs[k]),
                         DropReason::handoff_ring_full);
        }
        i = end;
    }
    return nb;
}

// The session and PDR of a packet another worker matched; DropReason::count when found.
DropReason rematch(rte_mbuf* m) {
    auto& md = dataplane::meta(m);
    const auto& sessions = app().sessions();
    const uint8_t* ip = rte_pktmbuf_mtod(m, const uint8_t*);
    const size_t len = rte_pktmbuf_data_len(m);
    sdf::PacketKey key;
    const bool uplink = md.uplink != 0;
    const bool is_ip =
        len > 0 &&
        sdf::extract_key(ip, len, uplink ? sdf::Direction::uplink : sdf::Direction::downlink, key);
    const dataplane::SessionRules* rules = nullptr;
    if (uplink) {
        rules = sessions.by_teid(md.teid);
    } else if (is_ip && key.family == 4) {
        uint32_t ue;
        std::memcpy(&ue, key.ue.data(), 4);
        rules = sessions.by_ue_ipv4(rte_be_to_cpu_32(ue));
    } else if (is_ip) {
        rules = sessions.by_ue_ipv6(key.ue.data());
    }
    if (rules == nullptr && is_ip && !uplink && md.link_access != 0) {
        dataplane::LinkAccess access{};
        rules = by_link_address(key, access);  // the proxy's segment to a link-specific address
        if (rules != nullptr && md.link_access != 1 + static_cast<uint8_t>(access)) {
            rules = nullptr;
        }
    }
    if (rules == nullptr || rules->seid != md.seid) {
        return DropReason::handoff_session_gone;
    }
    if (rules->generation != md.generation) {
        // Modified in between: PDR indices of the old snapshot mean nothing in the new one.
        const std::optional<uint8_t> qfi =
            md.qfi == dataplane::no_qfi ? std::nullopt : std::optional<uint8_t>(md.qfi);
        // A proxy subflow from a link-specific address matches as the UE's (pdr_ul, as_ue).
        sdf::PacketKey ul_key = key;
        if (uplink && is_ip && !rules->link.empty() &&
            rules->link_access(key.family, key.ue.data()).has_value()) {
            ul_key = rules->as_ue(key);
        }
        const dataplane::CompiledPdr* pdr =
            uplink ? rules->match_uplink(md.teid, qfi, is_ip ? &ul_key : nullptr)
                   : (is_ip ? rules->match_downlink(md.link_access != 0 ? rules->as_ue(key) : key)
                            : nullptr);
        if (pdr == nullptr) {
            return DropReason::pdr_no_match;
        }
        md.pdr_index = static_cast<uint16_t>(pdr - rules->pdrs.data());
    }
    md.rules = rules;
    return DropReason::count;
}

enum RxNext : rte_edge_t { rx_drop, rx_qer_meter, rx_tcp_local, rx_proxy_input, rx_count };
constexpr const char* rx_next[rx_count] = {"drop", "qer_meter", "tcp_local", "proxy_input"};
static_assert(rx_qer_meter == rx_drop + 1 + static_cast<rte_edge_t>(Resume::qer_meter));
static_assert(rx_tcp_local == rx_drop + 1 + static_cast<rte_edge_t>(Resume::tcp_local));
static_assert(rx_proxy_input == rx_drop + 1 + static_cast<rte_edge_t>(Resume::proxy_input));
static_assert(rx_count == 1 + static_cast<rte_edge_t>(Resume::count));

uint16_t handoff_rx_process(rte_graph* graph, rte_node* node, void** /*objs*/, uint16_t /*nb*/) {
    dataplane::WorkerContext& wc = *ctx(node).wc;
    uint16_t total = 0;
    rte_mbuf* pkts[256];
    for (unsigned from = 0; from < wc.n_workers; ++from) {
        rte_ring* ring = wc.handoff_in[from];
        if (ring == nullptr) {
            continue;  // ourselves
        }
        const unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(pkts),
                                                     std::min<unsigned>(wc.burst, 256), nullptr);
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = pkts[i];
            const unsigned resume = dataplane::meta(m).resume;
            // TCP to braid carries no session; the owner's tcp_local looks the connection up.
            DropReason reason =
                resume == static_cast<unsigned>(Resume::tcp_local) ? DropReason::count
                : resume < static_cast<unsigned>(Resume::count)    ? rematch(m)
                                                                : DropReason::handoff_session_gone;
            if (reason != DropReason::count) {
                enqueue_drop(graph, node, rx_drop, m, reason);
            } else {
                rte_node_enqueue_x1(graph, node, static_cast<rte_edge_t>(rx_drop + 1 + resume), m);
            }
        }
        total = static_cast<uint16_t>(total + n);
    }
    wc.rx_this_loop += total;
    return total;
}

}  // namespace

extern const NodeDef handoff_node = {"handoff",    handoff_process, 0,
                                     handoff_next, handoff_count,   nullptr};
extern const NodeDef handoff_rx_node = {"handoff_rx", handoff_rx_process, RTE_NODE_SOURCE_F,
                                        rx_next,      rx_count,           nullptr};

}  // namespace braid::pipelines
