// bench_pipeline: braid's packet path (n3_rx → eth_classify → icmp_local → n3_tx) in steady state
// on one worker lcore, measured with braid's own counters (docs/BENCHMARKS.md).
//
// One net_ring port (n3) with separate RX and TX rings, built in-process with
// rte_eth_from_rings(). The main lcore is the traffic generator and reflector: it pre-builds K
// ICMP echo requests to braid's n3 address, keeps the RX ring fed, takes braid's echo replies off
// the TX ring, checks every byte of each against the reply braid must send, turns it back into the
// request (swap MACs and IPs, ICMP type 0 → 8 with an RFC 1624 incremental checksum update; the
// IPv4 checksum is unchanged because the swap keeps the same words) and puts it back on the RX
// ring. The worker (lcore 1) thus never runs dry and never sees a packet it has not seen before.
// --mode cross (default): braid's own worker loop on lcore 1, the reflector on the main lcore.
// --mode inline: the reflector runs on lcore 1 between graph walks (no cache line crosses cores,
// as in testpmd's one-core loopback); the main lcore only watches.
//
// Output: a human-readable report, then `key=value` lines (prefix "result.") that
// scripts/bench.sh parses. Exit status 0 only if every reply was correct and nothing was dropped.
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_graph_worker.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "control/config.h"
#include "dataplane/app.h"
#include "dataplane/eal.h"
#include "pipelines/drop_reasons.h"
#include "pipelines/graph.h"

using namespace braid;

namespace {

struct Options {
    unsigned size = 64;        // frame length without FCS (testpmd --txpkts counts the same way)
    double duration_s = 10.0;  // measured interval
    double warmup_s = 1.0;     // before the first snapshot
    unsigned inflight = 1024;  // K: frames circulating between the reflector and braid
    unsigned burst = 32;       // braid's workers.burst_size
    bool inline_mode = false;  // --mode inline: reflector on the worker lcore, between walks
};

void usage(const char* argv0) {
    std::fprintf(stderr,
                 "usage: %s [--size 64|512] [--duration SECONDS] [--warmup SECONDS]\n"
                 "          [--inflight K] [--burst N] [--mode cross|inline]\n"
                 "  --size      frame length in bytes without FCS (64 or 512; default 64)\n"
                 "  --duration  measured interval (default 10 s, at most 600)\n"
                 "  --warmup    run before measuring (default 1 s)\n"
                 "  --inflight  frames circulating (default 1024, 64..16384)\n"
                 "  --burst     braid worker burst size (default 32)\n"
                 "  --mode      cross: braid's worker on lcore 1, reflector on lcore 0 (default)\n"
                 "              inline: graph walk and reflector alternate on lcore 1\n",
                 argv0);
}

bool parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(argv[0]);
            std::exit(0);
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", argv[0], a.c_str());
            return false;
        }
        const char* v = argv[++i];
        char* end = nullptr;
        if (a == "--size") {
            o.size = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else if (a == "--duration") {
            o.duration_s = std::strtod(v, &end);
        } else if (a == "--warmup") {
            o.warmup_s = std::strtod(v, &end);
        } else if (a == "--inflight") {
            o.inflight = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else if (a == "--mode") {
            if (std::string(v) != "cross" && std::string(v) != "inline") {
                std::fprintf(stderr, "%s: --mode is cross or inline\n", argv[0]);
                return false;
            }
            o.inline_mode = std::string(v) == "inline";
            continue;
        } else if (a == "--burst") {
            o.burst = static_cast<unsigned>(std::strtoul(v, &end, 10));
        } else {
            std::fprintf(stderr, "%s: unknown option %s\n", argv[0], a.c_str());
            return false;
        }
        if (end == v || *end != '\0') {
            std::fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], a.c_str(), v);
            return false;
        }
    }
    if (o.size != 64 && o.size != 512) {
        std::fprintf(stderr, "--size must be 64 or 512\n");
        return false;
    }
    if (!(o.duration_s > 0 && o.duration_s <= 600) || !(o.warmup_s >= 0 && o.warmup_s <= 60)) {
        std::fprintf(stderr, "--duration must be in (0, 600], --warmup in [0, 60]\n");
        return false;
    }
    if (o.inflight < 64 || o.inflight > 16384 || o.burst < 1 || o.burst > 256) {
        std::fprintf(stderr, "--inflight must be 64..16384, --burst 1..256\n");
        return false;
    }
    return true;
}

// Addresses: braid's n3 side and the simulated gNB (RFC 2544 benchmarking range 198.18.0.0/15).
constexpr std::array<uint8_t, 6> braid_mac = {2, 0, 0, 0, 3, 1};
constexpr std::array<uint8_t, 6> peer_mac = {2, 0, 0, 0, 3, 2};
constexpr uint32_t braid_ip = 0xC6120001;  // 198.18.0.1
constexpr uint32_t peer_ip = 0xC6120002;   // 198.18.0.2
constexpr uint16_t icmp_ident = 0x4242;
constexpr size_t hdr_len = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_icmp_hdr);
constexpr size_t seq_off = hdr_len - 2;  // ICMP sequence number (big endian)
constexpr size_t icmp_off = hdr_len - sizeof(rte_icmp_hdr);

uint16_t fold(uint32_t s) {
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(s);
}

// One's complement checksum over `len` bytes (big-endian words), the value to store (~sum).
uint16_t inet_cksum(const uint8_t* p, size_t len) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        s += uint32_t(p[i]) << 8 | p[i + 1];
    }
    if (len & 1) {
        s += uint32_t(p[len - 1]) << 8;
    }
    return static_cast<uint16_t>(~fold(s));
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = static_cast<uint8_t>(v >> 8);
    p[1] = static_cast<uint8_t>(v);
}
uint16_t get16(const uint8_t* p) {
    return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, static_cast<uint16_t>(v >> 16));
    put16(p + 2, static_cast<uint16_t>(v));
}

constexpr unsigned max_size = 512;
using Frame = std::array<uint8_t, max_size>;  // the first `size` bytes are the frame, the rest 0

// The echo request with sequence number `seq`, written independently of DPDK's helpers.
Frame make_request(unsigned size, uint16_t seq) {
    Frame f{};
    std::memcpy(f.data(), braid_mac.data(), 6);
    std::memcpy(f.data() + 6, peer_mac.data(), 6);
    put16(f.data() + 12, 0x0800);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    put16(ip + 2, static_cast<uint16_t>(size - 14));
    put16(ip + 4, seq);  // identification
    ip[8] = 64;          // TTL: braid's replies carry 64, so the reflected request is identical
    ip[9] = 1;           // ICMP
    put32(ip + 12, peer_ip);
    put32(ip + 16, braid_ip);
    put16(ip + 10, inet_cksum(ip, 20));
    uint8_t* icmp = ip + 20;
    icmp[0] = 8;  // echo request
    put16(icmp + 4, icmp_ident);
    put16(icmp + 6, seq);
    for (size_t i = hdr_len; i < size; ++i) {
        f[i] = static_cast<uint8_t>(i * 7 + 3);
    }
    put16(icmp + 2, inet_cksum(icmp, size - 34));
    return f;
}

// The reply braid must send for make_request(size, seq) (RFC 792): MACs and IPs swapped, TTL 64,
// type 0, both checksums recomputed from scratch.
Frame make_reply(unsigned size, uint16_t seq) {
    Frame f = make_request(size, seq);
    std::memcpy(f.data(), peer_mac.data(), 6);
    std::memcpy(f.data() + 6, braid_mac.data(), 6);
    uint8_t* ip = f.data() + 14;
    ip[8] = 64;
    put32(ip + 12, braid_ip);
    put32(ip + 16, peer_ip);
    put16(ip + 10, 0);
    put16(ip + 10, inet_cksum(ip, 20));
    uint8_t* icmp = ip + 20;
    icmp[0] = 0;
    put16(icmp + 2, 0);
    put16(icmp + 2, inet_cksum(icmp, size - 34));
    return f;
}

// Reply → request in place: swap MACs, swap IPs (the IPv4 header checksum covers the same
// 16-bit words, so it stays valid), ICMP type 0 → 8 with the checksum updated per RFC 1624
// eqn. 3: HC' = ~(~HC + ~m + m'), m and m' being the type/code word before and after.
inline void reflect(uint8_t* f) {
    uint8_t tmp[6];
    std::memcpy(tmp, f, 6);
    std::memcpy(f, f + 6, 6);
    std::memcpy(f + 6, tmp, 6);
    uint8_t* ip = f + 14;
    uint32_t a;
    std::memcpy(&a, ip + 12, 4);
    std::memcpy(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, &a, 4);
    uint8_t* icmp = f + icmp_off;
    const uint16_t m_old = get16(icmp);
    icmp[0] = 8;
    const uint16_t m_new = get16(icmp);
    const uint16_t hc = get16(icmp + 2);
    put16(icmp + 2,
          static_cast<uint16_t>(~fold(uint32_t(uint16_t(~hc)) + uint16_t(~m_old) + m_new)));
}

// Check the generator against itself before trusting it with braid: requests and replies carry
// valid checksums, reflecting a reply gives back the request, for every sequence number used.
bool self_test(unsigned size, unsigned k) {
    for (unsigned s = 0; s < k; ++s) {
        auto req = make_request(size, static_cast<uint16_t>(s));
        auto rep = make_reply(size, static_cast<uint16_t>(s));
        if (inet_cksum(&req[14], 20) != 0 || inet_cksum(&req[34], size - 34) != 0 ||
            inet_cksum(&rep[14], 20) != 0 || inet_cksum(&rep[34], size - 34) != 0) {
            std::fprintf(stderr, "self-test: bad checksum for seq %u\n", s);
            return false;
        }
        reflect(rep.data());
        if (rep != req) {
            std::fprintf(stderr,
                         "self-test: reflecting the reply for seq %u does not give the request\n",
                         s);
            return false;
        }
    }
    return true;
}

struct Snapshot {
    uint64_t tsc = 0;
    uint64_t rx = 0, tx = 0, busy = 0, idle = 0, loops = 0;
    std::vector<pipelines::NodeStats> nodes;
};

Snapshot snap(const dataplane::WorkerContext& wc) {
    Snapshot s;
    s.tsc = rte_rdtsc();
    s.rx = wc.counters.rx_packets.get();
    s.tx = wc.counters.tx_packets.get();
    s.busy = wc.counters.busy_cycles.get();
    s.idle = wc.counters.idle_cycles.get();
    s.loops = wc.counters.loops.get();
    s.nodes = pipelines::node_stats(wc);
    return s;
}

struct Reflector {
    rte_ring* rx = nullptr;  // we produce, braid's n3_rx consumes
    rte_ring* tx = nullptr;  // braid's n3_tx produces, we consume
    unsigned size = 64;
    unsigned k = 0;
    std::vector<uint8_t> reply_hdr;     // expected reply header for seq 0
    std::vector<uint16_t> reply_cksum;  // by seq: ICMP checksum of the expected reply
    std::vector<uint16_t> reply_ipid;   // by seq
    std::vector<uint16_t> reply_ipck;   // by seq
    std::vector<uint8_t> payload;       // bytes after the headers (same for every frame)
    // Single writer (whichever lcore reflects), read by the main lcore.
    dataplane::Counter reflected;
    dataplane::Counter mismatches;
    dataplane::Counter enqueue_failures;
    dataplane::Counter polls;
    dataplane::Counter empty_polls;

    bool matches(const rte_mbuf* m) const {
        if (m->nb_segs != 1 || rte_pktmbuf_pkt_len(m) != size || rte_pktmbuf_data_len(m) != size) {
            return false;
        }
        const auto* f = rte_pktmbuf_mtod(m, const uint8_t*);
        const uint16_t seq = get16(f + seq_off);
        if (seq >= k) {
            return false;
        }
        // Header: the seq-0 reply with the per-seq words patched in.
        uint8_t h[hdr_len];
        std::memcpy(h, reply_hdr.data(), hdr_len);
        put16(h + 14 + 4, reply_ipid[seq]);
        put16(h + 14 + 10, reply_ipck[seq]);
        put16(h + icmp_off + 2, reply_cksum[seq]);
        put16(h + seq_off, seq);
        return std::memcmp(f, h, hdr_len) == 0 &&
               std::memcmp(f + hdr_len, payload.data(), size - hdr_len) == 0;
    }

    // One pass: take what braid sent, check it, turn it back into a request, feed it back.
    void poll() {
        rte_mbuf* pkts[64];
        unsigned n = rte_ring_sc_dequeue_burst(tx, reinterpret_cast<void**>(pkts), 64, nullptr);
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = pkts[i];
            if (matches(m)) [[likely]] {
                reflect(rte_pktmbuf_mtod(m, uint8_t*));
            } else {
                mismatches.add();
                // Put a valid request back so the run continues.
                uint16_t seq = static_cast<uint16_t>(reflected.get() % k);
                auto req = make_request(size, seq);
                rte_pktmbuf_reset(m);
                std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(size)), req.data(), size);
            }
        }
        reflected.add(n);
        polls.add();
        if (n == 0) {
            empty_polls.add();
        } else {
            unsigned q = rte_ring_sp_enqueue_burst(rx, reinterpret_cast<void**>(pkts), n, nullptr);
            if (q != n) {  // cannot happen: the ring holds all K frames
                enqueue_failures.add(n - q);
                rte_pktmbuf_free_bulk(pkts + q, n - q);
            }
        }
    }
};

// --mode inline: braid's graph and the reflector take turns on the worker lcore, so that no
// cache line crosses cores (as in testpmd's one-core loopback). This replaces App::worker_main
// (same walk, TX flush and cycle accounting into the worker's counters; no RCU reports, which
// nothing needs here) and adds the reflection after each walk, timed separately.
struct Inline {
    dataplane::App* app = nullptr;
    dataplane::WorkerContext* wc = nullptr;
    Reflector* r = nullptr;
    std::atomic<bool> stop{false};
    dataplane::Counter reflect_cycles;
};

int inline_main(void* arg) {
    auto& c = *static_cast<Inline*>(arg);
    dataplane::WorkerContext& wc = *c.wc;
    const dataplane::PortRuntime& port = c.app->ports()[0];
    uint64_t prev = rte_rdtsc();
    while (!c.stop.load(std::memory_order_acquire)) {
        wc.rx_this_loop = 0;
        rte_graph_walk(wc.graph);
        wc.counters.tx_packets.add(
            rte_eth_tx_buffer_flush(port.port_id, wc.txq, wc.tx_buffers[port.index]));
        const uint64_t t1 = rte_rdtsc();
        (wc.rx_this_loop > 0 ? wc.counters.busy_cycles : wc.counters.idle_cycles).add(t1 - prev);
        wc.counters.loops.add();
        c.r->poll();
        prev = rte_rdtsc();
        c.reflect_cycles.add(prev - t1);
    }
    return 0;
}

std::string hz_string(uint64_t hz) {
    char b[32];
    std::snprintf(b, sizeof(b), "%.3f GHz", double(hz) / 1e9);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (!parse_args(argc, argv, opt)) {
        usage(argv[0]);
        return 2;
    }
    if (!self_test(opt.size, opt.inflight)) {
        return 1;
    }

    const std::string prefix = "braid-bench-" + std::to_string(getpid());
    std::string err;
    if (!dataplane::eal_init(
            {"bench_pipeline", "-l", "0-1", "--no-huge", "-m", "1024", "--no-pci", "--file-prefix",
             prefix, "--log-level", "lib.eal:warning", "--no-telemetry"},
            &err)) {
        std::fprintf(stderr, "bench_pipeline: %s\n", err.c_str());
        return 2;
    }
    // EAL leaves its runtime directory behind; a benchmark must not litter /var/run/dpdk.
    static const std::string runtime_dir = "/var/run/dpdk/" + prefix;
    std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(runtime_dir, ec);
    });

    unsigned ring_size = 64;
    while (ring_size <= opt.inflight) {
        ring_size <<= 1;
    }
    Reflector r;
    r.size = opt.size;
    r.k = opt.inflight;
    r.rx = rte_ring_create("bench_rx", ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    r.tx = rte_ring_create("bench_tx", ring_size, SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (r.rx == nullptr || r.tx == nullptr) {
        std::fprintf(stderr, "bench_pipeline: cannot create rings: %s\n", rte_strerror(rte_errno));
        return 2;
    }
    int port = rte_eth_from_rings("net_ring_bench_n3", &r.rx, 1, &r.tx, 1, 0);
    char ethname[RTE_ETH_NAME_MAX_LEN];
    if (port < 0 || rte_eth_dev_get_name_by_port(static_cast<uint16_t>(port), ethname) != 0) {
        std::fprintf(stderr, "bench_pipeline: rte_eth_from_rings failed\n");
        return 2;
    }

    config::Config cfg;
    config::Port p;
    p.name = "n3";
    p.role = config::PortRole::n3;
    p.vdev = ethname;
    p.mac = braid_mac;
    p.ipv4 = config::Ipv4Prefix{braid_ip, 24};
    p.rx_descriptors = 1024;
    p.tx_descriptors = 1024;
    cfg.ports.push_back(p);
    cfg.workers.lcores = {1};
    cfg.workers.burst_size = static_cast<uint16_t>(opt.burst);
    cfg.mempool.mbufs_per_port = 2047;  // unused by net_ring (it never allocates)
    cfg.mempool.cache_size = 32;

    dataplane::App app;
    if (!app.setup(cfg, &err)) {
        std::fprintf(stderr, "bench_pipeline: setup: %s\n", err.c_str());
        return 2;
    }

    rte_mempool* pool = rte_pktmbuf_pool_create("bench_pool", opt.inflight + 63, 0, 0,
                                                RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    if (pool == nullptr) {
        std::fprintf(stderr, "bench_pipeline: cannot create the mbuf pool\n");
        return 2;
    }
    auto rep0 = make_reply(opt.size, 0);
    r.reply_hdr.assign(rep0.begin(), rep0.begin() + hdr_len);
    r.payload.assign(rep0.begin() + hdr_len, rep0.begin() + opt.size);
    for (unsigned s = 0; s < opt.inflight; ++s) {
        auto rep = make_reply(opt.size, static_cast<uint16_t>(s));
        r.reply_ipid.push_back(get16(&rep[14 + 4]));
        r.reply_ipck.push_back(get16(&rep[14 + 10]));
        r.reply_cksum.push_back(get16(&rep[icmp_off + 2]));
        auto req = make_request(opt.size, static_cast<uint16_t>(s));
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        char* d = m != nullptr ? rte_pktmbuf_append(m, static_cast<uint16_t>(opt.size)) : nullptr;
        if (d == nullptr) {
            std::fprintf(stderr, "bench_pipeline: mbuf allocation failed\n");
            return 2;
        }
        std::memcpy(d, req.data(), opt.size);
        if (rte_ring_sp_enqueue(r.rx, m) != 0) {
            std::fprintf(stderr, "bench_pipeline: RX ring full while filling\n");
            return 2;
        }
    }

    Inline inl;
    inl.app = &app;
    inl.wc = app.workers()[0];
    inl.r = &r;
    if (opt.inline_mode) {
        if (rte_eal_remote_launch(inline_main, &inl, inl.wc->lcore_id) != 0) {
            std::fprintf(stderr, "bench_pipeline: cannot launch on lcore %u\n", inl.wc->lcore_id);
            return 2;
        }
    } else if (!app.launch(&err)) {
        std::fprintf(stderr, "bench_pipeline: launch: %s\n", err.c_str());
        return 2;
    }
    // The main lcore reflects in cross mode; in inline mode it only watches the counters.
    auto pump = [&] {
        if (opt.inline_mode) {
            rte_delay_us_sleep(200);
        } else {
            r.poll();
        }
    };
    const dataplane::WorkerContext& wc = *app.workers()[0];  // freed by app.shutdown()
    const unsigned worker_lcore = wc.lcore_id;
    const uint64_t hz = app.tsc_hz();

    // Warm-up, then the measured interval; both bounded by the TSC.
    const uint64_t t0 = rte_rdtsc();
    const uint64_t warm_end = t0 + static_cast<uint64_t>(opt.warmup_s * double(hz));
    while (rte_rdtsc() < warm_end) {
        pump();
    }
    const uint64_t refl0 = r.reflected.get();
    const uint64_t polls0 = r.polls.get(), empty0 = r.empty_polls.get();
    const uint64_t rcyc0 = inl.reflect_cycles.get();
    Snapshot a = snap(wc);
    const uint64_t end = a.tsc + static_cast<uint64_t>(opt.duration_s * double(hz));
    // Windows of 1/100 of the interval (at least 10 ms): other load on the machine preempts the
    // worker or the reflector now and then, which inflates a mean; the median window does not
    // see it as long as fewer than half of the windows are hit.
    const uint64_t window = std::max<uint64_t>((end - a.tsc) / 100, hz / 100);
    std::vector<double> win_mpps, win_cpp;
    uint64_t w_tsc = a.tsc, w_rx = a.rx, w_busy = a.busy;
    uint64_t next_window = a.tsc + window;
    uint64_t occ_rx = 0, occ_tx = 0, occ_n = 0;  // ring occupancy, sampled once a window
    for (uint64_t now = rte_rdtsc(); now < end; now = rte_rdtsc()) {
        pump();
        if (now >= next_window) {
            occ_rx += rte_ring_count(r.rx);
            occ_tx += rte_ring_count(r.tx);
            ++occ_n;
            const uint64_t rx = wc.counters.rx_packets.get(), busy = wc.counters.busy_cycles.get();
            if (rx > w_rx) {
                win_mpps.push_back(double(rx - w_rx) * double(hz) / double(now - w_tsc) / 1e6);
                win_cpp.push_back(double(busy - w_busy) / double(rx - w_rx));
            } else {
                win_mpps.push_back(0);
            }
            w_tsc = now, w_rx = rx, w_busy = busy;
            next_window = now + window;
        }
    }
    Snapshot b = snap(wc);
    const uint64_t refl1 = r.reflected.get();
    const uint64_t polls = r.polls.get() - polls0, empty_polls = r.empty_polls.get() - empty0;
    const uint64_t reflect_cycles = inl.reflect_cycles.get() - rcyc0;
    if (opt.inline_mode) {
        inl.stop.store(true, std::memory_order_release);
        rte_eal_wait_lcore(inl.wc->lcore_id);
    }

    // Stop braid; collect every frame (rings and braid's TX buffer, which the worker flushes).
    const uint64_t braid_leak = app.shutdown();
    uint64_t drops_total = 0;
    std::string drops_text;
    for (size_t i = 0; i < pipelines::drop_reason_count; ++i) {
        uint64_t d = app.drops(static_cast<pipelines::DropReason>(i));
        if (d != 0) {
            drops_total += d;
            drops_text +=
                " " + std::string(pipelines::drop_reason_table[i].name) + "=" + std::to_string(d);
        }
    }
    for (rte_ring* ring : {r.rx, r.tx}) {
        rte_mbuf* m = nullptr;
        while (rte_ring_dequeue(ring, reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
        }
    }
    const unsigned pool_in_use = rte_mempool_in_use_count(pool);

    // Report.
    const double secs = double(b.tsc - a.tsc) / double(hz);
    const uint64_t pkts = b.rx - a.rx;
    const uint64_t busy = b.busy - a.busy;
    const uint64_t idle = b.idle - a.idle;
    const double mpps = double(pkts) / secs / 1e6;
    const double cpp_busy = pkts ? double(busy) / double(pkts) : 0;
    const double cpp_total = pkts ? double(busy + idle) / double(pkts) : 0;
    const double busy_pct = (busy + idle) ? 100.0 * double(busy) / double(busy + idle) : 0;

    std::printf(
        "braid bench_pipeline: n3_rx -> eth_classify -> icmp_local -> n3_tx, ICMP echo, "
        "%u-byte frames, %u in flight, burst %u, mode %s\n",
        opt.size, opt.inflight, opt.burst, opt.inline_mode ? "inline" : "cross");
    std::printf("  worker lcore %u, TSC %s, measured %.3f s after %.1f s warm-up\n", worker_lcore,
                hz_string(hz).c_str(), secs, opt.warmup_s);
    std::printf("  packets (worker rx)        %" PRIu64 "  (tx %" PRIu64 ", reflected %" PRIu64
                ")\n",
                pkts, b.tx - a.tx, refl1 - refl0);
    std::printf(
        "  reflector (%s)  %" PRIu64 " polls, %.1f%% empty, %.1f pkts/poll, %.1f cycles/pkt\n",
        opt.inline_mode ? "worker lcore" : "main lcore  ", polls,
        polls ? 100.0 * double(empty_polls) / double(polls) : 0.0,
        polls ? double(refl1 - refl0) / double(polls) : 0.0,
        opt.inline_mode && refl1 > refl0 ? double(reflect_cycles) / double(refl1 - refl0) : 0.0);
    std::printf("  mean ring occupancy        rx %.0f, tx %.0f (of %u in flight)\n",
                occ_n ? double(occ_rx) / double(occ_n) : 0.0,
                occ_n ? double(occ_tx) / double(occ_n) : 0.0, opt.inflight);
    std::printf("  Mpps per worker            %.3f\n", mpps);
    std::printf("  busy cycles / packet       %.1f\n", cpp_busy);
    std::printf(
        "  all worker cycles / packet %.1f  (busy %.1f%% of loops' cycles, %.1f pkts/loop)\n",
        cpp_total, busy_pct, double(pkts) / double(std::max<uint64_t>(1, b.loops - a.loops)));
    std::printf("  capacity at 100%% busy      %.3f Mpps\n",
                cpp_busy > 0 ? double(hz) / cpp_busy / 1e6 : 0);
    auto median = [](std::vector<double> v) {
        if (v.empty()) {
            return 0.0;
        }
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double med_mpps = median(win_mpps), med_cpp = median(win_cpp);
    const double max_mpps =
        win_mpps.empty() ? 0 : *std::max_element(win_mpps.begin(), win_mpps.end());
    std::printf(
        "  %zu windows of %.0f ms: median %.3f Mpps, median %.1f busy cycles/packet, "
        "best %.3f Mpps\n",
        win_mpps.size(), double(window) * 1e3 / double(hz), med_mpps, med_cpp, max_mpps);
    std::printf("  per node (measured interval; rte_graph stats, each call timed with rdtsc):\n");
    std::printf("    %-14s %14s %14s %10s %12s %12s\n", "node", "calls", "objs", "objs/call",
                "cycles/call", "cycles/obj");
    std::map<std::string, pipelines::NodeStats> before;
    for (const auto& n : a.nodes) {
        before[n.name] = n;
    }
    std::string node_kv;
    for (const auto& n : b.nodes) {
        const auto& o = before[n.name];
        uint64_t calls = n.calls - o.calls, objs = n.objs - o.objs, cyc = n.cycles - o.cycles;
        std::printf("    %-14s %14" PRIu64 " %14" PRIu64 " %10.1f %12.1f %12s\n", n.name.c_str(),
                    calls, objs, calls ? double(objs) / double(calls) : 0.0,
                    calls ? double(cyc) / double(calls) : 0.0,
                    objs ? std::to_string(double(cyc) / double(objs)).substr(0, 6).c_str() : "-");
        char kv[160];
        std::snprintf(kv, sizeof(kv), "result.node.%s.cycles_per_obj=%.2f\n", n.name.c_str(),
                      objs ? double(cyc) / double(objs) : 0.0);
        node_kv += kv;
    }
    std::printf("  correctness: reply mismatches %" PRIu64 ", drops %" PRIu64
                "%s, ring enqueue "
                "failures %" PRIu64 ", bench mbufs not returned %u, braid pool leak %" PRIu64 "\n",
                r.mismatches.get(), drops_total, drops_text.c_str(), r.enqueue_failures.get(),
                pool_in_use, braid_leak);

    std::printf("result.mode=%s\n", opt.inline_mode ? "inline" : "cross");
    std::printf(
        "result.reflect_cycles_per_pkt=%.2f\n",
        opt.inline_mode && refl1 > refl0 ? double(reflect_cycles) / double(refl1 - refl0) : 0.0);
    std::printf("result.size=%u\nresult.inflight=%u\nresult.seconds=%.3f\nresult.tsc_hz=%" PRIu64
                "\nresult.packets=%" PRIu64
                "\nresult.mpps=%.4f\nresult.cycles_per_pkt_busy=%.2f\n"
                "result.cycles_per_pkt_total=%.2f\nresult.busy_pct=%.2f\nresult.mismatches=%" PRIu64
                "\nresult.drops=%" PRIu64
                "\nresult.window_median_mpps=%.4f\n"
                "result.window_median_cycles_per_pkt=%.2f\nresult.window_best_mpps=%.4f\n%s",
                opt.size, opt.inflight, secs, hz, pkts, mpps, cpp_busy, cpp_total, busy_pct,
                r.mismatches.get(), drops_total, med_mpps, med_cpp, max_mpps, node_kv.c_str());

    rte_ring_free(r.rx);
    rte_ring_free(r.tx);
    rte_mempool_free(pool);
    dataplane::eal_cleanup();
    const bool ok = r.mismatches.get() == 0 && drops_total == 0 && r.enqueue_failures.get() == 0 &&
                    pool_in_use == 0 && braid_leak == 0 && pkts > 0;
    std::printf("result.ok=%d\n", ok ? 1 : 0);
    return ok ? 0 : 1;
}
