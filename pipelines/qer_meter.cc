// qer_meter: QoS enforcement (TS 29.244 §5.4) for every QER the matched PDR names, in order:
// the gate of the packet's direction (closed: drop), then the maximum bit rate, policed by an
// rte_meter srTCM (RFC 2697) per QER, per direction and per worker slot — a slot is written by
// one worker only, so there is no shared write on the packet path. pdr_ul / pdr_dl hand every
// packet of a PDR with an MBR to the session's owner worker (pipelines/handoff.cc), so only the
// owner's slot of such a QER ever meters and the session gets its MBR exactly, however RSS
// spreads its flows (DESIGN.md §5); gate-only QERs are checked on whichever worker has the
// packet.
#include <rte_cycles.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_urr_count, next_count };
constexpr const char* next_names[next_count] = {"drop", "urr_count"};

uint16_t qer_meter_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const unsigned worker = ctx(node).wc->index;
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const dataplane::SessionRules& rules = rules_of(m);
        const dataplane::CompiledPdr& pdr = pdr_of(m);
        const bool uplink = dataplane::meta(m).uplink != 0;
        const DropReason reason = qer_check(rules, pdr, uplink, worker, now, accounted_len(m));
        if (reason != DropReason::count) {
            enqueue_drop(graph, node, next_drop, m, reason);
        } else {
            rte_node_enqueue_x1(graph, node, next_urr_count, m);
        }
    }
    return nb;
}

}  // namespace

extern const NodeDef qer_meter_node = {"qer_meter", qer_meter_process, 0,
                                       next_names,  next_count,        nullptr};

}  // namespace braid::pipelines
