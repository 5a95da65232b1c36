// The packet schedulers (mptcp/scheduler.h): the ATSSS steering modes applied to subflows.
#include <catch2/catch.hpp>

#include <vector>

#include "mptcp/scheduler.h"

namespace braid::test {
namespace {

using mptcp::Access;
using mptcp::AccessPriority;
using mptcp::Decision;
using mptcp::SchedulerConfig;
using mptcp::SchedulerMode;
using mptcp::SubflowView;

SubflowView sub(uint32_t slot, Access a, uint32_t srtt_us, bool room = true, bool usable = true,
                bool backup = false) {
    SubflowView v;
    v.slot = slot;
    v.access = a;
    v.srtt_us = srtt_us;
    v.room = room;
    v.usable = usable;
    v.backup = backup;
    return v;
}

std::vector<uint32_t> slots(const Decision& d) {
    std::vector<uint32_t> v;
    for (const auto& p : d.order) {
        v.push_back(p.slot);
    }
    return v;
}

SchedulerConfig mode(SchedulerMode m) {
    SchedulerConfig c;
    c.mode = m;
    return c;
}

}  // namespace

TEST_CASE("scheduler: mode names round-trip, values as the PFCP Steering Mode IE",
          "[mptcp][scheduler]") {
    CHECK(static_cast<int>(SchedulerMode::active_standby) == 0);
    CHECK(static_cast<int>(SchedulerMode::smallest_delay) == 1);
    CHECK(static_cast<int>(SchedulerMode::load_balancing) == 2);
    CHECK(static_cast<int>(SchedulerMode::priority_based) == 3);
    CHECK(static_cast<int>(SchedulerMode::redundant) == 4);
    for (int i = 0; i < static_cast<int>(SchedulerMode::count); ++i) {
        auto m = static_cast<SchedulerMode>(i);
        CHECK(mptcp::scheduler_mode(mptcp::to_string(m)) == m);
    }
    CHECK_FALSE(mptcp::scheduler_mode("fastest"));
}

TEST_CASE("scheduler: smallest delay prefers room, then the lower RTT", "[mptcp][scheduler]") {
    std::vector<SubflowView> v{sub(0, Access::tgpp, 40'000), sub(1, Access::non_tgpp, 10'000),
                               sub(2, Access::non_tgpp, 5'000, false)};
    CHECK(slots(schedule(mode(SchedulerMode::smallest_delay), v)) ==
          std::vector<uint32_t>{1, 0, 2});
}

TEST_CASE("scheduler: a backup subflow only when no regular one is usable", "[mptcp][scheduler]") {
    std::vector<SubflowView> v{sub(0, Access::tgpp, 40'000),
                               sub(1, Access::non_tgpp, 1'000, true, true, true)};
    CHECK(slots(schedule(mode(SchedulerMode::smallest_delay), v)) == std::vector<uint32_t>{0});
    v[0].usable = false;
    CHECK(slots(schedule(mode(SchedulerMode::smallest_delay), v)) == std::vector<uint32_t>{1});
}

TEST_CASE("scheduler: active-standby sends on the active access only, fails over",
          "[mptcp][scheduler]") {
    auto cfg = mode(SchedulerMode::active_standby);  // 3GPP active, non-3GPP standby
    std::vector<SubflowView> v{sub(0, Access::non_tgpp, 1'000), sub(1, Access::tgpp, 90'000)};
    Decision d = schedule(cfg, v);
    CHECK(slots(d) == std::vector<uint32_t>{1});  // slower, but the active access
    CHECK_FALSE(d.failover);
    v[1].usable = false;  // the 3GPP subflow died
    d = schedule(cfg, v);
    CHECK(slots(d) == std::vector<uint32_t>{0});
    CHECK(d.failover);
    SECTION("the RTT threshold moves traffic to a standby within it") {
        v[1].usable = true;
        cfg.rtt_threshold_ms = 50;
        d = schedule(cfg, v);
        CHECK(slots(d) == std::vector<uint32_t>{0});
        CHECK(d.failover);
        CHECK(d.failover_reason == mptcp::ThresholdReason::rtt);
        v[0].srtt_us = 60'000;  // both past it: stay on the active one
        CHECK(slots(schedule(cfg, v)) == std::vector<uint32_t>{1});
    }
    SECTION("the PLR threshold moves traffic to a standby within it, and back") {
        v[1].usable = true;
        cfg.plr_threshold_percent = 2;
        v[1].loss_ppm = 20'000;  // exactly 2 %: not above it
        d = schedule(cfg, v);
        CHECK(slots(d) == std::vector<uint32_t>{1});
        CHECK_FALSE(d.failover);
        v[1].loss_ppm = 50'000;  // 5 % lost on the active access
        d = schedule(cfg, v);
        CHECK(slots(d) == std::vector<uint32_t>{0});
        CHECK(d.failover);
        CHECK(d.failover_reason == mptcp::ThresholdReason::plr);
        v[0].loss_ppm = 80'000;  // the standby loses more: both past it, stay on the active
        d = schedule(cfg, v);
        CHECK(slots(d) == std::vector<uint32_t>{1});
        CHECK_FALSE(d.failover);
        v[0].loss_ppm = 0;
        v[1].loss_ppm = 10'000;  // the active access recovered (1 %): back to it
        d = schedule(cfg, v);
        CHECK(slots(d) == std::vector<uint32_t>{1});
        CHECK_FALSE(d.failover);
        CHECK(d.failover_reason == mptcp::ThresholdReason::none);
        // RTT is named first when both thresholds are passed.
        cfg.rtt_threshold_ms = 50;
        v[1].loss_ppm = 50'000;
        CHECK(schedule(cfg, v).failover_reason == mptcp::ThresholdReason::rtt);
    }
    SECTION("smallest delay ranks a lossy subflow last") {
        cfg = mode(SchedulerMode::smallest_delay);
        cfg.plr_threshold_percent = 1;
        v[1].usable = true;
        v[1].srtt_us = 500;
        v[1].loss_ppm = 30'000;
        CHECK(slots(schedule(cfg, v)) == std::vector<uint32_t>{0, 1});
    }
    SECTION("No Standby: the other access is never used") {
        cfg.access[1].priority = AccessPriority::no_standby;
        CHECK(schedule(cfg, v).order.empty());
    }
    SECTION("priorities swapped by the MAR") {
        v[1].usable = true;
        cfg.access[0].priority = AccessPriority::standby;
        cfg.access[1].priority = AccessPriority::active;
        CHECK(slots(schedule(cfg, v)) == std::vector<uint32_t>{0});
    }
}

TEST_CASE("scheduler: load balancing follows the weights by bytes sent", "[mptcp][scheduler]") {
    auto cfg = mode(SchedulerMode::load_balancing);
    cfg.access[0].weight = 75;
    cfg.access[1].weight = 25;
    std::vector<SubflowView> v{sub(0, Access::tgpp, 10'000), sub(1, Access::non_tgpp, 10'000)};
    mptcp::BalanceBytes balance{};
    // 1,000 decisions of 1,000 bytes each, counted as the endpoint does: the split is 75/25.
    for (int i = 0; i < 1000; ++i) {
        Decision d = schedule(cfg, v, balance);
        REQUIRE(d.order.size() == 1);
        REQUIRE(d.balanced);
        balance[static_cast<size_t>(v[d.order[0].slot].access)] += 1000;
    }
    CHECK(balance[0] == 750'000);
    CHECK(balance[1] == 250'000);
    SECTION("an access with no usable subflow gets nothing, the other everything") {
        v[0].usable = false;
        Decision d = schedule(cfg, v, balance);
        CHECK(slots(d) == std::vector<uint32_t>{1});
        CHECK_FALSE(d.balanced);  // its bytes do not count toward the split
    }
    SECTION("weight 0: never") {
        cfg.access[1].weight = 0;
        cfg.access[0].weight = 100;
        balance[0] = 1'000'000'000;
        CHECK(slots(schedule(cfg, v, balance)) == std::vector<uint32_t>{0});
    }
    SECTION("the access with room goes first") {
        v[1].room = false;
        balance[1] = 0;
        CHECK(slots(schedule(cfg, v, balance)) == std::vector<uint32_t>{0});
    }
}

TEST_CASE("scheduler: priority-based overflows to Low when High is congested",
          "[mptcp][scheduler]") {
    auto cfg = mode(SchedulerMode::priority_based);
    cfg.access[0].priority = AccessPriority::high;
    cfg.access[1].priority = AccessPriority::low;
    std::vector<SubflowView> v{sub(0, Access::tgpp, 30'000), sub(1, Access::non_tgpp, 5'000)};
    Decision d = schedule(cfg, v);
    CHECK(slots(d) == std::vector<uint32_t>{0});
    CHECK_FALSE(d.overflow);
    v[0].room = false;
    d = schedule(cfg, v);
    CHECK(slots(d) == std::vector<uint32_t>{1, 0});
    CHECK(d.overflow);
    v[0].usable = false;
    CHECK(slots(schedule(cfg, v)) == std::vector<uint32_t>{1});
}

TEST_CASE("scheduler: redundant sends on the primary and copies on the secondary",
          "[mptcp][scheduler]") {
    auto cfg = mode(SchedulerMode::redundant);
    cfg.access[0].priority = AccessPriority::secondary;
    cfg.access[1].priority = AccessPriority::primary;
    std::vector<SubflowView> v{sub(0, Access::tgpp, 5'000), sub(1, Access::non_tgpp, 20'000)};
    Decision d = schedule(cfg, v);
    REQUIRE(d.order.size() == 2);
    CHECK(d.order[0].slot == 0);
    CHECK(d.order[0].copies_only);
    CHECK(d.order[1].slot == 1);
    CHECK_FALSE(d.order[1].copies_only);
    CHECK(d.redundant);
    v[1].usable = false;  // the primary is gone: the secondary carries new data
    d = schedule(cfg, v);
    REQUIRE(d.order.size() == 1);
    CHECK_FALSE(d.order[0].copies_only);
    SECTION("without access information the fastest subflow is the primary") {
        std::vector<SubflowView> u{sub(0, Access::unknown, 9'000), sub(1, Access::unknown, 3'000)};
        d = schedule(cfg, u);
        REQUIRE(d.order.size() == 2);
        CHECK(d.order[0].slot == 0);
        CHECK(d.order[0].copies_only);
        CHECK(d.order[1].slot == 1);
    }
}

TEST_CASE("scheduler: the loss estimate is retransmitted over sent segments, decaying",
          "[mptcp][scheduler][plr]") {
    mptcp::LossEstimate e;
    CHECK(e.ppm() == 0);
    // Totals near the wrap: differences are what counts.
    uint32_t sent = 0xffff'ff00u, rtx = 0xffff'fff0u;
    e.sample(sent, rtx);  // primes: no rate from the first totals
    CHECK(e.ppm() == 0);
    // 100 segments per sample, 5 of them retransmissions: converges on 5 %.
    for (int i = 0; i < 60; ++i) {
        sent += 100;
        rtx += 5;
        e.sample(sent, rtx);
    }
    CHECK(e.ppm() > 48'000);
    CHECK(e.ppm() < 52'000);
    // Loss stops: the estimate falls below 1 % within ~13 samples of 100 clean segments.
    for (int i = 0; i < 14; ++i) {
        sent += 100;
        e.sample(sent, rtx);
    }
    CHECK(e.ppm() < 10'000);
    // Lossy again, then idle: the weighted sums decay and below loss_min_segments per sample
    // the estimate goes to 0 (an idle subflow is tried again).
    for (int i = 0; i < 60; ++i) {
        sent += 100;
        rtx += 10;
        e.sample(sent, rtx);
    }
    CHECK(e.ppm() > 90'000);
    int samples = 0;
    while (e.ppm() >= 10'000 && samples < 1000) {
        e.sample(sent, rtx);
        ++samples;
    }
    CHECK(samples > 8);   // not at once: a short pause keeps the estimate
    CHECK(samples < 60);  // ~3 s at 50 ms per sample at most
    // More retransmissions than segments (SYN retransmissions are not data segments): capped.
    mptcp::LossEstimate f;
    f.sample(0, 0);
    for (int i = 0; i < 40; ++i) {
        f.sample(10u * (i + 1), 30u * (i + 1));
    }
    CHECK(f.ppm() <= 1'000'000);
    CHECK(f.ppm() > 990'000);
}

TEST_CASE("scheduler: subflows of an unknown access come after the known ones",
          "[mptcp][scheduler]") {
    std::vector<SubflowView> v{sub(0, Access::unknown, 1'000), sub(1, Access::tgpp, 50'000)};
    CHECK(slots(schedule(mode(SchedulerMode::smallest_delay), v)) == std::vector<uint32_t>{1, 0});
    // A mode that found nothing on the known accesses falls back to them.
    v[1].usable = false;
    CHECK(slots(schedule(mode(SchedulerMode::active_standby), v)) == std::vector<uint32_t>{0});
}

}  // namespace braid::test
