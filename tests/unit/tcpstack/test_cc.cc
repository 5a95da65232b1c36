// Congestion control, named after the RFC rules they check: RFC 5681 / RFC 3465 (NewReno), RFC 6928
// (initial window), RFC 9438 (CUBIC). Injected time; windows in bytes with SMSS = 1000 so that the
// expected values read as segments. Expected CUBIC numbers were computed separately from the
// RFC's equations (W_cubic(t) = C(t-K)^3 + W_max, K = cbrt((W_max - cwnd_epoch)/C), C = 0.4).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "tcpstack/cc/cc.h"

using namespace braid::tcp;
using Catch::Detail::Approx;

namespace {

constexpr uint32_t kSmss = 1000;
constexpr uint64_t kStart = 1'000'000;  // µs

AckSample ack(uint32_t bytes, uint32_t flight, uint64_t now, uint32_t rtt = 0) {
    return AckSample{bytes, flight, now, rtt, false};
}

// One round trip: a cwnd worth of data acknowledged in ACKs of `ack_bytes` (the last one takes
// the remainder), evenly spread over the RTT, each carrying the RTT as its sample. Returns the
// time at the end of the round.
template <class Cc>
uint64_t one_rtt(Cc& cc, uint64_t now, uint32_t rtt_us, uint32_t ack_bytes = kSmss) {
    const uint32_t flight = cc.cwnd();
    const uint32_t n = (flight + ack_bytes - 1) / ack_bytes;
    for (uint32_t i = 0; i < n; ++i) {
        const uint32_t bytes = std::min(ack_bytes, flight - i * ack_bytes);
        cc.on_ack(ack(bytes, flight, now + uint64_t(i + 1) * rtt_us / n, rtt_us));
    }
    return now + rtt_us;
}

// Slow start from IW (10 segments) to exactly 100 segments, then a loss with the pipe full and
// the end of recovery: the classic CUBIC start, W_max = 100, cwnd = 70.
Cubic cubic_after_loss_at_100(uint64_t now) {
    Cubic c(kSmss, 10);
    while (c.cwnd() < 100 * kSmss) {
        c.on_ack(ack(2 * kSmss, c.cwnd(), now));
    }
    REQUIRE(c.cwnd() == 100 * kSmss);
    c.on_congestion_event(100 * kSmss, now);
    c.on_recovery_exit(now);
    return c;
}

double segs(uint32_t bytes) {
    return double(bytes) / kSmss;
}

}  // namespace

TEST_CASE("cc: algorithm names", "[cc]") {
    CHECK(parse_cc_algorithm("newreno") == CcAlgorithm::newreno);
    CHECK(parse_cc_algorithm("reno") == CcAlgorithm::newreno);
    CHECK(parse_cc_algorithm("cubic") == CcAlgorithm::cubic);
    CHECK_FALSE(parse_cc_algorithm("bbr"));
    CHECK_FALSE(parse_cc_algorithm(""));
    CHECK_FALSE(parse_cc_algorithm("CUBIC"));
    CHECK(to_string(CcAlgorithm::newreno) == "newreno");
    CHECK(to_string(CcAlgorithm::cubic) == "cubic");
    CHECK(CongestionControl(CcAlgorithm::cubic, 1460).algorithm() == CcAlgorithm::cubic);
    CHECK(CongestionControl(CcAlgorithm::newreno, 1460).algorithm() == CcAlgorithm::newreno);
}

TEST_CASE("cc: RFC 6928 initial window min(10*SMSS, max(2*SMSS, 14600))", "[cc]") {
    CHECK(initial_window(1460) == 14600);
    CHECK(initial_window(1000) == 10000);
    CHECK(initial_window(536) == 5360);
    CHECK(initial_window(1500) == 14600);  // 15000 capped at 14600
    CHECK(initial_window(9000) == 18000);  // 2*SMSS beats 14600
    CHECK(initial_window(1460, 4) == 5840);
    CHECK(initial_window(1460, 1) == 1460);
    for (auto a : {CcAlgorithm::newreno, CcAlgorithm::cubic}) {
        const CongestionControl cc(a, 1460);
        CHECK(cc.cwnd() == 14600);
        CHECK(cc.ssthresh() == kMaxCwnd);  // RFC 5681 §3.1: arbitrarily high
    }
}

TEST_CASE("cc: MSS learnt after construction resizes the initial window only", "[cc]") {
    for (auto a : {CcAlgorithm::newreno, CcAlgorithm::cubic}) {
        CongestionControl cc(a, 536);
        CHECK(cc.cwnd() == 5360);
        cc.set_smss(1460);
        CHECK(cc.cwnd() == 14600);
        cc.on_ack(ack(1460, 1460, kStart));
        CHECK(cc.cwnd() == 14600 + 1460);
        cc.set_smss(1000);  // PMTU shrink later: cwnd stays in bytes
        CHECK(cc.cwnd() == 14600 + 1460);
    }
}

TEST_CASE("newreno: RFC 5681 3.1 slow start doubles cwnd per RTT", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    uint64_t now = kStart;
    SECTION("one ACK per segment") {
        for (uint32_t want : {20u, 40u, 80u, 160u}) {
            now = one_rtt(nr, now, 50'000, kSmss);
            CHECK(nr.cwnd() == want * kSmss);
        }
    }
    SECTION("delayed ACKs (RFC 3465 L = 2*SMSS keeps the doubling)") {
        for (uint32_t want : {20u, 40u, 80u, 160u}) {
            now = one_rtt(nr, now, 50'000, 2 * kSmss);
            CHECK(nr.cwnd() == want * kSmss);
        }
    }
    SECTION("a stretch ACK opens at most 2*SMSS (RFC 3465 2.2)") {
        nr.on_ack(ack(8 * kSmss, 10 * kSmss, now));
        CHECK(nr.cwnd() == 12 * kSmss);
        nr.on_ack(ack(500, 10 * kSmss, now));  // partial segment counts its bytes
        CHECK(nr.cwnd() == 12 * kSmss + 500);
    }
}

TEST_CASE("newreno: RFC 5681 3.1 congestion avoidance adds one SMSS per RTT", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    nr.on_congestion_event(40 * kSmss, kStart);  // ssthresh = 20 segments
    nr.on_recovery_exit(kStart);
    REQUIRE(nr.cwnd() == 20 * kSmss);
    REQUIRE(nr.ssthresh() == 20 * kSmss);
    uint64_t now = kStart;
    SECTION("one ACK per segment") {
        for (uint32_t want = 21; want <= 25; ++want) {
            now = one_rtt(nr, now, 50'000, kSmss);
            CHECK(nr.cwnd() == want * kSmss);
        }
    }
    SECTION("delayed ACKs give the same growth (byte counting)") {
        for (uint32_t want = 21; want <= 25; ++want) {
            now = one_rtt(nr, now, 50'000, 2 * kSmss);
            CHECK(nr.cwnd() == want * kSmss);
        }
    }
    SECTION("no growth before a whole cwnd is acknowledged") {
        for (int i = 0; i < 19; ++i) {
            nr.on_ack(ack(kSmss, 20 * kSmss, now));
        }
        CHECK(nr.cwnd() == 20 * kSmss);
        nr.on_ack(ack(kSmss, 20 * kSmss, now));
        CHECK(nr.cwnd() == 21 * kSmss);
    }
}

TEST_CASE("newreno: slow start hands over to congestion avoidance at ssthresh", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    nr.on_rto(2 * kSmss, kStart);  // ssthresh = 2 SMSS, cwnd = 1 SMSS
    CHECK(nr.ssthresh() == 2 * kSmss);
    CHECK(nr.cwnd() == 1 * kSmss);
    nr.on_ack(ack(kSmss, kSmss, kStart));
    CHECK(nr.cwnd() == 2 * kSmss);  // reached ssthresh: from here congestion avoidance
    nr.on_ack(ack(kSmss, kSmss, kStart));
    CHECK(nr.cwnd() == 2 * kSmss);
    nr.on_ack(ack(kSmss, kSmss, kStart));
    CHECK(nr.cwnd() == 3 * kSmss);
}

TEST_CASE("newreno: RFC 5681 eq. 4 ssthresh = max(FlightSize/2, 2*SMSS) on loss", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    SECTION("half the flight") {
        nr.on_congestion_event(30 * kSmss, kStart);
        CHECK(nr.ssthresh() == 15 * kSmss);
        CHECK(nr.cwnd() == 15 * kSmss);  // RFC 6675 §5: cwnd = ssthresh
        nr.on_recovery_exit(kStart);
        CHECK(nr.cwnd() == 15 * kSmss);
    }
    SECTION("FlightSize, not cwnd") {
        nr.on_congestion_event(7 * kSmss, kStart);  // cwnd is 10, flight 7
        CHECK(nr.ssthresh() == 3500);
    }
    SECTION("never below 2*SMSS") {
        nr.on_congestion_event(3 * kSmss, kStart);
        CHECK(nr.ssthresh() == 2 * kSmss);
        nr.on_congestion_event(0, kStart);
        CHECK(nr.ssthresh() == 2 * kSmss);
    }
}

TEST_CASE("newreno: RFC 5681 3.1 loss window after RTO is one SMSS", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    uint64_t now = one_rtt(nr, kStart, 50'000);  // cwnd 20
    nr.on_rto(20 * kSmss, now);
    CHECK(nr.cwnd() == kSmss);
    CHECK(nr.ssthresh() == 10 * kSmss);
    SECTION("a backed-off RTO of the same segment keeps ssthresh") {
        nr.on_rto(kSmss, now + 1'000'000);
        CHECK(nr.cwnd() == kSmss);
        CHECK(nr.ssthresh() == 10 * kSmss);
    }
    SECTION("slow start again up to ssthresh") {
        now = one_rtt(nr, now, 50'000);
        CHECK(nr.cwnd() == 2 * kSmss);
        now = one_rtt(nr, now, 50'000);
        now = one_rtt(nr, now, 50'000);
        CHECK(nr.cwnd() == 8 * kSmss);
        now = one_rtt(nr, now, 50'000);
        CHECK(nr.cwnd() == 10 * kSmss);  // stops at ssthresh, the rest is congestion avoidance
        SECTION("an RTO after new data was acknowledged cuts ssthresh again") {
            nr.on_rto(10 * kSmss, now);
            CHECK(nr.ssthresh() == 5 * kSmss);
        }
    }
}

TEST_CASE("newreno: RFC 5681 4.1 restart window min(IW, cwnd) after idle", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    uint64_t now = one_rtt(nr, kStart, 50'000);
    now = one_rtt(nr, now, 50'000);
    REQUIRE(nr.cwnd() == 40 * kSmss);
    nr.on_idle_restart(now + 5'000'000);
    CHECK(nr.cwnd() == 10 * kSmss);
    CHECK(nr.ssthresh() == kMaxCwnd);
    nr.on_rto(10 * kSmss, now);
    nr.on_idle_restart(now + 10'000'000);
    CHECK(nr.cwnd() == kSmss);  // smaller than IW: unchanged
}

TEST_CASE("newreno: no growth while application limited", "[cc][newreno]") {
    NewReno nr(kSmss, 10);
    for (int i = 0; i < 50; ++i) {
        nr.on_ack(AckSample{kSmss, 2 * kSmss, kStart + i, 0, true});
    }
    CHECK(nr.cwnd() == 10 * kSmss);
}

TEST_CASE("cubic: RFC 9438 4.6 beta_cubic 0.7 multiplicative decrease", "[cc][cubic]") {
    SECTION("loss with the pipe full") {
        Cubic c = cubic_after_loss_at_100(kStart);
        CHECK(c.ssthresh() == 70 * kSmss);
        CHECK(c.cwnd() == 70 * kSmss);
        CHECK(c.w_max_segments() == Approx(100.0));
    }
    SECTION("ssthresh from FlightSize, at least 2*SMSS") {
        Cubic c(kSmss, 10);
        c.on_congestion_event(8 * kSmss, kStart);
        CHECK(c.ssthresh() == 5600);
        c.on_congestion_event(2 * kSmss, kStart);
        CHECK(c.ssthresh() == 2 * kSmss);
        CHECK(c.cwnd() == 2 * kSmss);
    }
    SECTION("RTO: ssthresh by beta, loss window of 1 SMSS (4.8)") {
        Cubic c(kSmss, 10);
        c.on_rto(10 * kSmss, kStart);
        CHECK(c.ssthresh() == 7 * kSmss);
        CHECK(c.cwnd() == kSmss);
        c.on_rto(kSmss, kStart + 1'000'000);  // backoff: no second cut
        CHECK(c.ssthresh() == 7 * kSmss);
    }
    SECTION("through the CongestionControl front") {
        CongestionControl cc(CcAlgorithm::cubic, kSmss);
        cc.on_congestion_event(10 * kSmss, kStart);
        CHECK(cc.ssthresh() == 7 * kSmss);
        CHECK(cc.cubic() != nullptr);
        CHECK(CongestionControl(CcAlgorithm::newreno, kSmss).cubic() == nullptr);
    }
}

TEST_CASE("cubic: RFC 9438 4.2 K = cbrt((W_max - cwnd_epoch)/C)", "[cc][cubic]") {
    Cubic c = cubic_after_loss_at_100(kStart);
    CHECK_FALSE(c.in_epoch());
    c.on_ack(ack(kSmss, 70 * kSmss, kStart + 1000, 100'000));  // first ACK in CA starts the epoch
    CHECK(c.in_epoch());
    CHECK(c.k_seconds() == Approx(4.217163326508746).epsilon(1e-4));  // cbrt(75)
}

TEST_CASE("cubic: RFC 9438 4.2 window reaches W_max at t = K", "[cc][cubic]") {
    Cubic c = cubic_after_loss_at_100(kStart);
    uint64_t now = kStart;
    const uint64_t k_us = 4'217'163;
    while (now < kStart + k_us) {
        now = one_rtt(c, now, 100'000);
    }
    CHECK(segs(c.cwnd()) == Approx(100.0).epsilon(0.005));
}

TEST_CASE("cubic: RFC 9438 4.4/4.5 concave before K, convex after", "[cc][cubic]") {
    // RTT 200 ms keeps the Reno-friendly estimate below W_cubic for the whole run.
    Cubic c = cubic_after_loss_at_100(kStart);
    uint64_t now = kStart;
    std::vector<double> at;  // cwnd at t = 1, 2, ... 8 s
    for (int i = 1; i <= 40; ++i) {
        now = one_rtt(c, now, 200'000);
        if (i % 5 == 0) {
            at.push_back(segs(c.cwnd()));
        }
    }
    // W_cubic(t) for t = 1, 2, 3, 6, 7, 8 s, K = cbrt(75).
    CHECK(at[0] == Approx(86.68).epsilon(0.01));
    CHECK(at[1] == Approx(95.64).epsilon(0.01));
    CHECK(at[2] == Approx(99.28).epsilon(0.01));
    CHECK(at[5] == Approx(102.27).epsilon(0.01));
    CHECK(at[6] == Approx(108.62).epsilon(0.01));
    CHECK(at[7] == Approx(121.65).epsilon(0.01));
    // Concave: growth slows towards the plateau; convex: it speeds up past it.
    CHECK(at[1] - at[0] < at[0] - 70.0);
    CHECK(at[2] - at[1] < at[1] - at[0]);
    CHECK(at[3] - at[2] < at[2] - at[1]);
    CHECK(at[6] - at[5] > at[5] - at[4]);
    CHECK(at[7] - at[6] > at[6] - at[5]);
}

TEST_CASE("cubic: RFC 9438 4.3 Reno-friendly region dominates at small RTT", "[cc][cubic]") {
    // At RTT 1 ms the cubic curve barely moves (t is tiny) while the Reno estimate grows by
    // alpha_cubic = 9/17 per RTT up to cwnd_prior = 100, then by 1 per RTT.
    Cubic c = cubic_after_loss_at_100(kStart);
    uint64_t now = kStart;
    for (int i = 0; i < 50; ++i) {
        now = one_rtt(c, now, 1000);
    }
    // W_est = 70 + 50*9/17 = 96.47; W_cubic(0.05 s) = 71.05.
    CHECK(segs(c.cwnd()) == Approx(96.47).epsilon(0.02));
    for (int i = 50; i < 200; ++i) {
        now = one_rtt(c, now, 1000);
    }
    // 56.67 RTTs to reach 100, then +1 per RTT: 100 + (200 - 56.67) = 243.3.
    CHECK(segs(c.cwnd()) == Approx(243.3).epsilon(0.02));
}

TEST_CASE("cubic: RFC 9438 4.7 fast convergence lowers W_max", "[cc][cubic]") {
    Cubic c = cubic_after_loss_at_100(kStart);
    // A second loss before getting back to W_max = 100: the flow is losing bandwidth to others.
    c.on_congestion_event(70 * kSmss, kStart + 1000);
    CHECK(c.w_max_segments() == Approx(59.5));  // 70 * (1 + 0.7) / 2, not 70
    CHECK(c.ssthresh() == 49 * kSmss);
    c.on_recovery_exit(kStart + 1000);
    c.on_ack(ack(kSmss, 49 * kSmss, kStart + 2000, 100'000));
    CHECK(c.k_seconds() == Approx(2.97196).epsilon(1e-4));  // cbrt((59.5 - 49) / 0.4)
    SECTION("a loss above W_max sets W_max = cwnd") {
        Cubic d = cubic_after_loss_at_100(kStart);
        uint64_t now = kStart;
        while (d.cwnd() < 110 * kSmss) {
            now = one_rtt(d, now, 200'000);
        }
        const double w = segs(d.cwnd());
        d.on_congestion_event(d.cwnd(), now);
        CHECK(d.w_max_segments() == Approx(w));
    }
}

TEST_CASE("cubic: application-limited time does not count in t (5.8)", "[cc][cubic]") {
    Cubic c = cubic_after_loss_at_100(kStart);
    uint64_t now = one_rtt(c, kStart, 100'000);
    const uint32_t before = c.cwnd();
    // 10 s with the application silent but ACKs arriving for what little it sent.
    for (int i = 0; i < 100; ++i) {
        now += 100'000;
        c.on_ack(AckSample{kSmss, 5 * kSmss, now, 100'000, true});
    }
    CHECK(c.cwnd() == before);
    now = one_rtt(c, now, 100'000);
    // Two RTTs of epoch time, not 10 s (W_cubic(10.2 s) would be ~186 segments).
    CHECK(segs(c.cwnd()) < 80.0);
}

TEST_CASE("cubic: slow start like NewReno and RFC 5681 4.1 restart window", "[cc][cubic]") {
    Cubic c(kSmss, 10);
    uint64_t now = one_rtt(c, kStart, 50'000);
    CHECK(c.cwnd() == 20 * kSmss);
    now = one_rtt(c, now, 50'000);
    CHECK(c.cwnd() == 40 * kSmss);
    c.on_idle_restart(now);
    CHECK(c.cwnd() == 10 * kSmss);
    CHECK_FALSE(c.in_epoch());
}

TEST_CASE("cubic: an epoch starting at or above W_max has K = 0", "[cc][cubic]") {
    // After a restart the engine may report more in flight than cwnd: ssthresh = 0.7 * 20 = 14
    // segments lands above the old window of 10, so there is no plateau to climb back to.
    Cubic c(kSmss, 10);
    c.on_congestion_event(20 * kSmss, kStart);
    c.on_recovery_exit(kStart);
    REQUIRE(c.cwnd() == 14 * kSmss);
    c.on_ack(ack(kSmss, 14 * kSmss, kStart + 1000, 100'000));
    CHECK(c.k_seconds() == 0.0);
    CHECK(c.w_max_segments() == Approx(14.0));
    CHECK(c.cwnd() >= 14 * kSmss);
}

TEST_CASE("cc: state stays small (issue 5: <= 1 KB per idle connection)", "[cc]") {
    STATIC_REQUIRE(sizeof(CongestionControl) <= 128);
}

TEST_CASE("cc: arbitrary event sequences keep cwnd within bounds", "[cc]") {
    // Whatever the engine reports (odd flights, zero or huge MSS, time going backwards), cwnd
    // stays in [SMSS, kMaxCwnd] and a cut never goes below 2*SMSS.
    std::mt19937_64 rng(99);
    for (auto a : {CcAlgorithm::newreno, CcAlgorithm::cubic}) {
        for (int run = 0; run < 200; ++run) {
            const auto smss0 = static_cast<uint32_t>(rng() % 70000);
            CongestionControl cc(a, smss0, static_cast<uint32_t>(rng() % 20));
            uint32_t smss = std::clamp<uint32_t>(smss0, 1, 65535);
            uint64_t now = rng() % 1'000'000'000;
            for (int step = 0; step < 500; ++step) {
                const auto flight = static_cast<uint32_t>(rng());
                now += rng() % 200'000;
                switch (rng() % 16) {
                    case 0:
                        cc.on_congestion_event(flight, now);
                        CHECK(cc.ssthresh() >= 2 * smss);
                        break;
                    case 1:
                        cc.on_recovery_exit(now);
                        break;
                    case 2:
                        cc.on_rto(flight, now);
                        break;
                    case 3:
                        cc.on_idle_restart(now);
                        break;
                    case 4: {
                        const auto m = static_cast<uint32_t>(rng());
                        cc.set_smss(m);
                        smss = std::clamp<uint32_t>(m, 1, 65535);
                        break;
                    }
                    case 5:
                        now -= std::min<uint64_t>(now, rng() % 1'000'000);  // clock jitter
                        [[fallthrough]];
                    default:
                        cc.on_ack(AckSample{static_cast<uint32_t>(rng()), flight, now,
                                            static_cast<uint32_t>(rng() % 2'000'000),
                                            rng() % 8 == 0});
                        break;
                }
                REQUIRE(cc.cwnd() <= kMaxCwnd);
                REQUIRE(cc.cwnd() >= smss);
            }
        }
    }
}
