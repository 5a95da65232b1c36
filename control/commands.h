// The CLI commands of the running daemon: thin adapters over the App, the event loop and the
// metrics exporter. Declared as data in commands.cc, one line each (grammar, help, handler).
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "control/cli/cli.h"
#include "control/event_loop.h"
#include "control/metrics.h"
#include "dataplane/app.h"

namespace braid::pfcp {
class Server;
class SessionProcedures;
}  // namespace braid::pfcp

namespace braid::control {

struct CommandContext {
    dataplane::App& app;
    EventLoop& loop;
    metrics::Exporter* exporter = nullptr;                   // null when metrics are disabled
    pfcp::Server* pfcp = nullptr;                            // null when pfcp.enabled is false
    const pfcp::SessionProcedures* pfcp_sessions = nullptr;  // with `pfcp`
    const cli::SocketServer* cli_server = nullptr;
    uint64_t started_ms = 0;

    // `show lcores` shows busy % over the last sampling window (sample_lcores(), every second).
    struct LcoreSample {
        uint64_t busy = 0;
        uint64_t idle = 0;
        double busy_pct_window = 0;
    };
    std::vector<LcoreSample> lcore_samples;
    // Mirrors of the CLI server's counters for the exporter thread.
    std::atomic<uint64_t> cli_requests{0};
    std::atomic<uint64_t> cli_errors{0};
    // Once a second on the control core: lcore busy window, control statistics.
    void sample_lcores();
};

void register_commands(cli::Registry& registry, CommandContext& ctx);
// Static sessions and user-plane state (session_commands.cc).
void register_session_commands(cli::Registry& registry, CommandContext& ctx);
// `show tcp ...`, `tcp ...` (control/tcp_commands.cc).
void register_tcp_commands(cli::Registry& registry, CommandContext& ctx);
// /metrics families of braid's TCP endpoint (control/tcp_commands.cc).
void tcp_families(const dataplane::App& app, std::vector<metrics::Family>& out);

// The fault-injection stage: set/clear/show fault (fault_commands.cc).
void register_fault_commands(cli::Registry& registry, CommandContext& ctx);
void fault_families(const dataplane::App& app, std::vector<metrics::Family>& out);

// Collectors for /metrics reading the dataplane (per-worker counters summed when read).
void add_dataplane_collectors(metrics::Exporter& exporter, CommandContext& ctx);

}  // namespace braid::control
