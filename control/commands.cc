#include "control/commands.h"

#include <arpa/inet.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <rte_version.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <ctime>
#include <optional>
#include <string>

#include "control/config.h"
#include "control/log.h"
#include "control/pfcp/server.h"
#include "control/pfcp/session_procedures.h"
#include "pipelines/graph.h"

namespace braid::control {

namespace {

using cli::Args;
using cli::Output;
using dataplane::PortRuntime;

std::string ipv4_text(uint32_t host) {
    in_addr a{htonl(host)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof(buf));
    return buf;
}

std::string ipv6_text(const std::array<uint8_t, 16>& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
    return buf;
}

std::string mac_text(const uint8_t* b) {
    char buf[18];
    std::snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                  b[5]);
    return buf;
}

// The ports a command names: "all" or one DPDK port id. Writes an error when the id is unknown.
std::vector<const PortRuntime*> selected_ports(const dataplane::App& app, const Args& args,
                                               Output& out) {
    std::vector<const PortRuntime*> v;
    if (auto id = args.get_uint("port")) {
        const PortRuntime* p = app.port_by_id(static_cast<uint16_t>(*id));
        if (p == nullptr) {
            out.printf("error: no port %" PRIu64 " (see 'show port info all')\n", *id);
        } else {
            v.push_back(p);
        }
        return v;
    }
    for (const auto& p : app.ports()) {
        v.push_back(&p);
    }
    return v;
}

void show_version(const Args&, Output& out) {
    out.printf("braid %s (git %s)\n%s\ncompiler: %s\n", BRAID_VERSION, BRAID_GIT_REV, rte_version(),
               __VERSION__);
}

void show_port_info(dataplane::App& app, const Args& args, Output& out) {
    for (const PortRuntime* p : selected_ports(app, args, out)) {
        rte_eth_link link{};
        rte_eth_link_get_nowait(p->port_id, &link);
        out.printf("port %u: %s (role %s)\n", p->port_id, p->name.c_str(),
                   std::string(config::to_string(p->role)).c_str());
        out.printf("  device      %s (driver %s)\n", p->device.c_str(), p->driver.c_str());
        out.printf("  mac         %s\n", mac_text(p->mac.addr_bytes).c_str());
        out.printf("  link        %s, %u Mbps, %s duplex\n", link.link_status ? "up" : "down",
                   link.link_speed, link.link_duplex ? "full" : "half");
        out.printf("  mtu         %u\n", p->mtu);
        out.printf("  queues      rx %u, tx %u (one per worker)\n", p->rx_queues, p->tx_queues);
        if (p->has_ipv4) {
            out.printf("  ipv4        %s/%u\n", ipv4_text(p->ipv4).c_str(), p->ipv4_len);
        }
        if (p->has_gateway_ipv4) {
            out.printf("  gateway     %s\n", ipv4_text(p->gateway_ipv4).c_str());
        }
        if (p->has_ipv6) {
            out.printf("  ipv6        %s/%u\n", ipv6_text(p->ipv6).c_str(), p->ipv6_len);
        }
        out.printf("  link-local  %s\n", ipv6_text(p->ipv6_link_local).c_str());
        std::string key;
        for (uint8_t b : p->rss.key) {
            char h[3];
            std::snprintf(h, sizeof(h), "%02x", b);
            key += h;
        }
        out.printf("  rss         %s, reta size %zu, hash functions 0x%" PRIx64 "\n",
                   p->rss.device_rss ? "device" : "software (device does not hash)",
                   p->rss.reta.size(), p->rss.rss_hf);
        out.printf("  rss key     %s\n", key.c_str());
    }
}

void show_port_stats(dataplane::App& app, const Args& args, Output& out) {
    for (const PortRuntime* p : selected_ports(app, args, out)) {
        rte_eth_stats s{};
        rte_eth_stats_get(p->port_id, &s);
        out.printf("port %u (%s)\n", p->port_id, p->name.c_str());
        out.printf("  rx packets %-14" PRIu64 " bytes %-16" PRIu64 " errors %-10" PRIu64
                   " missed %-10" PRIu64 " no-mbuf %" PRIu64 "\n",
                   s.ipackets, s.ibytes, s.ierrors, s.imissed, s.rx_nombuf);
        out.printf("  tx packets %-14" PRIu64 " bytes %-16" PRIu64 " errors %" PRIu64 "\n",
                   s.opackets, s.obytes, s.oerrors);
        const unsigned nq = std::max(p->rx_queues, p->tx_queues);
        for (unsigned q = 0; q < nq && q < RTE_ETHDEV_QUEUE_STAT_CNTRS; ++q) {
            out.printf("  queue %-3u rx %-12" PRIu64 " tx %-12" PRIu64 "\n", q, s.q_ipackets[q],
                       s.q_opackets[q]);
        }
    }
}

void show_port_xstats(dataplane::App& app, const Args& args, Output& out) {
    for (const PortRuntime* p : selected_ports(app, args, out)) {
        int n = rte_eth_xstats_get(p->port_id, nullptr, 0);
        if (n < 0) {
            out.printf("error: port %u: cannot read extended statistics\n", p->port_id);
            continue;
        }
        std::vector<rte_eth_xstat> xs(static_cast<size_t>(n));
        std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
        rte_eth_xstats_get(p->port_id, xs.data(), static_cast<unsigned>(n));
        rte_eth_xstats_get_names(p->port_id, names.data(), static_cast<unsigned>(n));
        out.printf("port %u (%s): %d extended statistics\n", p->port_id, p->name.c_str(), n);
        for (const auto& x : xs) {
            out.printf("  %-40s %" PRIu64 "\n", names[x.id].name, x.value);
        }
    }
}

void clear_port_stats(dataplane::App& app, const Args& args, Output& out) {
    for (const PortRuntime* p : selected_ports(app, args, out)) {
        rte_eth_stats_reset(p->port_id);
        rte_eth_xstats_reset(p->port_id);
        out.printf("port %u (%s): statistics cleared\n", p->port_id, p->name.c_str());
    }
}

void show_lcores(CommandContext& ctx, const Args&, Output& out) {
    auto& app = ctx.app;
    out.printf("lcore %-3u control   (main lcore: CLI, metrics, neighbors)\n",
               rte_get_main_lcore());
    for (const auto* wc : app.workers()) {
        const auto& c = wc->counters;
        uint64_t busy = c.busy_cycles.get();
        uint64_t idle = c.idle_cycles.get();
        double total_pct = busy + idle > 0 ? 100.0 * double(busy) / double(busy + idle) : 0.0;
        double window = wc->index < ctx.lcore_samples.size()
                            ? ctx.lcore_samples[wc->index].busy_pct_window
                            : 0.0;
        std::string queues;
        for (size_t role = 0; role < 2; ++role) {
            for (uint16_t i = 0; i < wc->n_rx[role]; ++i) {
                const auto& q = wc->rx[role][i];
                queues += " " + app.ports()[q.port_index].name + "/" + std::to_string(q.queue);
            }
        }
        out.printf(
            "lcore %-3u worker %u  busy %5.1f%% (last 1 s) %5.1f%% (since start)  loops %" PRIu64
            "  rx %" PRIu64 "  tx %" PRIu64 "  queues:%s\n",
            wc->lcore_id, wc->index, window, total_pct, c.loops.get(), c.rx_packets.get(),
            c.tx_packets.get(), queues.c_str());
    }
}

void show_graph(dataplane::App& app, const Args&, Output& out) {
    out.printf("nodes and edges:\n");
    for (const auto& n : pipelines::graph_edges()) {
        std::string next;
        for (const auto& e : n.next) {
            next += (next.empty() ? "" : ", ") + e;
        }
        out.printf("  %-14s%s -> %s\n", n.name.c_str(), n.source ? " (source)" : "",
                   next.empty() ? "(sink)" : next.c_str());
    }
    for (const auto* wc : app.workers()) {
        out.printf("worker %u (lcore %u):\n", wc->index, wc->lcore_id);
        out.printf("  %-14s %14s %14s %16s %10s\n", "node", "calls", "objects", "cycles",
                   "cyc/obj");
        for (const auto& s : pipelines::node_stats(*wc)) {
            out.printf("  %-14s %14" PRIu64 " %14" PRIu64 " %16" PRIu64 " %10.1f\n", s.name.c_str(),
                       s.calls, s.objs, s.cycles, s.objs ? double(s.cycles) / double(s.objs) : 0.0);
        }
    }
}

void show_graph_dot(dataplane::App& app, const Args&, Output& out) {
    if (app.workers().empty()) {
        out.printf("error: no worker graph\n");
        return;
    }
    out.write(pipelines::graph_dot(*app.workers()[0]));
}

void show_neighbors(dataplane::App& app, const Args&, Output& out, uint64_t now_ms) {
    auto entries = app.neighbors().entries();
    // Packets the workers hold for each entry (their hold queues are theirs alone: asked
    // between two graph walks).
    std::vector<size_t> held_by_entry(entries.size(), 0);
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        app.call_on_worker(w, [&entries, &held_by_entry](dataplane::WorkerContext& wc) {
            for (size_t i = 0; wc.hold != nullptr && i < entries.size(); ++i) {
                held_by_entry[i] += wc.hold->held_for(entries[i].key);
            }
        });
    }
    out.printf("%-8s %-4s %-26s %-18s %-11s %8s %9s %5s\n", "port", "af", "address", "mac", "state",
               "age_s", "requests", "held");
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& n = entries[i];
        out.printf(
            "%-8s %-4s %-26s %-18s %-11s %8.1f %9" PRIu64 " %5zu%s\n",
            app.ports()[n.key.port_index].name.c_str(), n.key.v6 ? "ipv6" : "ipv4",
            dataplane::address_text(n.key).c_str(),
            n.state == dataplane::NeighborState::incomplete ? "-" : mac_text(n.mac.data()).c_str(),
            std::string(dataplane::to_string(n.state)).c_str(),
            double(now_ms - std::min(now_ms, n.updated_ms)) / 1000.0, n.requests_sent,
            held_by_entry[i], n.pinned ? "  (next hop)" : "");
    }
    const auto& s = app.neighbors().stats();
    out.printf("%zu entries; requests sent %" PRIu64 " (ARP %" PRIu64 ", NS %" PRIu64
               "), learned %" PRIu64 ", failures %" PRIu64 ", table full %" PRIu64 "\n",
               entries.size(), s.requests_sent, s.requests_sent - s.solicitations_sent,
               s.solicitations_sent, s.learned, s.resolution_failures, s.table_full);
    // The workers' hold queues (RFC 1122 §2.3.2.2), read from their counters.
    uint64_t holding = 0, held = 0, released = 0;
    for (const auto* wc : app.workers()) {
        holding += wc->counters.neighbor_holding.get();
        held += wc->counters.neighbor_held.get();
        released += wc->counters.neighbor_released.get();
    }
    uint64_t ns_in = 0, na_in = 0, na_out = 0;
    for (const auto* wc : app.workers()) {
        ns_in += wc->counters.nd_solicitations_received.get();
        na_in += wc->counters.nd_advertisements_received.get();
        na_out += wc->counters.nd_advertisements_sent.get();
    }
    out.printf("neighbor discovery: NS received %" PRIu64 ", NA received %" PRIu64
               ", NA sent %" PRIu64 " (drops by reason: show drops, nd_*)\n",
               ns_in, na_in, na_out);
    using pipelines::DropReason;
    const auto& cn = app.config().neighbors;
    out.printf("held now %" PRIu64 " (at most %u per next hop, %u per worker); held %" PRIu64
               ", released %" PRIu64 ", dropped: queue full %" PRIu64 ", resolution failed %" PRIu64
               ", timeout %" PRIu64 "\n",
               holding, cn.hold_per_neighbor, cn.hold_total, held, released,
               app.drops(DropReason::neighbor_queue_full),
               app.drops(DropReason::neighbor_resolution_failed),
               app.drops(DropReason::neighbor_hold_timeout));
}

void show_drops(dataplane::App& app, const Args& args, Output& out) {
    const bool all = args.has("all");
    uint64_t total = 0;
    out.printf("%-20s %14s  %s\n", "reason", "packets", "meaning");
    for (size_t r = 0; r < pipelines::drop_reason_count; ++r) {
        uint64_t n = app.drops(static_cast<pipelines::DropReason>(r));
        total += n;
        if (n > 0 || all) {
            const auto& info = pipelines::drop_reason_table[r];
            out.printf("%-20.*s %14" PRIu64 "  %.*s\n", int(info.name.size()), info.name.data(), n,
                       int(info.help.size()), info.help.data());
        }
    }
    out.printf("%-20s %14" PRIu64 "\n", "total", total);
}

void show_handoff(dataplane::App& app, const Args&, Output& out) {
    const auto& workers = app.workers();
    if (workers.size() < 2) {
        out.printf("one worker: no hand-off\n");
        return;
    }
    out.printf("%-6s %-6s %14s %14s %12s\n", "from", "to", "packets", "drops", "ring fill");
    for (const auto* wc : workers) {
        for (unsigned to = 0; to < wc->n_workers; ++to) {
            const rte_ring* r = wc->handoff_out[to];
            if (r == nullptr) {
                continue;
            }
            out.printf("%-6u %-6u %14" PRIu64 " %14" PRIu64 " %6u/%-5u\n", wc->index, to,
                       wc->counters.handoff_packets[to].get(), wc->counters.handoff_drops[to].get(),
                       rte_ring_count(r), rte_ring_get_capacity(r));
        }
    }
    const auto& owned = app.sessions().owned();
    std::string per_worker;
    for (size_t w = 0; w < owned.size(); ++w) {
        per_worker += " " + std::to_string(w) + ":" + std::to_string(owned[w]);
    }
    out.printf("sessions owned per worker:%s\n", per_worker.c_str());
}

void show_flows(dataplane::App& app, const Args& args, Output& out) {
    const size_t max = args.get_uint("count").value_or(20);
    const auto& flows = app.flows();
    out.printf("%u flows (capacity %u)\n", flows.size(), flows.capacity());
    for (const auto& [key, owner] : flows.entries(max)) {
        out.printf("  %-60s worker %u\n", key.to_string().c_str(), owner);
    }
}

void set_log(const Args& args, Output& out) {
    std::string err;
    auto comp = args.get("component").value_or("");
    auto level = args.get("level").value_or("");
    if (!log::set_level(comp, level, &err)) {
        out.printf("error: %s\n", err.c_str());
        return;
    }
    out.printf("log level of %.*s set to %.*s\n", int(comp.size()), comp.data(), int(level.size()),
               level.data());
}

void show_log(const Args&, Output& out) {
    for (const auto& [c, l] : log::levels()) {
        out.printf("%-10s %s\n", c.c_str(), l.c_str());
    }
}

uint64_t now_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

std::string utc_text(int64_t unix_seconds) {
    const auto t = static_cast<time_t>(unix_seconds);
    tm tm{};
    char buf[32] = "?";
    if (gmtime_r(&t, &tm) != nullptr) {
        std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    return buf;
}

std::string ago_text(uint64_t now, std::optional<uint64_t> then) {
    if (!then) {
        return "never";
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f s ago", double(now - std::min(now, *then)) / 1000.0);
    return buf;
}

bool pfcp_enabled(const CommandContext& ctx, Output& out) {
    if (ctx.pfcp == nullptr) {
        out.printf("error: PFCP is disabled (pfcp.enabled: false)\n");
        return false;
    }
    return true;
}

void show_pfcp_associations(const CommandContext& ctx, const Args&, Output& out) {
    if (!pfcp_enabled(ctx, out)) {
        return;
    }
    const pfcp::Node& node = ctx.pfcp->node();
    const uint64_t now = now_ms();
    const auto assocs = node.associations();
    out.printf("braid node id %s, recovery time %s, up features: %s\n",
               pfcp::to_string(node.config().node_id).c_str(),
               utc_text(node.config().recovery_time.to_unix()).c_str(),
               pfcp::to_string(node.config().features).c_str());
    out.printf("%-24s %-24s %-21s %-12s %-6s %-14s %s\n", "peer node id", "address",
               "recovery time", "state", "origin", "last heartbeat", "cp features");
    for (const auto& a : assocs) {
        out.printf("%-24s %-24s %-21s %-12s %-6s %-14s %s\n", pfcp::to_string(a.node_id).c_str(),
                   a.address.to_string().c_str(), utc_text(a.recovery_time.to_unix()).c_str(),
                   std::string(pfcp::to_string(a.state)).c_str(), a.up_initiated ? "up" : "cp",
                   ago_text(now, a.last_heartbeat_ms).c_str(),
                   a.cp_features ? pfcp::to_string(*a.cp_features).c_str() : "-");
        if (a.heartbeat_misses != 0) {
            out.printf("  %u heartbeat requests unanswered in a row\n", a.heartbeat_misses);
        }
    }
    for (const auto& p : node.pending_peers()) {
        out.printf("%-24s %-24s %-21s %-12s %-6s %-14s attempts %u\n", "-",
                   p.address.to_string().c_str(), "-", p.in_flight ? "setting-up" : "retrying",
                   "up", "-", p.attempts);
    }
    out.printf("%zu associations\n", assocs.size());
}

void show_ue_pools(const CommandContext& ctx, const Args&, Output& out) {
    if (!pfcp_enabled(ctx, out) || ctx.pfcp_sessions == nullptr) {
        return;
    }
    const auto stats = ctx.pfcp_sessions->ue_ip_pools().stats();
    if (stats.empty()) {
        out.printf("no UE IP pools (pfcp.ue_ip_pools): CHV4/CHV6 are refused, UEIP not claimed\n");
        return;
    }
    out.printf("%-28s %-16s %20s %20s\n", "pool", "network instance", "size", "used");
    for (const auto& s : stats) {
        // The name carries the network instance too; print the prefix alone.
        const std::string prefix = s.name.substr(0, s.name.find(' '));
        out.printf("%-28s %-16s %20" PRIu64 " %20" PRIu64 "\n", prefix.c_str(),
                   s.network_instance.empty() ? "(any)" : s.network_instance.c_str(), s.size,
                   s.used);
    }
    out.printf("sizes count IPv4 addresses or IPv6 /64 prefixes (one per session)\n");
}

void show_pfcp_stats(const CommandContext& ctx, const Args&, Output& out) {
    if (!pfcp_enabled(ctx, out)) {
        return;
    }
    const pfcp::Node& node = ctx.pfcp->node();
    const pfcp::NodeCounters& c = node.counters();
    out.printf("messages (listening on %s):\n",
               pfcp::PeerAddress{ctx.pfcp->listen_address(), ctx.pfcp->port()}.to_string().c_str());
    out.printf("  %-36s %12s %12s\n", "type", "rx", "tx");
    for (size_t t = 0; t < 256; ++t) {
        const uint64_t rx = c.rx_by_type[t].get();
        const uint64_t tx = c.tx_by_type[t].get();
        if (rx != 0 || tx != 0) {
            const auto type = static_cast<pfcp::MessageType>(t);
            std::string name(pfcp::to_string(type));
            if (!pfcp::is_known(type)) {
                name += " (" + std::to_string(t) + ")";
            }
            out.printf("  %-36s %12" PRIu64 " %12" PRIu64 "\n", name.c_str(), rx, tx);
        }
    }
    out.printf("events:\n");
    for (size_t e = 0; e < pfcp::node_event_table.size(); ++e) {
        const auto& info = pfcp::node_event_table[e];
        out.printf("  %-28.*s %12" PRIu64 "  %.*s\n", int(info.name.size()), info.name.data(),
                   c.events[e].get(), int(info.help.size()), info.help.data());
    }
    out.printf("drops:\n");
    for (size_t r = 0; r < pfcp::drop_reason_table.size(); ++r) {
        const auto& info = pfcp::drop_reason_table[r];
        out.printf("  %-28.*s %12" PRIu64 "  %.*s\n", int(info.name.size()), info.name.data(),
                   c.drops[r].get(), int(info.help.size()), info.help.data());
    }
    out.printf("rejections sent:\n");
    for (size_t v = 64; v < 256; ++v) {
        if (const uint64_t n = c.rejections_by_cause[v].get(); n != 0) {
            const auto cause = static_cast<pfcp::Cause>(v);
            out.printf("  %-3zu %-46s %12" PRIu64 "\n", v,
                       std::string(pfcp::to_string(cause)).c_str(), n);
        }
    }
    out.printf("associations %" PRIu64 " (unreachable %" PRIu64
               "), requests outstanding %zu, "
               "cached responses %zu\n",
               c.associations.get(), c.associations_unreachable.get(), node.outstanding_requests(),
               node.cached_responses());
}

}  // namespace

void CommandContext::sample_lcores() {
    lcore_samples.resize(app.workers().size());
    for (const auto* wc : app.workers()) {
        auto& s = lcore_samples[wc->index];
        uint64_t busy = wc->counters.busy_cycles.get();
        uint64_t idle = wc->counters.idle_cycles.get();
        uint64_t db = busy - s.busy;
        uint64_t di = idle - s.idle;
        s.busy_pct_window = db + di > 0 ? 100.0 * double(db) / double(db + di) : 0.0;
        s.busy = busy;
        s.idle = idle;
    }
    if (cli_server != nullptr) {
        cli_requests.store(cli_server->requests(), std::memory_order_relaxed);
        cli_errors.store(cli_server->errors(), std::memory_order_relaxed);
    }
    app.publish_control_stats();
}

void register_commands(cli::Registry& r, CommandContext& ctx) {
    auto& app = ctx.app;
    // clang-format off
    r.add({"show version", "braid, DPDK and compiler versions", show_version});
    r.add({"show config", "the configuration in force, as YAML",
           [&app](const Args&, Output& o) { o.write(config::render(app.config())); }});
    r.add({"show port info all|<port:u16>", "addresses, link, queues and RSS of ports",
           [&app](const Args& a, Output& o) { show_port_info(app, a, o); }});
    r.add({"show port stats all|<port:u16>", "packet, byte, error counters of ports (per queue)",
           [&app](const Args& a, Output& o) { show_port_stats(app, a, o); }});
    r.add({"show port xstats all|<port:u16>", "the driver's extended statistics",
           [&app](const Args& a, Output& o) { show_port_xstats(app, a, o); }});
    r.add({"clear port stats", "reset the statistics of all ports",
           [&app](const Args& a, Output& o) { clear_port_stats(app, a, o); }});
    r.add({"clear port stats all|<port:u16>", "reset the statistics of ports",
           [&app](const Args& a, Output& o) { clear_port_stats(app, a, o); }});
    r.add({"show lcores", "control and worker lcores: busy %, loops, queues",
           [&ctx](const Args& a, Output& o) { show_lcores(ctx, a, o); }});
    r.add({"show graph", "graph nodes, edges and per-worker node counters",
           [&app](const Args& a, Output& o) { show_graph(app, a, o); }});
    r.add({"show graph dot", "the packet graph in Graphviz dot",
           [&app](const Args& a, Output& o) { show_graph_dot(app, a, o); }});
    r.add({"show neighbors", "the neighbor table (ARP and IPv6 ND)",
           [&app](const Args& a, Output& o) { show_neighbors(app, a, o, now_ms()); }});
    r.add({"show drops", "dropped packets by reason (non-zero reasons)",
           [&app](const Args& a, Output& o) { show_drops(app, a, o); }});
    r.add({"show drops all", "dropped packets for every reason, with meanings",
           [&app](const Args& a, Output& o) { show_drops(app, a, o); }});
    r.add({"show handoff", "worker-to-worker hand-off per pair: packets, drops (ring full), ring fill",
           [&app](const Args& a, Output& o) { show_handoff(app, a, o); }});
    r.add({"show flows", "the flow-owner table: flow count and the first 20 flows with their worker",
           [&app](const Args& a, Output& o) { show_flows(app, a, o); }});
    r.add({"show flows <count:u32>", "the flow-owner table: the first <count> flows",
           [&app](const Args& a, Output& o) { show_flows(app, a, o); }});
    r.add({"show log", "log level of each component", show_log});
    r.add({"set log <component:str> <level:str>",
           "set a component's log level (component: all eal dataplane pipelines control cli metrics config pfcp tcp mptcp; level: emerg..debug)",
           set_log});
    r.add({"show pfcp associations", "PFCP peers: node id, address, recovery time, state, last heartbeat",
           [&ctx](const Args& a, Output& o) { show_pfcp_associations(ctx, a, o); }});
    r.add({"show ue-pools", "UE IP pools for CHV4/CHV6 (TS 29.244 §5.21): prefix, network instance, size, used",
           [&ctx](const Args& a, Output& o) { show_ue_pools(ctx, a, o); }});
    r.add({"show pfcp stats", "PFCP messages by type, retransmissions, timeouts, drops, rejections",
           [&ctx](const Args& a, Output& o) { show_pfcp_stats(ctx, a, o); }});
    r.add({"show metrics", "what /metrics would serve now",
           [&ctx](const Args&, Output& o) {
               if (ctx.exporter == nullptr) {
                   o.printf("error: metrics are disabled (metrics.enabled: false)\n");
                   return;
               }
               o.write(metrics::render_text(ctx.exporter->collect()));
           }});
    r.add({"quit", "stop braid (ports stopped, workers joined, exit 0)",
           [&ctx](const Args&, Output& o) {
               o.printf("stopping braid\n");
               ctx.loop.stop();
           }});
    // clang-format on
    register_session_commands(r, ctx);
    register_tcp_commands(r, ctx);
    register_fault_commands(r, ctx);
}

}  // namespace braid::control
