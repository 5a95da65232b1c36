// qer_meter: QoS enforcement (TS 29.244 §5.4) for every QER the matched PDR names, in order:
// the gate of the packet's direction (closed: drop), then the maximum bit rate, policed by an
// rte_meter srTCM (RFC 2697) per QER, per direction and per worker slot — a slot is written by
// one worker only, so there is no shared write on the packet path. pdr_ul / pdr_dl hand every
// packet of a PDR with an MBR to the session's owner worker (pipelines/handoff.cc), so only the
// owner's slot of such a QER ever meters and the session gets its MBR exactly, however RSS
// spreads its flows (DESIGN.md §5); gate-only QERs are checked on whichever worker has the
// packet.
#include <rte_cycles.h>
#include <rte_meter.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_drop, next_urr_count, next_count };
constexpr const char* next_names[next_count] = {"drop", "urr_count"};

DropReason police(const dataplane::CompiledQer& q, bool uplink, unsigned worker, uint64_t now,
                  uint32_t len) {
    if (uplink ? !q.qer.gate_ul_open : !q.qer.gate_dl_open) {
        return DropReason::qer_gate_closed;
    }
    if (!(uplink ? q.limit_ul : q.limit_dl)) {
        return DropReason::count;
    }
    // rte_meter takes the profile by non-const pointer but only reads it; the snapshot's
    // profile is immutable.
    auto* profile = const_cast<rte_meter_srtcm_profile*>(uplink ? &q.ul_profile : &q.dl_profile);
    dataplane::MeterSlice* slice = q.meters.at(worker, uplink);
    if (slice == nullptr) {
        // Sized before this worker existed (SessionTable::set_workers): not policed here. The
        // owner worker meters a session's MBRs, and owners are below the size.
        return DropReason::count;
    }
    dataplane::MeterSlice& s = *slice;
    if (s.profile != profile) {
        // A new snapshot (or the first packet): start this worker's bucket full.
        rte_meter_srtcm_config(&s.meter, profile);
        s.profile = profile;
    }
    const rte_color c = rte_meter_srtcm_color_blind_check(&s.meter, profile, now, len);
    return c == RTE_COLOR_RED ? DropReason::qer_mbr_exceeded : DropReason::count;
}

uint16_t qer_meter_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const unsigned worker = ctx(node).wc->index;
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const dataplane::SessionRules& rules = rules_of(m);
        const dataplane::CompiledPdr& pdr = pdr_of(m);
        const bool uplink = dataplane::meta(m).uplink != 0;
        DropReason reason = DropReason::count;
        for (uint16_t qi : pdr.qer_indices) {
            reason = police(rules.qers[qi], uplink, worker, now, accounted_len(m));
            if (reason != DropReason::count) {
                break;
            }
        }
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
