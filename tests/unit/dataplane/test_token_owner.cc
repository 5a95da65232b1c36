// MPTCP tokens across workers: the global token → worker table and each worker's TokenTable
// view over it (dataplane/token_owner.h).
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <catch2/catch.hpp>

#include <span>
#include <vector>

#include "dataplane/token_owner.h"
#include "tests/unit/eal_fixture.h"

using namespace braid::dataplane;

namespace {

struct TokenRcu {
    rte_rcu_qsbr* v = nullptr;
    TokenRcu() {
        braid::test::eal_once();
        size_t sz = rte_rcu_qsbr_get_memsize(1);
        v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("token_rcu", sz, RTE_CACHE_LINE_SIZE));
        REQUIRE(v != nullptr);
        REQUIRE(rte_rcu_qsbr_init(v, 1) == 0);
        REQUIRE(rte_rcu_qsbr_thread_register(v, 0) == 0);
    }
    ~TokenRcu() { rte_free(v); }
};

std::unique_ptr<TokenOwnerTable> token_table(TokenRcu& rcu, uint32_t capacity = 1024) {
    static int n = 0;
    std::string err;
    auto t = TokenOwnerTable::create("tokens_t" + std::to_string(n++), capacity, rcu.v, &err);
    INFO(err);
    REQUIRE(t != nullptr);
    return t;
}

}  // namespace

TEST_CASE("token owner: two workers' views share uniqueness, find only their own", "[token]") {
    TokenRcu rcu;
    auto global = token_table(rcu);
    SharedTokenTable w0(*global, 0);
    SharedTokenTable w1(*global, 1);

    REQUIRE(w0.insert(0xdeadbeef, 11));
    // Keys unique on the host: worker 1 sees the token taken and may not take it.
    CHECK(w1.contains(0xdeadbeef));
    CHECK_FALSE(w1.insert(0xdeadbeef, 22));
    CHECK(global->owner(0xdeadbeef) == std::optional<uint16_t>(0));
    // A ConnId means something only on its worker.
    CHECK(w0.find(0xdeadbeef) == std::optional<braid::tcp::ConnId>(11));
    CHECK_FALSE(w1.find(0xdeadbeef));

    REQUIRE(w1.insert(0x12345678, 22));
    CHECK(global->owner(0x12345678) == std::optional<uint16_t>(1));
    CHECK(global->size() == 2);

    // Worker 1 cannot free worker 0's token.
    w1.erase(0xdeadbeef);
    CHECK(w0.contains(0xdeadbeef));
    CHECK(w0.find(0xdeadbeef));

    // The holder's erase removes both parts; the token is free for anyone again.
    w0.erase(0xdeadbeef);
    CHECK_FALSE(w0.find(0xdeadbeef));
    CHECK_FALSE(w1.contains(0xdeadbeef));
    CHECK_FALSE(global->owner(0xdeadbeef));
    CHECK(global->size() == 1);
    CHECK(w1.insert(0xdeadbeef, 23));
    CHECK(global->owner(0xdeadbeef) == std::optional<uint16_t>(1));
}

TEST_CASE("token owner: a worker's view frees its tokens when it goes; a full table refuses",
          "[token]") {
    TokenRcu rcu;
    auto global = token_table(rcu, 64);
    {
        SharedTokenTable w0(*global, 0);
        REQUIRE(w0.insert(1, 1));
        REQUIRE(w0.insert(2, 2));
        CHECK(global->size() == 2);
    }
    CHECK(global->size() == 0);
    CHECK_FALSE(global->owner(1));
    CHECK_FALSE(global->erase(1));

    SharedTokenTable w2(*global, 2);
    uint32_t added = 0;
    for (uint32_t tok = 100; tok < 100 + 10000; ++tok) {
        if (!w2.insert(tok, tok)) {
            break;
        }
        ++added;
    }
    CHECK(added >= 32);    // cuckoo buckets may fill before every slot is used
    CHECK(added < 10000);  // and then it refuses: insert false, nothing half-added
    CHECK(w2.size() == added);
    CHECK(global->size() == added);
    CHECK_FALSE(w2.find(100 + added));
}

namespace {

// An IPv4 (or IPv6) packet with a TCP header carrying `opts`, `flags` set.
std::vector<uint8_t> tcp_packet(int family, uint8_t flags, const std::vector<uint8_t>& opts) {
    std::vector<uint8_t> seg(20 + opts.size(), 0);
    seg[0] = 0xa0;  // ports 41000 -> 5000
    seg[1] = 0x28;
    seg[2] = 0x13;
    seg[3] = 0x88;
    seg[12] = static_cast<uint8_t>((20 + opts.size()) / 4 << 4);
    seg[13] = flags;
    std::copy(opts.begin(), opts.end(), seg.begin() + 20);
    std::vector<uint8_t> ip(family == 4 ? 20 : 40, 0);
    if (family == 4) {
        ip[0] = 0x45;
        ip[2] = static_cast<uint8_t>((20 + seg.size()) >> 8);
        ip[3] = static_cast<uint8_t>(20 + seg.size());
        ip[9] = 6;
    } else {
        ip[0] = 0x60;
        ip[4] = static_cast<uint8_t>(seg.size() >> 8);
        ip[5] = static_cast<uint8_t>(seg.size());
        ip[6] = 6;
    }
    ip.insert(ip.end(), seg.begin(), seg.end());
    return ip;
}

const std::vector<uint8_t> join_opt = {30, 12, 0x10, 2, 0xab, 0xcd, 0xef, 0x01, 1, 2, 3, 4};

}  // namespace

TEST_CASE("join_syn_token: the token of an MP_JOIN SYN, nothing else", "[token]") {
    CHECK(join_syn_token(tcp_packet(4, 0x02, join_opt)) == std::optional<uint32_t>(0xabcdef01));
    CHECK(join_syn_token(tcp_packet(6, 0x02, join_opt)) == std::optional<uint32_t>(0xabcdef01));
    // Behind other options (MSS, NOPs).
    std::vector<uint8_t> opts = {2, 4, 5, 0x50, 1, 1, 1, 1};
    opts.insert(opts.end(), join_opt.begin(), join_opt.end());
    CHECK(join_syn_token(tcp_packet(4, 0x02, opts)) == std::optional<uint32_t>(0xabcdef01));
    // A SYN/ACK (the MP_JOIN there has another form), a SYN without MP_JOIN, an ACK.
    CHECK_FALSE(join_syn_token(tcp_packet(4, 0x12, join_opt)));
    CHECK_FALSE(join_syn_token(tcp_packet(4, 0x02, {2, 4, 5, 0x50})));
    CHECK_FALSE(join_syn_token(tcp_packet(4, 0x10, join_opt)));
    // Truncated anywhere, or a length field beyond the bytes: nothing.
    const auto full = tcp_packet(4, 0x02, join_opt);
    for (size_t n = 0; n < full.size(); ++n) {
        CHECK_FALSE(join_syn_token(std::span<const uint8_t>(full.data(), n)));
    }
    // A bad MP_JOIN length, not TCP, not IP.
    auto bad = tcp_packet(4, 0x02, {30, 11, 0x10, 2, 0xab, 0xcd, 0xef, 0x01, 1, 2, 3, 0});
    CHECK_FALSE(join_syn_token(bad));
    auto udp = full;
    udp[9] = 17;
    CHECK_FALSE(join_syn_token(udp));
    auto junk = full;
    junk[0] = 0x55;
    CHECK_FALSE(join_syn_token(junk));
}
