// CLI for braid's own TCP endpoint (dataplane/tcp_host.h): statistics, connections, the test
// applications (services that listen on braid's N6 addresses, connections braid opens), and the
// /metrics families. Everything a worker owns is read or changed on that worker
// (App::call_on_worker); counters are read directly (single-writer statistics).
#include <arpa/inet.h>

#include <cinttypes>
#include <string>

#include "control/commands.h"
#include "dataplane/tcp_host.h"

namespace braid::control {

namespace {

using cli::Args;
using cli::Output;
using dataplane::TcpHost;

std::string addr_text(const tcp::IpAddr& a) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof(buf));
    return a.family == 4 ? std::string(buf) : "[" + std::string(buf) + "]";
}

std::string endpoint_text(const tcp::IpAddr& a, uint16_t port) {
    return addr_text(a) + ":" + std::to_string(port);
}

std::optional<tcp::IpAddr> parse_ip(std::string_view text) {
    const std::string s(text);
    tcp::IpAddr a;
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
        return a;
    }
    a.family = 6;
    if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) {
        return a;
    }
    return std::nullopt;
}

std::optional<tcp::State> parse_state(std::string_view text) {
    for (size_t i = 0; i < static_cast<size_t>(tcp::State::count); ++i) {
        const auto s = static_cast<tcp::State>(i);
        std::string name(tcp::to_string(s));
        std::string lower;
        for (char c : name) {
            lower.push_back(c == '-' ? '_' : static_cast<char>(std::tolower(c)));
        }
        if (text == name || text == lower) {
            return s;
        }
    }
    return std::nullopt;
}

void show_tcp_stats(dataplane::App& app, Output& out) {
    tcp::Counters sum{};
    std::array<uint64_t, static_cast<size_t>(dataplane::TcpHostCounter::count)> host{};
    std::array<uint64_t, static_cast<size_t>(tcp::State::count)> states{};
    for (const auto* wc : app.workers()) {
        if (wc->tcp == nullptr) {
            continue;
        }
        for (size_t i = 0; i < sum.size(); ++i) {
            sum[i] += wc->tcp->counters()[i];
        }
        for (size_t i = 0; i < host.size(); ++i) {
            host[i] += wc->tcp->counter(static_cast<dataplane::TcpHostCounter>(i));
        }
        for (size_t i = 0; i < states.size(); ++i) {
            states[i] += wc->tcp->connections_in(static_cast<tcp::State>(i));
        }
    }
    out.printf("connections by state (all workers, refreshed every 200 ms):\n");
    for (size_t i = 0; i < states.size(); ++i) {
        const auto name = tcp::to_string(static_cast<tcp::State>(i));
        out.printf("  %-14.*s %10" PRIu64 "\n", int(name.size()), name.data(), states[i]);
    }
    out.printf("engine:\n");
    for (size_t i = 0; i < sum.size(); ++i) {
        const auto& info = tcp::counter_info[i];
        out.printf("  %-28.*s %14" PRIu64 "  %.*s\n", int(info.name.size()), info.name.data(),
                   sum[i], int(info.help.size()), info.help.data());
    }
    static constexpr std::pair<const char*, const char*> host_info[] = {
#define BRAID_X(name, help) {#name, help},
        BRAID_TCP_HOST_COUNTERS(BRAID_X)
#undef BRAID_X
    };
    out.printf("endpoint:\n");
    for (size_t i = 0; i < host.size(); ++i) {
        out.printf("  %-28s %14" PRIu64 "  %s\n", host_info[i].first, host[i], host_info[i].second);
    }
}

void show_tcp_connections(dataplane::App& app, const Args& args, Output& out) {
    std::optional<tcp::State> only;
    if (auto s = args.get("state")) {
        only = parse_state(*s);
        if (!only) {
            out.printf("error: '%.*s' is not a TCP state (e.g. established, time_wait)\n",
                       int(s->size()), s->data());
            return;
        }
    }
    out.printf("%-8s %-6s %-12s %-46s %-46s %8s %8s %8s %9s %9s\n", "id", "worker", "state",
               "local", "remote", "cwnd", "srtt_us", "rto_ms", "snd_queue", "rcv_queue");
    size_t shown = 0;
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        std::vector<tcp::ConnInfo> conns;
        if (!app.call_on_worker(w, [&conns](dataplane::WorkerContext& wc) {
                conns = wc.tcp->engine().describe_all();
            })) {
            out.printf("error: worker %u did not answer\n", w);
            continue;
        }
        for (const tcp::ConnInfo& c : conns) {
            if (only && c.state != *only) {
                continue;
            }
            const auto st = tcp::to_string(c.state);
            out.printf("%-8u %-6u %-12.*s %-46s %-46s %8u %8u %8u %9u %9u\n", c.id, w,
                       int(st.size()), st.data(),
                       endpoint_text(c.tuple.local, c.tuple.local_port).c_str(),
                       endpoint_text(c.tuple.remote, c.tuple.remote_port).c_str(), c.cwnd,
                       c.srtt_us, c.rto_us / 1000, c.snd_buffered, c.rcv_buffered);
            ++shown;
        }
    }
    out.printf("%zu connections\n", shown);
}

void print_conn(const tcp::ConnInfo& c, unsigned w, Output& out) {
    const auto st = tcp::to_string(c.state);
    out.printf("connection %u on worker %u: %.*s\n", c.id, w, int(st.size()), st.data());
    out.printf("  local %s remote %s\n", endpoint_text(c.tuple.local, c.tuple.local_port).c_str(),
               endpoint_text(c.tuple.remote, c.tuple.remote_port).c_str());
    out.printf("  cwnd %u ssthresh %u in_recovery %s retransmits %u\n", c.cwnd, c.ssthresh,
               c.in_recovery ? "yes" : "no", c.retransmits);
    out.printf("  srtt %u us rttvar %u us rto %u us\n", c.srtt_us, c.rttvar_us, c.rto_us);
    out.printf("  snd_una %u snd_nxt %u snd_wnd %u (wscale %u) mss %u\n", c.snd_una, c.snd_nxt,
               c.snd_wnd, c.snd_wscale, c.snd_mss);
    out.printf("  rcv_nxt %u rcv_wnd %u (wscale %u)\n", c.rcv_nxt, c.rcv_wnd, c.rcv_wscale);
    out.printf("  send buffer %u bytes, receive buffer %u of %u bytes\n", c.snd_buffered,
               c.rcv_buffered, c.rcv_buf_limit);
    out.printf("  options: sack %s timestamps %s\n", c.sack_ok ? "yes" : "no",
               c.ts_ok ? "yes" : "no");
}

void show_tcp_connection(dataplane::App& app, const Args& args, Output& out) {
    const auto id = static_cast<tcp::ConnId>(*args.get_uint("id"));
    const auto worker = args.get_uint("worker");
    bool found = false;
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        if (worker && *worker != w) {
            continue;
        }
        std::optional<tcp::ConnInfo> info;
        app.call_on_worker(
            w, [&](dataplane::WorkerContext& wc) { info = wc.tcp->engine().describe(id); });
        if (info) {
            print_conn(*info, w, out);
            found = true;
        }
    }
    if (!found) {
        out.printf("error: no connection %u (see 'show tcp connections')\n", id);
    }
}

void show_tcp_apps(dataplane::App& app, Output& out) {
    out.printf("%-8s %-6s %-8s %-4s %-9s %-46s %-46s %14s %14s %-64s %-64s %s\n", "id", "worker",
               "mode", "open", "state", "local", "remote", "rx_bytes", "tx_bytes", "rx_sha256",
               "tx_sha256", "close");
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        std::vector<dataplane::TcpAppRecord> recs;
        app.call_on_worker(w, [&recs](dataplane::WorkerContext& wc) { recs = wc.tcp->apps(); });
        for (const auto& r : recs) {
            const auto mode = dataplane::to_string(r.mode);
            const auto reason = r.finished ? tcp::to_string(r.reason) : std::string_view("-");
            out.printf("%-8u %-6u %-8.*s %-4s %-9s %-46s %-46s %14" PRIu64 " %14" PRIu64
                       " %-64s %-64s %.*s\n",
                       r.conn, w, int(mode.size()), mode.data(), r.active_open ? "out" : "in",
                       r.finished ? "finished" : "live",
                       endpoint_text(r.tuple.local, r.tuple.local_port).c_str(),
                       endpoint_text(r.tuple.remote, r.tuple.remote_port).c_str(), r.rx_bytes,
                       r.tx_bytes, r.rx_sha256.empty() ? "-" : r.rx_sha256.c_str(),
                       r.tx_sha256.empty() ? "-" : r.tx_sha256.c_str(), int(reason.size()),
                       reason.data());
        }
    }
}

void show_tcp_services(dataplane::App& app, Output& out) {
    std::vector<dataplane::TcpServiceSpec> svcs;
    if (!app.workers().empty()) {
        app.call_on_worker(0, [&svcs](dataplane::WorkerContext& wc) { svcs = wc.tcp->services(); });
    }
    out.printf("%-8s %-8s %-6s %s\n", "port", "mode", "mptcp", "bytes");
    for (const auto& s : svcs) {
        const auto mode = dataplane::to_string(s.mode);
        out.printf("%-8u %-8.*s %-6s %" PRIu64 "\n", s.tcp_port, int(mode.size()), mode.data(),
                   s.mptcp ? "yes" : "no", s.bytes);
    }
}

std::optional<dataplane::TcpAppMode> mode_arg(const Args& args, Output& out) {
    const auto text = args.get("mode").value_or("");
    auto mode = dataplane::tcp_app_mode(text);
    if (!mode) {
        out.printf("error: '%.*s' is not a mode (echo, sink, source, discard)\n", int(text.size()),
                   text.data());
    }
    return mode;
}

void tcp_service_add(dataplane::App& app, const Args& args, Output& out, bool mptcp) {
    auto mode = mode_arg(args, out);
    if (!mode) {
        return;
    }
    dataplane::TcpServiceSpec spec;
    spec.tcp_port = static_cast<uint16_t>(*args.get_uint("port"));
    spec.mode = *mode;
    spec.bytes = args.get_uint("bytes").value_or(0);
    spec.mptcp = mptcp;
    if (spec.tcp_port == 0) {
        out.printf("error: TCP port 0\n");
        return;
    }
    // Every worker listens: RSS may bring a connection's SYN to any of them.
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        std::optional<std::string> e;
        if (!app.call_on_worker(
                w, [&](dataplane::WorkerContext& wc) { e = wc.tcp->add_service(spec); })) {
            e = "worker " + std::to_string(w) + " did not answer";
        }
        if (e) {
            out.printf("error: %s\n", e->c_str());
            return;
        }
    }
    out.printf("listening on TCP port %u (%s%s)\n", spec.tcp_port,
               std::string(dataplane::to_string(spec.mode)).c_str(), mptcp ? ", MPTCP" : "");
}

void show_mptcp_connections(dataplane::App& app, Output& out) {
    out.printf("%-8s %-6s %-10s %-10s %-12s %-8s %-9s %12s %12s\n", "id", "worker", "token",
               "peer_token", "state", "subflows", "checksums", "bytes_in", "bytes_out");
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        std::vector<mptcp::ConnSummary> conns;
        if (!app.call_on_worker(w, [&conns](dataplane::WorkerContext& wc) {
                conns = wc.tcp->mptcp().describe_all();
            })) {
            out.printf("error: worker %u did not answer\n", w);
            continue;
        }
        for (const auto& c : conns) {
            const auto st = mptcp::to_string(c.state);
            out.printf("%-8u %-6u %08x   %08x   %-12.*s %-8u %-9s %12" PRIu64 " %12" PRIu64 "\n",
                       c.id, w, c.local_token, c.remote_token, int(st.size()), st.data(),
                       c.subflows, c.checksums ? "yes" : "no", c.bytes_in, c.bytes_out);
        }
    }
}

void show_mptcp_connection(dataplane::App& app, const Args& args, Output& out) {
    const std::string text(*args.get("token"));
    char* end = nullptr;
    const unsigned long token = std::strtoul(text.c_str(), &end, 16);
    if (text.empty() || end == nullptr || *end != '\0' || token > 0xffffffffUL) {
        out.printf("error: token must be 8 hex digits (as in show mptcp connections)\n");
        return;
    }
    bool found = false;
    for (unsigned w = 0; w < app.workers().size() && !found; ++w) {
        std::optional<mptcp::ConnSummary> conn;
        std::vector<mptcp::SubflowSummary> subs;
        std::vector<mptcp::LocalAddressSummary> local_addrs;
        std::vector<mptcp::PeerAddress> peer_addrs;
        if (!app.call_on_worker(w, [&](dataplane::WorkerContext& wc) {
                const auto& ep = wc.tcp->mptcp();
                if (auto id = ep.find_token(static_cast<uint32_t>(token))) {
                    conn = ep.describe(*id);
                    subs = ep.subflows(*id);
                    local_addrs = ep.local_addresses(*id);
                    peer_addrs = ep.peer_addresses(*id);
                }
            })) {
            out.printf("error: worker %u did not answer\n", w);
            continue;
        }
        if (!conn) {
            continue;
        }
        found = true;
        const auto st = mptcp::to_string(conn->state);
        out.printf("connection %u worker %u token %08x peer_token %08x state %.*s checksums %s\n",
                   conn->id, w, conn->local_token, conn->remote_token, int(st.size()), st.data(),
                   conn->checksums ? "yes" : "no");
        out.printf("  data-level bytes_in %" PRIu64 " bytes_out %" PRIu64 "\n", conn->bytes_in,
                   conn->bytes_out);
        const auto sched = mptcp::to_string(conn->scheduler);
        out.printf("  scheduler %.*s\n", int(sched.size()), sched.data());
        if (conn->fallen_back) {
            out.printf("  fallen back to TCP (MP_FAIL, infinite mapping)\n");
        }
        // ADD_ADDR both ways (RFC 8684 §3.4.1): braid's announcements and the peer's.
        auto port_text = [](std::optional<uint16_t> p) {
            return p ? " port " + std::to_string(*p) : std::string();
        };
        for (const auto& la : local_addrs) {
            out.printf("  advertised id %u %s%s echoed %s sends %u\n", unsigned(la.addr.id),
                       addr_text(la.addr.address).c_str(), port_text(la.addr.port).c_str(),
                       la.echoed ? "yes" : "no", la.sends);
        }
        for (const auto& pa : peer_addrs) {
            out.printf("  peer address id %u %s%s\n", unsigned(pa.id),
                       addr_text(pa.address).c_str(), port_text(pa.port).c_str());
        }
        out.printf("  %-5s %-8s %-44s %-11s %-6s %-6s %9s %9s %12s %12s %-8s\n", "index", "subflow",
                   "local -> remote", "state", "join", "backup", "srtt_us", "cwnd", "bytes_in",
                   "bytes_out", "access");
        for (const auto& s : subs) {
            const auto ss = s.stalled ? std::string_view("STALLED") : mptcp::to_string(s.state);
            const std::string ends = endpoint_text(s.tuple.local, s.tuple.local_port) + " -> " +
                                     endpoint_text(s.tuple.remote, s.tuple.remote_port);
            const auto acc = mptcp::to_string(s.access);
            out.printf("  %-5u %-8u %-44s %-11.*s %-6s %-6s %9u %9u %12" PRIu64 " %12" PRIu64
                       " %-8.*s\n",
                       unsigned(s.index), s.id, ends.c_str(), int(ss.size()), ss.data(),
                       s.join ? "yes" : "no", s.backup ? "yes" : "no", s.srtt_us, s.cwnd,
                       s.bytes_in, s.bytes_out, int(acc.size()), acc.data());
        }
    }
    if (!found) {
        out.printf("error: no MPTCP connection with token %08lx\n", token);
    }
}

std::optional<uint32_t> token_arg(const Args& args, Output& out) {
    const std::string text(*args.get("token"));
    char* end = nullptr;
    const unsigned long token = std::strtoul(text.c_str(), &end, 16);
    if (text.empty() || end == nullptr || *end != '\0' || token > 0xffffffffUL) {
        out.printf("error: token must be 8 hex digits (as in show mptcp connections)\n");
        return std::nullopt;
    }
    return static_cast<uint32_t>(token);
}

// `mptcp advertise <token> <id> <addr> [port]` / `mptcp withdraw <token> <id>`: ADD_ADDR /
// REMOVE_ADDR on one live connection (RFC 8684 §3.4), on whichever worker owns it.
void mptcp_signal(dataplane::App& app, const Args& args, Output& out, bool withdraw) {
    auto token = token_arg(args, out);
    if (!token) {
        return;
    }
    const uint64_t id = *args.get_uint("id");
    if (id == 0 || id > 255) {
        out.printf("error: address ID must be 1..255 (0 is the initial subflow's)\n");
        return;
    }
    mptcp::AdvertisedAddress a;
    a.id = static_cast<uint8_t>(id);
    if (!withdraw) {
        auto addr = parse_ip(args.get("addr").value_or(""));
        if (!addr) {
            out.printf("error: not an IP address\n");
            return;
        }
        a.address = *addr;
        if (auto port = args.get_uint("port")) {
            a.port = static_cast<uint16_t>(*port);
        }
    }
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        bool ok = false;
        app.call_on_worker(w, [&](dataplane::WorkerContext& wc) {
            if (wc.tcp == nullptr || !wc.tcp->mptcp().find_token(*token)) {
                return;
            }
            const uint64_t now = rte_rdtsc() / wc.tsc_per_us;
            ok = withdraw ? wc.tcp->mptcp_withdraw(*token, a.id, now)
                          : wc.tcp->mptcp_advertise(*token, a, now);
            if (!ok) {
                out.printf("error: refused (ID %u %s)\n", unsigned(a.id),
                           withdraw ? "not announced" : "in use, or the connection fell back");
                ok = true;  // answered
            } else {
                out.printf("connection %08x: %s address ID %u\n", *token,
                           withdraw ? "withdrew" : "announcing", unsigned(a.id));
            }
        });
        if (ok) {
            return;
        }
    }
    out.printf("error: no MPTCP connection with token %08x\n", *token);
}

void show_mptcp_stats(dataplane::App& app, Output& out) {
    for (size_t i = 0; i < mptcp::counter_count; ++i) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr ? wc->tcp->mptcp_counters().v[i] : 0;
        }
        const auto& info = mptcp::counter_info[i];
        out.printf("%-26.*s %14" PRIu64 "  %.*s\n", int(info.name.size()), info.name.data(), n,
                   int(info.help.size()), info.help.data());
    }
}

void tcp_service_del(dataplane::App& app, const Args& args, Output& out) {
    const auto port = static_cast<uint16_t>(*args.get_uint("port"));
    std::optional<std::string> e;
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        app.call_on_worker(w,
                           [&](dataplane::WorkerContext& wc) { e = wc.tcp->remove_service(port); });
    }
    if (e) {
        out.printf("error: %s\n", e->c_str());
        return;
    }
    out.printf("TCP port %u: service removed (live connections continue)\n", port);
}

void tcp_connect(dataplane::App& app, const Args& args, Output& out) {
    auto mode = mode_arg(args, out);
    if (!mode) {
        return;
    }
    auto remote = parse_ip(args.get("dst").value_or(""));
    if (!remote) {
        out.printf("error: not an IP address\n");
        return;
    }
    const dataplane::PortRuntime* n6 = nullptr;
    for (const auto& p : app.ports()) {
        if (p.role == config::PortRole::n6 && n6 == nullptr) {
            n6 = &p;
        }
    }
    if (n6 == nullptr || app.workers().empty()) {
        out.printf("error: no N6 port or no worker\n");
        return;
    }
    dataplane::TcpConnectSpec spec;
    spec.port_index = n6->index;
    spec.remote = *remote;
    spec.remote_port = static_cast<uint16_t>(*args.get_uint("dport"));
    spec.mode = *mode;
    spec.bytes = args.get_uint("bytes").value_or(0);
    // Connections braid opens are spread over the workers.
    static unsigned next_worker = 0;
    const unsigned w = next_worker++ % static_cast<unsigned>(app.workers().size());
    std::variant<tcp::ConnId, std::string> r = std::string("worker did not answer");
    app.call_on_worker(w, [&](dataplane::WorkerContext& wc) {
        r = wc.tcp->connect(spec, rte_rdtsc() / wc.tsc_per_us);
    });
    if (const auto* e = std::get_if<std::string>(&r)) {
        out.printf("error: %s\n", e->c_str());
        return;
    }
    out.printf("connection %u on worker %u\n", std::get<tcp::ConnId>(r), w);
}

void tcp_close(dataplane::App& app, const Args& args, Output& out, bool abort) {
    const auto id = static_cast<tcp::ConnId>(*args.get_uint("id"));
    const unsigned w = static_cast<unsigned>(args.get_uint("worker").value_or(0));
    bool ok = false;
    app.call_on_worker(w, [&](dataplane::WorkerContext& wc) {
        const uint64_t now = rte_rdtsc() / wc.tsc_per_us;
        ok = abort ? wc.tcp->abort(id, now) : wc.tcp->close(id, now);
    });
    if (!ok) {
        out.printf("error: no connection %u on worker %u\n", id, w);
        return;
    }
    out.printf("connection %u on worker %u: %s\n", id, w, abort ? "aborted (RST sent)" : "closing");
}

// --- the RFC 8803 proxy (issue 7) ----------------------------------------------------------

namespace cv = mptcp::convert;

bool any_proxy(dataplane::App& app, Output& out) {
    for (const auto* wc : app.workers()) {
        if (wc->tcp != nullptr && wc->tcp->proxy() != nullptr) {
            return true;
        }
    }
    out.printf("the MPTCP proxy is not running (pfcp.mptcp_proxy)\n");
    return false;
}

void show_proxy_stats(dataplane::App& app, Output& out) {
    if (!any_proxy(app, out)) {
        return;
    }
    std::array<uint64_t, cv::proxy_counter_count> px{};
    cv::Counters conv{};
    std::array<uint64_t, static_cast<size_t>(cv::ProxyState::count)> states{};
    for (const auto* wc : app.workers()) {
        const cv::Proxy* p = wc->tcp != nullptr ? wc->tcp->proxy() : nullptr;
        if (p == nullptr) {
            continue;
        }
        for (size_t i = 0; i < px.size(); ++i) {
            px[i] += p->counters()[i];
        }
        const cv::Counters& c = p->converter().counters();
        for (size_t i = 0; i < conv.v.size(); ++i) {
            conv.v[i] += c.v[i];
        }
        for (size_t i = 0; i < conv.refusals.size(); ++i) {
            conv.refusals[i] += c.refusals[i];
        }
        for (size_t i = 0; i < conv.errors_by_code.size(); ++i) {
            conv.errors_by_code[i] += c.errors_by_code[i];
        }
        for (size_t i = 0; i < states.size(); ++i) {
            states[i] += wc->tcp->proxy_connections_in(static_cast<cv::ProxyState>(i));
        }
    }
    out.printf("proxied connections by state (refreshed every 200 ms):\n");
    for (size_t i = 0; i < states.size(); ++i) {
        const auto n = cv::to_string(static_cast<cv::ProxyState>(i));
        out.printf("  %-12.*s %10" PRIu64 "\n", int(n.size()), n.data(), states[i]);
    }
    out.printf("proxy:\n");
    for (size_t i = 0; i < px.size(); ++i) {
        const auto n = cv::to_string(static_cast<cv::ProxyCounter>(i));
        out.printf("  %-20.*s %14" PRIu64 "\n", int(n.size()), n.data(), px[i]);
    }
    cv::SetupHistogram setup;
    for (const auto* wc : app.workers()) {
        if (wc->tcp != nullptr && wc->tcp->proxy() != nullptr) {
            const cv::SetupHistogram& h = wc->tcp->proxy()->setup_histogram();
            for (size_t i = 0; i < setup.counts.size(); ++i) {
                setup.counts[i] += h.counts[i];
            }
            setup.sum_us += h.sum_us;
        }
    }
    out.printf("connection setup (UE SYN to UE SYN/ACK, the N6 handshake): %" PRIu64 " connections",
               setup.total());
    if (setup.total() != 0) {
        auto bound = [&setup](double q) {
            const uint64_t b = setup.quantile_bound_us(q);
            return b == UINT64_MAX ? std::string("> 5 s") : "<= " + std::to_string(b) + " us";
        };
        out.printf(", mean %" PRIu64 " us, p50 %s, p99 %s", setup.sum_us / setup.total(),
                   bound(0.5).c_str(), bound(0.99).c_str());
    }
    out.printf("\n");
    out.printf("converter:\n");
    for (size_t i = 0; i < conv.v.size(); ++i) {
        const auto n = cv::to_string(static_cast<cv::Counter>(i));
        out.printf("  %-24.*s %14" PRIu64 "\n", int(n.size()), n.data(), conv.v[i]);
    }
    out.printf("refusals by reason:\n");
    for (size_t i = 0; i < conv.refusals.size(); ++i) {
        const auto n = cv::to_string(static_cast<cv::Refusal>(i));
        out.printf("  %-24.*s %14" PRIu64 "\n", int(n.size()), n.data(), conv.refusals[i]);
    }
    out.printf("Error TLVs sent by code:\n");
    for (size_t i = 0; i < conv.errors_by_code.size(); ++i) {
        if (conv.errors_by_code[i] != 0) {
            out.printf("  %-24zu %14" PRIu64 "\n", i, conv.errors_by_code[i]);
        }
    }
}

void show_proxy_connections(dataplane::App& app, Output& out) {
    if (!any_proxy(app, out)) {
        return;
    }
    out.printf("%-8s %-6s %-11s %-6s %-46s %-46s %-46s %12s %12s\n", "id", "worker", "state",
               "mptcp", "ue", "n6_local", "n6_remote", "bytes_up", "bytes_down");
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        std::vector<cv::ProxyConnInfo> conns;
        if (!app.call_on_worker(w, [&conns](dataplane::WorkerContext& wc) {
                if (wc.tcp != nullptr && wc.tcp->proxy() != nullptr) {
                    conns = wc.tcp->proxy()->describe_all();
                }
            })) {
            out.printf("error: worker %u did not answer\n", w);
            continue;
        }
        for (const auto& c : conns) {
            const auto st = cv::to_string(c.state);
            out.printf(
                "%-8u %-6u %-11.*s %-6s %-46s %-46s %-46s %12" PRIu64 " %12" PRIu64 "\n", c.id, w,
                int(st.size()), st.data(), c.mptcp ? "yes" : "no",
                endpoint_text(c.ue_tuple.remote, c.ue_tuple.remote_port).c_str(),
                c.n6 != 0 ? endpoint_text(c.n6_tuple.local, c.n6_tuple.local_port).c_str() : "-",
                c.n6 != 0 ? endpoint_text(c.n6_tuple.remote, c.n6_tuple.remote_port).c_str() : "-",
                c.bytes_up, c.bytes_down);
        }
    }
}

void show_proxy_connection(dataplane::App& app, const Args& args, Output& out) {
    if (!any_proxy(app, out)) {
        return;
    }
    const auto id = static_cast<uint32_t>(*args.get_uint("id"));
    const auto worker = args.get_uint("worker");
    bool found = false;
    for (unsigned w = 0; w < app.workers().size(); ++w) {
        if (worker && *worker != w) {
            continue;
        }
        std::optional<cv::ProxyConnInfo> conn;
        std::vector<mptcp::SubflowSummary> subs;
        std::optional<tcp::ConnInfo> ue_tcp, n6_tcp;
        app.call_on_worker(w, [&](dataplane::WorkerContext& wc) {
            if (wc.tcp == nullptr || wc.tcp->proxy() == nullptr) {
                return;
            }
            conn = wc.tcp->proxy()->describe(id);
            if (!conn) {
                return;
            }
            subs = wc.tcp->mptcp().subflows(conn->ue);
            ue_tcp = wc.tcp->engine().describe(conn->ue);
            if (conn->n6 != 0) {
                n6_tcp = wc.tcp->engine().describe(conn->n6);
            }
        });
        if (!conn) {
            continue;
        }
        found = true;
        const auto st = cv::to_string(conn->state);
        out.printf("proxied connection %u worker %u state %.*s %s\n", conn->id, w, int(st.size()),
                   st.data(), conn->mptcp ? "MPTCP" : "plain TCP");
        out.printf("  bytes up %" PRIu64 " down %" PRIu64 "\n", conn->bytes_up, conn->bytes_down);
        if (conn->seid != 0) {
            out.printf("  session seid 0x%016" PRIx64 " generation %" PRIu64 "%s\n", conn->seid,
                       conn->generation, conn->session_deleted ? " (deleted: closing)" : "");
        }
        if (conn->mptcp) {
            // The scheduler: the session's MPTCP MAR, else the endpoint's default.
            if (conn->scheduler) {
                const auto& sc = *conn->scheduler;
                const auto mode = mptcp::to_string(sc.mode);
                out.printf("  scheduler %.*s (from the MAR)", int(mode.size()), mode.data());
                for (auto a : {mptcp::Access::tgpp, mptcp::Access::non_tgpp}) {
                    const auto& p = sc.access[static_cast<size_t>(a)];
                    const auto an = mptcp::to_string(a);
                    if (p.present) {
                        out.printf(" %.*s weight %u priority %u", int(an.size()), an.data(),
                                   unsigned(p.weight), unsigned(p.priority));
                    } else {
                        out.printf(" %.*s absent", int(an.size()), an.data());
                    }
                }
                if (sc.rtt_threshold_ms) {
                    out.printf(" rtt_threshold %u ms", *sc.rtt_threshold_ms);
                }
                if (sc.plr_threshold_percent) {
                    out.printf(" plr_threshold %u %%", unsigned(*sc.plr_threshold_percent));
                }
                out.printf("\n");
            } else {
                out.printf("  scheduler default\n");
            }
        }
        if (conn->refusal) {
            const auto r = cv::to_string(*conn->refusal);
            out.printf("  refused: %.*s\n", int(r.size()), r.data());
        }
        out.printf("  UE side %s -> %s\n",
                   endpoint_text(conn->ue_tuple.remote, conn->ue_tuple.remote_port).c_str(),
                   endpoint_text(conn->ue_tuple.local, conn->ue_tuple.local_port).c_str());
        for (const auto& sf : subs) {
            // STALLED as in `show mptcp connection`: RTOs without progress (an access cut),
            // its data reinjected on the other subflows.
            const auto ss = sf.stalled ? std::string_view("STALLED") : mptcp::to_string(sf.state);
            // The access: from the session's link-specific addresses (issue 7).
            const auto acc = mptcp::to_string(sf.access);
            out.printf("    subflow %u %s -> %s %.*s%s access %.*s srtt %u us cwnd %u in %" PRIu64
                       " out %" PRIu64 "\n",
                       sf.id, endpoint_text(sf.tuple.remote, sf.tuple.remote_port).c_str(),
                       endpoint_text(sf.tuple.local, sf.tuple.local_port).c_str(), int(ss.size()),
                       ss.data(), sf.backup ? " backup" : "", int(acc.size()), acc.data(),
                       sf.srtt_us, sf.cwnd, sf.bytes_in, sf.bytes_out);
        }
        if (subs.empty() && ue_tcp) {
            const auto ts = tcp::to_string(ue_tcp->state);
            out.printf("    tcp %u %.*s srtt %u us cwnd %u\n", ue_tcp->id, int(ts.size()),
                       ts.data(), ue_tcp->srtt_us, ue_tcp->cwnd);
        }
        if (conn->n6 != 0) {
            const auto ns = n6_tcp ? tcp::to_string(n6_tcp->state) : std::string_view("CLOSED");
            out.printf("  N6 side %s -> %s tcp %u %.*s",
                       endpoint_text(conn->n6_tuple.local, conn->n6_tuple.local_port).c_str(),
                       endpoint_text(conn->n6_tuple.remote, conn->n6_tuple.remote_port).c_str(),
                       conn->n6, int(ns.size()), ns.data());
            if (n6_tcp) {
                out.printf(" srtt %u us cwnd %u snd_buffered %u rcv_buffered %u", n6_tcp->srtt_us,
                           n6_tcp->cwnd, n6_tcp->snd_buffered, n6_tcp->rcv_buffered);
            }
            out.printf("\n");
        } else {
            out.printf("  N6 side: none\n");
        }
    }
    if (!found) {
        out.printf("error: no proxied connection %u (see 'show proxy connections')\n", id);
    }
}

}  // namespace

void register_tcp_commands(cli::Registry& r, CommandContext& ctx) {
    auto& app = ctx.app;
    // clang-format off
    r.add({"show tcp stats", "braid's TCP endpoint: connections by state, engine and endpoint counters",
           [&app](const Args&, Output& o) { show_tcp_stats(app, o); }});
    r.add({"show tcp connections", "every TCP connection: state, addresses, cwnd, srtt, rto, queues",
           [&app](const Args& a, Output& o) { show_tcp_connections(app, a, o); }});
    r.add({"show tcp connections <state:str>", "TCP connections in one state (e.g. established, time_wait)",
           [&app](const Args& a, Output& o) { show_tcp_connections(app, a, o); }});
    r.add({"show tcp connection <id:u32>", "one TCP connection: cwnd, ssthresh, srtt, rto, windows, buffers",
           [&app](const Args& a, Output& o) { show_tcp_connection(app, a, o); }});
    r.add({"show tcp connection <id:u32> worker <worker:u32>", "one TCP connection of one worker",
           [&app](const Args& a, Output& o) { show_tcp_connection(app, a, o); }});
    r.add({"show tcp apps", "test application connections, live and finished: bytes, SHA-256, close reason",
           [&app](const Args&, Output& o) { show_tcp_apps(app, o); }});
    r.add({"show tcp services", "test applications listening on braid's N6 addresses",
           [&app](const Args&, Output& o) { show_tcp_services(app, o); }});
    r.add({"tcp service add <port:u16> <mode:str>", "listen on a TCP port of braid's N6 addresses: echo, sink, discard",
           [&app](const Args& a, Output& o) { tcp_service_add(app, a, o, false); }});
    r.add({"tcp service add <port:u16> <mode:str> <bytes:u64>", "listen with a source that sends <bytes> per connection",
           [&app](const Args& a, Output& o) { tcp_service_add(app, a, o, false); }});
    r.add({"tcp service add <port:u16> <mode:str> mptcp", "listen with MPTCP v1 (plain TCP clients fall back)",
           [&app](const Args& a, Output& o) { tcp_service_add(app, a, o, true); }});
    r.add({"tcp service add <port:u16> <mode:str> <bytes:u64> mptcp", "an MPTCP source service",
           [&app](const Args& a, Output& o) { tcp_service_add(app, a, o, true); }});
    r.add({"show mptcp connections", "MPTCP connections: token, subflows, state, checksums, bytes",
           [&app](const Args&, Output& o) { show_mptcp_connections(app, o); }});
    r.add({"show mptcp connection <token:str>",
           "one MPTCP connection by braid's token (hex): subflows with addresses, state, RTT, "
           "cwnd, bytes, backup flag",
           [&app](const Args& a, Output& o) { show_mptcp_connection(app, a, o); }});
    r.add({"mptcp advertise <token:str> <id:u16> <addr:str>",
           "announce another braid address on a live MPTCP connection (ADD_ADDR until echoed)",
           [&app](const Args& a, Output& o) { mptcp_signal(app, a, o, false); }});
    r.add({"mptcp advertise <token:str> <id:u16> <addr:str> <port:u16>",
           "announce another braid address and port on a live MPTCP connection",
           [&app](const Args& a, Output& o) { mptcp_signal(app, a, o, false); }});
    r.add({"mptcp withdraw <token:str> <id:u16>",
           "withdraw an announced address (REMOVE_ADDR; braid's subflows on it reset)",
           [&app](const Args& a, Output& o) { mptcp_signal(app, a, o, true); }});
    r.add({"show mptcp stats", "MPTCP counters: handshakes, fallbacks by reason, checksum failures",
           [&app](const Args&, Output& o) { show_mptcp_stats(app, o); }});
    r.add({"show proxy stats", "the MPTCP proxy: connections by state, converter counters, refusals by reason, Error TLVs by code",
           [&app](const Args&, Output& o) { show_proxy_stats(app, o); }});
    r.add({"show proxy connections", "proxied connections: state, UE, N6 tuple, bytes each way",
           [&app](const Args&, Output& o) { show_proxy_connections(app, o); }});
    r.add({"show proxy connection <id:u32>", "one proxied connection: UE subflows (RTT, cwnd, bytes), N6 tuple and state",
           [&app](const Args& a, Output& o) { show_proxy_connection(app, a, o); }});
    r.add({"show proxy connection <id:u32> worker <worker:u32>", "one proxied connection of one worker",
           [&app](const Args& a, Output& o) { show_proxy_connection(app, a, o); }});
    r.add({"tcp service del <port:u16>", "stop listening (live connections continue)",
           [&app](const Args& a, Output& o) { tcp_service_del(app, a, o); }});
    r.add({"tcp connect <dst:ip> <dport:u16> <mode:str>", "open a connection from braid's N6 address running echo, sink or discard",
           [&app](const Args& a, Output& o) { tcp_connect(app, a, o); }});
    r.add({"tcp connect <dst:ip> <dport:u16> <mode:str> <bytes:u64>", "open a connection that sends <bytes> (source)",
           [&app](const Args& a, Output& o) { tcp_connect(app, a, o); }});
    r.add({"tcp close <id:u32> worker <worker:u32>", "close a connection (FIN after queued data)",
           [&app](const Args& a, Output& o) { tcp_close(app, a, o, false); }});
    r.add({"tcp abort <id:u32> worker <worker:u32>", "abort a connection (RST)",
           [&app](const Args& a, Output& o) { tcp_close(app, a, o, true); }});
    // clang-format on
}

namespace {

// The RFC 8803 proxy's families (nothing when no worker runs it).
void proxy_families(const dataplane::App& app, std::vector<metrics::Family>& out) {
    using metrics::Type;
    std::vector<const dataplane::TcpHost*> hosts;
    for (const auto* wc : app.workers()) {
        if (wc->tcp != nullptr && wc->tcp->proxy() != nullptr) {
            hosts.push_back(wc->tcp);
        }
    }
    if (hosts.empty()) {
        return;
    }
    metrics::Family states{
        "braid_proxy_connections", "proxied connections, by state", Type::gauge, {}};
    for (size_t s = 0; s < static_cast<size_t>(cv::ProxyState::count); ++s) {
        uint64_t n = 0;
        for (const auto* h : hosts) {
            n += h->proxy_connections_in(static_cast<cv::ProxyState>(s));
        }
        states.samples.push_back(
            {{{"state", std::string(cv::to_string(static_cast<cv::ProxyState>(s)))}}, double(n)});
    }
    out.push_back(std::move(states));
    metrics::Family bytes{
        "braid_proxy_bytes_total", "bytes relayed by the proxy, by direction", Type::counter, {}};
    metrics::Family events{
        "braid_proxy_events_total", "the proxy's events (see show proxy stats)", Type::counter, {}};
    for (size_t i = 0; i < cv::proxy_counter_count; ++i) {
        uint64_t n = 0;
        for (const auto* h : hosts) {
            n += h->proxy()->counters()[i];
        }
        const auto k = static_cast<cv::ProxyCounter>(i);
        if (k == cv::ProxyCounter::bytes_up || k == cv::ProxyCounter::bytes_down) {
            bytes.samples.push_back(
                {{{"direction", k == cv::ProxyCounter::bytes_up ? "uplink" : "downlink"}},
                 double(n)});
        } else {
            events.samples.push_back({{{"event", std::string(cv::to_string(k))}}, double(n)});
        }
    }
    out.push_back(std::move(bytes));
    out.push_back(std::move(events));
    // UE SYN → UE SYN/ACK: the N6 handshake a 0-RTT conversion waits for.
    metrics::Family setup{"braid_proxy_setup_seconds",
                          "proxied connection setup: UE SYN to UE SYN/ACK (the N6 handshake)",
                          Type::histogram,
                          {}};
    cv::SetupHistogram setup_sum;
    for (const auto* host : hosts) {
        const cv::SetupHistogram& w = host->proxy()->setup_histogram();
        for (size_t i = 0; i < setup_sum.counts.size(); ++i) {
            setup_sum.counts[i] += w.counts[i];
        }
        setup_sum.sum_us += w.sum_us;
    }
    metrics::Sample hs;
    hs.count = setup_sum.total();
    hs.value = double(setup_sum.sum_us) / 1e6;
    uint64_t cum = 0;
    for (size_t i = 0; i < cv::setup_buckets_us.size(); ++i) {
        cum += setup_sum.counts[i];
        hs.buckets.emplace_back(double(cv::setup_buckets_us[i]) / 1e6, cum);
    }
    setup.samples.push_back(std::move(hs));
    out.push_back(std::move(setup));
    metrics::Family conv{
        "braid_proxy_convert_total", "the RFC 8803 converter's decisions", Type::counter, {}};
    metrics::Family refusals{"braid_proxy_refusals_total",
                             "SYNs refused or proxied connections failed, by reason",
                             Type::counter,
                             {}};
    metrics::Family errors{"braid_proxy_convert_errors_total",
                           "Error TLVs sent to UEs, by RFC 8803 error code",
                           Type::counter,
                           {}};
    cv::Counters sum{};
    for (const auto* h : hosts) {
        const cv::Counters& c = h->proxy()->converter().counters();
        for (size_t i = 0; i < sum.v.size(); ++i) {
            sum.v[i] += c.v[i];
        }
        for (size_t i = 0; i < sum.refusals.size(); ++i) {
            sum.refusals[i] += c.refusals[i];
        }
        for (size_t i = 0; i < sum.errors_by_code.size(); ++i) {
            sum.errors_by_code[i] += c.errors_by_code[i];
        }
    }
    for (size_t i = 0; i < sum.v.size(); ++i) {
        conv.samples.push_back(
            {{{"event", std::string(cv::to_string(static_cast<cv::Counter>(i)))}},
             double(sum.v[i])});
    }
    for (size_t i = 0; i < sum.refusals.size(); ++i) {
        refusals.samples.push_back(
            {{{"reason", std::string(cv::to_string(static_cast<cv::Refusal>(i)))}},
             double(sum.refusals[i])});
    }
    // The codes RFC 8803 §6.2.8 registers (others are never sent).
    for (unsigned code : {0u, 1u, 2u, 3u, 32u, 33u, 64u, 65u, 96u, 97u}) {
        errors.samples.push_back(
            {{{"code", std::to_string(code)}}, double(sum.errors_by_code[code])});
    }
    out.push_back(std::move(conv));
    out.push_back(std::move(refusals));
    out.push_back(std::move(errors));
}

}  // namespace

void tcp_families(const dataplane::App& app, std::vector<metrics::Family>& out) {
    using metrics::Type;
    metrics::Family events{"braid_tcp_events_total",
                           "braid's TCP endpoint: engine events by kind (see show tcp stats)",
                           Type::counter,
                           {}};
    for (size_t i = 0; i < tcp::counter_count; ++i) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr ? wc->tcp->counters()[i] : 0;
        }
        events.samples.push_back({{{"event", std::string(tcp::counter_info[i].name)}}, double(n)});
    }
    out.push_back(std::move(events));
    metrics::Family states{
        "braid_tcp_connections", "braid's TCP connections, by state", Type::gauge, {}};
    for (size_t s = 0; s < static_cast<size_t>(tcp::State::count); ++s) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr ? wc->tcp->connections_in(static_cast<tcp::State>(s)) : 0;
        }
        states.samples.push_back(
            {{{"state", std::string(tcp::to_string(static_cast<tcp::State>(s)))}}, double(n)});
    }
    out.push_back(std::move(states));
    static constexpr const char* host_names[] = {
#define BRAID_X(name, help) #name,
        BRAID_TCP_HOST_COUNTERS(BRAID_X)
#undef BRAID_X
    };
    metrics::Family host{
        "braid_tcp_endpoint_total",
        "braid's TCP endpoint: frames built, mbuf shortages, application connections",
        Type::counter,
        {}};
    for (size_t i = 0; i < std::size(host_names); ++i) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr ? wc->tcp->counter(static_cast<dataplane::TcpHostCounter>(i))
                                    : 0;
        }
        host.samples.push_back({{{"event", host_names[i]}}, double(n)});
    }
    out.push_back(std::move(host));
    metrics::Family mp_events{"braid_mptcp_events_total",
                              "braid's MPTCP endpoint: handshakes, fallbacks by reason, checksum "
                              "failures, data-level bytes (see show mptcp stats)",
                              Type::counter,
                              {}};
    for (size_t i = 0; i < mptcp::counter_count; ++i) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr ? wc->tcp->mptcp_counters().v[i] : 0;
        }
        mp_events.samples.push_back(
            {{{"event", std::string(mptcp::counter_info[i].name)}}, double(n)});
    }
    out.push_back(std::move(mp_events));
    metrics::Family mp_states{
        "braid_mptcp_connections", "braid's MPTCP connections, by state", Type::gauge, {}};
    for (size_t s = 0; s < static_cast<size_t>(mptcp::ConnState::count); ++s) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr
                     ? wc->tcp->mptcp_connections_in(static_cast<mptcp::ConnState>(s))
                     : 0;
        }
        mp_states.samples.push_back(
            {{{"state", std::string(mptcp::to_string(static_cast<mptcp::ConnState>(s)))}},
             double(n)});
    }
    out.push_back(std::move(mp_states));
    metrics::Family mp_subflows{
        "braid_mptcp_subflows", "braid's MPTCP subflows, by state", Type::gauge, {}};
    for (size_t s = 0; s < static_cast<size_t>(mptcp::SubflowState::count); ++s) {
        uint64_t n = 0;
        for (const auto* wc : app.workers()) {
            n += wc->tcp != nullptr
                     ? wc->tcp->mptcp_subflows_in(static_cast<mptcp::SubflowState>(s))
                     : 0;
        }
        mp_subflows.samples.push_back(
            {{{"state", std::string(mptcp::to_string(static_cast<mptcp::SubflowState>(s)))}},
             double(n)});
    }
    out.push_back(std::move(mp_subflows));
    // Per access and direction (issue 7: the proxy's UE sides are MPTCP connections here).
    metrics::Family mp_bytes{"braid_mptcp_subflow_bytes_total",
                             "MPTCP subflow payload bytes, by the subflow's access and direction",
                             Type::counter,
                             {}};
    for (auto a : {mptcp::Access::tgpp, mptcp::Access::non_tgpp, mptcp::Access::unknown}) {
        for (bool received : {true, false}) {
            uint64_t n = 0;
            for (const auto* wc : app.workers()) {
                n += wc->tcp != nullptr ? wc->tcp->mptcp().access_bytes(a, received) : 0;
            }
            mp_bytes.samples.push_back({{{"access", std::string(mptcp::to_string(a))},
                                         {"direction", received ? "received" : "sent"}},
                                        double(n)});
        }
    }
    out.push_back(std::move(mp_bytes));
    proxy_families(app, out);
}

}  // namespace braid::control
