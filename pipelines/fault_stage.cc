// The fault-injection stage's graph side: see fault_stage.h and dataplane/fault.h.
#include "pipelines/fault_stage.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <algorithm>

namespace braid::pipelines {

namespace {

using dataplane::FaultDirection;
using dataplane::FaultInjector;

constexpr uint32_t max_burst = 256;  // config: workers.burst_size <= 256
constexpr uint32_t pass_cap = FaultInjector::pass_room(max_burst);

uint64_t now_us() {
    const uint64_t per_us = std::max<uint64_t>(app().tsc_hz() / 1'000'000, 1);
    return rte_rdtsc() / per_us;
}

void enqueue(rte_graph* graph, rte_node* node, rte_edge_t edge, rte_mbuf** pkts, uint32_t n) {
    if (n != 0) {  // an empty enqueue would still schedule the next node
        rte_node_enqueue(graph, node, edge, reinterpret_cast<void**>(pkts), n);
    }
}

void to_drop(rte_graph* graph, rte_node* node, rte_edge_t drop_edge, rte_mbuf** pkts, uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
        dataplane::meta(pkts[i]).drop_reason = static_cast<uint8_t>(DropReason::fault_injected);
    }
    enqueue(graph, node, drop_edge, pkts, n);
}

void to_tx_buffers(dataplane::WorkerContext& wc, rte_mbuf** pkts, uint32_t n) {
    const auto& ports = app().ports();
    uint64_t sent = 0;
    for (uint32_t i = 0; i < n; ++i) {
        const auto& port = ports[dataplane::meta(pkts[i]).port_index];
        sent += rte_eth_tx_buffer(port.port_id, wc.txq, wc.tx_buffers[port.index], pkts[i]);
    }
    wc.counters.tx_packets.add(sent);
}

}  // namespace

uint16_t fault_rx_process(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc,
                          uint8_t role, rte_edge_t classify_edge, rte_edge_t drop_edge) {
    dataplane::FaultWorker& fw = wc.fault;
    fw.refresh();
    const uint64_t now = now_us();
    rte_mbuf* pass[pass_cap];
    rte_mbuf* drop[max_burst];

    // Held TX packets of this role leave even when nothing else moves.
    FaultInjector& tx = fw.at(role, FaultDirection::tx);
    if (tx.holding()) {
        FaultInjector::Out out{pass, 0, pass_cap, drop, 0};
        tx.release(now, out);
        to_tx_buffers(wc, pass, out.n_pass);
    }

    FaultInjector& rx = fw.at(role, FaultDirection::rx);
    uint32_t total = 0;
    if (rx.holding()) {
        FaultInjector::Out out{pass, 0, pass_cap, drop, 0};
        rx.release(now, out);
        enqueue(graph, node, classify_edge, pass, out.n_pass);
        total += out.n_pass;
    }
    const uint16_t burst = std::min<uint16_t>(wc.burst, max_burst);
    for (uint16_t i = 0; i < wc.n_rx[role]; ++i) {
        const dataplane::RxQueueRef& q = wc.rx[role][i];
        rte_mbuf* pkts[max_burst];
        const uint16_t n = rte_eth_rx_burst(q.port_id, q.queue, pkts, burst);
        for (uint16_t k = 0; k < n; ++k) {
            dataplane::meta(pkts[k]).port_index = q.port_index;
        }
        wc.counters.rx_packets.add(n);
        wc.rx_this_loop += n;
        if (!rx.enabled()) {
            enqueue(graph, node, classify_edge, pkts, n);
            total += n;
            continue;
        }
        FaultInjector::Out out{pass, 0, pass_cap, drop, 0};
        rx.process(pkts, n, now, out);
        enqueue(graph, node, classify_edge, pass, out.n_pass);
        to_drop(graph, node, drop_edge, drop, out.n_drop);
        total += out.n_pass + out.n_drop;
    }
    // Off again once nothing is enabled and nothing is held (after `clear fault`).
    fw.refresh();
    return static_cast<uint16_t>(std::min<uint32_t>(total, UINT16_MAX));
}

uint16_t fault_tx_process(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc,
                          uint8_t role, void** objs, uint16_t nb, rte_edge_t drop_edge) {
    FaultInjector& tx = wc.fault.at(role, FaultDirection::tx);
    rte_mbuf* pass[pass_cap];
    rte_mbuf* drop[max_burst];
    const uint64_t now = now_us();
    // A graph stream can be longer than a burst: in slices.
    for (uint16_t off = 0; off < nb; off = static_cast<uint16_t>(off + max_burst)) {
        const uint32_t n = std::min<uint32_t>(nb - off, max_burst);
        FaultInjector::Out out{pass, 0, pass_cap, drop, 0};
        tx.process(reinterpret_cast<rte_mbuf* const*>(objs + off), n, now, out);
        to_tx_buffers(wc, pass, out.n_pass);
        to_drop(graph, node, drop_edge, drop, out.n_drop);
    }
    return nb;
}

}  // namespace braid::pipelines
