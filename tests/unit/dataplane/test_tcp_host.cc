// dataplane::TcpHost (braid's TCP endpoint and its test applications) and dataplane::Sha256,
// sans-I/O: two hosts back to back, frames carried by the test with injected time.
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "dataplane/app.h"
#include "dataplane/mbuf_meta.h"
#include "dataplane/session_table.h"
#include "dataplane/sha256.h"
#include "dataplane/tcp_host.h"
#include "dataplane/token_owner.h"
#include "tests/unit/convert_message.h"
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

// --- The MPTCP proxy on a TcpHost (issue 7): the UE's T-PDUs in, N6 frames out of the N6 port
// from the UE's address, the proxy's UE-bound segments collected for the downlink path. --------

namespace {

constexpr uint32_t kProxyAddr = 0xc6120001;  // 198.18.0.1 (not a port address)
constexpr uint32_t kUeAddr = 0xc6126407;     // 198.18.100.7
constexpr uint16_t kProxyPort = 5000;
constexpr uint16_t kUePort = 41000;

tcp::IpAddr ip4(uint32_t host_order) {
    return tcp::IpAddr::v4(static_cast<uint8_t>(host_order >> 24),
                           static_cast<uint8_t>(host_order >> 16),
                           static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order));
}

struct ProxyLab {
    std::vector<PortRuntime> ports_a{n6_port(0xc6130001, 0)};  // braid's N6: 198.19.0.1
    std::vector<PortRuntime> ports_b{n6_port(0xc6130002, 0)};  // the server: 198.19.0.2
    rte_mempool* data = pool("th_data", 4095, RTE_MBUF_DEFAULT_BUF_SIZE);
    rte_mempool* clones = pool("th_clones", 8191, 0);
    std::unique_ptr<TcpHost> braid, server;
    uint64_t now = 1'000'000;

    uint32_t ue_src = kUeAddr;      // the UE's subflow source (a link-specific address or not)
    uint32_t session_ue = kUeAddr;  // the session's UE address (UeContext)

    // `sessions`: the proxy follows its connections' sessions there (session steering); braid
    // then also has an N3 port (index 1, 198.18.0.2) for GTP-U.
    explicit ProxyLab(std::function<mptcp::Access(const tcp::IpAddr&)> link_access = {},
                      uint32_t per_ue_max_connections = 64, const SessionTable* sessions = nullptr,
                      const std::function<void(TcpHostConfig&)>& tweak = {}) {
        TcpHostConfig c;
        c.sessions = sessions;
        if (sessions != nullptr) {
            PortRuntime n3 = n6_port(0xc6120002, 1);
            n3.name = "n3";
            n3.role = config::PortRole::n3;
            ports_a.push_back(n3);
        }
        c.pool = data;
        c.engine.clone_pool = clones;
        c.engine.default_mss = 1400;
        server = std::make_unique<TcpHost>(c, ports_b);
        REQUIRE_FALSE(server->add_service({7, TcpAppMode::echo, 0}));
        ProxyHostConfig pc;
        pc.policy.own = {mptcp::convert::Address::v4(0xc6130001),
                         mptcp::convert::Address::v4(kProxyAddr)};
        pc.proxy.address = ip4(kProxyAddr);
        pc.proxy.port = kProxyPort;
        pc.n6_port_index = 0;
        pc.link_access = std::move(link_access);
        pc.policy.per_ue_max_connections = per_ue_max_connections;
        pc.policy.per_ue_max_pending_syns = per_ue_max_connections;
        c.proxy = pc;
        c.engine.secret[0] = 3;
        if (tweak) {
            tweak(c);  // the server stays a plain single-worker host
        }
        braid = std::make_unique<TcpHost>(c, ports_a);
    }
    ~ProxyLab() {
        braid.reset();
        server.reset();
    }

    // The UE's segment as the T-PDU pdr_ul hands over (IPv4 at the data pointer).
    void ue_send(uint8_t flags, uint32_t seq, uint32_t ack, const std::string& payload,
                 bool mptcp_enabled = true,
                 const std::optional<mptcp::convert::UeContext>& ctx = std::nullopt) {
        tcp::wire::Header h;
        h.src_port = kUePort;
        h.dst_port = kProxyPort;
        h.seq = tcp::Seq(seq);
        h.ack = tcp::Seq(ack);
        h.flags = flags;
        h.window = 65535;
        tcp::wire::Options o;
        if (flags & tcp::wire::flag::syn) {
            o.mss = 1360;
        }
        uint8_t th[60];
        auto hl = tcp::wire::emit_header(h, o, th);
        REQUIRE(hl);
        rte_mbuf* m = rte_pktmbuf_alloc(data);
        REQUIRE(m != nullptr);
        const auto total = static_cast<uint16_t>(20 + *hl + payload.size());
        auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, total));
        REQUIRE(p != nullptr);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p);
        std::memset(ip, 0, 20);
        ip->version_ihl = 0x45;
        ip->total_length = rte_cpu_to_be_16(total);
        ip->time_to_live = 64;
        ip->next_proto_id = IPPROTO_TCP;
        ip->src_addr = rte_cpu_to_be_32(ue_src);
        ip->dst_addr = rte_cpu_to_be_32(kProxyAddr);
        std::memcpy(p + 20, th, *hl);
        std::memcpy(p + 20 + *hl, payload.data(), payload.size());
        auto* t = reinterpret_cast<rte_tcp_hdr*>(p + 20);
        t->cksum = rte_ipv4_udptcp_cksum(ip, t);
        mptcp::convert::UeContext ue;
        ue.in_session = true;
        ue.mptcp_enabled = mptcp_enabled;
        ue.ue_v4 = mptcp::convert::Address::v4(session_ue);
        const auto r = braid->input_uplink(m, ctx.value_or(ue), now);
        if (r != pipelines::DropReason::count) {
            rte_pktmbuf_free(m);
            FAIL("uplink dropped");
        }
    }

    // N6 frames between braid and the server, until quiet.
    void carry_n6() {
        for (int round = 0; round < 1000; ++round) {
            bool moved = false;
            for (auto [from, to] :
                 {std::pair{braid.get(), server.get()}, std::pair{server.get(), braid.get()}}) {
                std::vector<rte_mbuf*> out;
                out.swap(from->frames());
                for (rte_mbuf* m : out) {
                    if (from == braid.get()) {
                        // From the UE's address (preserving mode), out of the N6 port.
                        const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
                        CHECK(rte_be_to_cpu_32(ip->src_addr) == kUeAddr);
                        CHECK(meta(m).port_index == 0);
                    }
                    rte_mbuf* rx = rte_pktmbuf_alloc(data);
                    REQUIRE(rx != nullptr);
                    const uint32_t len = rte_pktmbuf_pkt_len(m);
                    char* p = rte_pktmbuf_append(rx, static_cast<uint16_t>(14 + len));
                    REQUIRE(p != nullptr);
                    std::memset(p, 0, 14);
                    const void* src = rte_pktmbuf_read(m, 0, len, p + 14);
                    if (src != p + 14) {
                        std::memcpy(p + 14, src, len);
                    }
                    rte_pktmbuf_free(m);
                    meta(rx).l3_offset = 14;
                    if (to->input(rx, now) != pipelines::DropReason::count) {
                        rte_pktmbuf_free(rx);
                    }
                    moved = true;
                }
            }
            if (!moved) {
                return;
            }
        }
    }

    struct Down {
        tcp::wire::Header h;
        std::string data;
        uint32_t src = 0, dst = 0;
    };
    std::vector<Down> downlink() {
        std::vector<Down> r;
        for (rte_mbuf* m : braid->downlink_frames()) {
            std::vector<uint8_t> b(rte_pktmbuf_pkt_len(m));
            const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(b.size()), b.data());
            if (p != b.data()) {
                std::memcpy(b.data(), p, b.size());
            }
            rte_pktmbuf_free(m);
            const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(b.data());
            auto seg = tcp::wire::parse_segment(std::span<const uint8_t>(b).subspan(20));
            REQUIRE(seg.segment);
            r.push_back({seg.segment->header,
                         std::string(seg.segment->payload.begin(), seg.segment->payload.end()),
                         rte_be_to_cpu_32(ip->src_addr), rte_be_to_cpu_32(ip->dst_addr)});
        }
        braid->downlink_frames().clear();
        return r;
    }
};

}  // namespace

TEST_CASE("TcpHost proxy: a UE's Convert SYN through to an N6 echo server and back") {
    ProxyLab l;
    namespace flag = tcp::wire::flag;
    const std::string syn_data = test::convert_connect_v4(0xc6130002, 7);
    l.ue_send(flag::syn, 5000, 0, syn_data);
    CHECK(l.downlink().empty());             // 0-RTT: held until the server answers
    REQUIRE(l.braid->frames().size() == 1);  // the N6 SYN
    l.carry_n6();
    auto sa = l.downlink();
    REQUIRE(sa.size() == 1);
    CHECK(sa[0].src == kProxyAddr);
    CHECK(sa[0].dst == kUeAddr);
    CHECK(sa[0].h.flags == (flag::syn | flag::ack));
    const uint32_t ue_nxt = 5001 + static_cast<uint32_t>(syn_data.size());
    CHECK(sa[0].h.ack.raw() == ue_nxt);
    const uint32_t iss = sa[0].h.seq.raw();
    l.ue_send(flag::ack, ue_nxt, iss + 1, "");
    auto reply = l.downlink();
    REQUIRE(reply.size() == 1);
    CHECK(reply[0].data == std::string("\x01\x01\x22\x63", 4));
    l.ue_send(flag::ack | flag::psh, ue_nxt, iss + 5, "hello braid");
    l.carry_n6();
    std::string echoed;
    for (const auto& d : l.downlink()) {
        echoed += d.data;
    }
    CHECK(echoed == "hello braid");
    REQUIRE(l.braid->proxy() != nullptr);
    auto conns = l.braid->proxy()->describe_all();
    REQUIRE(conns.size() == 1);
    CHECK(conns[0].bytes_up == 11);
    CHECK(conns[0].bytes_down == 11);
    CHECK(conns[0].n6_tuple.local == ip4(kUeAddr));
}

TEST_CASE(
    "TcpHost proxy: a subflow from a link-specific address: N6 from the UE address, "
    "access from the session") {
    constexpr uint32_t link_3gpp = 0xc612d201;   // 198.18.210.1
    constexpr uint32_t link_n3gpp = 0xc612dc01;  // 198.18.220.1
    // What App gives the proxy: the session table's link-specific address lookup.
    ProxyLab l([&](const tcp::IpAddr& a) {
        return a == ip4(link_3gpp)    ? mptcp::Access::tgpp
               : a == ip4(link_n3gpp) ? mptcp::Access::non_tgpp
                                      : mptcp::Access::unknown;
    });
    l.ue_src = link_n3gpp;
    namespace flag = tcp::wire::flag;
    const std::string syn_data = test::convert_connect_v4(0xc6130002, 7);
    l.ue_send(flag::syn, 5000, 0, syn_data);
    l.carry_n6();
    auto sa = l.downlink();
    REQUIRE(sa.size() == 1);
    CHECK(sa[0].dst == link_n3gpp);  // the UE side answers the subflow's address
    auto conns = l.braid->proxy()->describe_all();
    REQUIRE(conns.size() == 1);
    // Address-preserving mode: N6 sees the PDU session's UE address, never the link address.
    CHECK(conns[0].n6_tuple.local == ip4(kUeAddr));
    CHECK(conns[0].ue_tuple.remote == ip4(link_n3gpp));

    tcp::FourTuple t;
    t.local = ip4(kProxyAddr);
    t.local_port = kProxyPort;
    t.remote_port = kUePort;
    t.remote = ip4(link_3gpp);
    CHECK(l.braid->access_of(t) == mptcp::Access::tgpp);
    t.remote = ip4(link_n3gpp);
    CHECK(l.braid->access_of(t) == mptcp::Access::non_tgpp);
    t.remote = ip4(kUeAddr);  // the UE address itself is no link
    CHECK(l.braid->access_of(t) == mptcp::Access::unknown);
    t.remote = ip4(link_3gpp);
    t.local_port = 7;  // not the proxy: a service's prefixes decide (none here)
    CHECK(l.braid->access_of(t) == mptcp::Access::unknown);
}

TEST_CASE("TcpHost proxy: per-UE limits count the session's UE, whichever link address", "[link]") {
    constexpr uint32_t link_3gpp = 0xc612d201;   // 198.18.210.1
    constexpr uint32_t link_n3gpp = 0xc612dc01;  // 198.18.220.1
    ProxyLab l({}, 1);                           // one proxied connection per UE
    namespace flag = tcp::wire::flag;
    const std::string syn_data = test::convert_connect_v4(0xc6130002, 7);
    l.ue_src = link_3gpp;
    l.ue_send(flag::syn, 5000, 0, syn_data);
    CHECK(l.braid->proxy()->operator[](mptcp::convert::ProxyCounter::n6_connects) == 1);
    // The same UE from its other access's address: over its limit (Resource Exceeded), no N6.
    l.ue_src = link_n3gpp;
    l.ue_send(flag::syn, 9000, 0, syn_data);
    CHECK(l.braid->proxy()->operator[](mptcp::convert::ProxyCounter::n6_connects) == 1);
    const auto& refusals = l.braid->proxy()->converter().counters();
    CHECK(refusals[mptcp::convert::Refusal::ue_connection_limit] +
              refusals[mptcp::convert::Refusal::ue_pending_syn_limit] ==
          1);
}

TEST_CASE("TcpHost proxy: a session without MPTCP gets Not Authorized, nothing on N6") {
    ProxyLab l;
    namespace flag = tcp::wire::flag;
    const std::string syn_data = test::convert_connect_v4(0xc6130002, 7);
    l.ue_send(flag::syn, 5000, 0, syn_data, false);
    CHECK(l.braid->frames().empty());
    auto sa = l.downlink();
    REQUIRE(sa.size() == 1);
    CHECK(sa[0].h.flags == (flag::syn | flag::ack));
    const uint32_t ue_nxt = 5001 + static_cast<uint32_t>(syn_data.size());
    l.ue_send(flag::ack, ue_nxt, sa[0].h.seq.raw() + 1, "", false);
    std::string stream;
    bool fin = false;
    for (const auto& d : l.downlink()) {
        stream += d.data;
        fin |= (d.h.flags & flag::fin) != 0;
    }
    CHECK(stream == std::string("\x01\x02\x22\x63\x1e\x01\x20\x00", 8));
    CHECK(fin);
    CHECK(l.braid->proxy()->converter().counters()[mptcp::convert::Refusal::mptcp_not_enabled] ==
          1);
}

namespace {

struct Rcu {
    rte_rcu_qsbr* v = nullptr;
    Rcu() {
        test::eal_once();
        size_t sz = rte_rcu_qsbr_get_memsize(1);
        v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("th_rcu", sz, RTE_CACHE_LINE_SIZE));
        REQUIRE(v != nullptr);
        REQUIRE(rte_rcu_qsbr_init(v, 1) == 0);
        REQUIRE(rte_rcu_qsbr_thread_register(v, 0) == 0);
    }
    ~Rcu() { rte_free(v); }
};

}  // namespace

TEST_CASE("TcpHost proxy: a deleted session's connection is reset through its last tunnel") {
    Rcu rcu;
    std::string err;
    auto table = SessionTable::create("th_sessions", 16, rcu.v, &err);
    REQUIRE(table != nullptr);
    constexpr uint32_t kGnb = 0xc6120063;  // 198.18.0.99
    SessionSpec spec = simple_session(0x77, 0x100, kUeAddr, kGnb, 0x8001);
    spec.mptcp = true;
    REQUIRE_FALSE(table->create_session(spec));
    {
        ProxyLab l({}, 64, table.get());
        namespace flag = tcp::wire::flag;
        const std::string syn_data = test::convert_connect_v4(0xc6130002, 7);
        const auto ctx = ue_context(*table->by_ue_ipv4(kUeAddr));
        CHECK(ctx.seid == 0x77);
        l.ue_send(flag::syn, 5000, 0, syn_data, true, ctx);
        l.carry_n6();
        auto sa = l.downlink();
        REQUIRE(sa.size() == 1);
        const uint32_t ue_nxt = 5001 + static_cast<uint32_t>(syn_data.size());
        l.ue_send(flag::ack, ue_nxt, sa[0].h.seq.raw() + 1, "", true, ctx);
        l.ue_send(flag::ack | flag::psh, ue_nxt, sa[0].h.seq.raw() + 5, "bye", true, ctx);
        l.carry_n6();
        l.downlink();  // the Convert reply and the echo
        REQUIRE(l.braid->proxy()->describe_all().size() == 1);
        CHECK(l.braid->proxy()->describe_all()[0].seid == 0x77);

        // The session lives on: the checks change nothing.
        l.now += 5'000;
        l.braid->poll(l.now);
        CHECK((*l.braid->proxy())[mptcp::convert::ProxyCounter::session_deleted] == 0);
        CHECK(l.braid->frames().empty());

        REQUIRE(table->delete_session(0x77));
        l.now += 5'000;
        l.braid->poll(l.now);
        CHECK((*l.braid->proxy())[mptcp::convert::ProxyCounter::session_deleted] == 1);
        CHECK(l.braid->counter(TcpHostCounter::farewell_frames) == 1);
        CHECK(l.downlink().empty());  // nothing left for pdr_dl, which has no session now
        // The UE's RST: a G-PDU to the gNB with the session's downlink TEID, out of N3.
        rte_mbuf* g = nullptr;
        std::vector<rte_mbuf*> n6;
        for (rte_mbuf* m : l.braid->frames()) {
            if (meta(m).port_index == 1) {
                g = m;
            } else {
                n6.push_back(m);
            }
        }
        l.braid->frames() = n6;
        REQUIRE(g != nullptr);
        std::vector<uint8_t> b(rte_pktmbuf_pkt_len(g));
        const void* p = rte_pktmbuf_read(g, 0, static_cast<uint32_t>(b.size()), b.data());
        if (p != b.data()) {
            std::memcpy(b.data(), p, b.size());
        }
        rte_pktmbuf_free(g);
        const auto* outer = reinterpret_cast<const rte_ipv4_hdr*>(b.data());
        CHECK(rte_be_to_cpu_32(outer->src_addr) == 0xc6120002);
        CHECK(rte_be_to_cpu_32(outer->dst_addr) == kGnb);
        CHECK(outer->next_proto_id == IPPROTO_UDP);
        CHECK(rte_ipv4_cksum(outer) == 0);
        const auto* udp = reinterpret_cast<const rte_udp_hdr*>(outer + 1);
        CHECK(rte_be_to_cpu_16(udp->dst_port) == 2152);
        const uint8_t* gtp = reinterpret_cast<const uint8_t*>(udp + 1);
        CHECK(gtp[1] == 0xff);  // G-PDU
        CHECK((uint32_t{gtp[4]} << 24 | uint32_t{gtp[5]} << 16 | uint32_t{gtp[6]} << 8 | gtp[7]) ==
              0x8001u);
        const auto* inner = reinterpret_cast<const rte_ipv4_hdr*>(gtp + 8);
        CHECK(rte_be_to_cpu_32(inner->src_addr) == kProxyAddr);
        CHECK(rte_be_to_cpu_32(inner->dst_addr) == kUeAddr);
        auto seg = tcp::wire::parse_segment(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(inner + 1),
            b.data() + b.size() - reinterpret_cast<const uint8_t*>(inner + 1)));
        REQUIRE(seg.segment);
        CHECK((seg.segment->header.flags & flag::rst) != 0);
        // The server got "bye" and then a FIN (the echo service closes after it).
        bool fin = false;
        for (rte_mbuf* m : l.braid->frames()) {
            const auto* ip = rte_pktmbuf_mtod(m, const rte_ipv4_hdr*);
            const auto* th = reinterpret_cast<const rte_tcp_hdr*>(ip + 1);
            fin |= (th->tcp_flags & RTE_TCP_FIN_FLAG) != 0;
        }
        CHECK(fin);
        l.carry_n6();
        l.now += 5'000;
        l.braid->poll(l.now);
        l.carry_n6();
        CHECK(l.braid->proxy()->describe_all().empty());
    }
    table->reclaim(true);
}

TEST_CASE(
    "TcpHost proxy, several workers: the N6 connection's flow is registered to its worker "
    "while it lives",
    "[mworker]") {
    Rcu rcu;
    std::string err;
    auto flows = FlowOwnerTable::create("th_mw_flows", 1024, rcu.v, &err);
    REQUIRE(flows != nullptr);
    auto tokens = TokenOwnerTable::create("th_mw_tokens", 1024, rcu.v, &err);
    REQUIRE(tokens != nullptr);
    namespace flag = tcp::wire::flag;
    const std::string syn_data = test::convert_connect_v4(0xc6130002, 7);
    uint16_t n6_port = 0;
    {
        ProxyLab l({}, 64, nullptr, [&](TcpHostConfig& c) {
            c.flows = flows.get();
            c.tokens = tokens.get();
            c.worker = 1;
            c.n_workers = 2;
        });
        l.ue_send(flag::syn, 5000, 0, syn_data);
        REQUIRE(l.braid->frames().size() == 1);  // the N6 SYN
        auto conns = l.braid->proxy()->describe_all();
        REQUIRE(conns.size() == 1);
        // Keyed as the server's replies arrive (source = the server): pdr_dl on worker 0 finds
        // worker 1 here and hands the reply over.
        const FlowKey reply = flow_key_in(conns[0].n6_tuple);
        CHECK(reply.to_string() ==
              "tcp 198.19.0.2:7 -> 198.18.100.7:" + std::to_string(conns[0].n6_tuple.local_port));
        CHECK(flows->owner(reply) == std::optional<uint16_t>(1));
        CHECK(flows->size() == 1);
        n6_port = conns[0].n6_tuple.local_port;
        l.carry_n6();
        auto sa = l.downlink();
        REQUIRE(sa.size() == 1);
        const uint32_t ue_nxt = 5001 + static_cast<uint32_t>(syn_data.size());
        l.ue_send(flag::ack, ue_nxt, sa[0].h.seq.raw() + 1, "");
        l.downlink();
        CHECK(flows->owner(reply) == std::optional<uint16_t>(1));
        // The UE resets: the proxy resets the N6 side and the flow is no longer this worker's.
        l.ue_send(flag::rst, ue_nxt, 0, "");
        CHECK((*l.braid->proxy())[mptcp::convert::ProxyCounter::ue_resets] == 1);
        CHECK_FALSE(flows->owner(reply));
        CHECK(flows->size() == 0);
        l.carry_n6();
    }
    {
        // Another worker already holds the tuple the proxy would use: the connect fails like
        // a refused one (the UE gets an error), nothing registered in its name.
        ProxyLab l({}, 64, nullptr, [&](TcpHostConfig& c) {
            c.flows = flows.get();
            c.worker = 1;
            c.n_workers = 2;
        });
        // A fresh proxy picks the same N6 source port for the same UE SYN.
        REQUIRE(flows->insert(FlowKey::v4(0xc6130002, kUeAddr, 7, n6_port, 6), 0) ==
                FlowOwnerTable::Insert::inserted);
        l.ue_send(flag::syn, 5000, 0, syn_data);
        CHECK((*l.braid->proxy())[mptcp::convert::ProxyCounter::n6_connect_failed] == 1);
        CHECK(l.braid->frames().empty());  // no N6 SYN
        for (const auto& [key, owner] : flows->entries(1000)) {
            CHECK(owner == 0);
        }
    }
}

}  // namespace braid::dataplane
