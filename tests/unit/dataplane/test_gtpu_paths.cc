// GTP-U path management (dataplane/gtpu_paths.h): injected time, requests returned by poll().
#include <catch2/catch.hpp>

#include "dataplane/gtpu_paths.h"

using braid::dataplane::GtpuPathConfig;
using braid::dataplane::GtpuPaths;
using State = GtpuPaths::State;

namespace {

constexpr uint32_t gnb = 0xc6120002;   // 198.18.0.2
constexpr uint32_t gnb2 = 0xc6120003;  // 198.18.0.3

GtpuPathConfig lab_config() {
    GtpuPathConfig c;
    c.echo_interval_ms = 10000;
    c.t3_response_ms = 1000;
    c.n3_requests = 3;
    return c;
}

struct Step {
    std::vector<GtpuPaths::Request> requests;
    std::vector<GtpuPaths::Transition> transitions;
};

Step poll(GtpuPaths& p, uint64_t now) {
    Step s;
    p.poll(now, s.requests, s.transitions);
    return s;
}

}  // namespace

TEST_CASE("TS 29.281 7.2.1: a peer a session tunnels to is probed with an Echo Request",
          "[gtpu_paths]") {
    GtpuPaths p(lab_config());
    CHECK(poll(p, 0).requests.empty());  // nobody to probe
    p.add_user(gnb, 100);
    Step s = poll(p, 100);
    REQUIRE(s.requests.size() == 1);
    CHECK(s.requests[0].ipv4 == gnb);
    CHECK(p.peers().at(gnb).state == State::probing);
    // Nothing more until T3-RESPONSE expires.
    CHECK(poll(p, 1099).requests.empty());
}

TEST_CASE(
    "TS 29.281 7.2.2: the Echo Response with the request's sequence number brings the path up",
    "[gtpu_paths]") {
    GtpuPaths p(lab_config());
    p.add_user(gnb, 0);
    Step s = poll(p, 0);
    REQUIRE(s.requests.size() == 1);
    std::vector<GtpuPaths::Transition> t;
    CHECK_FALSE(p.on_echo_response(gnb, static_cast<uint16_t>(s.requests[0].seq + 1), 40, t));
    CHECK(p.stats().unexpected_responses == 1);
    CHECK_FALSE(p.on_echo_response(gnb2, s.requests[0].seq, 40, t));  // unknown peer
    CHECK(p.on_echo_response(gnb, s.requests[0].seq, 40, t));
    REQUIRE(t.size() == 1);
    CHECK(t[0].from == State::probing);
    CHECK(t[0].to == State::up);
    CHECK(p.peers().at(gnb).last_rtt_ms == 40);
    // A duplicate of the same response is unexpected now.
    CHECK_FALSE(p.on_echo_response(gnb, s.requests[0].seq, 41, t));
    // The next probe comes one echo interval after the previous one started, with a new
    // sequence number.
    CHECK(poll(p, 9999).requests.empty());
    Step next = poll(p, 10000);
    REQUIRE(next.requests.size() == 1);
    CHECK(next.requests[0].seq == static_cast<uint16_t>(s.requests[0].seq + 1));
}

TEST_CASE(
    "TS 29.281 7.2.1: unanswered requests are repeated N3-REQUESTS times, then the path is down",
    "[gtpu_paths]") {
    GtpuPaths p(lab_config());
    p.add_user(gnb, 0);
    Step first = poll(p, 0);
    REQUIRE(first.requests.size() == 1);
    Step second = poll(p, 1000);
    REQUIRE(second.requests.size() == 1);
    CHECK(second.requests[0].seq == first.requests[0].seq);  // a retransmission
    Step third = poll(p, 2000);
    REQUIRE(third.requests.size() == 1);
    CHECK(third.requests[0].seq == first.requests[0].seq);
    CHECK(p.peers().at(gnb).state == State::probing);
    Step gone = poll(p, 3000);
    CHECK(gone.requests.empty());
    REQUIRE(gone.transitions.size() == 1);
    CHECK(gone.transitions[0].to == State::down);
    CHECK(p.stats().timeouts == 3);
    CHECK(p.stats().path_failures == 1);
    CHECK(p.peers().at(gnb).requests_sent == 3);
    // A late response to the abandoned probe does not count.
    std::vector<GtpuPaths::Transition> t;
    CHECK_FALSE(p.on_echo_response(gnb, first.requests[0].seq, 3001, t));
    // A down path keeps being probed at the echo interval and recovers on an answer.
    CHECK(poll(p, 9999).requests.empty());
    Step again = poll(p, 10000);
    REQUIRE(again.requests.size() == 1);
    CHECK(again.requests[0].seq != first.requests[0].seq);
    CHECK(p.on_echo_response(gnb, again.requests[0].seq, 10005, t));
    REQUIRE(t.size() == 1);
    CHECK(t[0].from == State::down);
    CHECK(t[0].to == State::up);
    CHECK(p.stats().path_recoveries == 1);
}

TEST_CASE("GtpuPaths: peers are reference-counted by the sessions that use them", "[gtpu_paths]") {
    GtpuPaths p(lab_config());
    p.add_user(gnb, 0);
    p.add_user(gnb, 0);
    p.add_user(gnb2, 0);
    CHECK(p.peers().size() == 2);
    CHECK(p.peers().at(gnb).sessions == 2);
    CHECK(poll(p, 0).requests.size() == 2);
    p.remove_user(gnb);
    CHECK(p.peers().size() == 2);
    p.remove_user(gnb);
    CHECK(p.peers().size() == 1);
    CHECK(p.count(State::probing) == 1);
    p.remove_user(gnb);  // unknown now: ignored
    p.remove_user(gnb2);
    CHECK(p.peers().empty());
    CHECK(poll(p, 5000).requests.empty());
}

TEST_CASE("GtpuPaths: sequence numbers wrap at 16 bits", "[gtpu_paths]") {
    GtpuPathConfig c = lab_config();
    c.echo_interval_ms = 1;
    c.t3_response_ms = 1;
    GtpuPaths p(c);
    p.add_user(gnb, 0);
    std::vector<GtpuPaths::Transition> t;
    uint16_t last = 0;
    for (uint64_t now = 0; now < 70000; now += 1) {
        Step s = poll(p, now);
        REQUIRE(s.requests.size() == 1);
        if (now > 0) {
            CHECK(s.requests[0].seq == static_cast<uint16_t>(last + 1));
        }
        last = s.requests[0].seq;
        REQUIRE(p.on_echo_response(gnb, last, now, t));
    }
    CHECK(p.stats().responses == 70000);
}
