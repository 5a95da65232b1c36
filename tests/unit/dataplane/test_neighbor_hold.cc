// The per-worker queue of packets waiting for their next hop (RFC 1122 §2.3.2.2, RFC 4861
// §7.2.2): bounds, order, release, failure and timeout. Packets are fake pointers.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "dataplane/neighbor_hold.h"

using namespace braid::dataplane;
using braid::pipelines::DropReason;

namespace {

constexpr NeighborKey hop_a{0, 0xC6120002};  // 198.18.0.2
constexpr NeighborKey hop_b{0, 0xC6120003};
constexpr NeighborKey hop_c{1, 0xC6120002};  // same address, other port: another neighbor
constexpr MacAddr mac_a{0x02, 0, 0, 0, 0, 0xaa};

rte_mbuf* pkt(uintptr_t n) {
    return reinterpret_cast<rte_mbuf*>(n);
}
uintptr_t id(rte_mbuf* m) {
    return reinterpret_cast<uintptr_t>(m);
}

NeighborHold::Limits limits(uint32_t per, uint32_t total, uint64_t timeout = 1000) {
    NeighborHold::Limits l;
    l.per_neighbor = per;
    l.total = total;
    l.timeout_ms = timeout;
    return l;
}

// What one poll did.
struct Polled {
    std::vector<std::pair<uintptr_t, NeighborKey>> sent;
    std::vector<std::pair<uintptr_t, DropReason>> dropped;
};

// `states`: the resolution of each next hop (pending when absent).
Polled poll(NeighborHold& h, uint64_t now,
            const std::vector<std::pair<NeighborKey, NeighborHold::Resolution::State>>& states) {
    Polled p;
    h.poll(
        now,
        [&](const NeighborKey& k) {
            NeighborHold::Resolution r;
            for (const auto& [key, st] : states) {
                if (key == k) {
                    r.state = st;
                    r.mac = mac_a;
                }
            }
            return r;
        },
        [&](rte_mbuf* m, const NeighborKey& k, const MacAddr& mac) {
            CHECK(mac == mac_a);
            p.sent.emplace_back(id(m), k);
        },
        [&](rte_mbuf* m, DropReason r) { p.dropped.emplace_back(id(m), r); });
    return p;
}

using St = NeighborHold::Resolution::State;

}  // namespace

TEST_CASE("hold: the first packet for a next hop asks for it, later ones do not", "[hold]") {
    NeighborHold h(limits(4, 16));
    auto r1 = h.hold(hop_a, pkt(1), 0);
    CHECK(r1.held);
    CHECK(r1.new_neighbor);
    CHECK(r1.dropped == nullptr);
    auto r2 = h.hold(hop_a, pkt(2), 0);
    CHECK(r2.held);
    CHECK_FALSE(r2.new_neighbor);
    CHECK(h.hold(hop_c, pkt(3), 0).new_neighbor);  // the port is part of the key
    CHECK(h.size() == 3);
    CHECK(h.neighbors() == 2);
    CHECK(h.held_for(hop_a) == 2);
    CHECK(h.stats().held == 3);
}

TEST_CASE("hold: released in arrival order when the next hop resolves", "[hold]") {
    NeighborHold h(limits(8, 16));
    h.hold(hop_a, pkt(1), 0);
    h.hold(hop_b, pkt(10), 0);
    h.hold(hop_a, pkt(2), 1);
    h.hold(hop_a, pkt(3), 2);
    auto p = poll(h, 5, {});
    CHECK(p.sent.empty());
    CHECK(p.dropped.empty());
    p = poll(h, 6, {{hop_a, St::resolved}});
    REQUIRE(p.sent.size() == 3);
    CHECK(p.sent[0].first == 1);
    CHECK(p.sent[1].first == 2);
    CHECK(p.sent[2].first == 3);
    CHECK(p.sent[0].second == hop_a);
    CHECK(h.size() == 1);  // hop_b still waits
    CHECK(h.held_for(hop_b) == 1);
    CHECK(h.stats().released == 3);
    // A packet held after the release starts a new queue (and a new request).
    CHECK(h.hold(hop_a, pkt(4), 7).new_neighbor);
}

TEST_CASE("hold: per-neighbor bound drops that neighbor's oldest", "[hold]") {
    NeighborHold h(limits(3, 16));
    h.hold(hop_b, pkt(100), 0);
    for (uintptr_t i = 1; i <= 3; ++i) {
        CHECK(h.hold(hop_a, pkt(i), 0).dropped == nullptr);
    }
    auto r = h.hold(hop_a, pkt(4), 0);
    CHECK(r.held);
    REQUIRE(r.dropped != nullptr);
    CHECK(id(r.dropped) == 1);
    CHECK(id(h.hold(hop_a, pkt(5), 0).dropped) == 2);
    CHECK(h.held_for(hop_a) == 3);
    CHECK(h.held_for(hop_b) == 1);  // untouched
    CHECK(h.stats().dropped_full == 2);
    auto p = poll(h, 1, {{hop_a, St::resolved}});
    REQUIRE(p.sent.size() == 3);
    CHECK(p.sent[0].first == 3);
    CHECK(p.sent[2].first == 5);
}

TEST_CASE("hold: total bound drops the oldest packet of all next hops", "[hold]") {
    NeighborHold h(limits(4, 4));
    h.hold(hop_a, pkt(1), 0);
    h.hold(hop_b, pkt(2), 0);
    h.hold(hop_b, pkt(3), 0);
    h.hold(hop_c, pkt(4), 0);
    auto r = h.hold(hop_b, pkt(5), 0);  // full: the oldest is hop_a's only packet
    REQUIRE(r.dropped != nullptr);
    CHECK(id(r.dropped) == 1);
    CHECK(h.held_for(hop_a) == 0);
    CHECK(h.neighbors() == 2);
    CHECK(h.size() == 4);
    r = h.hold(hop_a, pkt(6), 0);  // next oldest: hop_b's first
    CHECK(id(r.dropped) == 2);
    CHECK(r.new_neighbor);
    CHECK(h.size() == 4);
    auto p = poll(h, 1, {{hop_a, St::resolved}, {hop_b, St::resolved}, {hop_c, St::resolved}});
    std::vector<uintptr_t> ids;
    for (auto& s : p.sent) {
        ids.push_back(s.first);
    }
    std::sort(ids.begin(), ids.end());
    CHECK(ids == std::vector<uintptr_t>{3, 4, 5, 6});
    CHECK(h.empty());
}

TEST_CASE("hold: evicting the only packet of another queue moves the last queue", "[hold]") {
    // The victim's queue is removed by swapping the last queue into its place; when the packet
    // being held belongs to that last queue, it must follow it.
    NeighborHold h(limits(3, 3));
    h.hold(hop_b, pkt(1), 0);  // queue 0
    h.hold(hop_a, pkt(2), 0);  // queue 1 (the last)
    h.hold(hop_a, pkt(3), 0);
    auto r = h.hold(hop_a, pkt(4), 0);  // total full: hop_b's packet 1 is the oldest
    CHECK(id(r.dropped) == 1);
    CHECK_FALSE(r.new_neighbor);
    CHECK(h.neighbors() == 1);
    CHECK(h.held_for(hop_a) == 3);
    CHECK(h.held_for(hop_b) == 0);
    // The same with a new next hop: it gets a queue of its own.
    r = h.hold(hop_c, pkt(5), 0);
    CHECK(id(r.dropped) == 2);
    CHECK(r.new_neighbor);
    CHECK(h.held_for(hop_a) == 2);
    CHECK(h.held_for(hop_c) == 1);
    auto p = poll(h, 0, {{hop_a, St::resolved}});
    REQUIRE(p.sent.size() == 2);
    CHECK(p.sent[0].first == 3);
    CHECK(p.sent[1].first == 4);
}

TEST_CASE("hold: per_neighbor 1 keeps the newest packet", "[hold]") {
    NeighborHold h(limits(1, 8));
    h.hold(hop_a, pkt(1), 0);
    auto r = h.hold(hop_a, pkt(2), 0);
    CHECK(id(r.dropped) == 1);
    CHECK(h.held_for(hop_a) == 1);
    auto p = poll(h, 0, {{hop_a, St::resolved}});
    REQUIRE(p.sent.size() == 1);
    CHECK(p.sent[0].first == 2);
}

TEST_CASE("hold: resolution failure drops the next hop's packets", "[hold]") {
    NeighborHold h(limits(4, 8));
    h.hold(hop_a, pkt(1), 0);
    h.hold(hop_a, pkt(2), 0);
    h.hold(hop_b, pkt(3), 0);
    auto p = poll(h, 1, {{hop_a, St::failed}});
    REQUIRE(p.dropped.size() == 2);
    CHECK(p.dropped[0] ==
          std::pair<uintptr_t, DropReason>{1, DropReason::neighbor_resolution_failed});
    CHECK(p.dropped[1].first == 2);
    CHECK(h.size() == 1);
    CHECK(h.stats().dropped_failed == 2);
}

TEST_CASE("hold: packets held past the timeout are dropped, younger ones stay", "[hold]") {
    NeighborHold h(limits(8, 8, 1000));
    h.hold(hop_a, pkt(1), 0);
    h.hold(hop_a, pkt(2), 600);
    h.hold(hop_b, pkt(3), 100);
    auto p = poll(h, 999, {});
    CHECK(p.dropped.empty());
    p = poll(h, 1000, {});
    REQUIRE(p.dropped.size() == 1);
    CHECK(p.dropped[0] == std::pair<uintptr_t, DropReason>{1, DropReason::neighbor_hold_timeout});
    p = poll(h, 1600, {});
    CHECK(p.dropped.size() == 2);  // 2 (held at 600) and 3 (at 100)
    CHECK(h.empty());
    CHECK(h.neighbors() == 0);
    CHECK(h.stats().dropped_timeout == 3);
}

TEST_CASE("hold: disabled by a zero bound: nothing is held", "[hold]") {
    NeighborHold h(limits(0, 16));
    CHECK_FALSE(h.enabled());
    auto r = h.hold(hop_a, pkt(1), 0);
    CHECK_FALSE(r.held);
    CHECK(r.dropped == nullptr);
    CHECK(h.empty());
    NeighborHold h2(limits(4, 0));
    CHECK_FALSE(h2.hold(hop_a, pkt(1), 0).held);
}

TEST_CASE("hold: clear gives every packet back and the queue is reusable", "[hold]") {
    NeighborHold h(limits(4, 4));
    h.hold(hop_a, pkt(1), 0);
    h.hold(hop_b, pkt(2), 0);
    std::vector<uintptr_t> freed;
    h.clear([&](rte_mbuf* m) { freed.push_back(id(m)); });
    std::sort(freed.begin(), freed.end());
    CHECK(freed == std::vector<uintptr_t>{1, 2});
    CHECK(h.empty());
    CHECK(h.stats().discarded == 2);
    for (uintptr_t i = 1; i <= 4; ++i) {
        CHECK(h.hold(hop_a, pkt(i), 0).dropped == nullptr);
    }
}

TEST_CASE("hold: never more than the bounds under a long churn", "[hold]") {
    NeighborHold h(limits(3, 10, 50));
    uint64_t in = 0, out = 0;
    for (uint64_t t = 0; t < 2000; ++t) {
        const NeighborKey k{static_cast<uint16_t>(t % 3), static_cast<uint32_t>(t % 7)};
        auto r = h.hold(k, pkt(t + 1), t);
        REQUIRE(r.held);
        ++in;
        out += r.dropped != nullptr ? 1 : 0;
        REQUIRE(h.size() <= 10);
        REQUIRE(h.held_for(k) <= 3);
        if (t % 5 == 0) {
            auto p =
                poll(h, t, {{NeighborKey{0, 0}, St::resolved}, {NeighborKey{1, 1}, St::failed}});
            out += p.sent.size() + p.dropped.size();
        }
    }
    h.clear([&](rte_mbuf*) { ++out; });
    CHECK(in == out);  // every packet accounted for exactly once
}

TEST_CASE("hold: IPv6 next hops are held, released in order and dropped on failure like IPv4",
          "[hold][nd]") {
    const NeighborKey v6a =
        NeighborKey::of_ipv6(1, {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2});
    const NeighborKey v6b =
        NeighborKey::of_ipv6(1, {0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3});
    const NeighborKey v4 = NeighborKey::of_ipv4(1, 0);  // not confused with an IPv6 key
    NeighborHold h(limits(8, 16));
    CHECK(h.hold(v6a, pkt(1), 0).new_neighbor);
    CHECK(h.hold(v4, pkt(2), 0).new_neighbor);
    CHECK(h.hold(v6b, pkt(3), 0).new_neighbor);
    CHECK_FALSE(h.hold(v6a, pkt(4), 1).new_neighbor);
    CHECK(h.held_for(v6a) == 2);
    auto p = poll(h, 2, {{v6a, St::resolved}, {v6b, St::failed}});
    REQUIRE(p.sent.size() == 2);
    CHECK(p.sent[0] == std::pair<uintptr_t, NeighborKey>{1, v6a});
    CHECK(p.sent[1] == std::pair<uintptr_t, NeighborKey>{4, v6a});
    REQUIRE(p.dropped.size() == 1);
    CHECK(p.dropped[0] ==
          std::pair<uintptr_t, DropReason>{3, DropReason::neighbor_resolution_failed});
    CHECK(h.held_for(v4) == 1);  // still pending
    p = poll(h, 1000, {});
    REQUIRE(p.dropped.size() == 1);
    CHECK(p.dropped[0].second == DropReason::neighbor_hold_timeout);
    CHECK(h.empty());
}
