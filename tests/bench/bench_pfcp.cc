// bench_pfcp: PFCP session establishments, modifications and deletions per second on the control
// core, with per-request latency (issue 4, docs/BENCHMARKS.md "PFCP sessions").
//
// Everything a request goes through in braid runs, in-process and on the main lcore (the control
// core): pfcp::Node::on_datagram (header checks, association lookup, duplicate-response cache),
// pfcp::SessionProcedures (IE decoding, F-TEID CHOOSE allocation, rule translation) and
// pfcp::AppSessionActions → dataplane::App's session action functions (rule compilation, rte_hash
// inserts of TEID and UE address keys, the release-store that publishes the snapshot to the
// workers, RCU-deferred freeing of what it replaced). Only the UDP socket is missing: the request
// bytes are handed to on_datagram as Server::on_readable would after recvfrom(), and the response
// is copied out of the Send callback as Server::send would hand it to sendto().
//
// braid runs with two net_ring ports (N3, N6) and one worker launched on lcore 1 that polls and
// reports RCU quiescent states, so grace periods end as they do in production and reclamation
// (App::control_tick, every 10 ms as in main.cc's event loop) is real work in the loop.
//
// The requests look like a real SMF's: Node ID, CP F-SEID, UL PDR (source access, F-TEID CHOOSE,
// network instance, outer header removal, FAR 1, QER 1, URR 1), DL PDR (source core, UE IPv4
// address, FAR 2, QER 1, URR 1), FAR 1 (forward to core), FAR 2 (forward to access with
// GTP-U/UDP/IPv4 outer header creation towards one of 16 gNBs), QER 1 (QFI 9, MBR), URR 1
// (volume + duration, volume threshold and periodic triggers). Every request is encoded
// before the clock starts (the SMF does that work, not braid); every response is decoded and
// checked after the clock stops (Cause 1, UP F-SEID, the Created PDR's allocated F-TEID).
//
// Phases, in order:
//   1. establish N sessions back to back (default 100,000)
//   2. modify each of them once back to back (Update FAR 2: a new gNB TEID and address, as in an
//      N2 handover's path switch)
//   3. paced: establish R per second for S seconds (default 1,000/s for 10 s) on top of the N
//      sessions already held; a request's latency is from its scheduled arrival time to the
//      response, so a request that has to wait for the previous one or for a control tick counts
//      that wait
//   4. delete all N + R·S sessions back to back
// For each: requests per second (count / wall time of the loop, control ticks included) and the
// latency distribution (p50, p99, p99.9, max) from rte_rdtsc.
//
// Output: a human-readable report, then `result.<key>=<value>` lines. Exit status 0 only if every
// request was accepted and every check passed (sessions present in the dataplane's tables after
// establishment, gone after deletion, pools complete).
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "control/config.h"
#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/ies_session.h"
#include "control/pfcp/message.h"
#include "control/pfcp/node.h"
#include "control/pfcp/session_procedures.h"
#include "dataplane/app.h"
#include "dataplane/eal.h"
#include "dataplane/session_table.h"

using namespace braid;
namespace pf = braid::pfcp;

namespace {

struct Options {
    uint32_t sessions = 100000;  // phase 1/2/4
    uint32_t paced_rate = 1000;  // phase 3: establishments per second
    uint32_t paced_s = 10;       // phase 3: seconds
    uint32_t memory_mb = 2048;   // EAL -m
    std::string log_level;       // an extra EAL --log-level (e.g. braid.dataplane:notice)
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--sessions N] [--paced-rate R] [--paced-seconds S] [--memory MB]\n"
                 "  --sessions N       sessions established, modified and deleted back to back "
                 "(default 100000)\n"
                 "  --paced-rate R     paced establishments per second (default 1000; 0: skip)\n"
                 "  --paced-seconds S  duration of the paced phase (default 10)\n"
                 "  --memory MB        EAL -m (default 2048; --no-huge, 4 KiB pages)\n"
                 "  --log-level L      an extra EAL --log-level, e.g. braid.dataplane:notice to "
                 "drop the per-session INFO lines\n",
                 argv0);
}

bool parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            return false;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", argv[0], a.c_str());
            return false;
        }
        if (a == "--log-level") {
            o.log_level = argv[++i];
            continue;
        }
        char* end = nullptr;
        const unsigned long v = std::strtoul(argv[++i], &end, 10);
        if (end == argv[i] || *end != '\0') {
            std::fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], a.c_str(), argv[i]);
            return false;
        }
        if (a == "--sessions" && v >= 1 && v <= 1000000) {
            o.sessions = static_cast<uint32_t>(v);
        } else if (a == "--paced-rate" && v <= 100000) {
            o.paced_rate = static_cast<uint32_t>(v);
        } else if (a == "--paced-seconds" && v >= 1 && v <= 600) {
            o.paced_s = static_cast<uint32_t>(v);
        } else if (a == "--memory" && v >= 256 && v <= 16384) {
            o.memory_mb = static_cast<uint32_t>(v);
        } else {
            std::fprintf(stderr, "%s: bad option or value out of range: %s %s\n", argv[0],
                         a.c_str(), argv[i]);
            return false;
        }
    }
    return true;
}

// ---- addresses (198.18.0.0/15 only) -------------------------------------------------------------

constexpr uint32_t upf_n3 = 0xc6120001;     // 198.18.0.1
constexpr uint32_t upf_n6 = 0xc6130001;     // 198.19.0.1
constexpr uint32_t gnb_first = 0xc6120010;  // 198.18.0.16 .. 198.18.0.31: 16 gNBs
constexpr uint32_t gnb_count = 16;
constexpr uint32_t smf_ip = 0xc6120401;  // 198.18.4.1
// UE addresses: 198.18.16.0 upwards, one per session (room for 1,044,480 before 198.19.255.255
// would be passed; the N3/N6 subnets' first /20 are left alone).
constexpr uint32_t ue_first = 0xc6121000;
constexpr uint32_t teid_first = 0x80000000u;  // as main.cc: clear of static sessions
constexpr uint64_t first_up_seid = 0x100000001;

pf::Ipv4Address wire(uint32_t host) {
    return {static_cast<uint8_t>(host >> 24), static_cast<uint8_t>(host >> 16),
            static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
}

const pf::NodeId smf_id = pf::NodeId::from_ipv4(wire(smf_ip));
const pf::PeerAddress smf_addr{"198.18.4.1", 8805};

// ---- request encoders ---------------------------------------------------------------------------

template <typename F>
std::vector<uint8_t> message(pf::MessageType type, std::optional<uint64_t> seid, uint32_t seq,
                             F&& body) {
    std::vector<uint8_t> out;
    pf::Header h;
    h.type = type;
    if (seid) {
        h.seid = pf::Seid(*seid);
    }
    h.sequence = pf::SequenceNumber(seq);
    const size_t start = pf::begin_message(h, out);
    pf::Writer w(out);
    body(w);
    if (!w.ok() || !pf::finish_message(out, start)) {
        std::fprintf(stderr, "bench_pfcp: cannot encode a request\n");
        std::exit(2);
    }
    return out;
}

pf::OuterHeaderCreation gtpu_to(uint32_t teid, uint32_t gnb) {
    pf::OuterHeaderCreation o;
    o.description = pf::OuterHeaderCreation::gtpu_udp_ipv4;
    o.teid = pf::Teid(teid);
    o.ipv4_address = wire(gnb);
    return o;
}

uint32_t gnb_of(uint32_t i) {
    return gnb_first + i % gnb_count;
}

// Session i's Session Establishment Request (see the header comment).
std::vector<uint8_t> establishment(uint32_t i, uint32_t seq) {
    using namespace pf;
    CreatePdr ul;
    ul.pdr_id.value = 1;
    ul.precedence.value = 255;
    ul.pdi.source_interface.value = SourceInterface::Value::access;
    FTeid choose;
    choose.choose = FTeid::Choose{true, false, std::nullopt};
    ul.pdi.local_f_teid = choose;
    ul.pdi.network_instance = NetworkInstance{"internet"};
    ul.outer_header_removal = OuterHeaderRemoval{};
    ul.far_id = FarId{1};
    ul.qer_ids = {QerId{1}};
    ul.urr_ids = {UrrId{1}};

    CreatePdr dl;
    dl.pdr_id.value = 2;
    dl.precedence.value = 255;
    dl.pdi.source_interface.value = SourceInterface::Value::core;
    dl.pdi.network_instance = NetworkInstance{"internet"};
    UeIpAddress ue;
    ue.ipv4 = wire(ue_first + i);
    ue.destination = true;
    dl.pdi.ue_ip_addresses.push_back(ue);
    dl.far_id = FarId{2};
    dl.qer_ids = {QerId{1}};
    dl.urr_ids = {UrrId{1}};

    CreateFar far_ul;
    far_ul.far_id.value = 1;
    far_ul.apply_action.flags = ApplyAction::forw;
    far_ul.forwarding_parameters =
        ForwardingParameters{DestinationInterface{DestinationInterface::Value::core},
                             NetworkInstance{"internet"}, std::nullopt};
    CreateFar far_dl;
    far_dl.far_id.value = 2;
    far_dl.apply_action.flags = ApplyAction::forw;
    far_dl.forwarding_parameters =
        ForwardingParameters{DestinationInterface{DestinationInterface::Value::access},
                             NetworkInstance{"access"}, gtpu_to(0x01000000 + i, gnb_of(i))};

    CreateQer qer;
    qer.qer_id.value = 1;
    qer.mbr = Mbr{200000, 100000};  // kbps UL, DL
    qer.qfi = Qfi{9};

    CreateUrr urr;
    urr.urr_id.value = 1;
    urr.measurement_method.flags = MeasurementMethod::volum | MeasurementMethod::durat;
    urr.reporting_triggers.flags = ReportingTriggers::volth | ReportingTriggers::perio;
    urr.volume_threshold = VolumeThreshold{1000000000, std::nullopt, std::nullopt};
    urr.measurement_period = MeasurementPeriod{3600};

    FSeid cp;
    cp.seid = Seid(0x5000000000000000ull + i);
    cp.ipv4 = wire(smf_ip);

    return message(MessageType::session_establishment_request, 0, seq, [&](Writer& w) {
        smf_id.encode(w);
        cp.encode(w);
        ul.encode(w);
        dl.encode(w);
        far_ul.encode(w);
        far_dl.encode(w);
        urr.encode(w);
        qer.encode(w);
    });
}

// An N2 handover's path switch: Update FAR 2 with the target gNB's TEID and address.
std::vector<uint8_t> modification(uint64_t up_seid, uint32_t i, uint32_t seq) {
    using namespace pf;
    UpdateFar f;
    f.far_id.value = 2;
    f.apply_action = ApplyAction{ApplyAction::forw};
    UpdateForwardingParameters u;
    u.outer_header_creation = gtpu_to(0x02000000 + i, gnb_of(i + 1));
    f.update_forwarding_parameters = u;
    return message(MessageType::session_modification_request, up_seid, seq,
                   [&](Writer& w) { f.encode(w); });
}

std::vector<uint8_t> deletion(uint64_t up_seid, uint32_t seq) {
    return message(pf::MessageType::session_deletion_request, up_seid, seq, [](pf::Writer&) {});
}

// ---- responses ----------------------------------------------------------------------------------

// Checks a response: the expected type and sequence number, Cause 1 (Request accepted); for an
// establishment also returns braid's SEID and the allocated UL TEID.
struct Checked {
    bool ok = false;
    uint64_t up_seid = 0;
    uint32_t ul_teid = 0;
    std::string why;
};

Checked check_response(const std::vector<uint8_t>& bytes, pf::MessageType type, uint32_t seq) {
    using namespace pf;
    Checked c;
    auto m = parse_message(std::span<const uint8_t>(bytes));
    if (!m) {
        c.why = "unparsable response";
        return c;
    }
    if (m->header.type != type || m->header.sequence != SequenceNumber(seq)) {
        c.why = "wrong response type or sequence number";
        return c;
    }
    auto ies = IeList::parse(m->body);
    if (!ies) {
        c.why = "bad IEs in the response";
        return c;
    }
    auto cause = decode_mandatory<CauseIe>(*ies);
    if (!cause || cause->value != Cause::request_accepted) {
        c.why = cause ? "cause " + std::to_string(static_cast<int>(cause->value)) : "no Cause";
        return c;
    }
    if (type == MessageType::session_establishment_response) {
        auto up = decode_optional<FSeid>(*ies);
        auto created = decode_list<CreatedPdr>(*ies);
        if (!up || !*up || !created || created->size() != 1 || !(*created)[0].local_f_teid) {
            c.why = "no UP F-SEID or no Created PDR with an F-TEID";
            return c;
        }
        c.up_seid = (*up)->seid.value();
        c.ul_teid = (*created)[0].local_f_teid->teid.value();
    }
    c.ok = true;
    return c;
}

// ---- statistics ---------------------------------------------------------------------------------

struct Phase {
    std::string name;
    uint64_t count = 0;
    double seconds = 0;             // wall time of the loop (control ticks included)
    std::vector<uint64_t> latency;  // TSC cycles per request
    uint64_t handler_cycles = 0;    // Σ on_datagram time (no waiting, no ticks)
    uint64_t tick_cycles = 0;       // Σ control_tick/poll/on_timer time inside the loop
    std::vector<uint64_t> ticks;    // each control tick's pause (cycles): what a request waits

    void tick(uint64_t cycles) {
        if (cycles != 0) {
            tick_cycles += cycles;
            ticks.push_back(cycles);
        }
    }
};

double pct(std::vector<uint64_t>& v, double p, uint64_t hz) {
    if (v.empty()) {
        return 0;
    }
    size_t k = static_cast<size_t>(p / 100.0 * double(v.size() - 1) + 0.5);
    k = std::min(k, v.size() - 1);
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(k), v.end());
    return double(v[k]) * 1e6 / double(hz);  // µs
}

// Printed as soon as a phase ends (a long run shows progress; stdout is flushed).
void report(Phase& p, uint64_t hz) {
    const double rate = p.seconds > 0 ? double(p.count) / p.seconds : 0;
    const double handler_rate =
        p.handler_cycles ? double(p.count) * double(hz) / double(p.handler_cycles) : 0;
    const double p50 = pct(p.latency, 50, hz), p99 = pct(p.latency, 99, hz),
                 p999 = pct(p.latency, 99.9, hz), pmax = pct(p.latency, 100, hz);
    std::printf("%-22s %8" PRIu64
                " requests in %7.3f s: %9.0f /s (handler alone %9.0f /s); "
                "latency p50 %7.1f us, p99 %7.1f us, p99.9 %7.1f us, max %8.1f us; control ticks "
                "%.1f%% of the loop\n",
                p.name.c_str(), p.count, p.seconds, rate, handler_rate, p50, p99, p999, pmax,
                p.seconds > 0 ? 100.0 * double(p.tick_cycles) / (p.seconds * double(hz)) : 0.0);
    std::printf("result.%s_count=%" PRIu64 "\n", p.name.c_str(), p.count);
    std::printf("result.%s_per_s=%.0f\n", p.name.c_str(), rate);
    std::printf("result.%s_handler_per_s=%.0f\n", p.name.c_str(), handler_rate);
    std::printf("result.%s_p50_us=%.1f\n", p.name.c_str(), p50);
    std::printf("result.%s_p99_us=%.1f\n", p.name.c_str(), p99);
    std::printf("result.%s_p999_us=%.1f\n", p.name.c_str(), p999);
    std::printf("result.%s_max_us=%.1f\n", p.name.c_str(), pmax);
    // One control tick's pause: a request that arrives during it waits this long.
    const size_t nticks = p.ticks.size();
    const double t50 = pct(p.ticks, 50, hz), t99 = pct(p.ticks, 99, hz),
                 tmax = pct(p.ticks, 100, hz);
    std::printf("%-22s %8zu control ticks: pause p50 %7.1f us, p99 %7.1f us, max %8.1f us\n", "",
                nticks, t50, t99, tmax);
    std::printf("result.%s_tick_p50_us=%.1f\n", p.name.c_str(), t50);
    std::printf("result.%s_tick_p99_us=%.1f\n", p.name.c_str(), t99);
    std::printf("result.%s_tick_max_us=%.1f\n", p.name.c_str(), tmax);
    std::fflush(stdout);
}

// ---- braid
// ----------------------------------------------------------------------------------------

bool ring_port(const char* name, rte_ring** rx, rte_ring** tx, std::string* ethname) {
    const std::string base = name;
    *rx = rte_ring_create(("pfcp_rx_" + base).c_str(), 1024, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    *tx = rte_ring_create(("pfcp_tx_" + base).c_str(), 1024, SOCKET_ID_ANY,
                          RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (*rx == nullptr || *tx == nullptr) {
        std::fprintf(stderr, "bench_pfcp: cannot create rings: %s\n", rte_strerror(rte_errno));
        return false;
    }
    const int port = rte_eth_from_rings(("net_ring_pfcp_" + base).c_str(), rx, 1, tx, 1, 0);
    char n[RTE_ETH_NAME_MAX_LEN];
    if (port < 0 || rte_eth_dev_get_name_by_port(static_cast<uint16_t>(port), n) != 0) {
        std::fprintf(stderr, "bench_pfcp: rte_eth_from_rings failed\n");
        return false;
    }
    *ethname = n;
    return true;
}

config::Port port_config(const char* name, config::PortRole role, const std::string& dev,
                         std::array<uint8_t, 6> mac, uint32_t ip) {
    config::Port p;
    p.name = name;
    p.role = role;
    p.vdev = dev;
    p.mac = mac;
    p.ipv4 = config::Ipv4Prefix{ip, 24};
    p.rx_descriptors = 1024;
    p.tx_descriptors = 1024;
    return p;
}

// The control core's periodic work, as main.cc's event loop schedules it: control_tick every
// 10 ms, the session procedures' poll every 100 ms, the node's timers.
struct ControlLoop {
    dataplane::App& app;
    pf::Node& node;
    pf::SessionProcedures& procs;
    uint64_t hz;
    uint64_t t0;
    uint64_t next_tick = 0, next_poll = 0;

    uint64_t ms(uint64_t tsc) const { return 1000 + (tsc - t0) * 1000 / hz; }
    // Runs what is due; returns the cycles it took.
    uint64_t run(uint64_t now) {
        const uint64_t now_ms = ms(now);
        if (now_ms < next_tick) {
            return 0;
        }
        app.control_tick(now_ms);
        node.on_timer(now_ms);
        next_tick = now_ms + 10;
        if (now_ms >= next_poll) {
            procs.poll(now_ms);
            next_poll = now_ms + 100;
        }
        return rte_rdtsc() - now;
    }
};

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (!parse_args(argc, argv, opt)) {
        usage(argv[0]);
        return 2;
    }
    const uint64_t paced_total = uint64_t(opt.paced_rate) * opt.paced_s;
    const uint64_t total = opt.sessions + paced_total;

    const std::string prefix = "braid-bench-pfcp-" + std::to_string(getpid());
    std::string err;
    std::vector<std::string> eal = {"bench_pfcp",
                                    "-l",
                                    "0-1",
                                    "--no-huge",
                                    "-m",
                                    std::to_string(opt.memory_mb),
                                    "--no-pci",
                                    "--file-prefix",
                                    prefix,
                                    "--log-level",
                                    "lib.eal:warning",
                                    "--no-telemetry"};
    if (!opt.log_level.empty()) {
        eal.insert(eal.end(), {"--log-level", opt.log_level});
    }
    if (!dataplane::eal_init(eal, &err)) {
        std::fprintf(stderr, "bench_pfcp: %s\n", err.c_str());
        return 2;
    }
    static const std::string runtime_dir = "/var/run/dpdk/" + prefix;
    std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(runtime_dir, ec);
    });

    config::Config cfg;
    rte_ring *n3_rx, *n3_tx, *n6_rx, *n6_tx;
    std::string n3_dev, n6_dev;
    if (!ring_port("n3", &n3_rx, &n3_tx, &n3_dev) || !ring_port("n6", &n6_rx, &n6_tx, &n6_dev)) {
        return 2;
    }
    cfg.ports.push_back(
        port_config("n3", config::PortRole::n3, n3_dev, {2, 0, 0, 0, 3, 1}, upf_n3));
    cfg.ports.push_back(
        port_config("n6", config::PortRole::n6, n6_dev, {2, 0, 0, 0, 6, 1}, upf_n6));
    cfg.workers.lcores = {1};
    cfg.mempool.mbufs_per_port = 2047;
    cfg.mempool.cache_size = 32;
    cfg.sessions.max = static_cast<uint32_t>(std::min<uint64_t>(total + 1024, 4194304));

    dataplane::App app;
    if (!app.setup(cfg, &err)) {
        std::fprintf(stderr, "bench_pfcp: setup: %s\n", err.c_str());
        return 2;
    }
    // The gNBs are known neighbours (no ARP requests go out while sessions arrive).
    for (uint32_t g = 0; g < gnb_count; ++g) {
        app.neighbors().learn(0, gnb_first + g, {2, 0, 0, 0, 3, static_cast<uint8_t>(0x10 + g)},
                              true, 0);
    }
    app.control_tick(1);
    if (!app.launch(&err)) {
        std::fprintf(stderr, "bench_pfcp: launch: %s\n", err.c_str());
        return 2;
    }

    // braid's PFCP node and session procedures, wired as main.cc wires them.
    pf::NodeConfig nc;
    nc.node_id = pf::NodeId::from_ipv4(wire(upf_n3));
    nc.recovery_time = pf::RecoveryTimeStamp{0xe8000000};
    nc.heartbeat_interval_ms = 3600000;  // no heartbeat from braid during the benchmark
    std::vector<uint8_t> response;
    uint64_t responses = 0;
    pf::Node node(
        nc,
        [&](const pf::PeerAddress&, std::span<const uint8_t> d) {
            response.assign(d.begin(), d.end());
            ++responses;
        },
        nullptr);
    pf::SessionProceduresConfig sc;
    sc.node_id = nc.node_id;
    sc.n3_ipv4 = upf_n3;
    sc.teid_first = teid_first;
    sc.first_seid = first_up_seid;
    if (auto why = pf::check(sc)) {
        std::fprintf(stderr, "bench_pfcp: %s\n", why->c_str());
        return 2;
    }
    pf::AppSessionActions actions(app);
    pf::SessionProcedures procs(sc, actions, &node);
    node.set_session_handler(&procs);

    const uint64_t hz = rte_get_tsc_hz();
    ControlLoop loop{app, node, procs, hz, rte_rdtsc()};
    uint32_t seq = 1;
    auto send = [&](const std::vector<uint8_t>& req) {
        node.on_datagram(std::span<const uint8_t>(req), smf_addr, loop.ms(rte_rdtsc()));
    };

    // Association first (the SMF's Association Setup Request).
    send(message(pf::MessageType::association_setup_request, std::nullopt, seq++,
                 [&](pf::Writer& w) {
                     smf_id.encode(w);
                     pf::RecoveryTimeStamp{0xe9000000}.encode(w);
                 }));
    if (node.associations().size() != 1) {
        std::fprintf(stderr, "bench_pfcp: the association was not set up\n");
        return 1;
    }

    bool ok = true;
    std::vector<uint64_t> up_seids;
    up_seids.reserve(total);
    std::vector<uint32_t> ul_teids;
    ul_teids.reserve(total);

    // One request, timed; the response is checked afterwards. `due` is when the request arrived
    // (paced phase) or 0 (back to back: it arrives when the previous one is answered).
    auto one = [&](Phase& p, const std::vector<uint8_t>& req, pf::MessageType resp_type, uint32_t s,
                   uint64_t due) -> Checked {
        const uint64_t before = responses;
        const uint64_t t0 = rte_rdtsc();
        send(req);
        const uint64_t t1 = rte_rdtsc();
        p.handler_cycles += t1 - t0;
        p.latency.push_back(t1 - (due != 0 ? std::min(due, t0) : t0));
        ++p.count;
        Checked c;
        if (responses != before + 1) {
            c.why = "no response";
        } else {
            c = check_response(response, resp_type, s);
        }
        if (!c.ok && ok) {
            std::fprintf(stderr, "bench_pfcp: %s request %" PRIu64 ": %s\n", p.name.c_str(),
                         p.count, c.why.c_str());
            ok = false;
        }
        return c;
    };

    // Encode a batch of requests ahead of the loop that sends them (the SMF's work).
    std::vector<std::vector<uint8_t>> reqs;
    auto establish_phase = [&](Phase& p, uint32_t first, uint32_t n, uint32_t rate) {
        reqs.clear();
        reqs.reserve(n);
        const uint32_t seq0 = seq;
        for (uint32_t k = 0; k < n; ++k) {
            reqs.push_back(establishment(first + k, seq++));
        }
        const uint64_t start = rte_rdtsc();
        for (uint32_t k = 0; k < n && ok; ++k) {
            uint64_t due = 0;
            if (rate != 0) {
                due = start + uint64_t(k) * hz / rate;
                for (uint64_t now = rte_rdtsc(); now < due; now = rte_rdtsc()) {
                    p.tick(loop.run(now));
                }
            }
            p.tick(loop.run(rte_rdtsc()));
            Checked c =
                one(p, reqs[k], pf::MessageType::session_establishment_response, seq0 + k, due);
            up_seids.push_back(c.up_seid);
            ul_teids.push_back(c.ul_teid);
        }
        p.seconds = double(rte_rdtsc() - start) / double(hz);
    };

    Phase est{"establish"}, mod{"modify"}, paced{"establish_paced"}, del{"delete"};
    std::printf(
        "bench_pfcp: %u sessions back to back, then %u/s for %u s; TSC %.3f GHz; "
        "worker on lcore 1\n",
        opt.sessions, opt.paced_rate, opt.paced_s, double(hz) / 1e9);

    // 1. establishment, back to back.
    est.latency.reserve(opt.sessions);
    establish_phase(est, 0, opt.sessions, 0);
    report(est, hz);
    // The dataplane's tables hold every session: its UL TEID and UE address find it.
    for (uint32_t k = 0; ok && k < opt.sessions; k += std::max<uint32_t>(1, opt.sessions / 1000)) {
        if (actions.teid_owner(ul_teids[k]) != up_seids[k] ||
            actions.ue_ipv4_owner(ue_first + k) != up_seids[k]) {
            std::fprintf(stderr, "bench_pfcp: session %u is not in the dataplane's tables\n", k);
            ok = false;
        }
    }

    // 2. modification, back to back.
    if (ok) {
        reqs.clear();
        reqs.reserve(opt.sessions);
        const uint32_t seq0 = seq;
        for (uint32_t k = 0; k < opt.sessions; ++k) {
            reqs.push_back(modification(up_seids[k], k, seq++));
        }
        mod.latency.reserve(opt.sessions);
        const uint64_t start = rte_rdtsc();
        for (uint32_t k = 0; k < opt.sessions && ok; ++k) {
            mod.tick(loop.run(rte_rdtsc()));
            one(mod, reqs[k], pf::MessageType::session_modification_response, seq0 + k, 0);
        }
        mod.seconds = double(rte_rdtsc() - start) / double(hz);
        // The dataplane has the new DL tunnel.
        const dataplane::SessionSpec* s = actions.spec(up_seids[0]);
        bool found = false;
        for (const auto& f : s != nullptr ? s->fars : std::vector<dataplane::Far>{}) {
            found |= f.id == 2 && f.outer_header && f.outer_header->teid == 0x02000000u;
        }
        if (ok && !found) {
            std::fprintf(stderr, "bench_pfcp: the modification did not reach the dataplane\n");
            ok = false;
        }
        report(mod, hz);
    }

    // 3. paced establishment.
    if (ok && paced_total != 0) {
        paced.latency.reserve(paced_total);
        establish_phase(paced, opt.sessions, static_cast<uint32_t>(paced_total), opt.paced_rate);
        report(paced, hz);
    }

    // 4. deletion of everything, back to back.
    if (ok) {
        reqs.clear();
        reqs.reserve(up_seids.size());
        const uint32_t seq0 = seq;
        for (uint64_t s : up_seids) {
            reqs.push_back(deletion(s, seq++));
        }
        del.latency.reserve(reqs.size());
        const uint64_t start = rte_rdtsc();
        for (uint32_t k = 0; k < reqs.size() && ok; ++k) {
            del.tick(loop.run(rte_rdtsc()));
            one(del, reqs[k], pf::MessageType::session_deletion_response, seq0 + k, 0);
        }
        del.seconds = double(rte_rdtsc() - start) / double(hz);
        if (ok && (procs.session_count() != 0 || app.sessions().size() != 0)) {
            std::fprintf(stderr, "bench_pfcp: %zu sessions left after deletion\n",
                         app.sessions().size());
            ok = false;
        }
        report(del, hz);
    }

    std::printf("result.sessions=%u\nresult.paced_rate=%u\nresult.paced_seconds=%u\n", opt.sessions,
                opt.paced_rate, opt.paced_s);
    std::printf("result.tsc_hz=%" PRIu64 "\n", hz);

    app.shutdown();  // stops the worker
    std::printf("result.ok=%d\n", ok ? 1 : 0);
    return ok ? 0 : 1;
}
