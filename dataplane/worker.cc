// The worker loop (DESIGN.md §2): walk the graph, drain TX on time, account cycles, report
// RCU quiescence. Everything a packet does happens inside rte_graph_walk().
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_graph_worker.h>
#include <rte_rcu_qsbr.h>

#include "dataplane/app.h"

namespace braid::dataplane {

namespace {

void flush_tx(const App& app, WorkerContext& wc) {
    for (const auto& p : app.ports()) {
        wc.counters.tx_packets.add(
            rte_eth_tx_buffer_flush(p.port_id, wc.txq, wc.tx_buffers[p.index]));
    }
}

}  // namespace

int App::worker_main(void* arg) {
    auto& wc = *static_cast<WorkerContext*>(arg);
    App& app = *current_app;
    uint64_t prev = rte_rdtsc();
    wc.last_drain_tsc = prev;

    while (app.running()) {
        wc.rx_this_loop = 0;
        rte_graph_walk(wc.graph);
        if (wc.call.load(std::memory_order_relaxed) != nullptr) {
            if (WorkerCall* c = wc.call.exchange(nullptr, std::memory_order_acq_rel)) {
                c->fn(wc);
                c->done.store(true, std::memory_order_release);
            }
        }

        uint64_t now = rte_rdtsc();
        if (now - wc.last_drain_tsc >= wc.drain_tsc) {
            flush_tx(app, wc);
            wc.last_drain_tsc = now;
        }
        (wc.rx_this_loop > 0 ? wc.counters.busy_cycles : wc.counters.idle_cycles).add(now - prev);
        wc.counters.loops.add();
        prev = now;
        // Nothing from a published snapshot is held across this point.
        rte_rcu_qsbr_quiescent(app.rcu(), wc.index);
    }
    flush_tx(app, wc);
    rte_rcu_qsbr_thread_offline(app.rcu(), wc.index);
    return 0;
}

}  // namespace braid::dataplane
