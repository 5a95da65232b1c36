// Neighbor table: the control core's sans-I/O model and the snapshot workers read.
#include <catch2/catch.hpp>

#include "dataplane/neighbor.h"

using namespace braid::dataplane;

namespace {

constexpr uint32_t gw = 0xC6120002;  // 198.18.0.2
constexpr uint32_t peer = 0xC6120003;
constexpr MacAddr mac_a{0x02, 0, 0, 0, 0, 0xaa};
constexpr MacAddr mac_b{0x02, 0, 0, 0, 0, 0xbb};

NeighborTable::Limits limits() {
    NeighborTable::Limits l;
    l.max_entries = 4;
    l.reachable_ms = 10'000;
    l.retry_ms = 1000;
    l.max_retries = 3;
    l.failed_retry_ms = 5000;
    return l;
}

}  // namespace

TEST_CASE("want: a new next hop sends one request at once and is incomplete", "[neighbor]") {
    NeighborTable t(limits());
    auto req = t.want(0, gw, 0, true);
    REQUIRE(req);
    CHECK(*req == NeighborTable::Request{0, gw});
    CHECK_FALSE(t.want(0, gw, 10, true));  // idempotent
    REQUIRE(t.entries().size() == 1);
    CHECK(t.entries()[0].state == NeighborState::incomplete);
    CHECK_FALSE(t.snapshot()->lookup(0, gw));  // not usable yet
}

TEST_CASE("incomplete: retried every retry_ms, failed after max_retries, pinned retried later",
          "[neighbor]") {
    NeighborTable t(limits());
    t.want(0, gw, 0, true);
    CHECK(t.tick(999).empty());
    CHECK(t.tick(1000).size() == 1);  // retry 2
    CHECK(t.tick(2000).size() == 1);  // retry 3
    CHECK(t.tick(3000).empty());      // max reached: failed
    CHECK(t.entries()[0].state == NeighborState::failed);
    CHECK(t.stats().resolution_failures == 1);
    CHECK(t.tick(7999).empty());
    auto again = t.tick(8000);  // failed_retry_ms later: a new round
    REQUIRE(again.size() == 1);
    CHECK(t.entries()[0].state == NeighborState::incomplete);
    CHECK(t.stats().requests_sent == 4);
}

TEST_CASE("learn: a reply resolves an incomplete entry and marks the table dirty", "[neighbor]") {
    NeighborTable t(limits());
    t.want(0, gw, 0, true);
    (void)t.take_dirty();
    t.learn(0, gw, mac_a, true, 500);
    CHECK(t.take_dirty());
    CHECK_FALSE(t.take_dirty());
    auto snap = t.snapshot();
    REQUIRE(snap->lookup(0, gw));
    CHECK(*snap->lookup(0, gw) == mac_a);
    CHECK_FALSE(snap->lookup(1, gw));  // per port
}

TEST_CASE("learn: RFC 826 merge — unknown senders are added only when we are the target",
          "[neighbor]") {
    NeighborTable t(limits());
    t.learn(0, peer, mac_a, false, 0);
    CHECK(t.entries().empty());
    CHECK(t.stats().ignored_unsolicited == 1);
    t.learn(0, peer, mac_a, true, 0);
    CHECK(t.entries().size() == 1);
    // An existing entry is refreshed by anybody's ARP (e.g. a gratuitous announcement).
    t.learn(0, peer, mac_b, false, 10);
    CHECK(*t.snapshot()->lookup(0, peer) == mac_b);
}

TEST_CASE("reachable: becomes stale after its lifetime and is re-confirmed", "[neighbor]") {
    NeighborTable t(limits());
    t.want(0, gw, 0, true);
    t.learn(0, gw, mac_a, true, 0);
    CHECK(t.tick(9'999).empty());
    auto r = t.tick(10'000);
    CHECK(r.size() == 1);
    CHECK(t.entries()[0].state == NeighborState::stale);
    CHECK(t.snapshot()->lookup(0, gw));  // stale is still used while re-confirming
    t.learn(0, gw, mac_a, true, 10'500);
    CHECK(t.entries()[0].state == NeighborState::reachable);
}

TEST_CASE("stale unpinned neighbor that stops answering is removed", "[neighbor]") {
    NeighborTable t(limits());
    t.learn(0, peer, mac_a, true, 0);
    t.tick(10'000);  // stale, request 1
    t.tick(11'000);  // request 2
    t.tick(12'000);  // request 3
    (void)t.take_dirty();
    t.tick(13'000);  // gone
    CHECK(t.entries().empty());
    CHECK(t.take_dirty());
}

TEST_CASE("table full: new entries are refused and counted", "[neighbor]") {
    NeighborTable t(limits());
    for (uint32_t i = 0; i < 4; ++i) {
        t.learn(0, peer + i, mac_a, true, 0);
    }
    t.learn(0, peer + 10, mac_a, true, 0);
    CHECK(t.entries().size() == 4);
    CHECK(t.stats().table_full == 1);
    CHECK_FALSE(t.want(0, gw, 0, true));
    CHECK(t.stats().table_full == 2);
}

TEST_CASE("snapshot: lookups hit every usable entry and miss others", "[neighbor]") {
    NeighborTable::Limits l = limits();
    l.max_entries = 5000;
    NeighborTable t(l);
    for (uint32_t i = 0; i < 3000; ++i) {
        t.learn(static_cast<uint16_t>(i % 3), 0x0A000000 + i, mac_a, true, 0);
    }
    auto snap = t.snapshot();
    CHECK(snap->size() == 3000);
    for (uint32_t i = 0; i < 3000; ++i) {
        REQUIRE(snap->lookup(static_cast<uint16_t>(i % 3), 0x0A000000 + i));
        REQUIRE_FALSE(snap->lookup(static_cast<uint16_t>((i + 1) % 3), 0x0A000000 + i));
    }
    CHECK(t.remove(0, 0x0A000000));
    CHECK_FALSE(t.remove(0, 0x0A000000));
    CHECK_FALSE(t.snapshot()->lookup(0, 0x0A000000));
}

namespace {

// 2001:db8:6::2 and 2001:db8:6::3
constexpr Ipv6Addr dn6{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr Ipv6Addr gw6{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};

}  // namespace

TEST_CASE("family: an IPv6 next hop is its own entry, resolved with a solicitation request",
          "[neighbor][nd]") {
    NeighborTable t(limits());
    const NeighborKey k6 = NeighborKey::of_ipv6(1, dn6);
    auto req = t.want(k6, 0, true);
    REQUIRE(req);
    CHECK(req->v6);
    CHECK(req->target_ipv6 == dn6);
    CHECK(req->key() == k6);
    CHECK(t.stats().solicitations_sent == 1);
    // The IPv4 address 0.0.0.2 on the same port is another neighbor, with its own request.
    auto req4 = t.want(1, 2, 0);
    REQUIRE(req4);
    CHECK_FALSE(req4->v6);
    CHECK(t.stats().requests_sent == 2);
    CHECK(t.stats().solicitations_sent == 1);
    t.learn(k6, mac_a, false, 100);  // an advertisement for the entry we have
    t.learn(1, 2, mac_b, true, 100);
    auto snap = t.snapshot();
    CHECK(*snap->lookup(k6) == mac_a);
    CHECK(*snap->lookup(1, 2) == mac_b);
    CHECK_FALSE(snap->lookup(NeighborKey::of_ipv6(0, dn6)));  // per port
    CHECK_FALSE(snap->lookup(NeighborKey::of_ipv6(1, gw6)));
    CHECK(address_text(k6) == "2001:db8:6::2");
    CHECK(address_text(NeighborKey::of_ipv4(0, gw)) == "198.18.0.2");
}

TEST_CASE("IPv6: MAX_MULTICAST_SOLICIT solicitations RETRANS_TIMER apart, then failed",
          "[neighbor][nd]") {
    NeighborTable t(limits());  // max_retries 3, retry_ms 1000: RFC 4861 §10's defaults
    const NeighborKey k6 = NeighborKey::of_ipv6(1, gw6);
    REQUIRE(t.want(k6, 0, false));
    auto r1 = t.tick(1000);
    REQUIRE(r1.size() == 1);
    CHECK(r1[0].v6);
    CHECK(r1[0].target_ipv6 == gw6);
    CHECK(t.tick(2000).size() == 1);
    (void)t.take_dirty();
    CHECK(t.tick(3000).empty());  // three sent, none answered
    CHECK(t.take_dirty());        // workers must see it: they drop what they hold
    CHECK(t.snapshot()->failed(k6));
    CHECK_FALSE(t.snapshot()->failed(NeighborKey::of_ipv4(1, 0)));
    CHECK(t.stats().solicitations_sent == 3);
    CHECK(t.stats().resolution_failures == 1);
    // Unpinned: forgotten after failed_retry_ms, so that a new packet starts a new round.
    t.tick(8000);
    CHECK(t.entries().empty());
}

TEST_CASE(
    "IPv6 learn: an advertisement without an entry is discarded (RFC 4861 §7.2.5), a "
    "solicitation for us with a source link-layer address creates one (§7.2.3)",
    "[neighbor][nd]") {
    NeighborTable t(limits());
    const NeighborKey k6 = NeighborKey::of_ipv6(0, dn6);
    t.learn(k6, mac_a, false, 0);
    CHECK(t.entries().empty());
    CHECK(t.stats().ignored_unsolicited == 1);
    t.learn(k6, mac_a, true, 0);
    REQUIRE(t.entries().size() == 1);
    CHECK(t.entries()[0].key.v6);
    CHECK(*t.snapshot()->lookup(k6) == mac_a);
    // A later advertisement with another link-layer address updates it.
    t.learn(k6, mac_b, false, 10);
    CHECK(*t.snapshot()->lookup(k6) == mac_b);
    CHECK(t.remove(k6));
    CHECK(t.entries().empty());
}
