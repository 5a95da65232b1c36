// braid: the DPDK 5G UPF daemon. main() is wiring only: config → EAL → dataplane → control loop.
//
//   braid [--config FILE] [-i] [--print-default-config] [--check-config] [-- EAL options...]
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_lcore.h>

#include <chrono>
#include <cinttypes>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "control/cli/cli.h"
#include "control/commands.h"
#include "control/config.h"
#include "control/event_loop.h"
#include "control/log.h"
#include "control/metrics.h"
#include "control/pfcp/server.h"
#include "control/pfcp/session_handler.h"
#include "control/pfcp/session_procedures.h"
#include "control/static_sessions.h"
#include "dataplane/app.h"
#include "dataplane/eal.h"

namespace {

constexpr int exit_ok = 0;
constexpr int exit_failure = 1;
constexpr int exit_usage = 2;  // bad command line or configuration

// The F-TEIDs (CHOOSE) and UP SEIDs braid allocates for PFCP sessions start here; static
// sessions (YAML, CLI) are expected below.
constexpr uint32_t pfcp_session_teid_first = 0x80000000u;
constexpr uint64_t pfcp_session_first_seid = uint64_t{1} << 32;

braid::control::EventLoop* signal_loop = nullptr;

extern "C" void on_signal(int) {
    if (signal_loop != nullptr) {
        signal_loop->stop();  // async-signal-safe: an atomic store and a write(2)
    }
}

void usage(FILE* f) {
    std::fprintf(
        f,
        "usage: braid [--config FILE.yaml] [-i] [-- EAL options]\n"
        "       braid --print-default-config | --check-config [--config FILE] | "
        "--version\n\n"
        "  -c, --config FILE         configuration (default: the embedded default on\n"
        "                            virtual devices; see docs/CONFIG.md)\n"
        "  -i, --interactive         testpmd-style prompt on this terminal\n"
        "      --print-default-config print the embedded default configuration\n"
        "      --check-config        validate the configuration and exit\n"
        "  -v, --version             print the version\n"
        "  -h, --help                this text\n"
        "Options after `--` are passed to DPDK's EAL after those derived from the config.\n");
}

struct Options {
    std::optional<std::string> config_path;
    bool interactive = false;
    bool print_default = false;
    bool check_only = false;
    std::vector<std::string> eal_extra;
};

// Returns an exit code to leave with, or -1 to continue.
int parse_options(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--") {
            o.eal_extra.assign(argv + i + 1, argv + argc);
            break;
        }
        if (a == "-c" || a == "--config") {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "braid: %s needs a file name\n", a.c_str());
                return exit_usage;
            }
            o.config_path = argv[++i];
        } else if (a.rfind("--config=", 0) == 0) {
            o.config_path = a.substr(9);
        } else if (a == "-i" || a == "--interactive") {
            o.interactive = true;
        } else if (a == "--print-default-config") {
            o.print_default = true;
        } else if (a == "--check-config") {
            o.check_only = true;
        } else if (a == "-v" || a == "--version") {
            std::printf("braid %s (git %s)\n", BRAID_VERSION, BRAID_GIT_REV);
            return exit_ok;
        } else if (a == "-h" || a == "--help") {
            usage(stdout);
            return exit_ok;
        } else {
            std::fprintf(stderr, "braid: unknown option '%s'\n", a.c_str());
            usage(stderr);
            return exit_usage;
        }
    }
    return -1;
}

uint64_t steady_ms() {
    using namespace std::chrono;
    return static_cast<uint64_t>(
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

}  // namespace

int main(int argc, char** argv) {
    using namespace braid;
    Options opt;
    if (int rc = parse_options(argc, argv, opt); rc >= 0) {
        return rc;
    }
    if (opt.print_default) {
        std::fwrite(config::default_yaml().data(), 1, config::default_yaml().size(), stdout);
        return exit_ok;
    }
    config::ParseResult parsed = opt.config_path
                                     ? config::parse_file(*opt.config_path)
                                     : config::parse(config::default_yaml(), "<default>");
    if (!parsed.ok()) {
        for (const auto& e : parsed.errors) {
            std::fprintf(stderr, "braid: %s\n", e.to_string().c_str());
        }
        return exit_usage;
    }
    const config::Config& cfg = *parsed.config;
    if (opt.check_only) {
        std::printf("configuration OK\n");
        return exit_ok;
    }

    log::init();
    std::string err;
    uint32_t level = RTE_LOG_INFO;
    log::parse_level(cfg.log.level, &level);
    rte_log_set_global_level(level);
    if (!dataplane::eal_init(dataplane::eal_args(cfg, argv[0], opt.eal_extra), &err)) {
        std::fprintf(stderr, "braid: %s\n", err.c_str());
        return exit_failure;
    }

    int rc = exit_ok;
    {
        dataplane::App app;
        control::EventLoop loop;
        cli::Registry registry;
        cli::SocketServer cli_server;
        cli::Interactive interactive;
        std::unique_ptr<metrics::Exporter> exporter;
        std::unique_ptr<pfcp::SessionActions> session_actions;
        std::unique_ptr<pfcp::SessionProcedures> session_procedures;
        std::unique_ptr<pfcp::Server> pfcp_server;
        control::CommandContext ctx{app, loop};
        ctx.started_ms = steady_ms();

        if (!app.setup(cfg, &err)) {
            std::fprintf(stderr, "braid: %s\n", err.c_str());
            app.shutdown();
            dataplane::eal_cleanup();
            return exit_failure;
        }
        control::register_commands(registry, ctx);
        if (!cfg.cli.socket_path.empty()) {
            if (!cli_server.open(cfg.cli.socket_path, &err)) {
                std::fprintf(stderr, "braid: cli.socket_path: %s\n", err.c_str());
                rc = exit_failure;
            } else {
                cli_server.attach(loop, registry);
                ctx.cli_server = &cli_server;
            }
        }
        if (rc == exit_ok && cfg.metrics.enabled) {
            exporter =
                metrics::Exporter::start(cfg.metrics.listen.address, cfg.metrics.listen.port, &err);
            if (exporter == nullptr) {
                std::fprintf(stderr, "braid: %s\n", err.c_str());
                rc = exit_failure;
            } else {
                ctx.exporter = exporter.get();
                control::add_dataplane_collectors(*exporter, ctx);
            }
        }
        if (rc == exit_ok && !app.launch(&err)) {
            std::fprintf(stderr, "braid: %s\n", err.c_str());
            rc = exit_failure;
        }
        if (rc == exit_ok && !control::install_static_sessions(app, cfg, &err)) {
            std::fprintf(stderr, "braid: %s\n", err.c_str());
            rc = exit_usage;  // a configuration the session rules refuse
        }
        // PFCP: the server (node procedures, reliability) and the session procedures, which
        // reach the dataplane only through the App's session action functions.
        if (rc == exit_ok && cfg.pfcp.enabled) {
            pfcp_server = pfcp::Server::start(cfg.pfcp, loop, nullptr, &err);
            if (pfcp_server == nullptr) {
                std::fprintf(stderr, "braid: %s\n", err.c_str());
                rc = exit_failure;
            } else {
                ctx.pfcp = pfcp_server.get();
                pfcp::SessionProceduresConfig sc;
                sc.node_id = pfcp_server->node().config().node_id;
                for (const auto& p : app.ports()) {
                    if (p.role == config::PortRole::n3 && p.has_ipv4) {
                        sc.n3_ipv4 = p.ipv4;
                        break;
                    }
                }
                // TEIDs and SEIDs braid allocates for the SMF stay clear of the small numbers
                // static sessions use (docs/CONFIG.md).
                sc.teid_first = pfcp_session_teid_first;
                sc.first_seid = pfcp_session_first_seid;
                sc.ue_ip_pools = cfg.pfcp.ue_ip_pools;
                // The MPTCP proxy (issue 7): MPTCP Parameters for TCI, with link-specific
                // addresses from these pools that the datapath then matches.
                if (cfg.pfcp.mptcp_proxy.enabled) {
                    const config::Pfcp::MptcpProxy& mp = cfg.pfcp.mptcp_proxy;
                    sc.mptcp_proxy.enabled = true;
                    if (mp.address_v4) {
                        const uint32_t a = *mp.address_v4;
                        sc.mptcp_proxy.ipv4 = pfcp::Ipv4Address{
                            static_cast<uint8_t>(a >> 24), static_cast<uint8_t>(a >> 16),
                            static_cast<uint8_t>(a >> 8), static_cast<uint8_t>(a)};
                    }
                    sc.mptcp_proxy.ipv6 = mp.address_v6;
                    sc.mptcp_proxy.port = mp.port;
                    sc.mptcp_proxy.tgpp_pools = mp.tgpp_pools;
                    sc.mptcp_proxy.non_tgpp_pools = mp.non_tgpp_pools;
                }
                if (auto why = pfcp::check(sc)) {
                    std::fprintf(stderr, "braid: pfcp: %s\n", why->c_str());
                    rc = exit_usage;
                } else {
                    session_actions = std::make_unique<pfcp::AppSessionActions>(app);
                    session_procedures =
                        std::make_unique<pfcp::SessionProcedures>(sc, *session_actions);
                    session_procedures->set_request_sender(&pfcp_server->request_sender());
                    pfcp_server->set_session_handler(session_procedures.get());
                    ctx.pfcp_sessions = session_procedures.get();
                    loop.add_periodic(
                        100, [&session_procedures] { session_procedures->poll(steady_ms()); });
                }
                if (exporter) {
                    pfcp::add_collectors(*exporter, pfcp_server->node());
                    if (session_procedures) {
                        pfcp::add_collectors(*exporter, *session_procedures);
                    }
                }
            }
        }
        if (rc == exit_ok) {
            signal_loop = &loop;
            std::signal(SIGINT, on_signal);
            std::signal(SIGTERM, on_signal);
            std::signal(SIGPIPE, SIG_IGN);
            loop.add_periodic(10, [&app] { app.control_tick(steady_ms()); });
            loop.add_periodic(1000, [&ctx] { ctx.sample_lcores(); });
            if (opt.interactive && interactive.start(registry)) {
                loop.add_fd(interactive.fd(), [&](uint32_t) {
                    if (!interactive.on_readable()) {
                        loop.remove_fd(interactive.fd());
                        loop.stop();
                    }
                });
            }
            BRAID_LOG(
                control, NOTICE,
                "braid %s running: %zu ports, %zu workers, cli %s, metrics %s, pfcp %s",
                BRAID_VERSION, app.ports().size(), app.workers().size(),
                cfg.cli.socket_path.c_str(),
                exporter
                    ? (cfg.metrics.listen.address + ":" + std::to_string(exporter->port())).c_str()
                    : "off",
                pfcp_server ? pfcp::PeerAddress{cfg.pfcp.listen.address, pfcp_server->port()}
                                  .to_string()
                                  .c_str()
                            : "off");
            loop.run();
            BRAID_LOG(control, NOTICE, "stopping");
        }
        interactive.stop();
        signal_loop = nullptr;
        exporter.reset();  // no scrape may read the dataplane past this point
        ctx.pfcp = nullptr;
        ctx.pfcp_sessions = nullptr;
        pfcp_server.reset();  // before the session handler and the App it refers to
        cli_server.close();
        uint64_t leaked = app.shutdown();
        if (leaked != 0) {
            BRAID_LOG(control, ERR, "%" PRIu64 " mbufs leaked at shutdown", leaked);
            rc = rc == exit_ok ? exit_failure : rc;
        } else {
            BRAID_LOG(control, NOTICE, "stopped cleanly: ports closed, all mbufs returned");
        }
    }
    dataplane::eal_cleanup();
    return rc;
}
