// Pipeline tests: braid's real graph on a real worker lcore, fed through net_ring ports built
// in-process (rte_eth_from_rings), checked against golden packets from tests/pipeline/golden.py.
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "control/cli/cli.h"
#include "control/commands.h"
#include "control/event_loop.h"
#include "dataplane/app.h"
#include "dataplane/eal.h"
#include "dataplane/nd.h"
#include "pipelines/graph.h"
#include "pipelines/upf.h"
#include "tests/pipeline/golden_packets.h"
#include "tests/unit/eal_fixture.h"

using namespace braid;

namespace {

// The DN host's IPv6 address on N6 (golden.py's DN_IP6).
constexpr dataplane::Ipv6Addr dn_ipv6{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

config::Port ring_port(const std::string& name, config::PortRole role, const std::string& dev,
                       std::array<uint8_t, 6> mac, uint32_t ip, std::array<uint8_t, 16> ip6) {
    config::Port p;
    p.name = name;
    p.role = role;
    p.vdev = dev;
    p.mac = mac;
    p.ipv4 = config::Ipv4Prefix{ip, 24};
    p.ipv6 = config::Ipv6Prefix{ip6, 64};
    p.rx_descriptors = 512;
    p.tx_descriptors = 512;
    return p;
}

// One App on two ring ports (n3, n6) with one worker on lcore 1.
class RingLab {
public:
    // `with_sessions`: the sessions and neighbors the golden packets expect (add_sessions).
    // `tweak` adjusts the configuration before the App is set up.
    explicit RingLab(bool with_sessions = true,
                     const std::function<void(config::Config&)>& tweak = {}) {
        test::eal_once();
        static int generation = 0;
        const std::string g = std::to_string(generation++);
        for (int i = 0; i < 2; ++i) {
            std::string base = (i == 0 ? "n3" : "n6") + g;
            rx_[i] = rte_ring_create(("rx" + base).c_str(), 1024, SOCKET_ID_ANY,
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
            tx_[i] = rte_ring_create(("tx" + base).c_str(), 1024, SOCKET_ID_ANY,
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
            REQUIRE(rx_[i] != nullptr);
            REQUIRE(tx_[i] != nullptr);
            int id = rte_eth_from_rings(("net_ring_" + base).c_str(), &rx_[i], 1, &tx_[i], 1, 0);
            REQUIRE(id >= 0);
            char name[RTE_ETH_NAME_MAX_LEN];
            REQUIRE(rte_eth_dev_get_name_by_port(static_cast<uint16_t>(id), name) == 0);
            names_[i] = name;
        }
        config::Config cfg;
        cfg.ports.push_back(
            ring_port("n3", config::PortRole::n3, names_[0], {2, 0, 0, 0, 3, 1}, 0xC6120001,
                      {0x20, 0x01, 0x0d, 0xb8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
        cfg.ports.push_back(
            ring_port("n6", config::PortRole::n6, names_[1], {2, 0, 0, 0, 6, 1}, 0xC6130001,
                      {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
        cfg.workers.lcores = {1};
        cfg.mempool.mbufs_per_port = 2047;
        cfg.tcp.mbufs_per_worker = 1023;
        cfg.mempool.cache_size = 32;
        if (tweak) {
            tweak(cfg);
        }
        std::string err;
        bool ok = app_.setup(cfg, &err);
        INFO(err);
        REQUIRE(ok);
        if (with_sessions) {
            add_sessions();
        }
        ok = app_.launch(&err);
        REQUIRE(ok);
        pool_ = rte_pktmbuf_pool_create(("golden" + g).c_str(), 1023, 0, 0, 4096, 0);
        REQUIRE(pool_ != nullptr);
    }
    ~RingLab() {
        // What braid sent stays in the TX rings (a ring port never frees it): taken back first,
        // once the workers are quiet (the control core's last packets sent), so that the pool
        // check counts only what braid itself still holds.
        for (int quiet = 0, i = 0; quiet < 3 && i < 200; ++i) {
            quiet = drain_tx() == 0 ? quiet + 1 : 0;
            rte_delay_ms(10);
        }
        CHECK(app_.shutdown() == 0);  // every mbuf braid received went back to its pool
        for (auto* r : {rx_[0], rx_[1], tx_[0], tx_[1]}) {
            rte_mbuf* m;
            while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
                rte_pktmbuf_free(m);
            }
            rte_ring_free(r);
        }
        CHECK(rte_mempool_in_use_count(pool_) == 0);
        rte_mempool_free(pool_);
    }

    // Frees what braid sent on both ports; returns how many frames.
    unsigned drain_tx() {
        unsigned n = 0;
        for (auto* r : {tx_[0], tx_[1]}) {
            rte_mbuf* m;
            while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
                rte_pktmbuf_free(m);
                ++n;
            }
        }
        return n;
    }

    static int index(std::string_view port) { return port == "n3" ? 0 : 1; }

    // What tests/pipeline/golden.py expects: three sessions and the gNB and DN neighbors.
    // `learn_neighbors` false: braid starts knowing no neighbor (it must resolve them).
    void add_sessions(bool learn_neighbors = true) {
        using namespace dataplane;
        if (learn_neighbors) {
            // Neighbors first: a session's gNB peer that is already known sends no ARP request.
            app_.neighbors().learn(0, 0xC6120002, {2, 0, 0, 0, 3, 2}, true, 0);
            app_.neighbors().learn(1, 0xC6130002, {2, 0, 0, 0, 6, 2}, true, 0);
            app_.neighbors().learn(NeighborKey::of_ipv6(1, dn_ipv6), {2, 0, 0, 0, 6, 2}, true, 0);
            app_.control_tick(1);
        }
        SessionSpec s1 = simple_session(1, 0x1001, 0xC6136401, 0xC6120002, 0x2002);
        Pdr dl6 = s1.pdrs[1];
        dl6.id = 3;
        dl6.ue_ipv4.reset();
        dl6.ue_ipv6 = sdf::Prefix{6, {0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, 0x00, 0x01}, 64};
        s1.pdrs.push_back(dl6);
        Qer q1;
        q1.id = 1;
        q1.qfi = 9;
        s1.qers = {q1};
        for (Pdr& p : s1.pdrs) {
            p.qer_ids = {1};
        }
        REQUIRE_FALSE(app_.create_session(s1));
        SessionSpec s2 = simple_session(2, 0x3001, 0xC6136402, 0xC6120002, 0x3002);
        Qer closed;
        closed.id = 1;
        closed.gate_ul_open = false;
        closed.gate_dl_open = false;
        s2.qers = {closed};
        for (Pdr& p : s2.pdrs) {
            p.qer_ids = {1};
        }
        REQUIRE_FALSE(app_.create_session(s2));
        SessionSpec s3 = simple_session(3, 0x4001, 0xC6136403, 0xC6120002, 0x4002);
        s3.fars[1].action = ApplyAction{};
        s3.fars[1].action.drop = true;
        REQUIRE_FALSE(app_.create_session(s3));
    }

    void inject(std::string_view port, const std::vector<uint8_t>& frame) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        REQUIRE(m != nullptr);
        char* d = rte_pktmbuf_append(m, static_cast<uint16_t>(frame.size()));
        REQUIRE(d != nullptr);
        std::memcpy(d, frame.data(), frame.size());
        REQUIRE(rte_ring_enqueue(rx_[index(port)], m) == 0);
    }

    // The next frame sent out of `port`, waiting up to `timeout`.
    std::optional<std::vector<uint8_t>> sent(
        std::string_view port,
        std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
        auto until = std::chrono::steady_clock::now() + timeout;
        rte_mbuf* m = nullptr;
        while (rte_ring_dequeue(tx_[index(port)], reinterpret_cast<void**>(&m)) != 0) {
            if (std::chrono::steady_clock::now() > until) {
                return std::nullopt;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        std::vector<uint8_t> out(rte_pktmbuf_pkt_len(m));
        rte_pktmbuf_read(m, 0, static_cast<uint32_t>(out.size()), out.data());
        const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(out.size()), out.data());
        if (p != out.data()) {
            std::memcpy(out.data(), p, out.size());
        }
        rte_pktmbuf_free(m);
        return out;
    }

    // Free every frame braid sent that the test did not read (ARP requests, retries): they
    // would count as mbufs not returned at shutdown. The control core's packets go out through
    // the worker (ctrl_tx) a little later: let them leave first.
    void discard_sent() {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        for (auto* r : tx_) {
            rte_mbuf* m;
            while (rte_ring_dequeue(r, reinterpret_cast<void**>(&m)) == 0) {
                rte_pktmbuf_free(m);
            }
        }
    }

    // Wait until `reason` has been counted `n` times.
    bool wait_drops(pipelines::DropReason reason, uint64_t n) {
        auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (app_.drops(reason) < n) {
            if (std::chrono::steady_clock::now() > until) {
                return false;
            }
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        return true;
    }

    dataplane::App app_;

private:
    std::string names_[2];
    rte_ring* rx_[2] = {};
    rte_ring* tx_[2] = {};
    rte_mempool* pool_ = nullptr;
};

pipelines::DropReason reason_by_name(std::string_view name) {
    for (size_t r = 0; r < pipelines::drop_reason_count; ++r) {
        if (pipelines::drop_reason_table[r].name == name) {
            return static_cast<pipelines::DropReason>(r);
        }
    }
    FAIL("golden case names an unknown drop reason: " << name);
    return pipelines::DropReason::count;
}

std::string hex(const std::vector<uint8_t>& v) {
    std::string s;
    char b[4];
    for (size_t i = 0; i < v.size(); ++i) {
        std::snprintf(b, sizeof(b), "%02x%s", v[i], (i % 16 == 15) ? "\n" : " ");
        s += b;
    }
    return s;
}

}  // namespace

TEST_CASE(
    "golden packets: each frame leaves the expected port byte for byte or is dropped "
    "for its named reason",
    "[pipeline]") {
    RingLab lab;
    for (const auto& c : golden::cases) {
        INFO("case " << c.name);
        std::string action = c.action;
        if (action == "tx") {
            lab.inject(c.in_port, c.in);
            auto out = lab.sent(c.target);
            if (!out) {
                for (size_t r = 0; r < pipelines::drop_reason_count; ++r) {
                    if (uint64_t n = lab.app_.drops(static_cast<pipelines::DropReason>(r))) {
                        UNSCOPED_INFO("drops " << pipelines::drop_reason_table[r].name << " " << n);
                    }
                }
            }
            REQUIRE(out.has_value());
            INFO("expected:\n" << hex(c.out) << "\ngot:\n" << hex(*out));
            CHECK(*out == c.out);
        } else {
            auto reason = reason_by_name(c.target);
            uint64_t before = lab.app_.drops(reason);
            lab.inject(c.in_port, c.in);
            CHECK(lab.wait_drops(reason, before + 1));
        }
    }
    // Nothing else came out: drops produce no frames, replies only one each.
    CHECK_FALSE(lab.sent("n3", std::chrono::milliseconds(50)).has_value());
    CHECK_FALSE(lab.sent("n6", std::chrono::milliseconds(50)).has_value());
}

TEST_CASE("neighbors: braid asks for its next hop and learns it from the reply", "[pipeline]") {
    RingLab lab(false);
    // The fixture has no gateway; ask for one the way the control core does for next hops.
    const uint32_t gw = 0xC6120002;
    REQUIRE(lab.app_.neighbors().want(0, gw, 0, true));
    REQUIRE(lab.app_.send_arp_request(0, gw));
    auto req = lab.sent("n3");
    REQUIRE(req.has_value());
    REQUIRE(req->size() == 42);
    CHECK(std::vector<uint8_t>(req->begin(), req->begin() + 6) == std::vector<uint8_t>(6, 0xff));
    CHECK((*req)[21] == 1);  // ARP request
    CHECK(std::vector<uint8_t>(req->begin() + 38, req->begin() + 42) ==
          std::vector<uint8_t>{198, 18, 0, 2});
    // The gateway answers; the worker reports it; the control core publishes a snapshot.
    std::vector<uint8_t> reply = {2,   0,  0, 0, 3, 1, 2, 0, 0, 0, 3,   2,  0x08, 0x06,
                                  0,   1,  8, 0, 6, 4, 0, 2, 2, 0, 0,   0,  3,    2,
                                  198, 18, 0, 2, 2, 0, 0, 0, 3, 1, 198, 18, 0,    1};
    lab.inject("n3", reply);
    REQUIRE(lab.wait_drops(pipelines::DropReason::arp_reply_consumed, 1));
    for (int i = 0; i < 100 && !lab.app_.neighbor_snapshot()->lookup(0, gw); ++i) {
        lab.app_.control_tick(uint64_t(i) * 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto mac = lab.app_.neighbor_snapshot()->lookup(0, gw);
    REQUIRE(mac.has_value());
    CHECK(*mac == dataplane::MacAddr{2, 0, 0, 0, 3, 2});
}

namespace {

const golden::Case& golden_case(std::string_view name) {
    for (const auto& c : golden::cases) {
        if (name == c.name) {
            return c;
        }
    }
    FAIL("no golden case " << name);
    return golden::cases.front();
}

// The ARP reply of `ip` (a.b.c.d) with MAC 02:00:00:00:<role>:02 to braid's port of that role.
std::vector<uint8_t> arp_reply(uint8_t role, std::array<uint8_t, 4> ip) {
    const uint8_t net = role == 3 ? 18 : 19;
    std::vector<uint8_t> f = {2, 0, 0, 0, role, 1, 2, 0, 0, 0, role, 2, 0x08, 0x06,
                              0, 1, 8, 0, 6,    4, 0, 2, 2, 0, 0,    0, role, 2};
    f.insert(f.end(), ip.begin(), ip.end());
    const std::vector<uint8_t> target = {2, 0, 0, 0, role, 1, 198, net, 0, 1};
    f.insert(f.end(), target.begin(), target.end());
    return f;
}

uint64_t held_total(dataplane::App& app) {
    uint64_t n = 0;
    for (const auto* wc : app.workers()) {
        n += wc->counters.neighbor_held.get();
    }
    return n;
}

bool wait_held(dataplane::App& app, uint64_t n) {
    for (int i = 0; i < 2000 && held_total(app) < n; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return held_total(app) == n;
}

}  // namespace

TEST_CASE("neighbor hold: the first packets to an unknown next hop wait and leave in order",
          "[pipeline][hold]") {
    RingLab lab(false);
    lab.add_sessions(false);  // braid knows no neighbor: not the DN host, not the gNB
    const char* uplink[] = {"uplink_gpdu_with_qfi_is_decapsulated_to_n6",
                            "uplink_gpdu_without_extension_header_is_decapsulated",
                            "uplink_tcp_syn_is_decapsulated"};
    for (const char* name : uplink) {
        const auto& c = golden_case(name);
        REQUIRE(std::string_view(c.target) == "n6");
        lab.inject(c.in_port, c.in);
    }
    REQUIRE(wait_held(lab.app_, 3));
    CHECK(lab.app_.drops(pipelines::DropReason::neighbor_unresolved) == 0);
    // The first held packet asked the control core for the next hop: one ARP request on N6.
    std::optional<std::vector<uint8_t>> req;
    for (int i = 0; i < 200 && !req; ++i) {
        lab.app_.control_tick(10 + uint64_t(i));
        req = lab.sent("n6", std::chrono::milliseconds(5));
    }
    REQUIRE(req.has_value());
    REQUIRE(req->size() == 42);
    CHECK((*req)[21] == 1);  // ARP request …
    CHECK(std::vector<uint8_t>(req->begin() + 38, req->begin() + 42) ==
          std::vector<uint8_t>{198, 19, 0, 2});                              // … for the DN host
    CHECK_FALSE(lab.sent("n6", std::chrono::milliseconds(20)).has_value());  // nothing else yet
    // It answers: the snapshot is published, the worker releases what it held, in order.
    lab.inject("n6", arp_reply(6, {198, 19, 0, 2}));
    for (const char* name : uplink) {
        const auto& c = golden_case(name);
        std::optional<std::vector<uint8_t>> out;
        for (int i = 0; i < 400 && !out; ++i) {
            lab.app_.control_tick(300 + uint64_t(i));
            out = lab.sent("n6", std::chrono::milliseconds(5));
        }
        INFO(name);
        REQUIRE(out.has_value());
        CHECK(hex(*out) == hex(c.out));
    }
    uint64_t released = 0;
    for (const auto* wc : lab.app_.workers()) {
        released += wc->counters.neighbor_released.get();
        CHECK(wc->counters.neighbor_holding.get() == 0);
    }
    CHECK(released == 3);
    lab.discard_sent();
}

TEST_CASE(
    "neighbor discovery: an IPv6 uplink to an unknown DN host is held, braid solicits "
    "it (RFC 4861 §7.2.2) and its advertisement releases the packet",
    "[pipeline][hold][nd]") {
    RingLab lab(false);
    lab.add_sessions(false);
    const auto& c = golden_case("uplink_ipv6_gpdu_is_decapsulated_to_n6");
    lab.inject(c.in_port, c.in);
    REQUIRE(wait_held(lab.app_, 1));
    // One multicast solicitation for 2001:db8:6::2 on N6 (after the ARP request for the N6
    // port's IPv4 side, if any: skip those).
    std::optional<std::vector<uint8_t>> ns;
    for (int i = 0; i < 200 && !ns; ++i) {
        lab.app_.control_tick(10 + uint64_t(i));
        ns = lab.sent("n6", std::chrono::milliseconds(5));
        if (ns && !(ns->size() > 13 && (*ns)[12] == 0x86 && (*ns)[13] == 0xdd)) {
            ns.reset();
        }
    }
    REQUIRE(ns.has_value());
    REQUIRE(ns->size() == dataplane::nd::solicitation_frame_len);
    // To the solicited-node group's MAC, from N6's MAC, hop limit 255 ...
    CHECK(std::vector<uint8_t>(ns->begin(), ns->begin() + 12) ==
          std::vector<uint8_t>{0x33, 0x33, 0xff, 0, 0, 2, 2, 0, 0, 0, 6, 1});
    CHECK((*ns)[14 + 7] == 255);
    // ... from N6's global address, a well-formed solicitation with our link-layer address.
    dataplane::nd::Ipv6Addr src, dst;
    std::memcpy(src.data(), ns->data() + 22, 16);
    std::memcpy(dst.data(), ns->data() + 38, 16);
    CHECK(src ==
          dataplane::nd::Ipv6Addr{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    CHECK(dst == dataplane::nd::solicited_node(dn_ipv6));
    CHECK(dataplane::nd::icmp6_checksum(src, dst, ns->data() + 54, 32) == 0);
    const auto parsed = dataplane::nd::parse(ns->data() + 54, 32, 255, src, dst);
    REQUIRE(parsed.msg);
    CHECK(parsed.msg->type == dataplane::nd::type_solicitation);
    CHECK(parsed.msg->target == dn_ipv6);
    CHECK(parsed.msg->lladdr == dataplane::MacAddr{2, 0, 0, 0, 6, 1});
    CHECK(lab.app_.neighbors().stats().solicitations_sent == 1);
    // The host answers; the packet leaves exactly as golden.py expects.
    lab.inject("n6", golden_case("nd_advertisement_from_dn_host_is_consumed").in);
    std::optional<std::vector<uint8_t>> out;
    for (int i = 0; i < 400 && !out; ++i) {
        lab.app_.control_tick(300 + uint64_t(i));
        out = lab.sent("n6", std::chrono::milliseconds(5));
        if (out && out->size() != c.out.size()) {
            out.reset();  // a retransmitted solicitation or an ARP request
        }
    }
    REQUIRE(out.has_value());
    CHECK(hex(*out) == hex(c.out));
    auto mac = lab.app_.neighbor_snapshot()->lookup(dataplane::NeighborKey::of_ipv6(1, dn_ipv6));
    REQUIRE(mac);
    CHECK(*mac == dataplane::MacAddr{2, 0, 0, 0, 6, 2});
    lab.discard_sent();
}

TEST_CASE(
    "neighbor discovery: a solicitation's source link-layer address is learned "
    "(RFC 4861 §7.2.3) and counted",
    "[pipeline][nd]") {
    RingLab lab(false);
    const auto& c = golden_case("nd_solicitation_for_n6_is_advertised");
    lab.inject(c.in_port, c.in);
    auto out = lab.sent("n6");
    REQUIRE(out.has_value());
    CHECK(*out == c.out);
    const auto key = dataplane::NeighborKey::of_ipv6(1, dn_ipv6);
    for (int i = 0; i < 100 && !lab.app_.neighbor_snapshot()->lookup(key); ++i) {
        lab.app_.control_tick(uint64_t(i) * 10);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    auto mac = lab.app_.neighbor_snapshot()->lookup(key);
    REQUIRE(mac);
    CHECK(*mac == dataplane::MacAddr{2, 0, 0, 0, 6, 2});
    const auto& wc = *lab.app_.workers()[0];
    CHECK(wc.counters.nd_solicitations_received.get() == 1);
    CHECK(wc.counters.nd_advertisements_sent.get() == 1);
    // An unsolicited advertisement for a host braid has no entry for teaches nothing (§7.2.5).
    const auto& na = golden_case("nd_advertisement_is_consumed");
    lab.inject(na.in_port, na.in);
    REQUIRE(lab.wait_drops(pipelines::DropReason::nd_advert_consumed, 1));
    for (int i = 0; i < 10; ++i) {
        lab.app_.control_tick(2000 + uint64_t(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    CHECK(lab.app_.neighbors().entries().size() == 1);
    CHECK(wc.counters.nd_advertisements_received.get() == 1);
    lab.discard_sent();
}

namespace {

// A Neighbor Advertisement from the DN host (2001:db8:6::2) to braid's N6 address for the DN
// host's address, with the target link-layer address `mac` and the Override flag `override_flag`.
std::vector<uint8_t> dn_advertisement(const dataplane::MacAddr& mac, bool override_flag) {
    const dataplane::nd::Ipv6Addr n6{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::vector<uint8_t> f = {2, 0, 0, 0, 6, 1};  // to braid's N6 MAC
    f.insert(f.end(), mac.begin(), mac.end());
    f.insert(f.end(), {0x86, 0xdd, 0x60, 0, 0, 0, 0, 32, 58, 255});
    f.insert(f.end(), dn_ipv6.begin(), dn_ipv6.end());
    f.insert(f.end(), n6.begin(), n6.end());
    const size_t icmp = f.size();
    f.insert(f.end(), {136, 0, 0, 0, static_cast<uint8_t>(override_flag ? 0x60 : 0x40), 0, 0, 0});
    f.insert(f.end(), dn_ipv6.begin(), dn_ipv6.end());
    f.insert(f.end(), {2, 1});
    f.insert(f.end(), mac.begin(), mac.end());
    const uint16_t c = dataplane::nd::icmp6_checksum(dn_ipv6, n6, f.data() + icmp, 32);
    f[icmp + 2] = static_cast<uint8_t>(c >> 8);
    f[icmp + 3] = static_cast<uint8_t>(c & 0xff);
    return f;
}

}  // namespace

TEST_CASE(
    "neighbor discovery: an advertisement replaces a known link-layer address only with "
    "the Override flag (RFC 4861 §7.2.5)",
    "[pipeline][nd]") {
    RingLab lab(false);
    const auto key = dataplane::NeighborKey::of_ipv6(1, dn_ipv6);
    const dataplane::MacAddr first{2, 0, 0, 0, 6, 2}, second{2, 0, 0, 0, 6, 7};
    lab.app_.neighbors().learn(key, first, true, 0);
    lab.app_.control_tick(1);
    REQUIRE(lab.app_.neighbor_snapshot()->lookup(key) == first);
    lab.inject("n6", dn_advertisement(second, false));
    REQUIRE(lab.wait_drops(pipelines::DropReason::nd_advert_consumed, 1));
    for (int i = 0; i < 20; ++i) {
        lab.app_.control_tick(10 + uint64_t(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    CHECK(lab.app_.neighbor_snapshot()->lookup(key) == first);  // O clear: kept
    lab.inject("n6", dn_advertisement(second, true));
    REQUIRE(lab.wait_drops(pipelines::DropReason::nd_advert_consumed, 2));
    std::optional<dataplane::MacAddr> mac;
    for (int i = 0; i < 100 && mac != second; ++i) {
        lab.app_.control_tick(100 + uint64_t(i));
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        mac = lab.app_.neighbor_snapshot()->lookup(key);
    }
    CHECK(mac == second);  // O set: replaced
    CHECK(lab.app_.workers()[0]->counters.nd_advertisements_received.get() == 2);
    lab.discard_sent();
}

TEST_CASE(
    "next_hop_ipv6: on-link and link-local destinations are their own next hop, others "
    "go to the configured IPv6 gateway",
    "[pipeline][nd]") {
    dataplane::PortRuntime p;
    p.index = 1;
    p.has_ipv6 = true;
    p.ipv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    p.ipv6_len = 64;
    const uint8_t on_link[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    const uint8_t off_link[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    const uint8_t link_local[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    auto addr = [](const uint8_t* a) {
        dataplane::Ipv6Addr r;
        std::memcpy(r.data(), a, 16);
        return r;
    };
    // No gateway: everything is on-link.
    CHECK(pipelines::next_hop_ipv6(p, off_link).ipv6 == addr(off_link));
    p.has_gateway_ipv6 = true;
    p.gateway_ipv6 = {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe};
    CHECK(pipelines::next_hop_ipv6(p, on_link) ==
          dataplane::NeighborKey::of_ipv6(1, addr(on_link)));
    CHECK(pipelines::next_hop_ipv6(p, off_link) ==
          dataplane::NeighborKey::of_ipv6(1, p.gateway_ipv6));
    CHECK(pipelines::next_hop_ipv6(p, link_local).ipv6 == addr(link_local));
    p.ipv6_len = 12;  // a prefix that ends inside an octet: 2000::/12 covers both
    CHECK(pipelines::next_hop_ipv6(p, off_link).ipv6 == addr(off_link));
}

TEST_CASE("neighbor hold: downlink G-PDUs wait for the gNB's MAC", "[pipeline][hold]") {
    RingLab lab(false);
    lab.add_sessions(false);
    const auto& c = golden_case("downlink_ipv4_is_encapsulated_with_dl_qfi");
    lab.inject(c.in_port, c.in);
    REQUIRE(wait_held(lab.app_, 1));
    lab.inject("n3", arp_reply(3, {198, 18, 0, 2}));
    std::optional<std::vector<uint8_t>> out;
    for (int i = 0; i < 400; ++i) {
        lab.app_.control_tick(10 + uint64_t(i));
        // ARP requests for the gNB come out of n3 too: skip them.
        out = lab.sent("n3", std::chrono::milliseconds(5));
        if (out && out->size() > 12 && (*out)[12] == 0x08 && (*out)[13] == 0x00) {
            break;
        }
        out.reset();
    }
    REQUIRE(out.has_value());
    CHECK(hex(*out) == hex(c.out));
    lab.discard_sent();
}

TEST_CASE("neighbor hold: bounded, timed out, dropped on failure, freed at shutdown",
          "[pipeline][hold]") {
    const auto& c = golden_case("uplink_gpdu_without_extension_header_is_decapsulated");
    SECTION("at most hold_per_neighbor packets per next hop: the oldest go") {
        RingLab lab(false, [](config::Config& cfg) { cfg.neighbors.hold_per_neighbor = 2; });
        lab.add_sessions(false);
        for (int i = 0; i < 5; ++i) {
            lab.inject(c.in_port, c.in);
        }
        REQUIRE(wait_held(lab.app_, 5));
        CHECK(lab.wait_drops(pipelines::DropReason::neighbor_queue_full, 3));
        CHECK(lab.app_.workers()[0]->counters.neighbor_holding.get() == 2);
        // What operators see: the entry being resolved and the two packets held for it.
        lab.app_.control_tick(10);  // takes the worker's neighbor_wanted: an incomplete entry
        control::EventLoop loop;
        control::CommandContext cc{lab.app_, loop};
        cli::Registry registry;
        control::register_commands(registry, cc);
        cli::StringOutput out;
        REQUIRE(registry.execute("show neighbors", out));
        INFO(out.str());
        std::istringstream lines(out.str());
        bool found = false;
        for (std::string line; std::getline(lines, line);) {
            std::istringstream words(line);
            std::vector<std::string> w{std::istream_iterator<std::string>(words), {}};
            if (w.size() >= 8 && w[2] == "198.19.0.2") {
                found = true;
                CHECK(w[0] == "n6");
                CHECK(w[1] == "ipv4");
                CHECK(w[4] == "incomplete");
                CHECK(w[7] == "2");  // held
            }
        }
        CHECK(found);
        CHECK(out.str().find("held now 2 (at most 2 per next hop, 256 per worker); held 5, "
                             "released 0, dropped: queue full 3") != std::string::npos);
        // The lab's destructor checks that shutdown freed the two still held.
        lab.discard_sent();
    }
    SECTION("held longer than hold_timeout_ms: dropped") {
        RingLab lab(false, [](config::Config& cfg) { cfg.neighbors.hold_timeout_ms = 50; });
        lab.add_sessions(false);
        lab.inject(c.in_port, c.in);
        REQUIRE(wait_held(lab.app_, 1));
        CHECK(lab.wait_drops(pipelines::DropReason::neighbor_hold_timeout, 1));
        CHECK(lab.app_.workers()[0]->counters.neighbor_holding.get() == 0);
        lab.discard_sent();
    }
    SECTION("resolution failed: what was held is dropped, later packets at once") {
        RingLab lab(false);
        lab.add_sessions(false);
        lab.inject(c.in_port, c.in);
        REQUIRE(wait_held(lab.app_, 1));
        // The control core's clock: three requests a second apart, then failed (max_retries 3).
        for (uint64_t t = 0; t <= 5000; t += 100) {
            lab.app_.control_tick(t);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        CHECK(lab.wait_drops(pipelines::DropReason::neighbor_resolution_failed, 1));
        lab.inject(c.in_port, c.in);
        CHECK(lab.wait_drops(pipelines::DropReason::neighbor_resolution_failed, 2));
        CHECK(held_total(lab.app_) == 1);
        lab.discard_sent();
    }
    SECTION("holding disabled: a miss is a drop, as before") {
        RingLab lab(false, [](config::Config& cfg) { cfg.neighbors.hold_total = 0; });
        lab.add_sessions(false);
        lab.inject(c.in_port, c.in);
        CHECK(lab.wait_drops(pipelines::DropReason::neighbor_unresolved, 1));
        CHECK(held_total(lab.app_) == 0);
        lab.discard_sent();
    }
}

TEST_CASE("graph: every worker graph has the declared nodes and counts what they process",
          "[pipeline]") {
    RingLab lab;
    const auto& c = golden::cases.front();  // an ARP request answered on n3
    lab.inject(c.in_port, c.in);
    REQUIRE(lab.sent("n3").has_value());
    auto stats = pipelines::node_stats(*lab.app_.workers()[0]);
    std::map<std::string, uint64_t> objs;
    for (const auto& s : stats) {
        objs[s.name] = s.objs;
    }
    for (const auto& e : pipelines::graph_edges()) {
        CHECK(objs.count(e.name) == 1);
    }
    CHECK(objs["eth_classify"] >= 1);
    CHECK(objs["arp"] >= 1);
    CHECK(objs["n3_tx"] >= 1);
}

namespace {

// `n` sessions on the App, each with URR 1 (`urr` with its triggers), UE 198.19.1.0 + i, UL
// TEID 0x10000 + i; SEIDs 1000 + i. The gNB is learned first: no ARP traffic.
void add_urr_sessions(dataplane::App& app, uint32_t n, const dataplane::Urr& urr,
                      const std::function<void(uint32_t, dataplane::Urr&)>& adjust = {}) {
    using namespace dataplane;
    app.neighbors().learn(0, 0xC6120002, {2, 0, 0, 0, 3, 2}, true, 0);
    app.control_tick(1);
    for (uint32_t i = 0; i < n; ++i) {
        SessionSpec s =
            simple_session(1000 + i, 0x10000 + i, 0xC6130100 + i, 0xC6120002, 0x20000 + i);
        Urr u = urr;
        if (adjust) {
            adjust(i, u);
        }
        s.urrs = {u};
        for (Pdr& p : s.pdrs) {
            p.urr_ids = {u.id};
        }
        REQUIRE_FALSE(app.create_session(s));
    }
}

// What a worker's urr_count does for `packets` packets of `bytes` in all (the worker itself
// sees no traffic here: the test thread is the only writer of these slices).
void count_usage(dataplane::App& app, uint64_t seid, uint64_t packets, uint64_t bytes) {
    const dataplane::SessionRules* r = app.sessions().by_seid(seid);
    REQUIRE(r != nullptr);
    dataplane::UsageSlice& s = r->urrs[0].usage[0];
    s.packets_ul.add(packets);
    s.bytes_ul.add(bytes);
}

std::vector<dataplane::UsageReport> usage_reports(dataplane::App& app) {
    std::vector<dataplane::UsageReport> out;
    for (auto& r : app.take_reports()) {
        if (auto* u = std::get_if<dataplane::UsageReport>(&r)) {
            out.push_back(*u);
        }
    }
    return out;
}

}  // namespace

TEST_CASE("usage poll: with 6,000 URRs (a pass spans ticks) triggers still fire on time",
          "[pipeline][usage]") {
    RingLab lab(false);
    dataplane::App& app = lab.app_;
    constexpr uint32_t n = 6000;  // more than one tick's budget (1,024 URRs): ~6 ticks a pass
    dataplane::Urr urr;
    urr.id = 1;
    urr.volume_threshold_bytes = 1000;
    add_urr_sessions(app, n, urr, [](uint32_t i, dataplane::Urr& u) {
        if (i == 0) {
            u.measurement_period_s = 2;  // PERIO every 2 s
        } else if (i == n - 1) {
            u.time_threshold_s = 1;  // TIMTH after 1 s of traffic
        }
    });
    const uint64_t first = 1000, middle = 1000 + n / 2, last_volume = 1000 + n - 2,
                   timed = 1000 + n - 1, periodic = 1000;
    // Ticks every 10 ms of injected time, as main.cc runs them; traffic at 1505 ms (mid-pass:
    // the passes start at 1000 ms and every ~100 ms).
    std::map<uint64_t, std::vector<dataplane::UsageReport>> by_seid;
    constexpr uint64_t traffic_ms = 1505;
    for (uint64_t now = 1000; now <= 5500; now += 5) {
        if (now == traffic_ms) {
            count_usage(app, first + 1, 1, 1000);
            count_usage(app, middle, 2, 1200);
            count_usage(app, last_volume, 1, 1000);
            count_usage(app, timed, 1, 10);
        }
        if (now % 10 == 0) {
            app.control_tick(now);
            for (auto& r : usage_reports(app)) {
                by_seid[r.seid].push_back(r);
            }
        }
    }
    // Volume thresholds: reported within 1 s of the traffic (one pass, ~160 ms here).
    for (uint64_t seid : {first + 1, middle, last_volume}) {
        INFO("session " << seid);
        REQUIRE(by_seid[seid].size() == 1);
        const auto& r = by_seid[seid][0];
        CHECK(r.trigger == dataplane::UsageTrigger::volume_threshold);
        CHECK(r.end_ms > traffic_ms);
        CHECK(r.end_ms - traffic_ms < 1000);
        CHECK(r.volume.bytes() >= 1000);
    }
    // The time threshold: 1 s after the poll that first saw the traffic (within one pass of
    // it), never earlier.
    REQUIRE(by_seid[timed].size() == 1);
    const auto& t = by_seid[timed][0];
    CHECK(t.trigger == dataplane::UsageTrigger::time_threshold);
    CHECK(t.end_ms >= traffic_ms + 1000);
    CHECK(t.end_ms < traffic_ms + 1000 + 2 * 200);
    CHECK(t.duration_s == 1);
    // Periodic: every 2 s from the measurement's start, each within one pass of its due time,
    // the schedule not drifting with the delays.
    const auto& p = by_seid[periodic];
    REQUIRE(p.size() == 2);
    const uint64_t start = p[0].start_ms;
    CHECK(start >= 1000);
    CHECK(start < 1200);
    for (size_t k = 0; k < p.size(); ++k) {
        INFO("periodic report " << k);
        CHECK(p[k].trigger == dataplane::UsageTrigger::periodic);
        CHECK(p[k].end_ms >= start + 2000 * (k + 1));
        CHECK(p[k].end_ms < start + 2000 * (k + 1) + 200);
    }
    // No other session reported anything.
    CHECK(by_seid.size() == 5);
    while (lab.sent("n3", std::chrono::milliseconds(0))) {
    }
}

TEST_CASE("control tick: retired snapshots are freed within a time budget per tick, all in the end",
          "[pipeline][session]") {
    RingLab lab(false);
    dataplane::App& app = lab.app_;
    constexpr uint32_t n = 3000;
    dataplane::Urr urr;
    urr.id = 1;
    add_urr_sessions(app, n, urr);
    // A burst of modifications (a handover each: a new gNB TEID) retires n snapshots.
    for (uint32_t i = 0; i < n; ++i) {
        dataplane::SessionSpec s = *app.sessions().spec(1000 + i);
        s.fars[1].outer_header->teid = 0x30000 + i;
        REQUIRE_FALSE(app.modify_session(s, {}, nullptr));
    }
    const size_t retired = app.sessions().retired();
    CHECK(retired >= n);
    // Wait until the worker has passed a quiescent state: every grace period is over.
    REQUIRE(rte_rcu_qsbr_check(app.rcu(), rte_rcu_qsbr_start(app.rcu()), true) == 1);
    uint64_t now = 2000;
    app.control_tick(now);
    const size_t after = app.sessions().retired();
    // At least one chunk (32) is freed, but not the whole burst: the tick stops after ~200 µs
    // (3,000 snapshots take several times that to free).
    CHECK(retired - after >= 32);
    CHECK(after > 0);
    int ticks = 1;
    while (app.sessions().retired() != 0 && ticks < 1000) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        app.control_tick(now += 10);
        ++ticks;
    }
    CHECK(app.sessions().retired() == 0);
    CHECK(ticks >= 2);
    while (lab.sent("n3", std::chrono::milliseconds(0))) {
    }
}
