// Unit tests for control/pfcp/ue_ip_pool (TS 29.244 §5.21): pool rules, allocation order,
// network instance selection, commit/release, exhaustion, and the UEIP feature bit that
// node_config() claims only when pools are configured.
#include "control/pfcp/ue_ip_pool.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "control/config.h"
#include "control/pfcp/server.h"

namespace {

using namespace braid::pfcp;

UeIpPoolConfig pool4(std::array<uint8_t, 4> a, uint8_t len, std::string ni = "") {
    UeIpPoolConfig p;
    p.family = 4;
    p.length = len;
    p.network_instance = std::move(ni);
    std::copy(a.begin(), a.end(), p.prefix.begin());
    return p;
}

UeIpPoolConfig pool6(uint8_t third, uint8_t len, std::string ni = "") {
    UeIpPoolConfig p;
    p.family = 6;
    p.length = len;
    p.network_instance = std::move(ni);
    p.prefix = {0x20, 0x01, 0x0d, 0xb8, 0x00, third};
    return p;
}

UeIpPools::Candidate take(UeIpPools& pools, uint8_t family, std::string_view ni = "",
                          const UeIpPools::InUse& in_use = {}) {
    auto r = pools.allocate(family, ni, in_use);
    REQUIRE(std::holds_alternative<UeIpPools::Candidate>(r));
    return std::get<UeIpPools::Candidate>(r);
}

UeIpPools::Failure fails(UeIpPools& pools, uint8_t family, std::string_view ni = "") {
    auto r = pools.allocate(family, ni, {});
    REQUIRE(std::holds_alternative<UeIpPools::Failure>(r));
    return std::get<UeIpPools::Failure>(r);
}

TEST_CASE("ue ip pool: configuration rules", "[ue-ip-pool]") {
    CHECK_FALSE(check({pool4({198, 20, 0, 0}, 16), pool6(1, 48)}));
    CHECK(check({pool4({198, 20, 0, 1}, 16)})->find("host bits") != std::string::npos);
    CHECK(check({pool4({198, 0, 0, 0}, 7)}));  // too wide
    CHECK(check({pool6(1, 65)}));              // cannot delegate a /64
    UeIpPoolConfig bad = pool6(1, 64);
    bad.prefix[8] = 1;  // lower half of a /64 pool
    CHECK(check({bad}));
    bad.family = 5;
    CHECK(check({bad}));
    const auto overlap = check({pool4({198, 20, 0, 0}, 16), pool4({198, 20, 4, 0}, 24, "x")});
    REQUIRE(overlap);
    CHECK(overlap->find("overlaps UE IP pool 0") != std::string::npos);
    CHECK(check({pool6(0, 40), pool6(1, 48)}));  // 2001:db8:1::/48 lies in 2001:db8::/40
    CHECK_FALSE(check({pool4({198, 20, 0, 0}, 24), pool4({198, 20, 1, 0}, 24)}));
    CHECK(to_string(pool6(1, 48, "ims")) == "2001:db8:1::/48 (network instance ims)");
    CHECK(UeIpPools::capacity(pool4({198, 20, 0, 0}, 24)) == 254);
    CHECK(UeIpPools::capacity(pool4({198, 20, 0, 0}, 31)) == 2);
    CHECK(UeIpPools::capacity(pool6(1, 48)) == 65536);
}

TEST_CASE("ue ip pool: allocation, commit, release and reuse", "[ue-ip-pool]") {
    UeIpPools pools({pool4({198, 20, 0, 0}, 30), pool6(1, 63)});
    CHECK(pools.serves(4));
    CHECK(pools.serves(6));

    // Nothing is recorded before commit(): the same candidate comes back after a cursor wrap.
    const auto a = take(pools, 4);
    CHECK(a.address[0] == 198);
    CHECK(a.address[3] == 1);  // the network address is never handed out
    pools.commit(10, a);
    const auto b = take(pools, 4);
    CHECK(b.address[3] == 2);
    pools.commit(11, b);
    CHECK(pools.used(0) == 2);
    CHECK(fails(pools, 4) == UeIpPools::Failure::exhausted);  // .3 is the broadcast address
    CHECK(pools.held(10, 4)->address == a.address);
    CHECK_FALSE(pools.held(10, 6));

    // IPv6: /64 prefixes, upper 64 bits only.
    const auto p1 = take(pools, 6);
    CHECK(p1.address == UeIpPools::Address{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01});
    pools.commit(10, p1);
    const auto p2 = take(pools, 6);  // 2001:db8:1:1::/64, the second /64 of the /63
    CHECK(p2.address == UeIpPools::Address{0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0x00, 0x01, 0, 0, 0,
                                           0, 0, 0, 0, 0});
    pools.commit(12, p2);
    CHECK(pools.used(1) == 2);
    CHECK(fails(pools, 6) == UeIpPools::Failure::exhausted);

    // Releasing a session frees both families; the address is handed out again.
    CHECK(pools.release(10) == 2);
    CHECK(pools.release(10) == 0);
    CHECK(pools.used(0) == 1);
    CHECK(pools.used(1) == 1);
    CHECK(take(pools, 4).address == a.address);
    CHECK(take(pools, 6).address == p1.address);
    CHECK(pools.allocations() == 4);

    const auto st = pools.stats();
    REQUIRE(st.size() == 2);
    CHECK(st[0].name == "198.20.0.0/30");
    CHECK(st[0].size == 2);
    CHECK(st[0].used == 1);
    CHECK(st[1].size == 2);
}

TEST_CASE("ue ip pool: addresses another session uses are skipped", "[ue-ip-pool]") {
    UeIpPools pools({pool4({198, 20, 0, 0}, 29)});
    // .1 and .2 are an SMF's static choices: the caller's in_use says so.
    auto in_use = [](uint8_t, const UeIpPools::Address& a) { return a[3] == 1 || a[3] == 2; };
    CHECK(take(pools, 4, "", in_use).address[3] == 3);
    auto all = [](uint8_t, const UeIpPools::Address&) { return true; };
    CHECK(std::get<UeIpPools::Failure>(pools.allocate(4, "", all)) ==
          UeIpPools::Failure::exhausted);
}

TEST_CASE("ue ip pool: pools chosen by network instance", "[ue-ip-pool]") {
    UeIpPools pools({pool4({198, 20, 0, 0}, 24, "ims"), pool4({198, 20, 1, 0}, 31, "internet"),
                     pool4({198, 20, 2, 0}, 24)});
    CHECK(take(pools, 4, "ims").address[2] == 0);
    CHECK(take(pools, 4, "internet").address[2] == 1);
    CHECK(take(pools, 4, "").address[2] == 2);       // no network instance: the default pool
    CHECK(take(pools, 4, "other").address[2] == 2);  // unknown: the default pool
    CHECK(fails(pools, 6, "ims") == UeIpPools::Failure::no_pool);

    // The network instance's own pools exhausted: no fallback to the default pool (its
    // addresses would route in another network instance).
    pools.commit(1, take(pools, 4, "internet"));
    pools.commit(2, take(pools, 4, "internet"));
    CHECK(fails(pools, 4, "internet") == UeIpPools::Failure::exhausted);

    UeIpPools only_named({pool4({198, 20, 0, 0}, 24, "ims")});
    CHECK(fails(only_named, 4, "internet") == UeIpPools::Failure::no_pool);
    CHECK(fails(only_named, 4, "") == UeIpPools::Failure::no_pool);
}

TEST_CASE("ue ip pool: UEIP is claimed iff pools are configured", "[ue-ip-pool]") {
    braid::config::Pfcp cfg;
    cfg.listen.address = "198.18.4.2";
    std::string err;
    auto n = node_config(cfg, 1700000000, &err);
    REQUIRE(n);
    CHECK_FALSE(n->features.has(UpFeature::ueip));
    CHECK(n->features.has(UpFeature::ftup));
    cfg.ue_ip_pools = {pool4({198, 20, 0, 0}, 16)};
    n = node_config(cfg, 1700000000, &err);
    REQUIRE(n);
    CHECK(n->features.has(UpFeature::ueip));
    CHECK(n->features.has(UpFeature::ftup));
    CHECK_FALSE(n->features.has(UpFeature::mptcp));
    CHECK_FALSE(n->features.has(UpFeature::atsss_ll));
}

}  // namespace
