// urr_count: usage measurement (TS 29.244 §5.2.2) for every URR the matched PDR names: packets
// and octets per direction plus first/last packet time, into this worker's slice of the URR's
// counters (outside the snapshot: they survive modifications). The control core sums the
// slices, checks the thresholds and periodic triggers, and reports (dataplane/usage.h).
// Packets the FAR drops are not counted; packets it buffers are.
#include <rte_cycles.h>

#include "pipelines/node.h"
#include "pipelines/upf.h"

namespace braid::pipelines {

namespace {

enum Next : rte_edge_t { next_far_forward, next_count };
constexpr const char* next_names[next_count] = {"far_forward"};

uint16_t urr_count_process(rte_graph* graph, rte_node* node, void** objs, uint16_t nb) {
    const unsigned worker = ctx(node).wc->index;
    const uint64_t now = rte_rdtsc();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const dataplane::SessionRules& rules = rules_of(m);
        const dataplane::CompiledPdr& pdr = pdr_of(m);
        if (!far_of(m).action.drop) {
            count_usage(rules, pdr, m, worker, now);
        }
    }
    rte_node_next_stream_move(graph, node, next_far_forward);
    return nb;
}

}  // namespace

extern const NodeDef urr_count_node = {"urr_count", urr_count_process, 0,
                                       next_names,  next_count,        nullptr};

}  // namespace braid::pipelines
