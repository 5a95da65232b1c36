// dataplane::TcpHost (braid's TCP endpoint and its test applications) and dataplane::Sha256,
// sans-I/O: two hosts back to back, frames carried by the test with injected time.
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "dataplane/app.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/sha256.h"
#include "dataplane/tcp_host.h"
#include "tests/unit/eal_fixture.h"

namespace braid::dataplane {

namespace {

std::string sha_hex(std::string_view s) {
    Sha256 h;
    h.update(s.data(), s.size());
    return Sha256::hex(h.finish());
}

rte_mempool* pool(const char* name, unsigned n, uint16_t room) {
    test::eal_once();
    register_mbuf_meta();
    if (rte_mempool* p = rte_mempool_lookup(name)) {
        return p;
    }
    return rte_pktmbuf_pool_create(name, n, 0, 0, room, SOCKET_ID_ANY);
}

PortRuntime n6_port(uint32_t ipv4, uint16_t index) {
    PortRuntime p;
    p.name = "n6";
    p.role = config::PortRole::n6;
    p.index = index;
    p.has_ipv4 = true;
    p.ipv4 = ipv4;
    p.ipv4_len = 24;
    return p;
}

// Two hosts wired to each other: frames one emits are given an Ethernet header and fed to the
// other, after `loss` says whether to drop the n-th frame.
struct Pair {
    std::vector<PortRuntime> ports_a{n6_port(0xc6130001, 0)};  // 198.19.0.1
    std::vector<PortRuntime> ports_b{n6_port(0xc6130002, 0)};  // 198.19.0.2
    rte_mempool* data = pool("th_data", 4095, RTE_MBUF_DEFAULT_BUF_SIZE);
    rte_mempool* clones = pool("th_clones", 8191, 0);
    std::unique_ptr<TcpHost> a, b;
    uint64_t now = 1'000'000;
    uint64_t frames = 0;
    std::function<bool(uint64_t)> drop = [](uint64_t) { return false; };

    Pair() {
        TcpHostConfig c;
        c.pool = data;
        c.engine.clone_pool = clones;
        c.engine.default_mss = 1460;
        a = std::make_unique<TcpHost>(c, ports_a);
        c.engine.secret[0] = 1;
        b = std::make_unique<TcpHost>(c, ports_b);
    }
    ~Pair() {
        a.reset();
        b.reset();
    }

    // Deliver everything in flight until both are quiet; then advance time by `step_us`.
    void run(uint64_t until_us, uint64_t step_us = 1000) {
        for (; now < until_us; now += step_us) {
            a->poll(now);
            b->poll(now);
            for (int round = 0; round < 10000; ++round) {
                bool moved = carry(*a, *b) | carry(*b, *a);
                if (!moved) {
                    break;
                }
            }
        }
    }

    bool carry(TcpHost& from, TcpHost& to) {
        std::vector<rte_mbuf*> out;
        out.swap(from.frames());
        for (rte_mbuf* m : out) {
            if (drop(frames++)) {
                rte_pktmbuf_free(m);
                continue;
            }
            // A linear copy with an Ethernet header in front, as a NIC would deliver it.
            rte_mbuf* rx = rte_pktmbuf_alloc(data);
            REQUIRE(rx != nullptr);
            char* p = rte_pktmbuf_append(rx, static_cast<uint16_t>(14 + rte_pktmbuf_pkt_len(m)));
            REQUIRE(p != nullptr);
            std::memset(p, 0, 14);
            const uint32_t len = rte_pktmbuf_pkt_len(m);
            const void* src = rte_pktmbuf_read(m, 0, len, p + 14);
            REQUIRE(src != nullptr);
            if (src != p + 14) {
                std::memcpy(p + 14, src, len);
            }
            rte_pktmbuf_free(m);
            meta(rx).l3_offset = 14;
            const auto r = to.input(rx, now);
            if (r != pipelines::DropReason::count) {
                rte_pktmbuf_free(rx);
            }
        }
        return !out.empty();
    }
};

const TcpAppRecord* find(const std::vector<TcpAppRecord>& v, TcpAppMode mode) {
    for (const auto& r : v) {
        if (r.mode == mode) {
            return &r;
        }
    }
    return nullptr;
}

}  // namespace

TEST_CASE("SHA-256: FIPS 180-4 examples and a stream cut anywhere hashes the same") {
    CHECK(sha_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(sha_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    std::string million(1'000'000, 'a');
    CHECK(sha_hex(million) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    Sha256 h;
    for (size_t i = 0; i < million.size();) {
        const size_t n = std::min<size_t>(1 + i % 97, million.size() - i);
        h.update(million.data() + i, n);
        i += n;
    }
    CHECK(Sha256::hex(h.finish()) == sha_hex(million));
}

TEST_CASE("TcpHost: a source on one host and an echo service on the other, byte exact") {
    Pair p;
    REQUIRE_FALSE(p.a->add_service({5001, TcpAppMode::echo, 0}));
    CHECK(p.a->add_service({5001, TcpAppMode::sink, 0}).has_value());  // port taken
    TcpConnectSpec s;
    s.remote = tcp::IpAddr::v4(198, 19, 0, 1);
    s.remote_port = 5001;
    s.mode = TcpAppMode::source;
    s.bytes = 3'000'000;
    auto id = p.b->connect(s, p.now);
    REQUIRE(std::holds_alternative<tcp::ConnId>(id));
    p.run(p.now + 5'000'000);
    const auto ra = p.a->apps();
    const auto rb = p.b->apps();
    const TcpAppRecord* echo = find(ra, TcpAppMode::echo);
    const TcpAppRecord* src = find(rb, TcpAppMode::source);
    REQUIRE(echo != nullptr);
    REQUIRE(src != nullptr);
    CHECK(src->finished);
    CHECK(echo->finished);
    CHECK(src->tx_bytes == 3'000'000);
    CHECK(src->rx_bytes == 3'000'000);  // the echo, read and counted by the source
    CHECK(echo->rx_bytes == 3'000'000);
    CHECK(echo->rx_sha256 == src->tx_sha256);
    CHECK(echo->reason == tcp::CloseReason::normal);
    CHECK(src->reason == tcp::CloseReason::normal);
    CHECK(p.a->counter(TcpHostCounter::frames_out) > 0);
}

TEST_CASE("TcpHost: a sink receives a source's bytes intact through 3 % loss") {
    Pair p;
    REQUIRE_FALSE(p.a->add_service({5002, TcpAppMode::sink, 0}));
    uint64_t x = 12345;
    p.drop = [&x](uint64_t) {  // a seeded LCG: about 3 % of frames either way
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        return (x >> 33) % 100 < 3;
    };
    TcpConnectSpec s;
    s.remote = tcp::IpAddr::v4(198, 19, 0, 1);
    s.remote_port = 5002;
    s.mode = TcpAppMode::source;
    s.bytes = 1'000'000;
    REQUIRE(std::holds_alternative<tcp::ConnId>(p.b->connect(s, p.now)));
    p.run(p.now + 120'000'000, 1000);
    const auto ra = p.a->apps();
    const auto rb = p.b->apps();
    const TcpAppRecord* sink = find(ra, TcpAppMode::sink);
    const TcpAppRecord* src = find(rb, TcpAppMode::source);
    REQUIRE(sink != nullptr);
    REQUIRE(src != nullptr);
    CHECK(sink->finished);
    CHECK(sink->rx_bytes == 1'000'000);
    CHECK(sink->rx_sha256 == src->tx_sha256);
    CHECK(p.b->counters()[static_cast<size_t>(tcp::Counter::retransmissions)] > 0);
}

TEST_CASE("TcpHost: segments for no listener are answered with RST; bad headers are named") {
    Pair p;
    TcpConnectSpec s;
    s.remote = tcp::IpAddr::v4(198, 19, 0, 1);
    s.remote_port = 7777;  // nothing listens
    s.mode = TcpAppMode::discard;
    REQUIRE(std::holds_alternative<tcp::ConnId>(p.b->connect(s, p.now)));
    p.run(p.now + 10'000);
    const auto rb = p.b->apps();
    const TcpAppRecord* r = find(rb, TcpAppMode::discard);
    REQUIRE(r != nullptr);
    CHECK(r->finished);
    CHECK(r->reason == tcp::CloseReason::refused);
    CHECK(p.a->counters()[static_cast<size_t>(tcp::Counter::rst_sent_no_listener)] == 1);

    // An IPv4 packet whose TCP header announces a data offset of 4 words.
    alignas(8) uint8_t f[14 + 20 + 20] = {};
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(40);
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = rte_cpu_to_be_32(0xc6130002);
    ip->dst_addr = rte_cpu_to_be_32(0xc6130001);
    auto* th = reinterpret_cast<rte_tcp_hdr*>(f + 34);
    th->data_off = 4 << 4;
    th->cksum = rte_ipv4_udptcp_cksum(ip, th);
    auto input = [&p, &f]() {
        rte_mbuf* m = rte_pktmbuf_alloc(p.data);
        REQUIRE(m != nullptr);
        char* d = rte_pktmbuf_append(m, sizeof f);
        REQUIRE(d != nullptr);
        std::memcpy(d, f, sizeof f);
        meta(m).l3_offset = 14;
        const auto reason = p.a->input(m, p.now);
        if (reason != pipelines::DropReason::count) {
            rte_pktmbuf_free(m);
        }
        return reason;
    };
    CHECK(input() == pipelines::DropReason::tcp_bad_header);
    th->cksum = 0x1234;
    CHECK(input() == pipelines::DropReason::tcp_bad_checksum);
}

TEST_CASE("TcpHost: services are validated and removable") {
    Pair p;
    CHECK(p.a->add_service({6000, TcpAppMode::source, 0}).has_value());  // no byte count
    REQUIRE_FALSE(p.a->add_service({6000, TcpAppMode::discard, 0}));
    CHECK(p.a->services().size() == 1);
    CHECK_FALSE(p.a->remove_service(6000));
    CHECK(p.a->remove_service(6000).has_value());
    CHECK(p.a->services().empty());
}

}  // namespace braid::dataplane
