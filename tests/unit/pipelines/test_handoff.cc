// Worker hand-off (DESIGN.md §5, pipelines/handoff.cc): braid's real graphs of TWO workers fed
// through net_ring ports built in-process. The workers are not launched: the test walks each
// worker's graph itself, one at a time, so what happens on which worker is deterministic.
//
// Queues: n3 has two RX queues (queue 0 → worker 0, queue 1 → worker 1), n6 one (worker 0).
// Session 1 (no QER) is owned by worker 0; session 2 (UL and DL MBR) by worker 1.
#include <arpa/inet.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_graph_worker.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_udp.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "control/cli/cli.h"
#include "control/commands.h"
#include "control/event_loop.h"
#include "control/metrics.h"
#include "dataplane/app.h"
#include "dataplane/flow_owner.h"
#include "dataplane/tcp_host.h"
#include "dataplane/token_owner.h"
#include "mptcp/crypto.h"
#include "mptcp/wire/options.h"
#include "pipelines/graph.h"
#include "tcpstack/wire/tcp.h"
#include "tests/unit/convert_message.h"
#include "tests/unit/eal_fixture.h"

using namespace braid;
using pipelines::DropReason;

namespace {

constexpr uint32_t n3_ip = 0xC6120001;   // 198.18.0.1
constexpr uint32_t gnb_ip = 0xC6120002;  // 198.18.0.2
constexpr uint32_t n6_ip = 0xC6130001;   // 198.19.0.1
constexpr uint32_t dn_ip = 0xC6130002;   // 198.19.0.2
constexpr std::array<uint8_t, 6> n3_mac{2, 0, 0, 0, 3, 1}, gnb_mac{2, 0, 0, 0, 3, 2};
constexpr std::array<uint8_t, 6> n6_mac{2, 0, 0, 0, 6, 1}, dn_mac{2, 0, 0, 0, 6, 2};

struct Sess {
    uint64_t seid;
    uint32_t ul_teid, ue, dl_teid;
};
constexpr Sess plain{1, 0x1001, 0xC6136401, 0x2001};    // no MBR: owned by worker 0
constexpr Sess metered{2, 0x1002, 0xC6136402, 0x2002};  // UL and DL MBR: owned by worker 1
constexpr uint64_t mbr_kbps = 8;  // 1000 octets/s: the srTCM bucket is 2 × 1514 octets

void put16(std::vector<uint8_t>& v, size_t at, uint16_t x) {
    v.at(at) = uint8_t(x >> 8);
    v.at(at + 1) = uint8_t(x);
}
void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
    put16(v, at, uint16_t(x >> 16));
    put16(v, at + 2, uint16_t(x));
}

uint16_t get16(const std::vector<uint8_t>& v, size_t at) {
    return static_cast<uint16_t>(v.at(at) << 8 | v.at(at + 1));
}

uint32_t get32(const std::vector<uint8_t>& v, size_t at) {
    return uint32_t{get16(v, at)} << 16 | get16(v, at + 2);
}

// IPv4 + UDP with `payload` zero octets; a valid header checksum, UDP checksum 0.
// An IPv4 header (valid checksum) followed by `l4_len` zero octets of protocol `proto`.
std::vector<uint8_t> ipv4(uint32_t src, uint32_t dst, uint8_t proto, size_t l4_len) {
    std::vector<uint8_t> p(20 + l4_len, 0);
    p[0] = 0x45;
    put16(p, 2, uint16_t(p.size()));
    p[8] = 64;
    p[9] = proto;
    put32(p, 12, src);
    put32(p, 16, dst);
    put16(p, 10, rte_be_to_cpu_16(rte_ipv4_cksum(reinterpret_cast<rte_ipv4_hdr*>(p.data()))));
    return p;
}

std::vector<uint8_t> ipv4_udp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                              size_t payload) {
    std::vector<uint8_t> p = ipv4(src, dst, 17, 8 + payload);
    put16(p, 20, sport);
    put16(p, 22, dport);
    put16(p, 24, uint16_t(8 + payload));
    return p;
}

std::vector<uint8_t> ether(std::array<uint8_t, 6> dst, std::array<uint8_t, 6> src,
                           const std::vector<uint8_t>& ip) {
    std::vector<uint8_t> f;
    f.reserve(14 + ip.size());
    for (uint8_t b : dst) {
        f.push_back(b);
    }
    for (uint8_t b : src) {
        f.push_back(b);
    }
    f.push_back(0x08);
    f.push_back(0x00);
    for (uint8_t b : ip) {
        f.push_back(b);
    }
    return f;
}

// A G-PDU from the gNB to `teid` carrying an IPv4/UDP packet of the UE (`payload` octets).
std::vector<uint8_t> uplink(const Sess& s, size_t payload = 64) {
    std::vector<uint8_t> inner = ipv4_udp(s.ue, dn_ip, 40000, 9000, payload);
    std::vector<uint8_t> gtp(8, 0);
    gtp[0] = 0x30;
    gtp[1] = 0xff;
    put16(gtp, 2, uint16_t(inner.size()));
    put32(gtp, 4, s.ul_teid);
    gtp.insert(gtp.end(), inner.begin(), inner.end());
    std::vector<uint8_t> outer = ipv4_udp(gnb_ip, n3_ip, 2152, 2152, 0);
    outer.insert(outer.end(), gtp.begin(), gtp.end());
    put16(outer, 2, uint16_t(outer.size()));
    put16(outer, 24, uint16_t(outer.size() - 20));
    put16(outer, 10, 0);
    put16(outer, 10,
          rte_be_to_cpu_16(rte_ipv4_cksum(reinterpret_cast<rte_ipv4_hdr*>(outer.data()))));
    return ether(n3_mac, gnb_mac, outer);
}

std::vector<uint8_t> downlink(const Sess& s, size_t payload = 64) {
    return ether(n6_mac, dn_mac, ipv4_udp(dn_ip, s.ue, 9000, 40000, payload));
}

dataplane::SessionSpec spec_of(const Sess& s, bool with_mbr) {
    dataplane::SessionSpec spec =
        dataplane::simple_session(s.seid, s.ul_teid, s.ue, gnb_ip, s.dl_teid);
    spec.urrs = {dataplane::Urr{1, true, false, 0, 0, 0}};
    for (auto& p : spec.pdrs) {
        p.urr_ids = {1};
    }
    if (with_mbr) {
        dataplane::Qer q;
        q.id = 1;
        q.mbr_ul_kbps = mbr_kbps;
        q.mbr_dl_kbps = mbr_kbps;
        spec.qers = {q};
        for (auto& p : spec.pdrs) {
            p.qer_ids = {1};
        }
    }
    return spec;
}

config::Port ring_port(const std::string& name, config::PortRole role, const std::string& dev,
                       std::array<uint8_t, 6> mac, uint32_t ip, uint16_t rx_queues) {
    config::Port p;
    p.name = name;
    p.role = role;
    p.vdev = dev;
    p.mac = mac;
    p.ipv4 = config::Ipv4Prefix{ip, 24};
    p.rx_queues = rx_queues;
    p.rx_descriptors = 512;
    p.tx_descriptors = 512;
    return p;
}

constexpr uint32_t proxy_ip = 0xC612FE01;  // 198.18.254.1: the MPTCP proxy (proxy labs)
constexpr uint16_t proxy_port = 5000;

// IPv4 + TCP, `options` (a multiple of 4 octets) after the fixed header, no payload; valid IP
// and TCP checksums.
std::vector<uint8_t> ipv4_tcp(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                              uint8_t flags, const std::vector<uint8_t>& options = {}) {
    std::vector<uint8_t> p = ipv4(src, dst, 6, 20 + options.size());
    put16(p, 20, sport);
    put16(p, 22, dport);
    put32(p, 24, 1000);  // seq
    put32(p, 28, (flags & 0x10) != 0 ? 2000 : 0);
    p[32] = uint8_t((20 + options.size()) / 4 << 4);
    p[33] = flags;
    put16(p, 34, 65535);
    std::copy(options.begin(), options.end(), p.begin() + 40);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p.data());
    const uint16_t ck = rte_ipv4_udptcp_cksum(ip, p.data() + 20);
    std::memcpy(p.data() + 36, &ck, 2);  // already in network order
    return p;
}

// MP_JOIN on a SYN (RFC 8684 §3.2): kind 30, length 12, subtype 1, address id, token, nonce.
std::vector<uint8_t> mp_join_syn(uint32_t token) {
    std::vector<uint8_t> o = {30, 12, 0x10, 2, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44};
    put32(o, 4, token);
    return o;
}

// A G-PDU of session `s` carrying `inner`.
std::vector<uint8_t> gpdu(const Sess& s, const std::vector<uint8_t>& inner) {
    std::vector<uint8_t> gtp(8, 0);
    gtp[0] = 0x30;
    gtp[1] = 0xff;
    put16(gtp, 2, uint16_t(inner.size()));
    put32(gtp, 4, s.ul_teid);
    gtp.insert(gtp.end(), inner.begin(), inner.end());
    std::vector<uint8_t> outer = ipv4_udp(gnb_ip, n3_ip, 2152, 2152, 0);
    outer.insert(outer.end(), gtp.begin(), gtp.end());
    put16(outer, 2, uint16_t(outer.size()));
    put16(outer, 24, uint16_t(outer.size() - 20));
    put16(outer, 10, 0);
    put16(outer, 10,
          rte_be_to_cpu_16(rte_ipv4_cksum(reinterpret_cast<rte_ipv4_hdr*>(outer.data()))));
    return ether(n3_mac, gnb_mac, outer);
}

class TwoWorkerLab {
public:
    // `proxy`: every worker runs the MPTCP proxy on proxy_ip:proxy_port.
    explicit TwoWorkerLab(bool proxy = false) {
        test::eal_once();
        static int generation = 0;
        const std::string g = std::to_string(generation++);
        const uint16_t rxq[2] = {2, 1};
        for (int port = 0; port < 2; ++port) {
            const std::string base = (port == 0 ? "hn3_" : "hn6_") + g;
            for (int q = 0; q < 2; ++q) {
                rx_[port][q] = rte_ring_create((base + "rx" + std::to_string(q)).c_str(), 1024,
                                               SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
                tx_[port][q] = rte_ring_create((base + "tx" + std::to_string(q)).c_str(), 1024,
                                               SOCKET_ID_ANY, RING_F_SP_ENQ | RING_F_SC_DEQ);
                REQUIRE(rx_[port][q] != nullptr);
                REQUIRE(tx_[port][q] != nullptr);
            }
            int id = rte_eth_from_rings(("net_ring_" + base).c_str(), rx_[port], rxq[port],
                                        tx_[port], 2, 0);
            REQUIRE(id >= 0);
            char name[RTE_ETH_NAME_MAX_LEN];
            REQUIRE(rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), name) == 0);
            names_[port] = name;
        }
        config::Config cfg;
        cfg.ports.push_back(
            ring_port("n3", config::PortRole::n3, names_[0], n3_mac, n3_ip, rxq[0]));
        cfg.ports.push_back(
            ring_port("n6", config::PortRole::n6, names_[1], n6_mac, n6_ip, rxq[1]));
        cfg.workers.lcores = {1, 2};
        cfg.workers.handoff_ring_size = 64;  // holds 63 packets
        cfg.mempool.mbufs_per_port = 2047;
        cfg.tcp.mbufs_per_worker = 1023;
        cfg.mempool.cache_size = 32;
        if (proxy) {
            cfg.pfcp.mptcp_proxy.enabled = true;
            cfg.pfcp.mptcp_proxy.address_v4 = proxy_ip;
            cfg.pfcp.mptcp_proxy.port = proxy_port;
        }
        std::string err;
        const bool ok = app.setup(cfg, &err);
        INFO(err);
        REQUIRE(ok);
        app.neighbors().learn(0, gnb_ip, {2, 0, 0, 0, 3, 2}, true, 0);
        app.neighbors().learn(1, dn_ip, {2, 0, 0, 0, 6, 2}, true, 0);
        app.control_tick(1);
        REQUIRE_FALSE(app.create_session(spec_of(plain, false)));
        REQUIRE_FALSE(app.create_session(spec_of(metered, true)));
        pool_ = rte_pktmbuf_pool_create(("handoff" + g).c_str(), 1023, 0, 0, 2048, 0);
        REQUIRE(pool_ != nullptr);
    }
    ~TwoWorkerLab() {
        CHECK(app.shutdown() == 0);
        for (auto* rings : {&rx_, &tx_}) {
            for (auto& port : *rings) {
                for (rte_ring* r : port) {
                    rte_mbuf* m;
                    while (r != nullptr && rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
                        rte_pktmbuf_free(m);
                    }
                    rte_ring_free(r);
                }
            }
        }
        CHECK(rte_mempool_in_use_count(pool_) == 0);
        rte_mempool_free(pool_);
    }

    // Put a frame on RX queue `queue` of port 0 (n3) or 1 (n6).
    void inject(int port, int queue, const std::vector<uint8_t>& frame, int copies = 1) {
        for (int i = 0; i < copies; ++i) {
            rte_mbuf* m = rte_pktmbuf_alloc(pool_);
            REQUIRE(m != nullptr);
            char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
            REQUIRE(d != nullptr);
            std::memcpy(d, frame.data(), frame.size());
            REQUIRE(rte_ring_enqueue(rx_[port][queue], m) == 0);
        }
    }

    // One pass of worker `w`'s graph, then its TX buffers flushed (the worker loop's job).
    void walk(unsigned w, int times = 1) {
        dataplane::WorkerContext& wc = *app.workers()[w];
        for (int i = 0; i < times; ++i) {
            rte_graph_walk(wc.graph);
        }
        for (const auto& p : app.ports()) {
            rte_eth_tx_buffer_flush(p.port_id, wc.txq, wc.tx_buffers[p.index]);
        }
    }

    // The frames themselves, sent on TX queue `queue` (= worker) of `port` since the last call.
    std::vector<std::vector<uint8_t>> take(int port, int queue) {
        std::vector<std::vector<uint8_t>> r;
        rte_mbuf* m;
        while (rte_ring_dequeue(tx_[port][queue], reinterpret_cast<void**>(&m)) == 0) {
            std::vector<uint8_t> b(rte_pktmbuf_pkt_len(m));
            const void* d = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(b.size()), b.data());
            if (d != b.data()) {
                std::memcpy(b.data(), d, b.size());
            }
            rte_pktmbuf_free(m);
            r.push_back(std::move(b));
        }
        return r;
    }

    // Frames sent on TX queue `queue` (= worker) of `port` since the last call.
    unsigned sent(int port, int queue) {
        unsigned n = 0;
        rte_mbuf* m;
        while (rte_ring_dequeue(tx_[port][queue], reinterpret_cast<void**>(&m)) == 0) {
            rte_pktmbuf_free(m);
            ++n;
        }
        return n;
    }

    const dataplane::SessionRules& rules(uint64_t seid) {
        const dataplane::SessionRules* r = app.sessions().by_seid(seid);
        REQUIRE(r != nullptr);
        return *r;
    }
    const dataplane::UsageSlice& usage(uint64_t seid, unsigned w) {
        return rules(seid).urrs[0].usage[w];
    }
    const dataplane::MeterSlice& meter(uint64_t seid, bool ul, unsigned w) {
        const dataplane::MeterSlice* m = rules(seid).qers[0].meters.at(w, ul);
        REQUIRE(m != nullptr);
        return *m;
    }
    uint64_t handed(unsigned from, unsigned to) {
        return app.workers()[from]->counters.handoff_packets[to].get();
    }
    uint64_t handoff_drops(unsigned from, unsigned to) {
        return app.workers()[from]->counters.handoff_drops[to].get();
    }

    dataplane::App app;

private:
    std::string names_[2];
    rte_ring* rx_[2][2] = {};
    rte_ring* tx_[2][2] = {};
    rte_mempool* pool_ = nullptr;
};

}  // namespace

TEST_CASE("hand-off: one SPSC ring per ordered worker pair, none to oneself", "[handoff]") {
    TwoWorkerLab lab;
    const auto& w = lab.app.workers();
    REQUIRE(w.size() == 2);
    CHECK(w[0]->handoff_out[0] == nullptr);
    CHECK(w[0]->handoff_in[0] == nullptr);
    REQUIRE(w[0]->handoff_out[1] != nullptr);
    REQUIRE(w[1]->handoff_out[0] != nullptr);
    CHECK(w[0]->handoff_out[1] == w[1]->handoff_in[0]);
    CHECK(w[1]->handoff_out[0] == w[0]->handoff_in[1]);
    CHECK(w[0]->handoff_out[1] != w[1]->handoff_out[0]);
    CHECK(rte_ring_get_capacity(w[0]->handoff_out[1]) == 63);  // workers.handoff_ring_size 64
    CHECK(w[0]->n_workers == 2);
    // Owners: the least-loaded worker at creation.
    CHECK(lab.rules(plain.seid).owner == 0);
    CHECK(lab.rules(metered.seid).owner == 1);
    CHECK(lab.app.sessions().owned() == std::vector<uint32_t>{1, 1});
    CHECK_FALSE(lab.rules(plain.seid).pdrs[0].metered);
    CHECK(lab.rules(metered.seid).pdrs[0].metered);
}

TEST_CASE("hand-off: an MBR session's uplink packet arriving on worker 0 is metered on its owner",
          "[handoff]") {
    TwoWorkerLab lab;
    lab.inject(0, 0, uplink(metered));
    lab.walk(0);
    // Worker 0 matched it and handed it over; it did not meter or count it.
    CHECK(lab.handed(0, 1) == 1);
    CHECK(lab.sent(1, 0) == 0);
    CHECK(lab.meter(metered.seid, true, 0).profile == nullptr);
    CHECK(lab.usage(metered.seid, 0).packets_ul.get() == 0);
    CHECK(rte_ring_count(lab.app.workers()[0]->handoff_out[1]) == 1);

    lab.walk(1);
    // The owner metered it (its bucket was configured), counted it once and sent it to N6.
    CHECK(lab.meter(metered.seid, true, 1).profile != nullptr);
    CHECK(lab.meter(metered.seid, true, 0).profile == nullptr);
    CHECK(lab.usage(metered.seid, 1).packets_ul.get() == 1);
    CHECK(lab.usage(metered.seid, 1).bytes_ul.get() == 20 + 8 + 64);
    CHECK(lab.usage(metered.seid, 0).packets_ul.get() == 0);
    CHECK(lab.sent(1, 1) == 1);  // n6, TX queue of worker 1
    CHECK(lab.handed(1, 0) == 0);

    SECTION("a packet arriving on the owner does not hop") {
        lab.inject(0, 1, uplink(metered));
        lab.walk(1);
        CHECK(lab.handed(0, 1) == 1);
        CHECK(lab.handed(1, 0) == 0);
        CHECK(lab.usage(metered.seid, 1).packets_ul.get() == 2);
        CHECK(lab.sent(1, 1) == 1);
    }
    SECTION(
        "downlink of the session arriving on worker 0 hops as well, encapsulated by the owner") {
        lab.inject(1, 0, downlink(metered));
        lab.walk(0);
        CHECK(lab.handed(0, 1) == 2);
        CHECK(lab.meter(metered.seid, false, 0).profile == nullptr);
        lab.walk(1);
        CHECK(lab.meter(metered.seid, false, 1).profile != nullptr);
        CHECK(lab.usage(metered.seid, 1).packets_dl.get() == 1);
        CHECK(lab.usage(metered.seid, 0).packets_dl.get() == 0);
        CHECK(lab.sent(0, 1) == 1);  // n3, TX queue of worker 1
        CHECK(lab.sent(0, 0) == 0);
    }
}

TEST_CASE("hand-off: sessions without an MBR never hop", "[handoff]") {
    TwoWorkerLab lab;
    lab.inject(0, 0, uplink(plain));
    lab.inject(0, 1, uplink(plain));
    lab.inject(1, 0, downlink(plain));
    lab.walk(0);
    lab.walk(1);
    CHECK(lab.handed(0, 1) == 0);
    CHECK(lab.handed(1, 0) == 0);
    // Each worker counted what it received, in its own slice.
    CHECK(lab.usage(plain.seid, 0).packets_ul.get() == 1);
    CHECK(lab.usage(plain.seid, 1).packets_ul.get() == 1);
    CHECK(lab.usage(plain.seid, 0).packets_dl.get() == 1);
    CHECK(lab.sent(1, 0) == 1);
    CHECK(lab.sent(1, 1) == 1);
    CHECK(lab.sent(0, 0) == 1);
}

TEST_CASE("hand-off: the MBR holds for the session as a whole, whichever worker receives",
          "[handoff]") {
    TwoWorkerLab lab;
    // 40 packets on each worker at once (no time to refill): one srTCM bucket of 3028 octets
    // passes 3028 / 92 = 32 of the 80. Per-worker meters would have passed 32 on each worker.
    constexpr int each = 40;
    constexpr uint32_t len = 20 + 8 + 64;
    constexpr unsigned bucket = 2 * 1514 / len;
    lab.inject(0, 0, uplink(metered), each);
    lab.inject(0, 1, uplink(metered), each);
    lab.walk(0, 2);
    CHECK(lab.handed(0, 1) == each);
    lab.walk(1, 4);
    const uint64_t passed = lab.usage(metered.seid, 1).packets_ul.get();
    CHECK(passed >= bucket);
    CHECK(passed <= bucket + 1);  // refill during the test: 1 octet per millisecond
    CHECK(lab.usage(metered.seid, 0).packets_ul.get() == 0);
    CHECK(lab.app.drops(DropReason::qer_mbr_exceeded) == 2 * each - passed);
    CHECK(lab.sent(1, 1) == passed);
    CHECK(lab.sent(1, 0) == 0);
}

TEST_CASE("hand-off: a full ring is a counted drop", "[handoff]") {
    TwoWorkerLab lab;
    lab.inject(0, 0, uplink(metered), 100);
    lab.walk(0, 4);  // 32 per walk: all 100 received, the owner takes none meanwhile
    CHECK(lab.handed(0, 1) == 63);
    CHECK(lab.handoff_drops(0, 1) == 37);
    CHECK(lab.app.drops(DropReason::handoff_ring_full) == 37);
    CHECK(rte_ring_count(lab.app.workers()[0]->handoff_out[1]) == 63);

    // What operators see: `show handoff` and the per-pair metrics.
    control::EventLoop loop;
    control::CommandContext cc{lab.app, loop};
    cli::Registry registry;
    control::register_commands(registry, cc);
    cli::StringOutput out;
    REQUIRE(registry.execute("show handoff", out));
    INFO(out.str());
    CHECK(out.str().find("0      1                  63             37     63/63") !=
          std::string::npos);
    CHECK(out.str().find("1      0                   0              0      0/63") !=
          std::string::npos);
    CHECK(out.str().find("sessions owned per worker: 0:1 1:1") != std::string::npos);
    std::string err;
    auto exporter = metrics::Exporter::start("127.0.0.1", 0, &err);
    REQUIRE(exporter != nullptr);
    control::add_dataplane_collectors(*exporter, cc);
    const std::string text = metrics::render_text(exporter->collect());
    CHECK(text.find("braid_handoff_packets_total{from_worker=\"0\",to_worker=\"1\"} 63\n") !=
          std::string::npos);
    CHECK(text.find("braid_handoff_drops_total{from_worker=\"0\",to_worker=\"1\"} 37\n") !=
          std::string::npos);
    CHECK(text.find("braid_handoff_packets_total{from_worker=\"1\",to_worker=\"0\"} 0\n") !=
          std::string::npos);

    lab.walk(1, 2);
    CHECK(rte_ring_count(lab.app.workers()[0]->handoff_out[1]) == 0);
    CHECK(lab.usage(metered.seid, 1).packets_ul.get() +
              lab.app.drops(DropReason::qer_mbr_exceeded) ==
          63);
}

TEST_CASE("hand-off: the owner finds the session again after the ring", "[handoff]") {
    TwoWorkerLab lab;
    lab.inject(0, 0, uplink(metered));
    lab.inject(1, 0, downlink(metered));
    lab.walk(0);
    REQUIRE(lab.handed(0, 1) == 2);

    SECTION("modified in between: matched again under the new rules") {
        dataplane::SessionSpec spec = spec_of(metered, true);
        spec.qers[0].mbr_ul_kbps = 16;
        const uint64_t before = lab.rules(metered.seid).generation;
        std::vector<dataplane::UsageReport> reports;
        REQUIRE_FALSE(lab.app.modify_session(spec, {}, &reports));
        REQUIRE(lab.rules(metered.seid).generation != before);
        lab.app.sessions().reclaim(true);  // the old snapshot is freed before the owner runs
        lab.walk(1);
        CHECK(lab.usage(metered.seid, 1).packets_ul.get() == 1);
        CHECK(lab.usage(metered.seid, 1).packets_dl.get() == 1);
        CHECK(lab.sent(1, 1) == 1);
        CHECK(lab.sent(0, 1) == 1);
    }
    SECTION("deleted in between: a counted drop") {
        REQUIRE(lab.app.delete_session(metered.seid));
        lab.app.sessions().reclaim(true);
        lab.walk(1);
        CHECK(lab.app.drops(DropReason::handoff_session_gone) == 2);
        CHECK(lab.sent(1, 1) == 0);
        CHECK(lab.sent(0, 1) == 0);
    }
    SECTION("the TEID now belongs to another session: a counted drop, never the wrong session") {
        REQUIRE(lab.app.delete_session(metered.seid));
        Sess other = metered;
        other.seid = 7;
        REQUIRE_FALSE(lab.app.create_session(spec_of(other, true)));
        lab.walk(1);
        CHECK(lab.app.drops(DropReason::handoff_session_gone) == 2);
        CHECK(lab.sent(1, 1) == 0);
    }
}

// Link-specific multipath addresses (issue 7) in the real graph: a session with them, no
// MPTCP proxy on this lab's workers. The UE's address works as always; from a link-specific
// address only TCP to the proxy may come (none here), and N6 may not send to one.
TEST_CASE("link-specific addresses: the graph drops what is not the proxy's, by name",
          "[handoff][link]") {
    TwoWorkerLab lab;
    constexpr uint32_t link_3gpp = 0xC613D201;  // 198.19.210.1
    Sess ma{9, 0x1009, 0xC6136409, 0x2009};
    dataplane::SessionSpec spec = spec_of(ma, false);
    spec.mptcp = true;
    dataplane::sdf::Prefix p{4, {}, 32};
    const uint32_t be = htonl(link_3gpp);
    std::memcpy(p.addr.data(), &be, 4);
    spec.link_addresses = {{dataplane::LinkAccess::tgpp, p}};
    REQUIRE_FALSE(lab.app.create_session(spec));
    const unsigned w = lab.rules(ma.seid).owner;
    lab.inject(0, w, uplink(ma));  // from the UE address: forwarded to N6
    Sess from_link = ma;
    from_link.ue = link_3gpp;
    lab.inject(0, w, uplink(from_link));  // UDP from the link address: not the proxy's
    lab.walk(w);
    CHECK(lab.app.drops(DropReason::link_addr_not_proxy) == 1);
    CHECK(lab.sent(1, w) == 1);
    lab.inject(1, 0, downlink(from_link));  // N6 to the link address: only the proxy sends there
    lab.inject(1, 0, downlink(ma));
    lab.walk(0);
    CHECK(lab.app.drops(DropReason::link_addr_from_n6) == 1);
    CHECK(lab.app.drops(DropReason::no_session_for_ue) == 0);
    CHECK(lab.sent(0, 0) == 1);
}

// A link-specific address belongs to one access (TS 23.501 §5.32.6.2.1): when the uplink PDR
// says which access its tunnel is (PDI Source Interface Type), a subflow from the other
// access's address in that tunnel is dropped by name, even TCP to the proxy.
TEST_CASE("link-specific addresses: a subflow in the other access's tunnel is dropped by name",
          "[handoff][link]") {
    TwoWorkerLab lab(true);
    constexpr uint32_t link_3gpp = 0xC613D201;      // 198.19.210.1
    constexpr uint32_t link_non_3gpp = 0xC613D301;  // 198.19.211.1
    Sess ma{9, 0x1009, 0xC6136409, 0x2009};
    dataplane::SessionSpec spec = spec_of(ma, false);
    spec.mptcp = true;
    for (auto [addr, access] : {std::pair{link_3gpp, dataplane::LinkAccess::tgpp},
                                std::pair{link_non_3gpp, dataplane::LinkAccess::non_tgpp}}) {
        dataplane::sdf::Prefix p{4, {}, 32};
        const uint32_t be = htonl(addr);
        std::memcpy(p.addr.data(), &be, 4);
        spec.link_addresses.push_back({access, p});
    }
    auto ul = std::find_if(spec.pdrs.begin(), spec.pdrs.end(),
                           [](const dataplane::Pdr& p) { return p.local_teid.has_value(); });
    REQUIRE(ul != spec.pdrs.end());
    ul->access = dataplane::LinkAccess::non_tgpp;  // this TEID is the non-3GPP access's tunnel
    REQUIRE_FALSE(lab.app.create_session(spec));
    const auto syn_from = [&](uint32_t src, uint16_t port) {
        return gpdu(ma, ipv4_tcp(src, proxy_ip, port, proxy_port, 0x02));
    };
    const uint64_t in_before =
        lab.app.workers()[0]->tcp->counters()[static_cast<size_t>(tcp::Counter::segments_in)];
    lab.inject(0, 0, syn_from(link_3gpp, 42000));  // the 3GPP address in the non-3GPP tunnel
    lab.walk(0);
    CHECK(lab.app.drops(DropReason::link_addr_wrong_access) == 1);
    CHECK(lab.app.workers()[0]->tcp->counters()[static_cast<size_t>(tcp::Counter::segments_in)] ==
          in_before);
    lab.inject(0, 0, syn_from(link_non_3gpp, 42001));  // its own access: the proxy gets it
    lab.walk(0);
    CHECK(lab.app.drops(DropReason::link_addr_wrong_access) == 1);
    CHECK(lab.app.workers()[0]->tcp->counters()[static_cast<size_t>(tcp::Counter::segments_in)] ==
          in_before + 1);
    // A PDR that does not name its access: no check (the CP did not say).
    ul->access.reset();
    std::vector<dataplane::UsageReport> reports;
    REQUIRE_FALSE(lab.app.modify_session(spec, {}, &reports));
    lab.inject(0, 0, syn_from(link_3gpp, 42002));
    lab.walk(0);
    CHECK(lab.app.drops(DropReason::link_addr_wrong_access) == 1);
    CHECK(lab.app.workers()[0]->tcp->counters()[static_cast<size_t>(tcp::Counter::segments_in)] ==
          in_before + 2);
    // The proxy answered the two SYNs it got, through the tunnel; the dropped one, nothing.
    CHECK(lab.sent(0, 0) == 2);
}

// prepend_ethernet keeps each port's last next hop (WorkerContext::neighbor_cache): a new
// neighbor snapshot with another MAC for it is used from the next packet on.
TEST_CASE("next hop cache: a changed neighbor MAC is used at once", "[handoff][neighbor]") {
    TwoWorkerLab lab;
    const unsigned w = lab.rules(plain.seid).owner;
    const auto dl_dst_mac = [&] {
        lab.inject(1, static_cast<int>(w), downlink(plain));
        lab.walk(w);
        std::vector<std::vector<uint8_t>> gpdus;  // (the control core may send too: echo)
        for (auto& f : lab.take(0, static_cast<int>(w))) {
            if (f.size() > 14 + 28 + 8 && f[14 + 9] == 17 && get16(f, 14 + 22) == 2152 &&
                f[14 + 29] == 0xff) {
                gpdus.push_back(std::move(f));
            }
        }
        REQUIRE(gpdus.size() == 1);
        return std::vector<uint8_t>(gpdus[0].begin(), gpdus[0].begin() + 6);
    };
    CHECK(dl_dst_mac() == std::vector<uint8_t>{2, 0, 0, 0, 3, 2});
    CHECK(dl_dst_mac() == std::vector<uint8_t>{2, 0, 0, 0, 3, 2});  // from the cache
    lab.app.neighbors().learn(0, gnb_ip, {2, 0, 0, 0, 3, 9}, true, 5);
    lab.app.control_tick(10);
    CHECK(dl_dst_mac() == std::vector<uint8_t>{2, 0, 0, 0, 3, 9});
}

// TS 29.244 §5.2.3 DUPL in the real graph: every packet of the FAR is forwarded as usual and a
// copy goes to each copy destination, in a G-PDU from braid's address on the egress port.
TEST_CASE("FAR DUPL: a copy of each packet to every destination, in a G-PDU", "[handoff][dupl]") {
    TwoWorkerLab lab;
    Sess s{11, 0x100b, 0xC613640b, 0x200b};
    dataplane::SessionSpec spec = spec_of(s, false);
    auto to_core = std::find_if(spec.fars.begin(), spec.fars.end(),
                                [](const dataplane::Far& f) { return f.id == 1; });
    REQUIRE(to_core != spec.fars.end());
    REQUIRE(to_core->destination == dataplane::Interface::core);
    to_core->action.duplicate = true;
    to_core->duplicates = {
        dataplane::Duplicate{dataplane::Interface::access, true, {0x77, gnb_ip}},  // LI function
        dataplane::Duplicate{dataplane::Interface::core, false, {0x78, dn_ip}}};
    REQUIRE_FALSE(lab.app.create_session(spec));
    const unsigned w = lab.rules(s.seid).owner;
    const std::vector<uint8_t> frame = uplink(s);
    const std::vector<uint8_t> inner(frame.begin() + 14 + 20 + 8 + 8, frame.end());
    lab.inject(0, w, frame);
    lab.walk(w);
    // A G-PDU from braid's address on `port` to `peer` with `teid`, carrying `inner` as it was.
    const auto check_copy = [&](const std::vector<uint8_t>& f, uint32_t src, uint32_t peer,
                                uint32_t teid) {
        REQUIRE(f.size() == 14 + 20 + 8 + 8 + inner.size());
        CHECK(get32(f, 14 + 12) == src);
        CHECK(get32(f, 14 + 16) == peer);
        CHECK(get16(f, 14 + 20) == 2152);
        CHECK(get16(f, 14 + 22) == 2152);
        CHECK(f[14 + 28] == 0x30);  // version 1, PT 1, no optional fields
        CHECK(f[14 + 29] == 0xff);  // G-PDU
        CHECK(get32(f, 14 + 32) == teid);
        CHECK(std::equal(inner.begin(), inner.end(), f.begin() + 14 + 20 + 8 + 8));
    };
    const auto n3 = lab.take(0, static_cast<int>(w));
    REQUIRE(n3.size() == 1);
    check_copy(n3[0], n3_ip, gnb_ip, 0x77);
    const auto n6 = lab.take(1, static_cast<int>(w));
    REQUIRE(n6.size() == 2);  // the packet itself and the core destination's copy
    const bool copy_first =
        get32(n6[0], 14 + 16) == dn_ip && n6[0][14 + 9] == 17 && get16(n6[0], 14 + 22) == 2152;
    check_copy(n6[copy_first ? 0 : 1], n6_ip, dn_ip, 0x78);
    const auto& original = n6[copy_first ? 1 : 0];
    CHECK(std::vector<uint8_t>(original.begin() + 14, original.end()) == inner);
    CHECK(lab.app.workers()[w]->counters.far_duplicated.get() == 2);
    // The usage is the packet's, once.
    CHECK(lab.usage(s.seid, w).packets_ul.get() == 1);
    // The downlink FAR does not duplicate.
    lab.inject(1, 0, downlink(s));
    lab.walk(0);
    CHECK(lab.sent(0, 0) == 1);
    CHECK(lab.app.workers()[w]->counters.far_duplicated.get() == 2);
}

// The MPTCP proxy with two workers (issues 6, 7): what reaches the wrong worker by RSS goes to
// the one holding the connection. The holder's state is only what the shared tables say here
// (its engine has no such connection), which is enough to see the packet cross and land.
TEST_CASE("proxy, several workers: an N6 reply for another worker's connection is handed to it",
          "[handoff][mworker]") {
    TwoWorkerLab lab(true);
    REQUIRE(lab.app.workers()[0]->tcp->proxy() != nullptr);
    // Worker 1's N6 connection from the UE's address (TcpHost registers it at connect).
    const auto key = dataplane::FlowKey::v4(dn_ip, plain.ue, 80, 40000, 6);
    REQUIRE(lab.app.flows().insert(key, 1) == dataplane::FlowOwnerTable::Insert::inserted);
    const auto reply = ether(n6_mac, dn_mac, ipv4_tcp(dn_ip, plain.ue, 80, 40000, 0x10));
    lab.inject(1, 0, reply);
    lab.walk(0);
    CHECK(lab.handed(0, 1) == 1);
    CHECK(lab.sent(0, 0) == 0);  // not forwarded to the UE
    CHECK(lab.usage(plain.seid, 0).packets_dl.get() == 0);
    const uint64_t in_before =
        lab.app.workers()[1]->tcp->counters()[static_cast<size_t>(tcp::Counter::segments_in)];
    lab.walk(1);
    // Worker 1's engine got it (tcp_local; nothing matches here, so it is answered or dropped
    // by the engine, never forwarded).
    CHECK(lab.app.workers()[1]->tcp->counters()[static_cast<size_t>(tcp::Counter::segments_in)] ==
          in_before + 1);
    CHECK(lab.usage(plain.seid, 1).packets_dl.get() == 0);
    // Without the registration: an ordinary downlink packet for the UE.
    REQUIRE(lab.app.flows().erase(key));
    lab.inject(1, 0, reply);
    lab.walk(0);
    CHECK(lab.handed(0, 1) == 1);
    CHECK(lab.sent(0, 0) == 1);
    // Worker 1's engine answered the stray ACK with a RST from the UE's address, out of N6
    // (what an N6 segment of the proxy looks like).
    CHECK(lab.sent(1, 1) == 1);
}

TEST_CASE(
    "proxy, several workers: an MP_JOIN SYN for another worker's token goes there, its "
    "subflow after it",
    "[handoff][mworker]") {
    TwoWorkerLab lab(true);
    constexpr uint32_t token = 0xabcdef01;
    REQUIRE(lab.app.mptcp_tokens().insert(token, 1));  // worker 1's connection
    REQUIRE(lab.rules(plain.seid).owner == 0);         // no MBR: worker 0 would keep it
    const auto syn =
        gpdu(plain, ipv4_tcp(plain.ue, proxy_ip, 41000, proxy_port, 0x02, mp_join_syn(token)));
    lab.inject(0, 0, syn);
    lab.walk(0);
    CHECK(lab.handed(0, 1) == 1);
    CHECK(lab.app.workers()[0]->tcp->counter(dataplane::TcpHostCounter::join_handovers) == 1);
    const auto key = dataplane::FlowKey::v4(plain.ue, proxy_ip, 41000, proxy_port, 6);
    CHECK(lab.app.flows().owner(key) == std::optional<uint16_t>(1));
    // Accounting is the holder's: nothing charged on worker 0.
    CHECK(lab.usage(plain.seid, 0).packets_ul.get() == 0);
    lab.walk(1);
    // On worker 1: the session found again by TEID, charged there, the SYN to its endpoint
    // (which knows no connection with the token in this lab: refused by name).
    CHECK(lab.usage(plain.seid, 1).packets_ul.get() == 1);
    CHECK(lab.app.workers()[1]->tcp->mptcp_counters()[mptcp::Counter::join_unknown_token] == 1);
    CHECK(lab.app.workers()[1]->tcp->adopted_flows() == 1);
    // The subflow's next segment follows the flow entry, not the token.
    lab.inject(0, 0, gpdu(plain, ipv4_tcp(plain.ue, proxy_ip, 41000, proxy_port, 0x10)));
    lab.walk(0);
    CHECK(lab.handed(0, 1) == 2);
    CHECK(lab.app.workers()[0]->tcp->counter(dataplane::TcpHostCounter::join_handovers) == 1);
    // A JOIN for a token nobody holds stays here (refused by this worker's endpoint).
    lab.inject(0, 0,
               gpdu(plain, ipv4_tcp(plain.ue, proxy_ip, 41001, proxy_port, 0x02,
                                    mp_join_syn(0x0badf00d))));
    lab.walk(0);
    CHECK(lab.handed(0, 1) == 2);
    CHECK(lab.app.workers()[0]->tcp->mptcp_counters()[mptcp::Counter::join_unknown_token] == 1);
    lab.walk(1);  // the handed-over ACK (nothing left on the ring)
    CHECK(lab.usage(plain.seid, 1).packets_ul.get() == 2);
    // The refusals' RSTs went to the UE through GTP-U: from worker 1 (the JOIN it got and the
    // ACK after it) and from worker 0 (the unknown token).
    CHECK(lab.sent(0, 1) == 2);
    CHECK(lab.sent(0, 0) == 1);
}

namespace {

namespace mw = mptcp::wire;
namespace tflag = tcp::wire::flag;

// IPv4 + TCP as a Linux MPTCP client would send it: sequence numbers, MSS (SYNs), MPTCP options
// and payload; valid checksums.
std::vector<uint8_t> tcp4(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t flags,
                          uint32_t seq, uint32_t ack, const std::vector<mw::Option>& mp = {},
                          const std::string& payload = {}) {
    tcp::wire::Options o;
    std::array<std::array<uint8_t, 40>, 2> store{};
    REQUIRE(mp.size() <= store.size());
    for (size_t i = 0; i < mp.size(); ++i) {
        auto n = mw::emit(mp[i], store[i]);
        REQUIRE(n);
        o.mptcp[o.mptcp_count++] = std::span<const uint8_t>(store[i].data(), *n);
    }
    if ((flags & tflag::syn) != 0) {
        o.mss = 1360;
    }
    tcp::wire::Header h;
    h.src_port = sport;
    h.dst_port = dport;
    h.seq = tcp::Seq(seq);
    h.ack = tcp::Seq(ack);
    h.flags = flags;
    h.window = 65535;
    std::array<uint8_t, 60> th{};
    auto hl = tcp::wire::emit_header(h, o, th);
    REQUIRE(hl);
    std::vector<uint8_t> p = ipv4(src, dst, 6, *hl + payload.size());
    std::copy(th.begin(), th.begin() + static_cast<ptrdiff_t>(*hl), p.begin() + 20);
    std::copy(payload.begin(), payload.end(), p.begin() + 20 + static_cast<ptrdiff_t>(*hl));
    const uint16_t ck =
        rte_ipv4_udptcp_cksum(reinterpret_cast<rte_ipv4_hdr*>(p.data()), p.data() + 20);
    std::memcpy(p.data() + 36, &ck, 2);  // already in network order
    return p;
}

// A TCP segment braid sent, parsed.
struct Sent {
    uint32_t src = 0, dst = 0;
    tcp::wire::Header h;
    std::vector<uint8_t> options;
    std::string data;

    // The MPTCP option of type T among the segment's options, if any.
    template <typename T>
    std::optional<T> mptcp() const {
        auto parsed = tcp::wire::parse_options(options);
        REQUIRE_FALSE(parsed.error);
        for (uint8_t i = 0; i < parsed.options.mptcp_count; ++i) {
            auto p = mw::parse(parsed.options.mptcp[i]);
            if (p.option) {
                if (const auto* t = std::get_if<T>(&*p.option)) {
                    return *t;
                }
            }
        }
        return std::nullopt;
    }
};

// `ip`: an IPv4 packet carrying TCP.
Sent parse_tcp4(std::span<const uint8_t> ip) {
    REQUIRE(ip.size() >= 40);
    REQUIRE(ip[0] == 0x45);
    REQUIRE(ip[9] == 6);
    Sent s;
    s.src = uint32_t{ip[12]} << 24 | uint32_t{ip[13]} << 16 | uint32_t{ip[14]} << 8 | ip[15];
    s.dst = uint32_t{ip[16]} << 24 | uint32_t{ip[17]} << 16 | uint32_t{ip[18]} << 8 | ip[19];
    const size_t total = size_t{ip[2]} << 8 | ip[3];
    REQUIRE(total <= ip.size());
    auto seg = tcp::wire::parse_segment(ip.subspan(20, total - 20));
    REQUIRE(seg.segment);
    s.h = seg.segment->header;
    s.options.assign(seg.segment->options.begin(), seg.segment->options.end());
    s.data.assign(seg.segment->payload.begin(), seg.segment->payload.end());
    return s;
}

// An N6 frame: Ethernet then IPv4.
Sent n6_segment(const std::vector<uint8_t>& frame) {
    return parse_tcp4(std::span<const uint8_t>(frame).subspan(14));
}

// An N3 frame: Ethernet, IPv4, UDP, GTP-U (optional fields, extension headers), the T-PDU.
Sent n3_segment(const std::vector<uint8_t>& frame) {
    std::span<const uint8_t> f(frame);
    REQUIRE(f.size() >= 14 + 20 + 8 + 8);
    size_t at = 14 + size_t{f[14] & 0x0fu} * 4 + 8;  // the GTP-U header
    const uint8_t gflags = f[at];
    size_t inner = at + 8;
    if ((gflags & 0x07) != 0) {
        inner = at + 12;
        uint8_t next = (gflags & 0x04) != 0 ? f[at + 11] : 0;
        while (next != 0) {
            REQUIRE(inner < f.size());
            const size_t len = size_t{f[inner]} * 4;
            REQUIRE(len > 0);
            REQUIRE(inner + len <= f.size());
            next = f[inner + len - 1];
            inner += len;
        }
    }
    return parse_tcp4(f.subspan(inner));
}

}  // namespace

// The whole join across workers (issues 6, 7): a UE's MPTCP connection through the proxy lives
// on worker 0; its second subflow's segments reach worker 1 (another RSS queue, as the other
// access's tunnel would) and are handed over: the JOIN SYN by token, its third ACK and data by
// the flow entry the hand-over made. Worker 0 checks the HMACs, joins the subflow and relays its
// data to N6; worker 1 answers nothing and charges nothing.
TEST_CASE(
    "proxy, several workers: a second subflow arriving on another worker joins and carries "
    "data to N6",
    "[handoff][mworker]") {
    TwoWorkerLab lab(true);
    constexpr Sess ma{3, 0x1003, 0xC6136403, 0x2003};
    dataplane::SessionSpec spec = spec_of(ma, false);
    spec.mptcp = true;  // the session may use the proxy (its PFCP MAR / ATSSS rules)
    REQUIRE_FALSE(lab.app.create_session(spec));
    REQUIRE(lab.rules(ma.seid).owner == 0);
    mptcp::crypto::Sha256 sha;
    constexpr uint64_t ue_key = 0x1122334455667788ULL;
    constexpr uint32_t ue_isn = 1000, join_isn = 50000, nonce_a = 0x0a0b0c0d;
    constexpr uint16_t port1 = 41000, port2 = 41001;
    const std::string convert = test::convert_connect_v4(dn_ip, 80);
    auto& w0 = *lab.app.workers()[0]->tcp;
    auto& w1 = *lab.app.workers()[1]->tcp;

    // First subflow on worker 0: MP_CAPABLE SYN with the Convert message → the N6 SYN.
    mw::MpCapable cap;
    cap.flags = mw::capable_flag::hmac_sha256;
    lab.inject(
        0, 0,
        gpdu(ma, tcp4(ma.ue, proxy_ip, port1, proxy_port, tflag::syn, ue_isn, 0, {cap}, convert)));
    lab.walk(0);
    auto n6 = lab.take(1, 0);
    REQUIRE(n6.size() == 1);
    const Sent n6_syn = n6_segment(n6[0]);
    CHECK(n6_syn.src == ma.ue);  // address-preserving
    CHECK(n6_syn.dst == dn_ip);
    CHECK(n6_syn.h.flags == tflag::syn);
    lab.inject(1, 0,
               ether(n6_mac, dn_mac,
                     tcp4(dn_ip, ma.ue, 80, n6_syn.h.src_port, tflag::syn | tflag::ack, 7000,
                          n6_syn.h.seq.raw() + 1)));
    lab.walk(0);
    lab.take(1, 0);  // the N6 handshake's ACK
    auto down = lab.take(0, 0);
    REQUIRE(down.size() == 1);
    const Sent sa = n3_segment(down[0]);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.h.ack.raw() == ue_isn + 1 + convert.size());
    const auto sa_cap = sa.mptcp<mw::MpCapable>();
    REQUIRE(sa_cap);
    REQUIRE(sa_cap->sender_key);
    const uint64_t braid_key = *sa_cap->sender_key;
    const uint32_t ue_nxt = ue_isn + 1 + static_cast<uint32_t>(convert.size());
    mw::MpCapable third;
    third.flags = mw::capable_flag::hmac_sha256;
    third.sender_key = ue_key;
    third.receiver_key = braid_key;
    lab.inject(0, 0,
               gpdu(ma, tcp4(ma.ue, proxy_ip, port1, proxy_port, tflag::ack, ue_nxt,
                             sa.h.seq.raw() + 1, {third})));
    lab.walk(0);
    size_t reply_len = 0;  // the Convert reply, the first bytes of the downlink stream
    for (const auto& f : lab.take(0, 0)) {
        reply_len += n3_segment(f).data.size();
    }
    CHECK(reply_len >= 4);
    REQUIRE(lab.app.mptcp_tokens().owner(mptcp::crypto::key_material(sha, braid_key).token) ==
            std::optional<uint16_t>(0));

    // The second subflow's JOIN SYN reaches worker 1: handed to worker 0 by its token.
    mw::MpJoinSyn j;
    j.address_id = 2;
    j.token = mptcp::crypto::key_material(sha, braid_key).token;
    j.nonce = nonce_a;
    lab.inject(0, 1,
               gpdu(ma, tcp4(ma.ue, proxy_ip, port2, proxy_port, tflag::syn, join_isn, 0, {j})));
    lab.walk(1);
    CHECK(lab.handed(1, 0) == 1);
    CHECK(w1.counter(dataplane::TcpHostCounter::join_handovers) == 1);
    lab.walk(0);
    down = lab.take(0, 0);
    REQUIRE(down.size() == 1);
    const Sent jsa = n3_segment(down[0]);
    REQUIRE(jsa.h.flags == (tflag::syn | tflag::ack));
    CHECK(jsa.h.dst_port == port2);
    const auto js = jsa.mptcp<mw::MpJoinSynAck>();
    REQUIRE(js);
    CHECK(js->truncated_hmac ==
          mptcp::crypto::join_synack_hmac(sha, braid_key, ue_key, js->nonce, nonce_a));

    // Its third ACK (HMAC-A) also reaches worker 1 and follows the flow entry to worker 0.
    mw::MpJoinAck ja;
    ja.hmac = mptcp::crypto::join_ack_hmac(sha, ue_key, braid_key, nonce_a, js->nonce);
    lab.inject(0, 1,
               gpdu(ma, tcp4(ma.ue, proxy_ip, port2, proxy_port, tflag::ack, join_isn + 1,
                             jsa.h.seq.raw() + 1, {ja})));
    lab.walk(1);
    CHECK(lab.handed(1, 0) == 2);
    lab.walk(0);
    CHECK(w0.mptcp_counters()[mptcp::Counter::join_accepted] == 1);
    CHECK(w0.mptcp_counters()[mptcp::Counter::join_bad_hmac] == 0);
    CHECK(w1.mptcp_counters()[mptcp::Counter::join_unknown_token] == 0);
    lab.take(0, 0);  // the join's fourth ACK

    // Data on the joined subflow (DSN = the UE's IDSN + 1, SSN 1) through worker 1 reaches the
    // server from worker 0, from the session's UE address.
    mw::Dss d;
    d.data_ack = mptcp::crypto::key_material(sha, braid_key).idsn + 1 + reply_len;
    d.mapping = mw::DssMapping{};
    d.mapping->dsn = mptcp::crypto::key_material(sha, ue_key).idsn + 1;
    d.mapping->ssn = 1;
    d.mapping->data_len = 4;
    lab.inject(0, 1,
               gpdu(ma, tcp4(ma.ue, proxy_ip, port2, proxy_port, tflag::ack | tflag::psh,
                             join_isn + 1, jsa.h.seq.raw() + 1, {d}, "ping")));
    lab.walk(1);
    CHECK(lab.handed(1, 0) == 3);
    lab.walk(0);
    std::string up;
    for (const auto& f : lab.take(1, 0)) {
        const Sent s = n6_segment(f);
        CHECK(s.src == ma.ue);
        CHECK(s.dst == dn_ip);
        up += s.data;
    }
    CHECK(up == "ping");
    // Worker 1 sent nothing itself and charged nothing: the owner accounts every T-PDU.
    CHECK(lab.take(0, 1).empty());
    CHECK(lab.take(1, 1).empty());
    CHECK(lab.usage(ma.seid, 1).packets_ul.get() == 0);
    CHECK(lab.usage(ma.seid, 0).packets_ul.get() == 5);
    CHECK(w1.counter(dataplane::TcpHostCounter::join_handovers) == 1);
}

// The fault-injection stage in the real graph (pipelines/fault_stage.cc), on worker 0 of this
// lab: a seeded drop on n6 RX, then duplication on n3 TX, then off again.
TEST_CASE("fault stage: seeded drop on n6 rx and duplicate on n3 tx in the graph", "[fault]") {
    TwoWorkerLab lab;
    constexpr auto n3 = static_cast<uint8_t>(config::PortRole::n3);
    constexpr auto n6 = static_cast<uint8_t>(config::PortRole::n6);
    dataplane::FaultWorker& fw = lab.app.workers()[0]->fault;
    CHECK_FALSE(fw.attention());  // off by default

    dataplane::FaultPlan plan;
    dataplane::FaultSpec& rx = plan.at(n6, dataplane::FaultDirection::rx);
    rx.drop_ppm = 500'000;
    rx.seed = 7;
    lab.app.set_fault_plan(plan);
    CHECK(fw.attention());
    lab.inject(1, 0, downlink(plain), 16);
    lab.walk(0);
    // The same decisions as the PRNG's sequence for seed 7.
    dataplane::FaultRng rng(7);
    uint64_t expected = 0;
    for (int i = 0; i < 16; ++i) {
        expected += rng.chance(500'000) ? 1 : 0;
    }
    const auto& c = fw.at(n6, dataplane::FaultDirection::rx).counters;
    CHECK(c.seen.get() == 16);
    CHECK(c.dropped.get() == expected);
    CHECK(expected > 0);
    CHECK(lab.app.drops(DropReason::fault_injected) == expected);
    CHECK(lab.sent(0, 0) == 16 - expected);  // encapsulated toward the gNB

    dataplane::FaultPlan dup;
    dup.at(n3, dataplane::FaultDirection::tx).duplicate_ppm = 1'000'000;
    lab.app.set_fault_plan(dup);
    lab.inject(1, 0, downlink(plain), 4);
    lab.walk(0);
    CHECK(lab.sent(0, 0) == 8);
    CHECK(fw.at(n3, dataplane::FaultDirection::tx).counters.duplicated.get() == 4);
    CHECK(lab.app.drops(DropReason::fault_injected) == expected);  // no more drops

    lab.app.set_fault_plan(dataplane::FaultPlan{});
    lab.walk(0);
    CHECK_FALSE(fw.attention());  // free again
    lab.inject(1, 0, downlink(plain), 4);
    lab.walk(0);
    CHECK(lab.sent(0, 0) == 4);
    CHECK(fw.at(n6, dataplane::FaultDirection::rx).counters.seen.get() == 16);
}
