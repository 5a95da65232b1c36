// Usage reporting triggers (TS 29.244 §5.2.2), downlink buffering bounds (§5.9) and QER policing
// accuracy, with injected time.
#include <rte_cycles.h>
#include <rte_meter.h>
#include <catch2/catch.hpp>

#include <vector>

#include "dataplane/app.h"
#include "dataplane/packet_buffer.h"
#include "dataplane/session.h"
#include "dataplane/usage.h"
#include "tests/unit/eal_fixture.h"

using namespace braid::dataplane;

namespace {

SessionSpec with_urr(Urr u) {
    SessionSpec s = simple_session(1, 0x1001, 0xC6136401, 0xC6120002, 0x2002);
    s.urrs = {u};
    for (Pdr& p : s.pdrs) {
        p.urr_ids = {u.id};
    }
    return s;
}

// What a worker's urr_count does for one packet.
void count(const SessionRules& r, unsigned worker, bool uplink, uint32_t len) {
    UsageSlice& s = r.urrs[0].usage[worker];
    (uplink ? s.packets_ul : s.packets_dl).add();
    (uplink ? s.bytes_ul : s.bytes_dl).add(len);
}

}  // namespace

TEST_CASE("usage: per-worker slices are summed", "[usage]") {
    Urr u;
    u.id = 4;
    auto c = compile(with_urr(u));
    REQUIRE(c.rules);
    count(*c.rules, 0, true, 100);
    count(*c.rules, 1, false, 50);
    count(*c.rules, 1, true, 10);
    UsageTotals t = sum(c.rules->urrs[0].usage, 2);
    CHECK(t.bytes_ul == 110);
    CHECK(t.bytes_dl == 50);
    CHECK(t.packets() == 3);
    // Slices beyond the worker count are not read.
    count(*c.rules, 5, true, 1000);
    CHECK(sum(c.rules->urrs[0].usage, 2).bytes() == 160);
}

TEST_CASE("usage: a modification keeps a URR's counters by ID, a new ID starts at zero",
          "[usage]") {
    Urr u;
    u.id = 4;
    auto first = compile(with_urr(u));
    count(*first.rules, 0, true, 700);
    SessionSpec changed = with_urr(u);
    changed.fars[1].outer_header->teid = 0x3003;
    auto second = compile(changed, first.rules.get());
    CHECK(second.rules->urrs[0].usage.data() == first.rules->urrs[0].usage.data());
    CHECK(sum(second.rules->urrs[0].usage, 1).bytes_ul == 700);
    u.id = 5;
    auto third = compile(with_urr(u), second.rules.get());
    CHECK(sum(third.rules->urrs[0].usage, 1).bytes() == 0);
}

TEST_CASE("usage: URR and QER slices are sized by the worker count, aligned, zeroed", "[usage]") {
    Urr u;
    u.id = 4;
    SessionSpec spec = with_urr(u);
    Qer q;
    q.id = 1;
    q.mbr_ul_kbps = 1000;
    spec.qers = {q};
    spec.pdrs[0].qer_ids = {1};
    for (unsigned workers : {1u, 3u}) {
        auto c = compile(spec, nullptr, workers);
        REQUIRE(c.rules);
        const UrrUsage& usage = c.rules->urrs[0].usage;
        CHECK(usage.size() == workers);
        CHECK(usage.at(workers - 1) != nullptr);
        CHECK(usage.at(workers) == nullptr);  // a worker beyond the size is skipped, not written
        for (unsigned w = 0; w < workers; ++w) {
            // One cache line per slice: no false sharing between workers.
            CHECK(reinterpret_cast<uintptr_t>(usage.at(w)) % 64 == 0);
            CHECK(usage[w].bytes_ul.get() == 0);
            CHECK(usage[w].first_tsc.get() == 0);
        }
        const QerMeters& m = c.rules->qers[0].meters;
        CHECK(m.workers() == workers);
        for (unsigned w = 0; w < workers; ++w) {
            REQUIRE(m.at(w, true) != nullptr);
            CHECK(m.at(w, true) != m.at(w, false));
            CHECK(reinterpret_cast<uintptr_t>(m.at(w, false)) % 64 == 0);
            CHECK(m.at(w, true)->profile == nullptr);
        }
        CHECK(m.at(workers, true) == nullptr);
        // A modification keeps both, whatever the worker count given then.
        auto next = compile(spec, c.rules.get(), workers + 1);
        CHECK(next.rules->urrs[0].usage.data() == usage.data());
        CHECK(next.rules->qers[0].meters.at(0, true) == m.at(0, true));
    }
}

TEST_CASE("usage: volume threshold fires once per threshold crossing (VOLTH)", "[usage]") {
    Urr u;
    u.id = 1;
    u.volume_threshold_bytes = 1000;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    m.poll(*c.rules, 0, out);
    CHECK(out.empty());
    count(*c.rules, 0, true, 600);
    m.poll(*c.rules, 100, out);
    CHECK(out.empty());
    count(*c.rules, 0, false, 500);
    m.poll(*c.rules, 200, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].trigger == UsageTrigger::volume_threshold);
    CHECK(out[0].volume.bytes_ul == 600);
    CHECK(out[0].volume.bytes_dl == 500);
    CHECK(out[0].sequence == 0);
    CHECK(out[0].start_ms == 0);
    CHECK(out[0].end_ms == 200);
    // The next measurement starts from the report.
    m.poll(*c.rules, 300, out);
    CHECK(out.size() == 1);
    count(*c.rules, 0, true, 1000);
    m.poll(*c.rules, 400, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].volume.bytes() == 1000);
    CHECK(out[1].sequence == 1);
    CHECK(out[1].start_ms == 200);
}

TEST_CASE("usage: periodic reports keep their own schedule, with or without traffic (PERIO)",
          "[usage]") {
    Urr u;
    u.id = 1;
    u.measurement_period_s = 2;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    for (uint64_t t = 0; t <= 6000; t += 100) {
        if (t == 500) {
            count(*c.rules, 0, true, 42);
        }
        m.poll(*c.rules, t, out);
    }
    REQUIRE(out.size() == 3);
    CHECK(out[0].end_ms == 2000);
    CHECK(out[1].end_ms == 4000);
    CHECK(out[2].end_ms == 6000);
    CHECK(out[0].volume.bytes_ul == 42);
    CHECK(out[1].volume.bytes() == 0);
    for (const auto& r : out) {
        CHECK(r.trigger == UsageTrigger::periodic);
    }
}

TEST_CASE("usage: time threshold counts from the first packet of the measurement (TIMTH)",
          "[usage]") {
    Urr u;
    u.id = 1;
    u.time_threshold_s = 3;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    for (uint64_t t = 0; t <= 10000; t += 100) {
        if (t == 2000) {
            count(*c.rules, 0, true, 1);
        }
        m.poll(*c.rules, t, out);
    }
    REQUIRE(out.size() == 1);  // no traffic after the report: no second one
    CHECK(out[0].trigger == UsageTrigger::time_threshold);
    CHECK(out[0].end_ms == 5000);
    CHECK(out[0].duration_s == 3);
}

TEST_CASE("usage: query and termination report what was counted since the last report", "[usage]") {
    Urr u;
    u.id = 1;
    auto c = compile(with_urr(u));
    UsageMonitor m(2);
    std::vector<UsageReport> out;
    m.poll(*c.rules, 0, out);
    count(*c.rules, 1, false, 300);
    m.report_now(*c.rules, {}, UsageTrigger::query, 50, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].volume.bytes_dl == 300);
    CHECK(m.current(*c.rules, 1)->bytes() == 0);
    count(*c.rules, 0, true, 5);
    CHECK(m.current(*c.rules, 1)->bytes() == 5);
    m.report_now(*c.rules, {1}, UsageTrigger::termination, 90, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].trigger == UsageTrigger::termination);
    CHECK(out[1].volume.bytes_ul == 5);
    CHECK(out[1].sequence == 1);
    m.report_now(*c.rules, {9}, UsageTrigger::query, 95, out);  // no such URR
    CHECK(out.size() == 2);
}

TEST_CASE("usage: a URR whose counters did not move and has nothing due is skipped", "[usage]") {
    Urr u;
    u.id = 1;
    u.volume_threshold_bytes = 1000;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    m.poll(*c.rules, 0, out);  // the first poll starts the measurement
    CHECK(m.stats().evaluated == 1);
    for (uint64_t t = 100; t <= 1000; t += 100) {
        m.poll(*c.rules, t, out);
    }
    CHECK(m.stats().evaluated == 1);
    CHECK(m.stats().skipped == 10);
    // Traffic below the threshold: evaluated once, then skipped again.
    count(*c.rules, 0, true, 400);
    m.poll(*c.rules, 1100, out);
    m.poll(*c.rules, 1200, out);
    CHECK(m.stats().evaluated == 2);
    CHECK(m.stats().skipped == 11);
    CHECK(out.empty());
    // A byte counted without a packet (a reader between a worker's two adds) still counts as
    // movement: the skip compares every counter.
    c.rules->urrs[0].usage[0].bytes_dl.add(600);
    m.poll(*c.rules, 1300, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].trigger == UsageTrigger::volume_threshold);
    CHECK(out[0].volume.bytes() == 1000);
    CHECK(out[0].end_ms == 1300);
}

TEST_CASE("usage: skipping keeps periodic and time-threshold reports on time, to the poll",
          "[usage]") {
    Urr u;
    u.id = 1;
    u.measurement_period_s = 5;
    u.time_threshold_s = 3;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    // Traffic at 500 ms, then silence: TIMTH at 3500, the period at 5000 (its own schedule).
    // Traffic again at 6100: TIMTH at 9100, the period at 10000. Polled every 10 ms.
    for (uint64_t t = 0; t <= 10000; t += 10) {
        if (t == 500 || t == 6100) {
            count(*c.rules, 0, true, 42);
        }
        m.poll(*c.rules, t, out);
    }
    REQUIRE(out.size() == 4);
    CHECK(out[0].trigger == UsageTrigger::time_threshold);
    CHECK(out[0].end_ms == 3500);
    CHECK(out[0].volume.bytes() == 42);
    CHECK(out[0].duration_s == 3);
    CHECK(out[1].trigger == UsageTrigger::periodic);
    CHECK(out[1].end_ms == 5000);
    CHECK(out[1].volume.bytes() == 0);
    CHECK(out[2].trigger == UsageTrigger::time_threshold);
    CHECK(out[2].end_ms == 9100);
    CHECK(out[2].start_ms == 5000);
    CHECK(out[2].volume.bytes() == 42);
    CHECK(out[3].trigger == UsageTrigger::periodic);
    CHECK(out[3].end_ms == 10000);
    // Only the first poll, the two with new traffic and the four due times were evaluated.
    CHECK(m.stats().evaluated == 7);
    CHECK(m.stats().skipped == 1001 - 7);
}

TEST_CASE("usage: a time threshold fires at its due time even though nothing moves", "[usage]") {
    Urr u;
    u.id = 1;
    u.time_threshold_s = 3;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    for (uint64_t t = 0; t <= 5000; t += 10) {
        if (t == 1230) {
            count(*c.rules, 0, false, 7);
        }
        m.poll(*c.rules, t, out);
    }
    REQUIRE(out.size() == 1);
    CHECK(out[0].trigger == UsageTrigger::time_threshold);
    CHECK(out[0].end_ms == 4230);  // the first poll at or after 1230 + 3000
    CHECK(m.stats().skipped > 450);
}

TEST_CASE("usage: the monitor state lives with the URR: kept by a modification, new with a new ID",
          "[usage]") {
    Urr u;
    u.id = 1;
    u.volume_threshold_bytes = 1000;
    auto first = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    m.poll(*first.rules, 100, out);
    count(*first.rules, 0, true, 600);
    m.poll(*first.rules, 200, out);
    CHECK(out.empty());
    // A modification with the same URR ID: same block, same measurement (start 100).
    auto second = compile(with_urr(u), first.rules.get());
    CHECK(&second.rules->urrs[0].usage.shared() == &first.rules->urrs[0].usage.shared());
    count(*second.rules, 0, false, 500);
    m.poll(*second.rules, 300, out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].start_ms == 100);
    CHECK(out[0].volume.bytes() == 1100);
    CHECK(out[0].sequence == 0);
    // Lowering the threshold under the same ID fires on the next poll, without new traffic.
    count(*second.rules, 0, true, 300);
    m.poll(*second.rules, 400, out);
    CHECK(out.size() == 1);
    u.volume_threshold_bytes = 200;
    auto third = compile(with_urr(u), second.rules.get());
    m.poll(*third.rules, 500, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].trigger == UsageTrigger::volume_threshold);
    CHECK(out[1].volume.bytes() == 300);
    CHECK(out[1].sequence == 1);
    // Another ID: a new block, a new measurement, sequence from 0.
    u.id = 2;
    auto fourth = compile(with_urr(u), third.rules.get());
    CHECK_FALSE(fourth.rules->urrs[0].usage.shared().started);
    m.poll(*fourth.rules, 600, out);
    count(*fourth.rules, 0, true, 250);
    m.poll(*fourth.rules, 700, out);
    REQUIRE(out.size() == 3);
    CHECK(out[2].urr_id == 2);
    CHECK(out[2].sequence == 0);
    CHECK(out[2].start_ms == 600);
}

TEST_CASE("usage: after a query the next poll starts from the report, not from the skip state",
          "[usage]") {
    Urr u;
    u.id = 1;
    u.volume_threshold_bytes = 1000;
    auto c = compile(with_urr(u));
    UsageMonitor m(1);
    std::vector<UsageReport> out;
    m.poll(*c.rules, 0, out);
    count(*c.rules, 0, true, 900);
    m.poll(*c.rules, 100, out);
    m.report_now(*c.rules, {}, UsageTrigger::query, 150, out);
    REQUIRE(out.size() == 1);
    CHECK(m.current(*c.rules, 1)->bytes() == 0);
    count(*c.rules, 0, true, 200);  // 1100 since the start, 200 since the query
    m.poll(*c.rules, 200, out);
    CHECK(out.size() == 1);
    count(*c.rules, 0, true, 800);
    m.poll(*c.rules, 300, out);
    REQUIRE(out.size() == 2);
    CHECK(out[1].volume.bytes() == 1000);
    CHECK(out[1].start_ms == 150);
}

namespace {

std::vector<rte_mbuf*> freed;
void fake_free(rte_mbuf* m) {
    freed.push_back(m);
}
rte_mbuf* pkt(uintptr_t n) {
    return reinterpret_cast<rte_mbuf*>(n * 64);
}

}  // namespace

TEST_CASE("buffer: per-session bound drops the oldest first, counted", "[buffer]") {
    freed.clear();
    PacketBuffer b(100, fake_free);
    CHECK(b.push(1, pkt(1), 3, 7));  // the first packet: time to notify the CP
    CHECK_FALSE(b.push(1, pkt(2), 3, 7));
    CHECK_FALSE(b.push(1, pkt(3), 3, 7));
    CHECK_FALSE(b.push(1, pkt(4), 3, 7));
    CHECK(freed == std::vector<rte_mbuf*>{pkt(1)});
    CHECK(b.packets(1) == 3);
    CHECK(b.stats().dropped_oldest == 1);
    auto out = b.release(1);
    CHECK(out == std::vector<rte_mbuf*>{pkt(2), pkt(3), pkt(4)});
    CHECK(b.total() == 0);
    CHECK(b.stats().released == 3);
    CHECK(b.push(1, pkt(5), 3, 8));  // empty again: a new first packet
    b.discard(1);
    CHECK(freed.back() == pkt(5));
    CHECK(b.stats().discarded == 1);
}

TEST_CASE("buffer: the total bound never evicts another session's packets", "[buffer]") {
    freed.clear();
    PacketBuffer b(3, fake_free);
    b.push(1, pkt(1), 10, 1);
    b.push(1, pkt(2), 10, 1);
    b.push(2, pkt(3), 10, 1);
    CHECK_FALSE(b.push(3, pkt(4), 10, 1));  // full, session 3 has nothing to give up
    CHECK(freed == std::vector<rte_mbuf*>{pkt(4)});
    b.push(1, pkt(5), 10, 1);  // full: session 1 drops its own oldest
    CHECK(freed.back() == pkt(1));
    CHECK(b.packets(2) == 1);
    CHECK(b.total() == 3);
    auto sessions = b.sessions();
    CHECK(sessions.size() == 2);
    b.discard_all();
    CHECK(b.total() == 0);
    CHECK(freed.size() == 5);
}

TEST_CASE("qer: an srTCM at the MBR passes the MBR of a flow sent at twice the rate (±5 % in 10 s)",
          "[qer]") {
    braid::test::eal_once();
    Qer q;
    q.id = 1;
    q.mbr_dl_kbps = 4000;
    SessionSpec s = simple_session(1, 0x1001, 0xC6136401, 0xC6120002, 0x2002);
    s.qers = {q};
    s.pdrs[1].qer_ids = {1};
    auto c = compile(s);
    REQUIRE(c.rules);
    const CompiledQer& cq = c.rules->qers[0];
    REQUIRE(cq.limit_dl);
    REQUIRE_FALSE(cq.limit_ul);
    rte_meter_srtcm m;
    auto* profile = const_cast<rte_meter_srtcm_profile*>(&cq.dl_profile);
    REQUIRE(rte_meter_srtcm_config(&m, profile) == 0);
    const uint64_t hz = rte_get_tsc_hz();
    const uint32_t len = 1200;
    const double offered_bps = 8e6;
    const uint64_t n = static_cast<uint64_t>(offered_bps * 10 / (len * 8));
    uint64_t passed = 0;
    const uint64_t t0 = 1'000'000;
    for (uint64_t i = 0; i < n; ++i) {
        const uint64_t t = t0 + static_cast<uint64_t>(double(i) * len * 8 / offered_bps * hz);
        if (rte_meter_srtcm_color_blind_check(&m, profile, t, len) != RTE_COLOR_RED) {
            passed += len;
        }
    }
    const double rate_kbps = double(passed) * 8 / 10 / 1000;
    INFO("passed " << rate_kbps << " kbit/s");
    CHECK(std::abs(rate_kbps - 4000) / 4000 < 0.05);
}

TEST_CASE("qer: meters survive a modification by QER ID", "[qer]") {
    braid::test::eal_once();
    Qer q;
    q.id = 3;
    q.mbr_ul_kbps = 1000;
    SessionSpec s = simple_session(1, 0x1001, 0xC6136401, 0xC6120002, 0x2002);
    s.qers = {q};
    auto a = compile(s);
    s.qers[0].mbr_ul_kbps = 2000;
    auto b = compile(s, a.rules.get());
    CHECK(a.rules->qers[0].meters.at(0, true) == b.rules->qers[0].meters.at(0, true));
    // A new profile object: workers reconfigure their bucket on the next packet.
    CHECK(&a.rules->qers[0].ul_profile != &b.rules->qers[0].ul_profile);
}

TEST_CASE("reply limiter: bursts, then the rate; long silence refills one burst only",
          "[limiter]") {
    ReplyLimiter l;
    const uint64_t hz = 2'000'000'000;
    uint64_t t = 1000;
    int granted = 0;
    for (int i = 0; i < 30; ++i) {
        granted += l.take(t, hz, 100, 20) ? 1 : 0;
    }
    CHECK(granted == 20);
    t += hz / 10;  // 100 ms at 100/s: 10 more
    granted = 0;
    for (int i = 0; i < 30; ++i) {
        granted += l.take(t, hz, 100, 20) ? 1 : 0;
    }
    CHECK(granted == 10);
    t += hz * 86400 * 30;  // a month: no overflow, one burst
    granted = 0;
    for (int i = 0; i < 30; ++i) {
        granted += l.take(t, hz, 100, 20) ? 1 : 0;
    }
    CHECK(granted == 20);
}
