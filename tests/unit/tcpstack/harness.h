// Scripted-segment harness (packetdrill spirit): one engine, segments injected as the remote
// peer, segments the engine emits queued for `expect`, the clock advanced by hand.
#pragma once

#include <catch2/catch.hpp>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "tcpstack/engine.h"
#include "tests/unit/tcpstack/tcp_env.h"

namespace braid::test {

using namespace braid::tcp;
namespace flag = braid::tcp::wire::flag;

inline const IpAddr kLocal = IpAddr::v4(198, 18, 0, 1);
inline const IpAddr kRemote = IpAddr::v4(198, 18, 0, 2);
inline constexpr uint16_t kLocalPort = 80;
inline constexpr uint16_t kRemotePort = 40000;

inline FourTuple tuple(uint16_t remote_port = kRemotePort, IpAddr remote = kRemote) {
    return FourTuple{kLocal, remote, kLocalPort, remote_port};
}

inline EngineConfig test_config() {
    EngineConfig c;
    c.clone_pool = tcp_env().clones;
    for (size_t i = 0; i < c.secret.size(); ++i) {
        c.secret[i] = static_cast<uint8_t>(i * 7 + 1);
    }
    c.cc = CcAlgorithm::newreno;
    return c;
}

// A segment from the remote peer.
struct In {
    uint8_t flags = flag::ack;
    uint32_t seq = 0;
    uint32_t ack = 0;
    uint16_t window = 65535;
    wire::Options opt{};
    std::string data{};
    FourTuple t = tuple();
};

struct Out {
    wire::Header h;
    wire::Options opt;
    std::string data;
    FourTuple t;
};

class Harness {
public:
    explicit Harness(EngineConfig cfg = test_config())
        : eng(
              cfg,
              [this](OutSegment&& s) {
                  Out o{s.header, s.options, take_bytes(s.payload), s.tuple};
                  // Options hold no spans on the way out except MPTCP/TFO, not used here.
                  out.push_back(o);
              },
              [this](const Event& e) { events.push_back(e); }) {}

    void inject(const In& in) {
        wire::Header h;
        h.src_port = in.t.remote_port;
        h.dst_port = in.t.local_port;
        h.seq = Seq(in.seq);
        h.ack = Seq(in.ack);
        h.flags = in.flags;
        h.window = in.window;
        rte_mbuf* p = in.data.empty() ? nullptr : make_payload(in.data);
        eng.input(in.t, h, in.opt, p, now);
    }

    Out expect() {
        REQUIRE_FALSE(out.empty());
        Out o = out.front();
        out.pop_front();
        return o;
    }
    void expect_none() {
        if (!out.empty()) {
            FAIL("unexpected segment flags=" << int(out.front().h.flags)
                                             << " seq=" << out.front().h.seq.raw()
                                             << " len=" << out.front().data.size());
        }
    }
    void advance(uint64_t us) {
        now += us;
        eng.on_timer(now);
    }
    bool has_event(EventKind k) const {
        for (const auto& e : events) {
            if (e.kind == k) {
                return true;
            }
        }
        return false;
    }
    uint64_t counter(Counter c) const { return eng.counters()[static_cast<size_t>(c)]; }

    std::deque<Out> out;
    std::vector<Event> events;
    uint64_t now = 10'000'000;
    Engine eng;
};

inline wire::Options ts_opt(uint32_t tsval, uint32_t tsecr) {
    wire::Options o;
    o.timestamps = wire::Timestamps{tsval, tsecr};
    return o;
}

}  // namespace braid::test
