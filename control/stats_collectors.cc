// /metrics for the dataplane. Runs on the exporter's thread at scrape time: it only reads
// (per-worker single-writer counters, ethdev statistics, atomics the control core publishes).
#include <rte_ethdev.h>

#include <string>

#include "control/commands.h"
#include "pipelines/graph.h"

namespace braid::control {

namespace {

using metrics::Family;
using metrics::Sample;
using metrics::Type;

Family family(std::string name, std::string help, Type type) {
    return Family{std::move(name), std::move(help), type, {}};
}

void port_families(const dataplane::App& app, std::vector<Family>& out) {
    auto rx_p = family("braid_port_rx_packets_total", "Packets received, per port and queue",
                       Type::counter);
    auto tx_p =
        family("braid_port_tx_packets_total", "Packets sent, per port and queue", Type::counter);
    auto rx_b =
        family("braid_port_rx_bytes_total", "Bytes received, per port and queue", Type::counter);
    auto tx_b =
        family("braid_port_tx_bytes_total", "Bytes sent, per port and queue", Type::counter);
    auto rx_e = family("braid_port_rx_errors_total", "Erroneous received packets", Type::counter);
    auto tx_e = family("braid_port_tx_errors_total", "Failed transmissions", Type::counter);
    auto miss = family("braid_port_rx_missed_total", "Packets dropped by the device: RX queue full",
                       Type::counter);
    auto nomb = family("braid_port_rx_nombuf_total", "RX mbuf allocation failures", Type::counter);
    auto link = family("braid_port_link_up", "1 when the link is up", Type::gauge);
    for (const auto& p : app.ports()) {
        rte_eth_stats s{};
        if (rte_eth_stats_get(p.port_id, &s) != 0) {
            continue;
        }
        for (unsigned q = 0; q < p.rx_queues && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) {
            std::vector<std::pair<std::string, std::string>> l{{"port", p.name},
                                                               {"queue", std::to_string(q)}};
            rx_p.samples.push_back({l, double(s.q_ipackets[q])});
            rx_b.samples.push_back({l, double(s.q_ibytes[q])});
        }
        for (unsigned q = 0; q < p.tx_queues && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) {
            std::vector<std::pair<std::string, std::string>> l{{"port", p.name},
                                                               {"queue", std::to_string(q)}};
            tx_p.samples.push_back({l, double(s.q_opackets[q])});
            tx_b.samples.push_back({l, double(s.q_obytes[q])});
        }
        std::vector<std::pair<std::string, std::string>> l{{"port", p.name}};
        rx_e.samples.push_back({l, double(s.ierrors)});
        tx_e.samples.push_back({l, double(s.oerrors)});
        miss.samples.push_back({l, double(s.imissed)});
        nomb.samples.push_back({l, double(s.rx_nombuf)});
        rte_eth_link lk{};
        rte_eth_link_get_nowait(p.port_id, &lk);
        link.samples.push_back({l, lk.link_status ? 1.0 : 0.0});
    }
    for (auto* f : {&rx_p, &tx_p, &rx_b, &tx_b, &rx_e, &tx_e, &miss, &nomb, &link}) {
        out.push_back(std::move(*f));
    }
}

void worker_families(const dataplane::App& app, std::vector<Family>& out) {
    auto busy = family("braid_worker_busy_cycles_total",
                       "TSC cycles of loops that received packets", Type::counter);
    auto idle = family("braid_worker_idle_cycles_total",
                       "TSC cycles of loops that received nothing", Type::counter);
    auto loops = family("braid_worker_loops_total", "Poll loop iterations", Type::counter);
    auto rx = family("braid_worker_rx_packets_total", "Packets the worker received", Type::counter);
    auto tx = family("braid_worker_tx_packets_total", "Packets the worker handed to TX queues",
                     Type::counter);
    auto w2m = family("braid_worker_events_lost_total", "Worker-to-control events lost: ring full",
                      Type::counter);
    auto calls = family("braid_graph_node_calls_total", "Graph node invocations", Type::counter);
    auto objs = family("braid_graph_node_objects_total", "Packets processed by a graph node",
                       Type::counter);
    auto cyc =
        family("braid_graph_node_cycles_total", "TSC cycles spent in a graph node", Type::counter);
    for (const auto* wc : app.workers()) {
        std::vector<std::pair<std::string, std::string>> l{{"worker", std::to_string(wc->index)}};
        const auto& c = wc->counters;
        busy.samples.push_back({l, double(c.busy_cycles.get())});
        idle.samples.push_back({l, double(c.idle_cycles.get())});
        loops.samples.push_back({l, double(c.loops.get())});
        rx.samples.push_back({l, double(c.rx_packets.get())});
        tx.samples.push_back({l, double(c.tx_packets.get())});
        w2m.samples.push_back({l, double(c.w2m_full.get())});
        for (const auto& s : pipelines::node_stats(*wc)) {
            std::vector<std::pair<std::string, std::string>> nl{
                {"node", s.name}, {"worker", std::to_string(wc->index)}};
            calls.samples.push_back({nl, double(s.calls)});
            objs.samples.push_back({nl, double(s.objs)});
            cyc.samples.push_back({nl, double(s.cycles)});
        }
    }
    for (auto* f : {&busy, &idle, &loops, &rx, &tx, &w2m, &calls, &objs, &cyc}) {
        out.push_back(std::move(*f));
    }
    // Worker → worker hand-off (DESIGN.md §5), per ordered pair.
    auto ho = family("braid_handoff_packets_total",
                     "Packets handed to another worker (the owner of their session or flow)",
                     Type::counter);
    auto ho_drops =
        family("braid_handoff_drops_total",
               "Packets dropped because the hand-off ring to the owner was full", Type::counter);
    for (const auto* wc : app.workers()) {
        for (unsigned to = 0; to < wc->n_workers; ++to) {
            if (to == wc->index) {
                continue;
            }
            std::vector<std::pair<std::string, std::string>> l{
                {"from_worker", std::to_string(wc->index)}, {"to_worker", std::to_string(to)}};
            ho.samples.push_back({l, double(wc->counters.handoff_packets[to].get())});
            ho_drops.samples.push_back({l, double(wc->counters.handoff_drops[to].get())});
        }
    }
    out.push_back(std::move(ho));
    out.push_back(std::move(ho_drops));
    auto drops = family("braid_drop_packets_total", "Packets dropped, by reason", Type::counter);
    for (size_t r = 0; r < pipelines::drop_reason_count; ++r) {
        drops.samples.push_back({{{"reason", std::string(pipelines::drop_reason_table[r].name)}},
                                 double(app.drops(static_cast<pipelines::DropReason>(r)))});
    }
    out.push_back(std::move(drops));
}

// The user plane: GTP-U signalling the workers send, encapsulation counts, and the control
// core's session side (published once a second by App::publish_control_stats).
void upf_families(const dataplane::App& app, std::vector<Family>& out) {
    auto sum = [&app](dataplane::Counter dataplane::WorkerCounters::*c) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += (wc->counters.*c).get();
        }
        return double(n);
    };
    using WC = dataplane::WorkerCounters;
    auto counter = [&out](const char* name, const char* help, double v) {
        out.push_back({name, help, Type::counter, {{{}, v}}});
    };
    counter("braid_gtpu_error_indications_sent_total",
            "GTP-U Error Indications sent for G-PDUs to unknown TEIDs", sum(&WC::error_ind_sent));
    counter("braid_gtpu_sehn_sent_total", "Supported Extension Headers Notifications sent",
            sum(&WC::sehn_sent));
    counter("braid_gtpu_encapsulated_total", "G-PDUs built toward N3 (downlink)",
            sum(&WC::gtpu_encapsulated));
    counter("braid_gtpu_decapsulated_total", "T-PDUs forwarded to N6 (uplink)",
            sum(&WC::gtpu_decapsulated));
    counter("braid_far_duplicated_total",
            "copies sent for FARs with Apply Action DUPL (Duplicating Parameters)",
            sum(&WC::far_duplicated));
    counter("braid_icmp_too_big_sent_total",
            "ICMP Fragmentation Needed / ICMPv6 Packet Too Big sent for packets too big for N3",
            sum(&WC::icmp_too_big_sent));
    counter("braid_gtpu_fragmented_total",
            "IPv4 packets fragmented to fit the N3 MTU once encapsulated",
            sum(&WC::fragmented_for_n3));
    // RFC 1122 §2.3.2.2: packets held while their next hop resolves (drops by reason are in
    // braid_drop_packets_total: neighbor_queue_full, neighbor_resolution_failed, ..._timeout).
    counter("braid_neighbor_held_total", "Packets held for an unresolved next hop",
            sum(&WC::neighbor_held));
    counter("braid_neighbor_released_total", "Held packets sent once their next hop resolved",
            sum(&WC::neighbor_released));
    out.push_back({"braid_neighbor_holding",
                   "Packets held for an unresolved next hop now",
                   Type::gauge,
                   {{{}, sum(&WC::neighbor_holding)}}});
    // IPv6 Neighbor Discovery (RFC 4861) on the workers; bad ND input is in
    // braid_drop_packets_total with the nd_* reasons.
    out.push_back(
        {"braid_nd_messages_total",
         "Neighbor Discovery messages handled by the workers, by type and direction",
         Type::counter,
         {{{{"type", "solicitation"}, {"direction", "received"}},
           sum(&WC::nd_solicitations_received)},
          {{{"type", "advertisement"}, {"direction", "received"}},
           sum(&WC::nd_advertisements_received)},
          {{{"type", "advertisement"}, {"direction", "sent"}}, sum(&WC::nd_advertisements_sent)}}});
    const auto& cs = app.control_stats();
    auto get = [](const std::atomic<uint64_t>& a) {
        return double(a.load(std::memory_order_relaxed));
    };
    out.push_back({"braid_sessions", "Sessions installed", Type::gauge, {{{}, get(cs.sessions)}}});
    out.push_back({"braid_session_changes_total",
                   "Session action function calls, by operation and result",
                   Type::counter,
                   {{{{"op", "create"}}, get(cs.sessions_created)},
                    {{{"op", "modify"}}, get(cs.sessions_modified)},
                    {{{"op", "delete"}}, get(cs.sessions_deleted)},
                    {{{"op", "rejected"}}, get(cs.sessions_rejected)}}});
    out.push_back({"braid_session_reports_total",
                   "Reports raised for the SMF, by type",
                   Type::counter,
                   {{{{"type", "usage"}}, get(cs.usage_reports)},
                    {{{"type", "error_indication"}}, get(cs.error_ind_reports)},
                    {{{"type", "downlink_data"}}, get(cs.downlink_data_reports)}}});
    counter("braid_error_indications_unmatched_total",
            "Error Indications received for a tunnel no session uses", get(cs.error_ind_unmatched));
    counter("braid_session_reports_dropped_total",
            "Reports dropped because nobody took them before the bound", get(cs.reports_dropped));
    counter("braid_gtpu_end_markers_sent_total", "End Markers sent on tunnel changes",
            get(cs.end_markers_sent));
    out.push_back({"braid_buffered_packets",
                   "Downlink packets held for sessions (FAR BUFF)",
                   Type::gauge,
                   {{{}, get(cs.buffered_now)}}});
    out.push_back({"braid_buffer_packets_total",
                   "Downlink buffering, by outcome",
                   Type::counter,
                   {{{{"outcome", "buffered"}}, get(cs.buffered_total)},
                    {{{"outcome", "released"}}, get(cs.buffer_released)},
                    {{{"outcome", "dropped_oldest"}}, get(cs.buffer_dropped_oldest)},
                    {{{"outcome", "discarded"}}, get(cs.buffer_discarded)}}});
    auto peers =
        family("braid_gtpu_peers", "GTP-U peers sessions tunnel to, by path state", Type::gauge);
    for (size_t st = 0; st < cs.gtpu_peers_by_state.size(); ++st) {
        peers.samples.push_back({{{"state", std::string(dataplane::to_string(
                                                static_cast<dataplane::GtpuPaths::State>(st)))}},
                                 get(cs.gtpu_peers_by_state[st])});
    }
    out.push_back(std::move(peers));
    out.push_back({"braid_gtpu_echo_total",
                   "GTP-U path management: Echo Requests sent and their outcomes",
                   Type::counter,
                   {{{{"event", "request_sent"}}, get(cs.gtpu_echo_requests_sent)},
                    {{{"event", "response"}}, get(cs.gtpu_echo_responses)},
                    {{{"event", "unexpected_response"}}, get(cs.gtpu_echo_unexpected)},
                    {{{"event", "timeout"}}, get(cs.gtpu_echo_timeouts)}}});
    counter("braid_gtpu_path_failures_total",
            "GTP-U paths declared down (N3-REQUESTS Echo Requests unanswered)",
            get(cs.gtpu_path_failures));
    counter("braid_gtpu_path_recoveries_total", "GTP-U paths back up after a failure",
            get(cs.gtpu_path_recoveries));
}

}  // namespace

void add_dataplane_collectors(metrics::Exporter& exporter, CommandContext& ctx) {
    dataplane::App& app = ctx.app;
    exporter.add_collector("ports", [&app](std::vector<Family>& out) { port_families(app, out); });
    exporter.add_collector("workers",
                           [&app](std::vector<Family>& out) { worker_families(app, out); });
    exporter.add_collector("upf", [&app](std::vector<Family>& out) { upf_families(app, out); });
    exporter.add_collector("tcp", [&app](std::vector<Family>& out) { tcp_families(app, out); });
    exporter.add_collector("fault", [&app](std::vector<Family>& out) { fault_families(app, out); });
    exporter.add_collector("control", [&app, &ctx](std::vector<Family>& out) {
        const auto& cs = app.control_stats();
        auto f = family("braid_neighbor_entries", "Neighbor table entries, by state", Type::gauge);
        for (size_t s = 0; s < cs.neighbors_by_state.size(); ++s) {
            f.samples.push_back({{{"state", std::string(dataplane::to_string(
                                                static_cast<dataplane::NeighborState>(s)))}},
                                 double(cs.neighbors_by_state[s].load(std::memory_order_relaxed))});
        }
        out.push_back(std::move(f));
        out.push_back({"braid_neighbor_requests_sent_total",
                       "ARP requests sent by the control core",
                       Type::counter,
                       {{{}, double(cs.arp_requests_sent.load(std::memory_order_relaxed))}}});
        out.push_back({"braid_nd_solicitations_sent_total",
                       "IPv6 Neighbor Solicitations sent by the control core (RFC 4861 §7.2.2)",
                       Type::counter,
                       {{{}, double(cs.nd_solicitations_sent.load(std::memory_order_relaxed))}}});
        out.push_back({"braid_control_tx_failures_total",
                       "Control packets that could not be sent",
                       Type::counter,
                       {{{}, double(cs.control_tx_failures.load(std::memory_order_relaxed))}}});
        if (ctx.cli_server != nullptr) {
            out.push_back({"braid_cli_requests_total",
                           "CLI command lines executed over the socket",
                           Type::counter,
                           {{{}, double(ctx.cli_requests.load(std::memory_order_relaxed))}}});
            out.push_back({"braid_cli_errors_total",
                           "CLI lines rejected over the socket",
                           Type::counter,
                           {{{}, double(ctx.cli_errors.load(std::memory_order_relaxed))}}});
        }
    });
}

}  // namespace braid::control
