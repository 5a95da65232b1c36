// tcpstack engine, one RFC rule per TEST_CASE, driven by the scripted-segment harness with
// injected time. Fixtures put the engine in a given state first (smoltcp style).
#include <catch2/catch.hpp>

#include <string>

#include "tests/unit/tcpstack/harness.h"

using namespace braid::test;
using braid::tcp::wire::Options;

namespace {

constexpr uint32_t kIrs = 1000;  // the remote peer's ISN

struct PeerOptions {
    bool ts = false;
    bool sack = true;
    std::optional<uint8_t> ws{};
    uint16_t mss = 1460;
};

Options syn_options(const PeerOptions& p, uint32_t tsval = 100) {
    Options o;
    o.mss = p.mss;
    o.sack_permitted = p.sack;
    o.window_scale = p.ws;
    if (p.ts) {
        o.timestamps = wire::Timestamps{tsval, 0};
    }
    return o;
}

// LISTEN on port 80.
struct Listening : Harness {
    explicit Listening(ListenOptions lo = {}, EngineConfig cfg = test_config()) : Harness(cfg) {
        lo.port = kLocalPort;
        lid = *eng.listen(lo);
    }
    ListenerId lid;
};

// SYN received, SYN/ACK sent.
struct SynReceived : Listening {
    explicit SynReceived(PeerOptions p = {}, ListenOptions lo = {},
                         EngineConfig cfg = test_config())
        : Listening(lo, cfg), peer(p) {
        inject({flag::syn, kIrs, 0, 65535, syn_options(p)});
        Out sa = expect();
        REQUIRE(sa.h.flags == (flag::syn | flag::ack));
        iss = sa.h.seq.raw();
        synack = sa;
    }
    // Options the peer puts on a non-SYN segment.
    Options opt() {
        Options o;
        if (peer.ts) {
            o.timestamps = wire::Timestamps{ts_val, ts_ecr};
        }
        return o;
    }
    PeerOptions peer;
    uint32_t iss = 0;
    Out synack;
    uint32_t ts_val = 200;
    uint32_t ts_ecr = 0;
};

// ESTABLISHED (passive open), accepted.
struct Established : SynReceived {
    explicit Established(PeerOptions p = {}, ListenOptions lo = {},
                         EngineConfig cfg = test_config())
        : SynReceived(p, lo, cfg) {
        if (p.ts) {
            ts_ecr = synack.opt.timestamps->tsval;
        }
        inject({flag::ack, kIrs + 1, iss + 1, 65535, opt()});
        auto c = eng.accept(lid);
        REQUIRE(c.has_value());
        id = *c;
        REQUIRE(eng.state(id) == State::established);
        events.clear();
    }
    // Peer sends `data` at its next sequence number.
    void peer_send(const std::string& data, uint8_t flags = flag::ack) {
        inject({flags, rnxt, snxt, 65535, opt(), data});
        rnxt += static_cast<uint32_t>(data.size()) + ((flags & flag::fin) ? 1 : 0);
    }
    void peer_ack(uint32_t ack, uint16_t window = 65535, Options o = {}) {
        Options x = opt();
        x.sack = o.sack;
        x.sack_count = o.sack_count;
        inject({flag::ack, rnxt, ack, window, x});
    }
    void app_send(const std::string& data) {
        REQUIRE(eng.send(id, make_payload(data), now) == data.size());
        snxt_app += static_cast<uint32_t>(data.size());
    }
    ConnId id = 0;
    uint32_t rnxt = kIrs + 1;
    uint32_t snxt = 0;  // what the peer acknowledges by default
    uint32_t snxt_app = 0;
    void init_seq() { snxt = iss + 1; }
};

struct Est : Established {
    explicit Est(PeerOptions p = {}, ListenOptions lo = {}, EngineConfig cfg = test_config())
        : Established(p, lo, cfg) {
        init_seq();
    }
};

std::string pattern(size_t n, char seed = 'a') {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) {
        s[i] = static_cast<char>(seed + i % 23);
    }
    return s;
}

}  // namespace

// --- Opening -----------------------------------------------------------------------------------

TEST_CASE("RFC 9293 3.5: passive open answers SYN with SYN,ACK carrying the negotiated options") {
    SynReceived s({.ts = true, .sack = true, .ws = 7});
    CHECK(s.synack.h.ack.raw() == kIrs + 1);
    CHECK(s.synack.opt.mss == 1460);
    CHECK(s.synack.opt.sack_permitted);
    CHECK(s.synack.opt.window_scale == 7);
    REQUIRE(s.synack.opt.timestamps);
    CHECK(s.synack.opt.timestamps->tsecr == 100);
    CHECK(s.synack.h.window == 65535);  // never scaled in a SYN (RFC 7323 2.2)
    CHECK_FALSE(s.eng.accept(s.lid).has_value());
}

TEST_CASE("RFC 7323 2.2: options the SYN did not offer are not offered back") {
    SynReceived s({.ts = false, .sack = false, .ws = std::nullopt});
    CHECK_FALSE(s.synack.opt.sack_permitted);
    CHECK_FALSE(s.synack.opt.window_scale);
    CHECK_FALSE(s.synack.opt.timestamps);
}

TEST_CASE("RFC 9293 3.5: ACK of the SYN,ACK establishes and the listener accepts") {
    Established e;
    CHECK(e.eng.state(e.id) == State::established);
    CHECK_FALSE(e.eng.accept(e.lid).has_value());
}

TEST_CASE("RFC 9293 3.10.7.4: retransmitted SYN in SYN-RECEIVED gets the SYN,ACK again") {
    SynReceived s;
    s.inject({flag::syn, kIrs, 0, 65535, syn_options({})});
    Out o = s.expect();
    CHECK(o.h.flags == (flag::syn | flag::ack));
    CHECK(o.h.seq.raw() == s.iss);
}

TEST_CASE("RFC 9293 3.10.7.4: bad ACK in SYN-RECEIVED gets a RST") {
    SynReceived s;
    s.inject({flag::ack, kIrs + 1, s.iss + 5});
    Out o = s.expect();
    CHECK(o.h.flags == flag::rst);
    CHECK(o.h.seq.raw() == s.iss + 5);
    CHECK(s.counter(Counter::rst_sent_bad_ack) == 1);
}

TEST_CASE("RFC 9293 3.5: active open from a chosen address and port") {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    auto id = h.eng.connect({.tuple = t}, h.now);
    REQUIRE(id);
    Out syn = h.expect();
    CHECK(syn.h.flags == flag::syn);
    CHECK(syn.t == t);
    CHECK(syn.h.src_port == 50000);
    CHECK(syn.opt.mss == 1460);
    CHECK(syn.opt.sack_permitted);
    CHECK(syn.opt.window_scale == 7);
    REQUIRE(syn.opt.timestamps);
    CHECK(h.eng.state(*id) == State::syn_sent);
    Options o = syn_options({.ts = true, .ws = 2}, 555);
    o.timestamps->tsecr = syn.opt.timestamps->tsval;
    h.inject({flag::syn | flag::ack, 7000, syn.h.seq.raw() + 1, 65535, o, "", t});
    Out ack = h.expect();
    CHECK(ack.h.flags == flag::ack);
    CHECK(ack.h.ack.raw() == 7001);
    CHECK(ack.opt.timestamps->tsecr == 555);
    CHECK(h.eng.state(*id) == State::established);
    CHECK(h.has_event(EventKind::established));
    auto info = h.eng.describe(*id);
    CHECK(info->snd_wscale == 2);
    CHECK(info->snd_mss == 1460 - 12);
}

TEST_CASE("RFC 9293 3.5 figure 8: simultaneous open") {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    auto id = h.eng.connect({.tuple = t}, h.now);
    Out syn = h.expect();
    h.inject({flag::syn, 7000, 0, 65535, syn_options({}), "", t});
    Out sa = h.expect();
    CHECK(sa.h.flags == (flag::syn | flag::ack));
    CHECK(sa.h.seq == syn.h.seq);
    CHECK(sa.h.ack.raw() == 7001);
    CHECK(h.eng.state(*id) == State::syn_received);
    h.inject({flag::syn | flag::ack, 7000, syn.h.seq.raw() + 1, 65535, syn_options({}), "", t});
    // The SYN,ACK's SYN is old (seq < RCV.NXT): ACK it; its ACK completes the open.
    h.inject({flag::ack, 7001, syn.h.seq.raw() + 1, 65535, {}, "", t});
    CHECK(h.eng.state(*id) == State::established);
}

TEST_CASE("RFC 9293 3.10.7.4: no window update in SYN-RECEIVED, only the handshake's segments") {
    // The SYN,ACK advertised 64 KiB (unscaled), less than half the 256 KiB the buffer allows:
    // established, that gap would be worth a window update; before, it must wait.
    SynReceived s({.ws = 2});
    auto all = s.eng.describe_all();
    REQUIRE(all.size() == 1);
    REQUIRE(all[0].state == State::syn_received);
    s.eng.window_update(all[0].id, s.now);
    s.expect_none();
}

TEST_CASE("RFC 9293 3.10.7.3: RST with an acceptable ACK in SYN-SENT refuses the connection") {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    auto id = h.eng.connect({.tuple = t}, h.now);
    Out syn = h.expect();
    h.inject({flag::rst | flag::ack, 0, syn.h.seq.raw() + 1, 0, {}, "", t});
    CHECK_FALSE(h.eng.state(*id).has_value());
    REQUIRE_FALSE(h.events.empty());
    CHECK(h.events.back().kind == EventKind::reset);
    CHECK(h.events.back().reason == CloseReason::refused);
    CHECK(h.counter(Counter::rst_received_syn_sent) == 1);
}

TEST_CASE("RFC 9293 3.10.7.3: bad ACK in SYN-SENT gets a RST, the connection stays") {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    auto id = h.eng.connect({.tuple = t}, h.now);
    Out syn = h.expect();
    h.inject({flag::syn | flag::ack, 7000, syn.h.seq.raw() + 99, 65535, {}, "", t});
    Out rst = h.expect();
    CHECK(rst.h.flags == flag::rst);
    CHECK(rst.h.seq.raw() == syn.h.seq.raw() + 99);
    CHECK(h.eng.state(*id) == State::syn_sent);
}

TEST_CASE("RFC 9293 3.10.7.1: a segment for no connection and no listener gets a RST") {
    Harness h;
    h.inject({flag::syn, 5, 0});
    Out r = h.expect();
    CHECK(r.h.flags == (flag::rst | flag::ack));
    CHECK(r.h.seq.raw() == 0);
    CHECK(r.h.ack.raw() == 6);
    h.inject({flag::ack, 5, 77, 100, {}, "xyz"});
    r = h.expect();
    CHECK(r.h.flags == flag::rst);
    CHECK(r.h.seq.raw() == 77);
    h.inject({flag::rst, 5, 0});
    h.expect_none();
    CHECK(h.counter(Counter::rst_sent_no_listener) == 2);
}

TEST_CASE("RFC 6298 5.7: SYN retransmitted with back-off, connection given up after syn_retries") {
    EngineConfig cfg = test_config();
    cfg.syn_retries = 2;
    Harness h(cfg);
    FourTuple t{kLocal, kRemote, 50000, 443};
    auto id = h.eng.connect({.tuple = t}, h.now);
    h.expect();
    h.advance(999'999);
    h.expect_none();
    h.advance(1);
    CHECK(h.expect().h.flags == flag::syn);
    h.advance(1'999'999);
    h.expect_none();
    h.advance(1);
    CHECK(h.expect().h.flags == flag::syn);
    h.advance(4'000'000);
    CHECK_FALSE(h.eng.state(*id).has_value());
    CHECK(h.events.back().reason == CloseReason::syn_timeout);
}

// --- RFC 5961 ----------------------------------------------------------------------------------

TEST_CASE("RFC 5961 3.2: RST with SEG.SEQ = RCV.NXT resets the connection") {
    Est e;
    e.inject({flag::rst, e.rnxt, 0});
    CHECK_FALSE(e.eng.state(e.id).has_value());
    CHECK(e.events.back().kind == EventKind::reset);
    CHECK(e.events.back().reason == CloseReason::reset_received);
    CHECK(e.counter(Counter::rst_received_established) == 1);
}

TEST_CASE("RFC 9293 3.10.7.4: RST in window but not exact -> challenge ACK") {
    Est e;
    e.inject({flag::rst, e.rnxt + 100, 0});
    Out o = e.expect();
    CHECK(o.h.flags == flag::ack);
    CHECK(o.h.ack.raw() == e.rnxt);
    CHECK(e.eng.state(e.id) == State::established);
    CHECK(e.counter(Counter::challenge_acks) == 1);
}

TEST_CASE("RFC 5961 3.2: RST outside the window is dropped silently") {
    Est e;
    e.inject({flag::rst, e.rnxt + 1'000'000, 0});
    e.expect_none();
    CHECK(e.eng.state(e.id) == State::established);
    CHECK(e.counter(Counter::rst_ignored) == 1);
}

TEST_CASE("RFC 5961 4.2: SYN in a synchronized state -> challenge ACK") {
    Est e;
    e.inject({flag::syn, e.rnxt + 10, 0, 65535, syn_options({})});
    Out o = e.expect();
    CHECK(o.h.flags == flag::ack);
    CHECK(o.h.ack.raw() == e.rnxt);
    CHECK(e.eng.state(e.id) == State::established);
}

TEST_CASE("RFC 5961 5.2: ACK of data never sent -> ACK and drop") {
    Est e;
    e.inject({flag::ack, e.rnxt, e.snxt + 5000, 65535, {}, "data"});
    Out o = e.expect();
    CHECK(o.h.ack.raw() == e.rnxt);  // the data was not taken
    CHECK(e.counter(Counter::bad_ack) == 1);
    CHECK(e.eng.readable_bytes(e.id) == 0);
}

TEST_CASE("RFC 5961 7: challenge ACKs are rate limited per second") {
    EngineConfig cfg = test_config();
    cfg.challenge_acks_per_s = 2;
    Est e({}, {}, cfg);
    for (int i = 0; i < 5; ++i) {
        e.inject({flag::rst, e.rnxt + 100, 0});
    }
    CHECK(e.out.size() == 2);
    CHECK(e.counter(Counter::challenge_acks_limited) == 3);
    e.out.clear();
    e.advance(1'000'000);
    e.inject({flag::rst, e.rnxt + 100, 0});
    CHECK(e.out.size() == 1);
}

// --- Sequence checks, PAWS ---------------------------------------------------------------------

TEST_CASE("RFC 9293 3.10.7.4: unacceptable segment -> ACK and drop") {
    Est e;
    e.inject({flag::ack, e.rnxt + 300'000, e.snxt, 65535, {}, "far"});
    Out o = e.expect();
    CHECK(o.h.ack.raw() == e.rnxt);
    CHECK(e.counter(Counter::out_of_window) == 1);
    e.inject({flag::ack, e.rnxt - 10, e.snxt, 65535, {}, "old"});
    CHECK(e.expect().h.ack.raw() == e.rnxt);
    CHECK(e.counter(Counter::dup_segments) == 1);
}

TEST_CASE("RFC 7323 5.3: PAWS drops a segment with an old TSval and ACKs") {
    Est e({.ts = true});
    e.ts_val = 300;
    e.peer_send("fresh");
    e.advance(40'000);
    e.out.clear();
    e.ts_val = 250;  // older than TS.Recent (300)
    e.inject({flag::ack, e.rnxt, e.snxt, 65535, e.opt(), "stale"});
    Out o = e.expect();
    CHECK(o.h.ack.raw() == e.rnxt);
    CHECK(e.counter(Counter::paws_rejected) == 1);
    CHECK(take_bytes(e.eng.recv(e.id, e.now)) == "fresh");
}

TEST_CASE("RFC 7323 3.2: a non-RST segment without timestamps on a TS connection is dropped") {
    Est e({.ts = true});
    e.inject({flag::ack, e.rnxt, e.snxt, 65535, {}, "nots"});
    e.expect_none();
    CHECK(e.counter(Counter::no_timestamp_dropped) == 1);
    CHECK(e.eng.readable_bytes(e.id) == 0);
}

// --- Data, ACKs, windows -------------------------------------------------------------------------

TEST_CASE("RFC 9293 3.8.6.3: delayed ACK, at once on the second full segment, else after 40 ms") {
    Est e;
    e.peer_send(pattern(1460));
    e.expect_none();
    e.peer_send(pattern(1460));
    Out o = e.expect();
    CHECK(o.h.ack.raw() == e.rnxt);
    e.peer_send(pattern(100));
    e.expect_none();
    e.advance(39'999);
    e.expect_none();
    e.advance(1);
    CHECK(e.expect().h.ack.raw() == e.rnxt);
    CHECK(e.counter(Counter::delayed_acks) == 1);
    CHECK(take_bytes(e.eng.recv(e.id, e.now)) == pattern(1460) + pattern(1460) + pattern(100));
}

TEST_CASE(
    "RFC 2018 4: out-of-order data is SACKed, the newest block first; the hole fill is ACKed") {
    Est e;
    uint32_t base = e.rnxt;
    e.inject({flag::ack, base + 100, e.snxt, 65535, {}, pattern(100, 'b')});
    Out o1 = e.expect();
    CHECK(o1.h.ack.raw() == base);
    REQUIRE(o1.opt.sack_count == 1);
    CHECK(o1.opt.sack[0] == wire::SackBlock{Seq(base + 100), Seq(base + 200)});
    e.inject({flag::ack, base + 300, e.snxt, 65535, {}, pattern(100, 'd')});
    Out o2 = e.expect();
    REQUIRE(o2.opt.sack_count == 2);
    CHECK(o2.opt.sack[0] == wire::SackBlock{Seq(base + 300), Seq(base + 400)});
    CHECK(o2.opt.sack[1] == wire::SackBlock{Seq(base + 100), Seq(base + 200)});
    e.inject({flag::ack, base, e.snxt, 65535, {}, pattern(100, 'a')});
    Out o3 = e.expect();
    CHECK(o3.h.ack.raw() == base + 200);
    REQUIRE(o3.opt.sack_count == 1);
    CHECK(o3.opt.sack[0] == wire::SackBlock{Seq(base + 300), Seq(base + 400)});
    std::string got = take_bytes(e.eng.recv(e.id, e.now));
    CHECK(got == pattern(100, 'a') + pattern(100, 'b'));
}

TEST_CASE("RFC 9293 3.7.4: Nagle holds a small tail while data is unacknowledged") {
    Est e;
    e.app_send(pattern(3000));
    Out a = e.expect();
    Out b = e.expect();
    CHECK(a.data.size() == 1460);
    CHECK(b.data.size() == 1460);
    CHECK(a.h.seq.raw() == e.iss + 1);
    e.expect_none();
    e.peer_ack(e.iss + 1 + 2920);
    Out c = e.expect();
    CHECK(c.data == pattern(3000).substr(2920));
    CHECK((c.h.flags & flag::psh) != 0);
}

TEST_CASE("RFC 5681 / RFC 6928: initial window of 10 segments") {
    Est e;
    e.eng.set_nagle(e.id, false);
    e.app_send(pattern(20 * 1460));
    CHECK(e.out.size() == 10);
}

TEST_CASE("RFC 9293 3.8.6.1: zero window -> probes with back-off, data resumes when it opens") {
    Est e;
    e.peer_ack(e.snxt, 0);
    e.app_send("hello");
    e.expect_none();
    e.advance(1'000'000);
    Out p = e.expect();
    CHECK(p.data.empty());
    CHECK(p.h.seq.raw() == e.iss);  // SND.UNA - 1: forces an ACK carrying the window
    CHECK(e.counter(Counter::zero_window_probes) == 1);
    e.advance(1'999'999);
    e.expect_none();
    e.advance(1);
    e.expect();
    for (int i = 0; i < 20; ++i) {  // a peer answering probes is never timed out
        e.advance(60'000'000);
        e.peer_ack(e.snxt, 0);
    }
    CHECK(e.eng.state(e.id) == State::established);
    e.out.clear();
    e.peer_ack(e.snxt, 1000);
    Out d = e.expect();
    CHECK(d.data == "hello");
}

TEST_CASE("Engine::probe: the persist probe on demand (SND.UNA - 1, no data)") {
    Est e;
    e.app_send("hello");
    e.expect();
    e.peer_ack(e.snxt + 5, 0);
    e.expect_none();  // nothing queued: the engine's own persist timer does not run
    CHECK(e.eng.probe(e.id, e.now));
    Out p = e.expect();
    CHECK(p.data.empty());
    CHECK(p.h.flags == flag::ack);
    CHECK(p.h.seq.raw() == e.snxt + 4);  // SND.UNA - 1
    e.expect_none();
    CHECK_FALSE(e.eng.probe(e.id + 1000, e.now));  // no such connection
    e.eng.abort(e.id, e.now);
    e.out.clear();
    CHECK_FALSE(e.eng.probe(e.id, e.now));
    e.expect_none();
}

TEST_CASE("Backpressure: a smaller receive buffer closes the window, accepted data is kept") {
    Est e;
    e.eng.set_rcv_buf(e.id, 4000, e.now);
    e.peer_send(pattern(1460));
    e.peer_send(pattern(1460));
    Out a = e.expect();
    // The edge already advertised (64 KiB) still stands: data inside it is accepted.
    e.peer_send(pattern(1460));
    e.peer_send(pattern(1460));
    Out b = e.expect();
    CHECK(b.h.ack.raw() == e.rnxt);
    CHECK(e.eng.readable_bytes(e.id) == 4 * 1460);
    // The window the peer sees shrinks with the buffered data, never below zero.
    CHECK(b.h.window < a.h.window);
    auto info = e.eng.describe(e.id);
    CHECK(info->rcv_buffered == 4 * 1460);
    // Reading frees space; growing the limit opens the window again.
    std::string got = take_bytes(e.eng.recv(e.id, e.now));
    CHECK(got.size() == 4 * 1460);
    e.out.clear();
    e.eng.set_rcv_buf(e.id, 1 << 20, e.now);
    e.peer_send(pattern(1460));
    e.peer_send(pattern(1460));
    Out c = e.expect();
    CHECK(c.h.window > b.h.window);
}

TEST_CASE("Receive buffer full: window goes to zero, data beyond the edge is refused") {
    Established e({}, ListenOptions{.rcv_buf = 3000});
    e.init_seq();
    CHECK(e.synack.h.window == 3000);
    e.peer_send(pattern(1460));
    e.peer_send(pattern(1460));
    Out a = e.expect();
    CHECK(a.h.window == 80);
    e.inject({flag::ack, e.rnxt, e.snxt, 65535, {}, pattern(500)});
    Out b = e.expect();
    CHECK(b.h.ack.raw() == e.rnxt + 80);  // only what the window allowed
    CHECK(b.h.window == 0);
    CHECK(e.eng.readable_bytes(e.id) == 3000);
}

// --- Retransmission ------------------------------------------------------------------------------

TEST_CASE("RFC 6298 5.5: RTO retransmits the first unacknowledged segment and doubles") {
    Est e;
    e.app_send(pattern(1000));
    Out first = e.expect();
    e.advance(999'999);
    e.expect_none();
    e.advance(1);
    Out r1 = e.expect();
    CHECK(r1.h.seq == first.h.seq);
    CHECK(r1.data == first.data);
    CHECK(e.counter(Counter::rtos) == 1);
    e.advance(1'999'999);
    e.expect_none();
    e.advance(1);
    CHECK(e.expect().h.seq == first.h.seq);
    CHECK(e.eng.describe(e.id)->rto_us == 4'000'000);
    // Karn: the ACK of a retransmitted segment gives no RTT sample; RTO is kept backed off...
    e.peer_ack(e.iss + 1 + 1000);
    CHECK(e.eng.describe(e.id)->srtt_us == 0);
    CHECK(e.eng.describe(e.id)->snd_una == e.iss + 1001);
}

TEST_CASE("RFC 6298 2.2: first RTT sample sets SRTT = R, RTTVAR = R/2, RTO floored at 1 s") {
    Est e;
    e.app_send(pattern(100));
    e.expect();
    e.now += 50'000;
    e.peer_ack(e.iss + 101);
    auto i = e.eng.describe(e.id);
    CHECK(i->srtt_us == 50'000);
    CHECK(i->rttvar_us == 25'000);
    CHECK(i->rto_us == 1'000'000);
}

TEST_CASE("RFC 7323 4.1: RTT measured from TSecr") {
    Est e({.ts = true});
    e.app_send(pattern(100));
    Out d = e.expect();
    // The handshake gave the first sample (0 ms on the 1 ms TS clock, taken as 1 µs).
    uint32_t srtt0 = e.eng.describe(e.id)->srtt_us;
    CHECK(srtt0 == 1);
    e.now += 80'000;
    e.ts_ecr = d.opt.timestamps->tsval;
    e.peer_ack(e.iss + 101);
    CHECK(e.eng.describe(e.id)->srtt_us == (7 * srtt0 + 80'000) / 8);
}

TEST_CASE("RFC 6298 5: R2 exhausted closes the connection with a timeout") {
    EngineConfig cfg = test_config();
    cfg.max_retransmits = 3;
    Est e({}, {}, cfg);
    e.app_send(pattern(10));
    for (int i = 0; i < 10; ++i) {
        e.advance(60'000'000);
    }
    CHECK_FALSE(e.eng.state(e.id).has_value());
    CHECK(e.events.back().reason == CloseReason::timeout);
    CHECK(e.counter(Counter::timeouts) == 1);
}

TEST_CASE("RFC 6675 5: SACK recovery retransmits the first lost segment on the 3rd dup ACK") {
    Est e;
    e.eng.set_nagle(e.id, false);
    e.app_send(pattern(10 * 1460));
    REQUIRE(e.out.size() == 10);
    e.out.clear();
    uint32_t b = e.iss + 1;
    // Segment 0 lost; 1, 2, 3 arrive and are SACKed.
    for (int k = 1; k <= 3; ++k) {
        Options o;
        o.sack_count = 1;
        o.sack[0] = {Seq(b + 1460), Seq(b + 1460 * (k + 1))};
        e.peer_ack(b, 65535, o);
    }
    REQUIRE_FALSE(e.out.empty());
    Out r = e.expect();
    CHECK(r.h.seq.raw() == b);
    CHECK(r.data.size() == 1460);
    CHECK(e.counter(Counter::sack_recoveries) == 1);
    CHECK(e.counter(Counter::fast_retransmits) == 1);
    CHECK(e.eng.describe(e.id)->in_recovery);
    // Full ACK ends recovery, cwnd = ssthresh.
    e.peer_ack(b + 10 * 1460);
    auto i = e.eng.describe(e.id);
    CHECK_FALSE(i->in_recovery);
    CHECK(i->cwnd == i->ssthresh);
}

TEST_CASE(
    "RFC 6675 4: a hole with more than 2 SMSS SACKed above counts as lost before 3 dup ACKs") {
    Est e;
    e.eng.set_nagle(e.id, false);
    e.app_send(pattern(10 * 1460));
    e.out.clear();
    uint32_t b = e.iss + 1;
    Options o;
    o.sack_count = 1;
    o.sack[0] = {Seq(b + 1460), Seq(b + 5 * 1460)};
    e.peer_ack(b, 65535, o);
    Out r = e.expect();
    CHECK(r.h.seq.raw() == b);
    CHECK(e.counter(Counter::sack_recoveries) == 1);
}

TEST_CASE(
    "RFC 6582 3.2: NewReno without SACK retransmits on the 3rd dup ACK and after partial ACKs") {
    Est e({.sack = false});
    e.eng.set_nagle(e.id, false);
    e.app_send(pattern(10 * 1460));
    e.out.clear();
    uint32_t b = e.iss + 1;
    e.peer_ack(b);
    e.peer_ack(b);
    e.expect_none();
    e.peer_ack(b);
    Out r = e.expect();
    CHECK(r.h.seq.raw() == b);
    CHECK(e.counter(Counter::newreno_recoveries) == 1);
    e.out.clear();
    // Partial ACK: segment 1 also lost.
    e.peer_ack(b + 1460);
    Out r2 = e.expect();
    CHECK(r2.h.seq.raw() == b + 1460);
    CHECK(e.eng.describe(e.id)->in_recovery);
    e.peer_ack(b + 10 * 1460);
    CHECK_FALSE(e.eng.describe(e.id)->in_recovery);
}

// --- Closing -----------------------------------------------------------------------------------

TEST_CASE(
    "RFC 9293 3.6: active close FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT -> CLOSED after 2 MSL") {
    EngineConfig cfg = test_config();
    cfg.msl_us = 1'000'000;
    Est e({}, {}, cfg);
    e.eng.close(e.id, e.now);
    Out fin = e.expect();
    CHECK(fin.h.flags == (flag::fin | flag::ack));
    CHECK(e.eng.state(e.id) == State::fin_wait_1);
    e.peer_ack(e.iss + 2);
    CHECK(e.eng.state(e.id) == State::fin_wait_2);
    e.snxt = e.iss + 2;
    e.peer_send("", flag::fin | flag::ack);
    Out a = e.expect();
    CHECK(a.h.ack.raw() == e.rnxt);
    CHECK(e.eng.state(e.id) == State::time_wait);
    CHECK(e.has_event(EventKind::closed));
    // A retransmitted FIN is ACKed again.
    e.inject({flag::fin | flag::ack, e.rnxt - 1, e.snxt});
    CHECK(e.expect().h.ack.raw() == e.rnxt);
    e.advance(2'000'000);
    CHECK_FALSE(e.eng.state(e.id).has_value());
    CHECK(e.eng.connection_count() == 0);
}

TEST_CASE("RFC 9293 3.6: passive close CLOSE-WAIT -> LAST-ACK -> CLOSED") {
    Est e;
    e.peer_send("bye", flag::fin | flag::ack);
    Out a = e.expect();
    CHECK(a.h.ack.raw() == e.rnxt);
    CHECK(e.eng.state(e.id) == State::close_wait);
    CHECK(take_bytes(e.eng.recv(e.id, e.now)) == "bye");
    CHECK(e.eng.peer_closed(e.id));
    // Half-close: we can still send.
    e.app_send("reply");
    CHECK(e.expect().data == "reply");
    e.eng.shutdown_write(e.id, e.now);
    Out fin = e.expect();
    CHECK((fin.h.flags & flag::fin) != 0);
    CHECK(e.eng.state(e.id) == State::last_ack);
    e.peer_ack(e.iss + 1 + 5 + 1);
    CHECK_FALSE(e.eng.state(e.id).has_value());
    CHECK(e.events.back().kind == EventKind::closed);
    CHECK(e.events.back().reason == CloseReason::normal);
}

TEST_CASE("RFC 9293 3.6: simultaneous close FIN-WAIT-1 -> CLOSING -> TIME-WAIT") {
    Est e;
    e.eng.shutdown_write(e.id, e.now);
    e.expect();
    e.peer_send("", flag::fin | flag::ack);  // its FIN does not ACK ours
    e.expect();
    CHECK(e.eng.state(e.id) == State::closing);
    e.peer_ack(e.iss + 2);
    CHECK(e.eng.state(e.id) == State::time_wait);
}

TEST_CASE("RFC 9293 3.6: FIN that also ACKs ours goes FIN-WAIT-1 -> TIME-WAIT") {
    Est e;
    e.eng.shutdown_write(e.id, e.now);
    e.expect();
    e.snxt = e.iss + 2;
    e.peer_send("", flag::fin | flag::ack);
    CHECK(e.eng.state(e.id) == State::time_wait);
}

TEST_CASE("RFC 9293 3.10.4: abort sends RST and frees the connection") {
    Est e;
    e.eng.abort(e.id, e.now);
    Out r = e.expect();
    CHECK(r.h.flags == flag::rst);
    CHECK(r.h.seq.raw() == e.iss + 1);
    CHECK_FALSE(e.eng.state(e.id).has_value());
    CHECK(e.events.back().reason == CloseReason::aborted);
}

TEST_CASE(
    "FIN/RST race: after our FIN only an exact RST resets, others are dropped or challenged") {
    Est e;
    e.eng.close(e.id, e.now);
    e.expect();
    e.inject({flag::rst, e.rnxt - 1, 0});  // below RCV.NXT: outside the window, dropped
    e.expect_none();
    CHECK(e.eng.state(e.id) == State::fin_wait_1);
    e.inject({flag::rst, e.rnxt + 1, 0});  // in window, not exact: challenge ACK
    CHECK(e.expect().h.flags == flag::ack);
    e.inject({flag::rst, e.rnxt, 0});
    CHECK_FALSE(e.eng.state(e.id).has_value());
}

TEST_CASE("RFC 9293 3.6.1: a SYN with a higher sequence number reuses a TIME-WAIT tuple") {
    Est e;
    e.eng.close(e.id, e.now);
    e.expect();
    e.snxt = e.iss + 2;
    e.peer_send("", flag::fin | flag::ack);
    e.expect();
    REQUIRE(e.eng.state(e.id) == State::time_wait);
    e.inject({flag::syn, e.rnxt + 100'000, 0, 65535, syn_options({})});
    Out sa = e.expect();
    CHECK(sa.h.flags == (flag::syn | flag::ack));
    CHECK(sa.h.ack.raw() == e.rnxt + 100'001);
    CHECK(e.counter(Counter::timewait_reused) == 1);
    CHECK_FALSE(e.eng.state(e.id).has_value());
}

// --- Listener features -------------------------------------------------------------------------

TEST_CASE(
    "RFC 4987: SYN cookies when the half-open queue is full, connection rebuilt from the ACK") {
    Listening l(ListenOptions{.backlog = 1});
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({})});
    Out first = l.expect();
    CHECK(l.eng.connection_count() == 1);
    FourTuple t2 = tuple(40001);
    l.inject({flag::syn, 5000, 0, 65535, syn_options({.ts = true, .ws = 6}, 900), "", t2});
    Out sa = l.expect();
    CHECK(sa.h.flags == (flag::syn | flag::ack));
    CHECK(l.eng.connection_count() == 1);  // no state for the cookie SYN
    CHECK(l.counter(Counter::syn_cookies_sent) == 1);
    Options o;
    // A TSval "before" 0 in serial arithmetic: TS.Recent must come from this segment.
    o.timestamps = wire::Timestamps{0x90000001u, sa.opt.timestamps->tsval};
    l.inject({flag::ack, 5001, sa.h.seq.raw() + 1, 1000, o, "hello", t2});
    CHECK(l.counter(Counter::syn_cookies_validated) == 1);
    auto c = l.eng.accept(l.lid);
    REQUIRE(c);
    CHECK(l.eng.state(*c) == State::established);
    auto info = l.eng.describe(*c);
    CHECK(info->snd_wscale == 6);
    CHECK(info->ts_ok);
    CHECK(info->snd_wnd == 1000u << 6);
    CHECK(take_bytes(l.eng.recv(*c, l.now)) == "hello");
    // A forged ACK is refused with a RST.
    l.out.clear();
    l.inject({flag::ack, 7001, 12345, 1000, {}, "", tuple(40002)});
    CHECK(l.expect().h.flags == flag::rst);
    CHECK(l.counter(Counter::syn_cookies_failed) == 1);
}

TEST_CASE("RFC 4987: a listener without a backlog of its own takes the engine's default") {
    EngineConfig cfg = test_config();
    cfg.default_backlog = 1;  // tcp.syn_backlog in braid's config
    Listening l(ListenOptions{}, cfg);
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({})});
    l.expect();
    CHECK(l.counter(Counter::syn_cookies_sent) == 0);
    l.inject({flag::syn, 5000, 0, 65535, syn_options({}), "", tuple(40001)});
    CHECK(l.expect().h.flags == (flag::syn | flag::ack));
    CHECK(l.counter(Counter::syn_cookies_sent) == 1);  // the second half-open one
    CHECK(l.eng.connection_count() == 1);
}

TEST_CASE("RFC 8803 / RFC 7413: listener that asks keeps SYN data, delivered after ESTABLISHED") {
    Listening l(ListenOptions{.accept_syn_data = true});
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({}), "convert-tlv"});
    Out sa = l.expect();
    CHECK(sa.h.ack.raw() == kIrs + 1 + 11);  // the SYN,ACK covers the data
    CHECK(l.events.empty());
    l.inject({flag::ack, kIrs + 12, sa.h.seq.raw() + 1});
    auto c = l.eng.accept(l.lid);
    REQUIRE(c);
    CHECK(l.has_event(EventKind::readable));
    CHECK(take_bytes(l.eng.recv(*c, l.now)) == "convert-tlv");
    CHECK(l.counter(Counter::syn_data_accepted) == 11);
}

// --- Deferred SYN (RFC 8803 0-RTT: the converter answers only once N6 has) --------------------

namespace {
struct Deferring : Listening {
    explicit Deferring(uint32_t backlog = 128, EngineConfig cfg = test_config())
        : Listening(ListenOptions{.defer_syn_data = true, .backlog = backlog}, cfg) {}
    // The client's SYN with `data`; returns the connection the syn_data event names.
    ConnId syn(const std::string& data, uint16_t port = kRemotePort) {
        events.clear();
        inject({flag::syn, kIrs, 0, 65535, syn_options({.ts = true}), data, tuple(port)});
        REQUIRE(events.size() == 1);
        REQUIRE(events[0].kind == EventKind::syn_data);
        CHECK(events[0].listener == lid);
        return events[0].conn;
    }
};
}  // namespace

TEST_CASE("RFC 8803 0-RTT: a deferring listener holds a SYN with data unanswered") {
    Deferring l;
    ConnId c = l.syn("convert-tlv");
    l.expect_none();  // no SYN/ACK until the application answers
    CHECK(l.eng.state(c) == State::syn_received);
    CHECK(l.eng.syn_deferred(c));
    CHECK(l.eng.syn_data_len(c) == 11);
    CHECK(take_bytes(l.eng.take_syn_data(c)) == "convert-tlv");
    CHECK(l.eng.take_syn_data(c) == nullptr);  // handed over once
    CHECK(l.counter(Counter::syn_data_deferred) == 1);
    CHECK_FALSE(l.eng.accept(l.lid).has_value());
}

TEST_CASE("RFC 8803 0-RTT: answer_syn sends a SYN/ACK that acknowledges all SYN data") {
    Deferring l;
    ConnId c = l.syn("convert-tlv");
    l.now += 30'000;  // the N6 round trip
    REQUIRE(l.eng.answer_syn(c, l.now));
    Out sa = l.expect();
    CHECK(sa.h.flags == (flag::syn | flag::ack));
    CHECK(sa.h.ack.raw() == kIrs + 1 + 11);
    REQUIRE(sa.opt.timestamps);
    CHECK(sa.opt.timestamps->tsecr == 100);
    CHECK_FALSE(l.eng.syn_deferred(c));
    CHECK_FALSE(l.eng.answer_syn(c, l.now));  // once
    CHECK(l.counter(Counter::syn_deferred_answered) == 1);
    // The third ACK establishes; the SYN data is not in the stream, what follows it is.
    Options o;
    o.timestamps = wire::Timestamps{101, sa.opt.timestamps->tsval};
    l.inject({flag::ack, kIrs + 12, sa.h.seq.raw() + 1, 65535, o});
    REQUIRE(l.eng.accept(l.lid) == c);
    CHECK(l.eng.state(c) == State::established);
    CHECK(l.eng.readable_bytes(c) == 0);
    l.inject({flag::ack | flag::psh, kIrs + 12, sa.h.seq.raw() + 1, 65535, o, "after"});
    CHECK(take_bytes(l.eng.recv(c, l.now)) == "after");
    // The SYN/ACK is retransmitted on its own RTO once sent (normal SYN-RECEIVED from here).
    CHECK(take_bytes(l.eng.take_syn_data(c)) == "convert-tlv");
}

TEST_CASE("RFC 8803 0-RTT: the unanswered SYN/ACK is retransmitted after answer_syn") {
    Deferring l;
    ConnId c = l.syn("x");
    REQUIRE(l.eng.answer_syn(c, l.now));
    Out first = l.expect();
    l.advance(1'000'000);
    Out again = l.expect();
    CHECK(again.h.flags == (flag::syn | flag::ack));
    CHECK(again.h.seq == first.h.seq);
    CHECK(again.h.ack.raw() == kIrs + 2);
}

TEST_CASE("RFC 8803 0-RTT: retransmitted SYNs of a deferred SYN are absorbed") {
    Deferring l;
    ConnId c = l.syn("convert-tlv");
    l.events.clear();
    l.advance(1'000'000);
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({.ts = true}, 101), "convert-tlv"});
    l.advance(2'000'000);
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({.ts = true}, 102), "convert-tlv"});
    l.expect_none();
    CHECK(l.events.empty());  // no second connection, no second syn_data
    CHECK(l.eng.connection_count() == 1);
    CHECK(l.counter(Counter::syn_retransmits_absorbed) == 2);
    CHECK(l.eng.syn_deferred(c));
    CHECK(l.eng.syn_data_len(c) == 11);
}

TEST_CASE("RFC 8803 0-RTT: refuse_syn frees the state without a segment") {
    Deferring l;
    ConnId c = l.syn("not-convert");
    l.events.clear();
    l.eng.refuse_syn(c, l.now);
    l.expect_none();
    CHECK_FALSE(l.eng.state(c).has_value());
    CHECK(l.eng.connection_count() == 0);
    REQUIRE(l.events.size() == 1);
    CHECK(l.events[0].kind == EventKind::closed);
    CHECK(l.events[0].reason == CloseReason::refused);
    CHECK(l.counter(Counter::syn_deferred_refused) == 1);
    // The half-open slot is free again: a new SYN is deferred, not cookied.
    ConnId d = l.syn("again", kRemotePort + 1);
    CHECK(l.eng.syn_deferred(d));
}

TEST_CASE("RFC 8803 0-RTT: abort of a deferred SYN answers it with RST,ACK covering its data") {
    Deferring l;
    ConnId c = l.syn("abc");
    l.eng.abort(c, l.now);
    Out r = l.expect();
    CHECK(r.h.flags == (flag::rst | flag::ack));
    CHECK(r.h.ack.raw() == kIrs + 1 + 3);
    CHECK_FALSE(l.eng.state(c).has_value());
}

TEST_CASE("RFC 8803 0-RTT: a deferred SYN nobody answers is dropped after its deadline") {
    EngineConfig cfg = test_config();
    cfg.syn_defer_timeout_us = 5'000'000;
    Deferring l(128, cfg);
    ConnId c = l.syn("abc");
    l.events.clear();
    l.advance(4'999'999);
    CHECK(l.eng.syn_deferred(c));
    l.advance(1);
    l.expect_none();
    CHECK_FALSE(l.eng.state(c).has_value());
    REQUIRE(l.events.size() == 1);
    CHECK(l.events[0].kind == EventKind::closed);
    CHECK(l.events[0].reason == CloseReason::syn_timeout);
    CHECK(l.counter(Counter::syn_deferred_timeouts) == 1);
}

TEST_CASE("RFC 8803 0-RTT: a peer RST ends a deferred SYN (reset event)") {
    Deferring l;
    ConnId c = l.syn("abc");
    l.events.clear();
    l.inject({flag::rst, kIrs + 4, 0});
    CHECK_FALSE(l.eng.state(c).has_value());
    CHECK(l.has_event(EventKind::reset));
}

TEST_CASE("RFC 8803 0-RTT: under SYN-cookie pressure SYNs with data are dropped and counted") {
    Deferring l(1);
    ConnId c = l.syn("first");
    CHECK(l.eng.syn_deferred(c));
    l.events.clear();
    l.inject({flag::syn, 5000, 0, 65535, syn_options({.ts = true}), "second", tuple(40001)});
    l.expect_none();  // neither a SYN/ACK nor a cookie: a cookie could not ack the data
    CHECK(l.events.empty());
    CHECK(l.eng.connection_count() == 1);
    CHECK(l.counter(Counter::syn_data_refused_pressure) == 1);
    CHECK(l.counter(Counter::syn_cookies_sent) == 0);
    // A SYN without data still gets its cookie SYN/ACK.
    l.inject({flag::syn, 6000, 0, 65535, syn_options({.ts = true}), "", tuple(40002)});
    Out sa = l.expect();
    CHECK(sa.h.flags == (flag::syn | flag::ack));
    CHECK(l.counter(Counter::syn_cookies_sent) == 1);
}

TEST_CASE("RFC 8803 0-RTT: a SYN without data on a deferring listener is answered at once") {
    Deferring l;
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({})});
    Out sa = l.expect();
    CHECK(sa.h.flags == (flag::syn | flag::ack));
    CHECK(sa.h.ack.raw() == kIrs + 1);
    CHECK(l.events.empty());
}

TEST_CASE("RFC 9293 3.10.7.2: SYN data is not acknowledged by a listener that did not ask") {
    Listening l;
    l.inject({flag::syn, kIrs, 0, 65535, syn_options({}), "data"});
    CHECK(l.expect().h.ack.raw() == kIrs + 1);
}

TEST_CASE("MSS clamp: a listener advertises at most its clamp (fits GTP-U)") {
    SynReceived s({}, ListenOptions{.mss_clamp = 1380});
    CHECK(s.synack.opt.mss == 1380);
    Harness h;
    h.eng.connect({.tuple = tuple(), .mss_clamp = 1300}, h.now);
    CHECK(h.expect().opt.mss == 1300);
}

TEST_CASE("Connection limits per worker and per source address are counted refusals") {
    EngineConfig cfg = test_config();
    cfg.max_connections = 3;
    cfg.max_per_source = 2;
    Listening l({}, cfg);
    l.inject({flag::syn, 1, 0, 65535, {}, "", tuple(1)});
    l.inject({flag::syn, 1, 0, 65535, {}, "", tuple(2)});
    l.inject({flag::syn, 1, 0, 65535, {}, "", tuple(3)});
    CHECK(l.counter(Counter::refused_source_limit) == 1);
    l.inject({flag::syn, 1, 0, 65535, {}, "", tuple(4, IpAddr::v4(198, 18, 0, 3))});
    l.inject({flag::syn, 1, 0, 65535, {}, "", tuple(5, IpAddr::v4(198, 18, 0, 4))});
    CHECK(l.counter(Counter::refused_worker_limit) == 1);
    CHECK(l.eng.connection_count() == 3);
}

TEST_CASE("RFC 9293 3.8.4: keep-alive probes an idle connection, closes after unanswered probes") {
    EngineConfig cfg = test_config();
    cfg.keepalive = true;
    cfg.keepalive_idle_us = 10'000'000;
    cfg.keepalive_interval_us = 1'000'000;
    cfg.keepalive_probes = 2;
    Est e({}, {}, cfg);
    e.advance(10'000'000);
    Out p = e.expect();
    CHECK(p.h.seq.raw() == e.iss);
    CHECK(p.data.empty());
    e.peer_ack(e.snxt);  // answered: back to idle
    e.advance(9'000'000);
    e.expect_none();
    e.advance(1'000'000);
    e.expect();
    e.advance(1'000'000);
    e.expect();
    e.advance(1'000'000);
    CHECK_FALSE(e.eng.state(e.id).has_value());
    CHECK(e.events.back().reason == CloseReason::keepalive_timeout);
    CHECK(e.counter(Counter::keepalive_probes) == 3);
}

TEST_CASE("describe() and connections_by_state report the connection") {
    Est e;
    auto all = e.eng.describe_all();
    REQUIRE(all.size() == 1);
    CHECK(all[0].state == State::established);
    CHECK(all[0].cwnd == 14600);
    CHECK(e.eng.connections_by_state()[static_cast<size_t>(State::established)] == 1);
    CHECK(to_string(State::fin_wait_2) == "FIN-WAIT-2");
}

TEST_CASE("RFC 9293 3.10.4: close in SYN-RECEIVED queues the FIN until ESTABLISHED") {
    SynReceived s;
    auto id = s.eng.describe_all().at(0).id;
    s.eng.close(id, s.now);
    s.expect_none();  // our SYN is not acknowledged: no FIN yet
    s.advance(1'000'000);
    CHECK(s.expect().h.flags == (flag::syn | flag::ack));  // the SYN,ACK is what gets retransmitted
    s.inject({flag::ack, kIrs + 1, s.iss + 1});
    Out fin = s.expect();
    CHECK(fin.h.flags == (flag::fin | flag::ack));
    CHECK(fin.h.seq.raw() == s.iss + 1);
    CHECK(s.eng.state(id) == State::fin_wait_1);
}

TEST_CASE("RFC 9293 3.10.7.4: with a zero receive window the ACK of a data segment is processed") {
    Established e({}, ListenOptions{.rcv_buf = 2920});
    e.init_seq();
    e.peer_send(pattern(1460));
    e.peer_send(pattern(1460));
    CHECK(e.expect().h.window == 0);
    e.app_send("ping");
    Out d = e.expect();
    CHECK(d.data == "ping");
    // The peer's next segment carries data we cannot take and the ACK of "ping".
    e.inject({flag::ack, e.rnxt, e.snxt + 4, 65535, {}, pattern(100)});
    Out a = e.expect();
    CHECK(a.h.ack.raw() == e.rnxt);  // data refused
    CHECK(a.h.window == 0);
    CHECK(e.eng.describe(e.id)->snd_una == e.snxt + 4);  // ACK taken
}

TEST_CASE("RFC 7323 2.3: a window scale above 14 is used as 14") {
    Est e({.ws = 20});
    CHECK(e.eng.describe(e.id)->snd_wscale == 14);
    e.peer_ack(e.snxt, 1);
    CHECK(e.eng.describe(e.id)->snd_wnd == 1u << 14);
}

TEST_CASE("RFC 9293 3.7.1: without an MSS option the send MSS is 536 (IPv4)") {
    Listening l;
    Options o;
    l.inject({flag::syn, kIrs, 0, 65535, o, "", tuple(40123)});
    Out sa = l.expect();
    l.inject({flag::ack, kIrs + 1, sa.h.seq.raw() + 1, 65535, {}, "", tuple(40123)});
    auto c = l.eng.accept(l.lid);
    REQUIRE(c);
    CHECK(l.eng.describe(*c)->snd_mss == 536);
}

TEST_CASE("RFC 2018 / RFC 6675: SACK scoreboard ignores blocks outside what was sent") {
    Est e;
    e.eng.set_nagle(e.id, false);
    e.app_send(pattern(4 * 1460));
    e.out.clear();
    uint32_t b = e.iss + 1;
    Options o;
    o.sack_count = 2;
    o.sack[0] = {Seq(b + 100'000), Seq(b + 200'000)};  // beyond SND.MAX
    o.sack[1] = {Seq(b - 5000), Seq(b - 100)};         // below SND.UNA (D-SACK-like)
    for (int i = 0; i < 2; ++i) {
        e.peer_ack(b, 65535, o);
    }
    e.expect_none();
    CHECK_FALSE(e.eng.describe(e.id)->in_recovery);
}

TEST_CASE("RFC 4987: a SYN cookie without timestamps offers neither window scale nor SACK") {
    Listening l(ListenOptions{.backlog = 0});
    l.inject({flag::syn, 5000, 0, 65535, syn_options({.ts = false, .sack = true, .ws = 5})});
    Out sa = l.expect();
    CHECK(l.counter(Counter::syn_cookies_sent) == 1);
    CHECK_FALSE(sa.opt.window_scale);
    CHECK_FALSE(sa.opt.sack_permitted);
    CHECK_FALSE(sa.opt.timestamps);
    CHECK(sa.opt.mss == 1460);
    l.inject({flag::ack, 5001, sa.h.seq.raw() + 1, 5000});
    auto c = l.eng.accept(l.lid);
    REQUIRE(c);
    auto i = l.eng.describe(*c);
    CHECK(i->snd_wscale == 0);
    CHECK_FALSE(i->sack_ok);
    CHECK(i->snd_wnd == 5000);
    CHECK(i->snd_mss == 1460);  // MSS table entry for 1460
}

TEST_CASE("RFC 4987: an ACK with a stale SYN cookie (older than two slots) is refused") {
    Listening l(ListenOptions{.backlog = 0});
    l.inject({flag::syn, 5000, 0, 65535, syn_options({})});
    Out sa = l.expect();
    l.now += 200'000'000;  // > 128 s
    l.inject({flag::ack, 5001, sa.h.seq.raw() + 1, 5000});
    CHECK(l.expect().h.flags == flag::rst);
    CHECK(l.counter(Counter::syn_cookies_failed) == 1);
    CHECK(l.eng.connection_count() == 0);
}

TEST_CASE("RFC 7323 5.5: TS.Recent older than 24 days idle no longer rejects segments") {
    Est e({.ts = true});
    e.ts_val = 1'000'000;
    e.peer_send("a");
    e.advance(40'000);
    e.out.clear();
    e.now += uint64_t{25} * 86400 * 1'000'000;
    e.ts_val = 5;  // the peer's clock wrapped or restarted
    e.peer_send("b");
    CHECK(e.counter(Counter::paws_rejected) == 0);
    CHECK(take_bytes(e.eng.recv(e.id, e.now)) == "ab");
}

TEST_CASE("RFC 9293 3.7.1: without an MSS option the send MSS is 1220 over IPv6") {
    Harness h;
    ListenOptions lo;
    lo.port = kLocalPort;
    auto lid = h.eng.listen(lo);
    IpAddr l6, r6;
    l6.family = r6.family = 6;
    l6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    r6.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    FourTuple t{l6, r6, kLocalPort, 40000};
    h.inject({flag::syn, kIrs, 0, 65535, {}, "", t});
    Out sa = h.expect();
    CHECK(sa.t == t);
    h.inject({flag::ack, kIrs + 1, sa.h.seq.raw() + 1, 65535, {}, "", t});
    auto c = h.eng.accept(*lid);
    REQUIRE(c);
    CHECK(h.eng.describe(*c)->snd_mss == 1220);
}

TEST_CASE("RFC 8803 7: an active open offers only the SACK and timestamps it is allowed") {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    REQUIRE(h.eng.connect({.tuple = t, .sack = false, .timestamps = false}, h.now));
    Out syn = h.expect();
    CHECK_FALSE(syn.opt.sack_permitted);
    CHECK_FALSE(syn.opt.timestamps);
    CHECK(syn.opt.mss == 1460);
    CHECK(syn.opt.window_scale == 7);
    CHECK_FALSE(syn.opt.fast_open);
    // A SYN/ACK that offers them anyway does not turn them on.
    auto id = h.eng.describe_all().front().id;
    h.inject({flag::syn | flag::ack, 7000, syn.h.seq.raw() + 1, 65535,
              syn_options({.ts = true, .sack = true}, 555), "", t});
    auto info = h.eng.describe(id);
    REQUIRE(info);
    CHECK_FALSE(info->sack_ok);
    CHECK_FALSE(info->ts_ok);
}

TEST_CASE("RFC 7413 4.1.1: a TFO cookie request, or a given cookie, rides in the SYN") {
    Harness h;
    ConnectOptions co{.tuple = FourTuple{kLocal, kRemote, 50000, 443}, .tfo = true};
    REQUIRE(h.eng.connect(co, h.now));
    Out req = h.expect();
    CHECK(req.opt.fast_open);
    CHECK(req.opt.fast_open_cookie.empty());
    CHECK(req.data.empty());  // no data in the SYN
    co.tuple.local_port = 50001;
    co.tfo_cookie = {0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
    co.tfo_cookie_len = 8;
    REQUIRE(h.eng.connect(co, h.now));
    Out with = h.expect();
    REQUIRE(with.opt.fast_open);
    CHECK(
        std::vector<uint8_t>(with.opt.fast_open_cookie.begin(), with.opt.fast_open_cookie.end()) ==
        std::vector<uint8_t>{0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7});
}

TEST_CASE("RFC 8803 6.2.6: the server's SYN/ACK options are kept for the Extended TCP Header") {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    auto id = h.eng.connect({.tuple = t, .keep_syn_ack_options = true}, h.now);
    REQUIRE(id);
    Out syn = h.expect();
    std::array<uint8_t, wire::max_options_len> buf{};
    CHECK(h.eng.syn_ack_options(*id, buf) == 0);  // nothing yet
    // The spec digest's vector (§1.12): MSS 1460, SACK-permitted, TS 1/2, NOP, WS 7.
    wire::Options o;
    o.mss = 1460;
    o.sack_permitted = true;
    o.timestamps = wire::Timestamps{1, 2};
    o.window_scale = 7;
    h.inject({flag::syn | flag::ack, 7000, syn.h.seq.raw() + 1, 65535, o, "", t});
    REQUIRE(h.eng.state(*id) == State::established);
    const size_t n = h.eng.syn_ack_options(*id, buf);
    const std::vector<uint8_t> want = {0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
                                       0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x03, 0x03, 0x07};
    CHECK(std::vector<uint8_t>(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n)) == want);
    // Not kept unless asked.
    FourTuple t2{kLocal, kRemote, 50001, 443};
    auto id2 = h.eng.connect({.tuple = t2}, h.now);
    Out syn2 = h.expect();
    h.inject({flag::syn | flag::ack, 8000, syn2.h.seq.raw() + 1, 65535, o, "", t2});
    CHECK(h.eng.syn_ack_options(*id2, buf) == 0);
}
