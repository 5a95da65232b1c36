// mptcp/convert/proxy: the converter on one engine + endpoint, scripted segments on both sides
// (a Linux-like UE on the proxy address, a server on N6), time injected. 0-RTT (the UE's SYN is
// answered only after the server's SYN/ACK, acknowledging all SYN data), the Convert reply first
// in the downlink stream, the relay both ways, the Error replies then FIN (server RST, silence,
// session without MPTCP), teardown per RFC 8803 §4.2/§5.1, and backpressure.
#include <catch2/catch.hpp>

#include <deque>
#include <string>
#include <vector>

#include "mptcp/convert/proxy.h"
#include "mptcp/crypto.h"
#include "mptcp/endpoint.h"
#include "tcpstack/engine.h"
#include "tcpstack/icmp.h"
#include "tests/unit/tcpstack/tcp_env.h"

namespace braid::test {
namespace {

using namespace braid::tcp;
namespace cv = braid::mptcp::convert;
namespace tflag = braid::tcp::wire::flag;
namespace mw = braid::mptcp::wire;

const IpAddr kProxy = IpAddr::v4(198, 18, 0, 1);   // the proxy address on N3 (inner)
const IpAddr kUe = IpAddr::v4(198, 19, 0, 7);      // the UE (session address)
const IpAddr kServer = IpAddr::v4(198, 18, 9, 5);  // on N6
constexpr uint16_t kProxyPort = 5000;
constexpr uint16_t kUePort = 41000;
constexpr uint16_t kServerPort = 8080;
constexpr uint32_t kUeIsn = 1000;
constexpr uint32_t kServerIsn = 90000;

struct Seg {
    wire::Header h;
    wire::Options opt;
    std::string data;
    FourTuple t;
};

std::vector<uint8_t> connect_msg(const IpAddr& dst, uint16_t port) {
    cv::wire::Connect c;
    c.port = port;
    c.address = cv::Address::v4(uint32_t{dst.bytes[0]} << 24 | uint32_t{dst.bytes[1]} << 16 |
                                uint32_t{dst.bytes[2]} << 8 | dst.bytes[3]);
    std::array<uint8_t, cv::wire::max_message_len> buf{};
    cv::wire::Builder b(buf);
    auto n = b.connect(c).finish();
    REQUIRE(n);
    return {buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n)};
}

std::string str(const std::vector<uint8_t>& v) {
    return {v.begin(), v.end()};
}

struct Lab {
    explicit Lab(bool mptcp_enabled = true, uint32_t buffers = 0, uint32_t checks_per_tick = 64)
        : eng(
              config(buffers),
              [this](OutSegment&& s) {
                  out.push_back(Seg{s.header, s.options, take_bytes(s.payload), s.tuple});
              },
              [this](const Event& e) { ep.on_engine_event(e); }),
          ep(eng, ep_config(), tokens, [this](const Event& e) { events.push_back(e); }),
          conv(policy()),
          proxy(
              eng, ep, conv,
              [this, mptcp_enabled](const IpAddr& a) {
                  cv::UeContext c;
                  c.in_session = a == kUe;
                  c.mptcp_enabled = mptcp_enabled;
                  c.ue_v4 = cv::Address::v4(0xc6130007u);
                  return with_session(c);
              },
              proxy_config(checks_per_tick)) {
        REQUIRE(proxy.start());
        proxy.set_session_lookup([this, mptcp_enabled](const IpAddr& a) {
            cv::UeContext c;
            c.in_session = a == kUe && session_alive;
            c.mptcp_enabled = mptcp_enabled;
            c.ue_v4 = cv::Address::v4(0xc6130007u);
            return c.in_session ? with_session(c) : c;
        });
    }
    // The PFCP session the lookups report (seid 0: none, as in the tests before issue 7's
    // steering): its snapshot generation and MAR scheduler.
    cv::UeContext with_session(cv::UeContext c) const {
        c.seid = seid;
        c.generation = generation;
        c.scheduler = scheduler;
        return c;
    }
    static EngineConfig config(uint32_t buffers) {
        EngineConfig c;
        if (buffers != 0) {
            c.default_snd_buf = buffers;
            c.default_rcv_buf = buffers;
        }
        c.clone_pool = tcp_env().clones;
        for (size_t i = 0; i < c.secret.size(); ++i) {
            c.secret[i] = static_cast<uint8_t>(i * 3 + 9);
        }
        c.cc = CcAlgorithm::newreno;
        c.timestamps = false;  // keeps the scripted segments short
        return c;
    }
    mptcp::EndpointConfig ep_config() {
        mptcp::EndpointConfig c;
        c.data_pool = tcp_env().data;
        c.rcv_buf = 64 * 1024;
        c.rng = [this] { return rng = rng * 6364136223846793005ULL + 1442695040888963407ULL; };
        return c;
    }
    static cv::Policy policy() {
        cv::Policy p;
        p.own = {cv::Address::v4(0xc6120001u)};
        return p;
    }
    static cv::ProxyConfig proxy_config(uint32_t checks_per_tick) {
        cv::ProxyConfig c;
        c.session_checks_per_tick = checks_per_tick;
        c.address = kProxy;
        c.port = kProxyPort;
        c.pool = tcp_env().data;
        return c;
    }

    // Runs the events the last engine call raised through the proxy (as TcpHost does).
    void drain() {
        ep.poll(now);
        while (!events.empty()) {
            std::vector<Event> batch;
            batch.swap(events);
            for (const Event& e : batch) {
                handled += proxy.on_event(e, now) ? 1 : 0;
            }
            ep.poll(now);
        }
    }
    void input(const FourTuple& t, uint8_t flags, uint32_t seq, uint32_t ack,
               const std::string& data = {}, uint16_t window = 65535,
               std::vector<mw::Option> mp = {}) {
        wire::Options o;
        std::array<std::array<uint8_t, 40>, 4> store{};
        for (size_t i = 0; i < mp.size(); ++i) {
            auto n = mw::emit(mp[i], store[i]);
            REQUIRE(n);
            o.mptcp[o.mptcp_count++] = std::span<const uint8_t>(store[i].data(), *n);
        }
        if (flags & tflag::syn) {
            o.mss = 1400;
            o.sack_permitted = true;
            o.window_scale = 0;
        }
        wire::Header h;
        h.src_port = t.remote_port;
        h.dst_port = t.local_port;
        h.seq = Seq(seq);
        h.ack = Seq(ack);
        h.flags = flags;
        h.window = window;
        eng.input(t, h, o, data.empty() ? nullptr : make_payload(data), now);
        drain();
    }
    FourTuple ue_side() const { return FourTuple{kProxy, kUe, kProxyPort, kUePort}; }
    FourTuple n6_side() const { return FourTuple{kUe, kServer, kUePort, kServerPort}; }
    void ue(uint8_t flags, uint32_t seq, uint32_t ack, const std::string& data = {},
            uint16_t window = 65535, std::vector<mw::Option> mp = {}) {
        input(ue_side(), flags, seq, ack, data, window, std::move(mp));
    }
    void server(uint8_t flags, uint32_t seq, uint32_t ack, const std::string& data = {},
                uint16_t window = 65535) {
        input(n6_side(), flags, seq, ack, data, window);
    }
    // Segments sent to one side, removed from `out`.
    std::vector<Seg> sent_to(const IpAddr& remote) {
        std::vector<Seg> r;
        for (auto it = out.begin(); it != out.end();) {
            if (it->t.remote == remote) {
                r.push_back(*it);
                it = out.erase(it);
            } else {
                ++it;
            }
        }
        return r;
    }
    Seg one_to(const IpAddr& remote) {
        auto v = sent_to(remote);
        REQUIRE(v.size() == 1);
        return v[0];
    }
    void advance(uint64_t us) {
        now += us;
        eng.on_timer(now);
        drain();
        proxy.on_timer(now);
        drain();
    }

    // The UE's SYN with a Connect TLV for the server (+ `extra` data), up to the N6 SYN.
    Seg open(const std::string& extra = {}) {
        syn_data = str(connect_msg(kServer, kServerPort)) + extra;
        ue(tflag::syn, kUeIsn, 0, syn_data);
        CHECK(sent_to(kUe).empty());  // 0-RTT: nothing for the UE before N6 answers
        Seg syn = one_to(kServer);
        REQUIRE(syn.h.flags == tflag::syn);
        return syn;
    }
    // ... the server's SYN/ACK, the UE's SYN/ACK and third ACK: relaying.
    void establish(const std::string& extra = {}) {
        Seg syn = open(extra);
        n6_iss = syn.h.seq.raw();
        server(tflag::syn | tflag::ack, kServerIsn, n6_iss + 1);
        auto to_server = sent_to(kServer);
        REQUIRE(!to_server.empty());  // the ACK of the SYN/ACK (+ early data)
        for (const Seg& s : to_server) {
            early += s.data;
        }
        Seg sa = one_to(kUe);
        REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
        REQUIRE(sa.h.ack.raw() == kUeIsn + 1 + syn_data.size());
        ue_iss = sa.h.seq.raw();
        ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(syn_data.size());
        ue(tflag::ack, ue_nxt, ue_iss + 1);
        // The Convert reply: the first bytes of the UE's stream.
        Seg r = one_to(kUe);
        CHECK(r.data == std::string("\x01\x01\x22\x63", 4));
        ue_acked = ue_iss + 1 + static_cast<uint32_t>(r.data.size());
        down_seq = ue_acked;
        ue(tflag::ack, ue_nxt, ue_acked);
        server_nxt = kServerIsn + 1;
        up_seq = n6_iss + 1 + static_cast<uint32_t>(early.size());
        REQUIRE(proxy.describe_all().size() == 1);
        REQUIRE(proxy.describe_all()[0].state == cv::ProxyState::relaying);
        out.clear();
    }

    uint64_t seid = 0;
    uint64_t generation = 1;
    std::optional<mptcp::SchedulerConfig> scheduler;
    bool session_alive = true;

    mptcp::LocalTokenTable tokens;
    std::deque<Seg> out;
    std::vector<Event> events;
    uint64_t rng = 11;
    uint64_t now = 10'000'000;
    size_t handled = 0;
    Engine eng;
    mptcp::Endpoint ep;
    cv::Converter conv;
    cv::Proxy proxy;
    std::string syn_data, early;
    uint32_t n6_iss = 0, ue_iss = 0, ue_nxt = 0, ue_acked = 0, server_nxt = 0, up_seq = 0,
             down_seq = 0;
};

}  // namespace

TEST_CASE("proxy: 0-RTT open, Convert reply first, relay both ways, FINs follow the bytes",
          "[proxy]") {
    Lab l;
    Seg syn = l.open();
    CHECK(syn.t.local == kUe);  // address-preserving mode: the UE's address on N6
    CHECK(syn.h.src_port == kUePort);
    CHECK(l.proxy.describe_all()[0].state == cv::ProxyState::connecting);
    l.n6_iss = syn.h.seq.raw();
    l.out.clear();
    l.now += 20'000;
    l.server(tflag::syn | tflag::ack, kServerIsn, l.n6_iss + 1);
    Seg sa = l.one_to(kUe);
    CHECK(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.h.ack.raw() == kUeIsn + 1 + l.syn_data.size());  // all SYN data acknowledged
    CHECK(sa.data.empty());
    const uint32_t ue_iss = sa.h.seq.raw();
    const uint32_t ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    l.out.clear();
    l.ue(tflag::ack, ue_nxt, ue_iss + 1);
    Seg reply = l.one_to(kUe);
    CHECK(reply.data == std::string("\x01\x01\x22\x63", 4));  // header alone for a base Connect
    CHECK(reply.h.seq.raw() == ue_iss + 1);
    l.ue(tflag::ack, ue_nxt, ue_iss + 5);

    // Up: UE → server.
    l.ue(tflag::ack | tflag::psh, ue_nxt, ue_iss + 5, "GET / HTTP/1.0\r\n\r\n");
    auto up = l.sent_to(kServer);
    std::string got;
    for (const Seg& s : up) {
        got += s.data;
    }
    CHECK(got == "GET / HTTP/1.0\r\n\r\n");
    // Down: server → UE.
    l.server(tflag::ack | tflag::psh, kServerIsn + 1, l.n6_iss + 1 + 18, "HTTP/1.0 200 OK\r\n");
    std::string down;
    for (const Seg& s : l.sent_to(kUe)) {
        down += s.data;
    }
    CHECK(down == "HTTP/1.0 200 OK\r\n");
    auto info = l.proxy.describe_all();
    REQUIRE(info.size() == 1);
    CHECK(info[0].bytes_up == 18);
    CHECK(info[0].bytes_down == 17);
    CHECK(info[0].n6_tuple == l.n6_side());
    CHECK(l.proxy[cv::ProxyCounter::established] == 1);
    CHECK(l.conv.counters()[cv::Counter::established] == 1);

    // The server's FIN → FIN to the UE (plain-TCP UE) after the bytes.
    l.out.clear();
    l.server(tflag::ack | tflag::fin, kServerIsn + 18, l.n6_iss + 19);
    auto fin = l.sent_to(kUe);
    bool ue_fin = false;
    for (const Seg& s : fin) {
        ue_fin |= (s.h.flags & tflag::fin) != 0;
    }
    CHECK(ue_fin);
    CHECK(l.proxy.describe_all()[0].state == cv::ProxyState::closing);
    // The UE's FIN → FIN to the server.
    l.ue(tflag::ack | tflag::fin, ue_nxt + 18, ue_iss + 5 + 17 + 1);
    bool n6_fin = false;
    uint32_t n6_fin_seq = 0;
    for (const Seg& s : l.sent_to(kServer)) {
        if (s.h.flags & tflag::fin) {
            n6_fin = true;
            n6_fin_seq = s.h.seq.raw();
        }
    }
    REQUIRE(n6_fin);
    l.server(tflag::ack, kServerIsn + 19, n6_fin_seq + 1);
    // Both closed: the proxied connection and the UE's converter slot are gone.
    CHECK(l.proxy.size() == 0);
}

TEST_CASE("proxy: user data after the Convert message goes to the server after its handshake",
          "[proxy]") {
    Lab l;
    l.establish("hello");
    CHECK(l.early == "hello");
    CHECK(l.proxy.describe_all()[0].bytes_up == 5);
}

TEST_CASE("proxy: server RST → Error TLV Connection Reset, then FIN (never an immediate RST)",
          "[proxy]") {
    Lab l;
    Seg syn = l.open();
    l.server(tflag::rst | tflag::ack, 0, syn.h.seq.raw() + 1);
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.h.ack.raw() == kUeIsn + 1 + l.syn_data.size());
    const uint32_t ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    l.ue(tflag::ack, ue_nxt, sa.h.seq.raw() + 1);
    std::string stream;
    bool fin = false, rst = false;
    for (const Seg& s : l.sent_to(kUe)) {
        stream += s.data;
        fin |= (s.h.flags & tflag::fin) != 0;
        rst |= (s.h.flags & tflag::rst) != 0;
    }
    // Header, then Error TLV type 30 (0x1e), length 1, code 96 (Connection Reset), value 0.
    CHECK(stream == std::string("\x01\x02\x22\x63\x1e\x01\x60\x00", 8));
    CHECK(fin);
    CHECK_FALSE(rst);
    CHECK(l.conv.counters()[cv::Refusal::server_reset] == 1);
    CHECK(l.conv.counters().errors_by_code[96] == 1);
    CHECK(l.proxy[cv::ProxyCounter::error_replies] == 1);
}

TEST_CASE("proxy: an N6 SYN without an answer → Network Failure after the connect timeout",
          "[proxy]") {
    Lab l;
    l.open();
    l.advance(9'000'000);
    CHECK(l.sent_to(kUe).empty());
    l.advance(1'000'000);
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(l.proxy[cv::ProxyCounter::n6_timeouts] == 1);
    CHECK(l.conv.counters()[cv::Refusal::server_timeout] == 1);
    // The N6 attempt is abandoned (SYN-SENT: no RST, RFC 9293 §3.10.4): only the UE side is left.
    CHECK(l.eng.connection_count() == 1);
    const uint32_t ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    l.out.clear();
    l.ue(tflag::ack, ue_nxt, sa.h.seq.raw() + 1);
    std::string stream;
    for (const Seg& s : l.sent_to(kUe)) {
        stream += s.data;
    }
    CHECK(stream == std::string("\x01\x02\x22\x63\x1e\x01\x41\x00", 8));  // code 65
}

namespace {

// An ICMPv4 Destination Unreachable with `code` about the N6 SYN `syn`, delivered as TcpHost
// does (tcpstack/icmp.h parsed it).
tcp::IcmpVerdict n6_unreachable(Lab& l, const Seg& syn, uint8_t code) {
    tcp::IcmpError e;
    e.type = 3;
    e.code = code;
    e.kind = tcp::IcmpKind::unreachable;
    e.tuple = l.n6_side();
    e.seq = syn.h.seq;
    const tcp::IcmpVerdict v = l.eng.icmp_error(e, l.now);
    l.drain();
    return v;
}

// The UE side's byte stream once it ACKs the SYN/ACK `sa`.
std::string ue_stream(Lab& l, const Seg& sa) {
    const uint32_t ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    l.out.clear();
    l.ue(tflag::ack, ue_nxt, sa.h.seq.raw() + 1);
    std::string stream;
    for (const Seg& s : l.sent_to(kUe)) {
        stream += s.data;
    }
    return stream;
}

}  // namespace

TEST_CASE("proxy: a hard ICMP error on the N6 SYN → Destination Unreachable with its code",
          "[proxy]") {
    Lab l;
    Seg syn = l.open();
    CHECK(n6_unreachable(l, syn, 3) == tcp::IcmpVerdict::aborted);  // port unreachable
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.h.ack.raw() == kUeIsn + 1 + l.syn_data.size());
    // Error TLV code 97 (0x61) Destination Unreachable, value = the ICMP code (RFC 8803 §6.2.5).
    CHECK(ue_stream(l, sa) == std::string("\x01\x02\x22\x63\x1e\x01\x61\x03", 8));
    CHECK(l.conv.counters()[cv::Refusal::destination_unreachable] == 1);
    CHECK(l.conv.counters().errors_by_code[0x61] == 1);
    CHECK(l.eng.connection_count() == 1);  // only the UE side; no RST went to the server
}

TEST_CASE("proxy: a soft ICMP error is the reason given when the N6 SYN times out", "[proxy]") {
    Lab l;
    Seg syn = l.open();
    CHECK(n6_unreachable(l, syn, 13) == tcp::IcmpVerdict::soft);  // administratively prohibited
    CHECK(l.sent_to(kUe).empty());  // the SYN is retried (RFC 1122 §4.2.3.9)
    l.advance(10'000'000);
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(ue_stream(l, sa) == std::string("\x01\x02\x22\x63\x1e\x01\x61\x0d", 8));
    CHECK(l.proxy[cv::ProxyCounter::n6_timeouts] == 1);
    CHECK(l.conv.counters()[cv::Refusal::destination_unreachable] == 1);
}

TEST_CASE("proxy: a session without MPTCP is Not Authorized (Error then FIN, no N6 SYN)",
          "[proxy]") {
    Lab l(false);
    l.syn_data = str(connect_msg(kServer, kServerPort));
    l.ue(tflag::syn, kUeIsn, 0, l.syn_data);
    CHECK(l.sent_to(kServer).empty());
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    const uint32_t ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    l.ue(tflag::ack, ue_nxt, sa.h.seq.raw() + 1);
    std::string stream;
    bool fin = false;
    for (const Seg& s : l.sent_to(kUe)) {
        stream += s.data;
        fin |= (s.h.flags & tflag::fin) != 0;
    }
    CHECK(stream == std::string("\x01\x02\x22\x63\x1e\x01\x20\x00", 8));  // code 32
    CHECK(fin);
    CHECK(l.conv.counters()[cv::Refusal::mptcp_not_enabled] == 1);
}

TEST_CASE("proxy: SYN data that is not a Convert message is ignored (no answer, no state)",
          "[proxy]") {
    Lab l;
    l.ue(tflag::syn, kUeIsn, 0, "GET / HTTP/1.1\r\n");
    CHECK(l.out.empty());
    CHECK(l.proxy.size() == 0);
    CHECK(l.eng.connection_count() == 0);
    CHECK(l.conv.counters()[cv::Refusal::not_convert] == 1);
}

TEST_CASE("proxy: the UE's retransmitted SYN while N6 is pending opens nothing new", "[proxy]") {
    Lab l;
    l.open();
    l.now += 1'000'000;
    l.ue(tflag::syn, kUeIsn, 0, l.syn_data);
    CHECK(l.out.empty());
    CHECK(l.proxy.size() == 1);
    CHECK(l.proxy[cv::ProxyCounter::n6_connects] == 1);
}

TEST_CASE("proxy: server RST after establishment resets the UE side", "[proxy]") {
    Lab l;
    l.establish();
    l.server(tflag::rst, l.server_nxt, 0);
    bool rst = false;
    for (const Seg& s : l.sent_to(kUe)) {
        rst |= (s.h.flags & tflag::rst) != 0;
    }
    CHECK(rst);
    CHECK(l.proxy.size() == 0);
    CHECK(l.proxy[cv::ProxyCounter::n6_resets] == 1);
}

TEST_CASE("proxy: UE RST after establishment resets the N6 side", "[proxy]") {
    Lab l;
    l.establish();
    l.ue(tflag::rst, l.ue_nxt, 0);
    bool rst = false;
    for (const Seg& s : l.sent_to(kServer)) {
        rst |= (s.h.flags & tflag::rst) != 0;
    }
    CHECK(rst);
    CHECK(l.proxy.size() == 0);
    CHECK(l.proxy[cv::ProxyCounter::ue_resets] == 1);
}

TEST_CASE("proxy: a slow UE shrinks the server's window; nothing is dropped", "[proxy]") {
    Lab l(true, 16 * 1024);
    l.establish();
    // The UE advertises a zero window: the proxy's UE-side send buffer fills, then the proxy
    // stops reading N6, whose advertised window closes.
    l.ue(tflag::ack, l.ue_nxt, l.down_seq, {}, 0);
    const std::string chunk(1000, 'd');
    uint32_t acked = l.server_nxt;  // what the proxy's N6 side acknowledged
    uint16_t window = 65535;
    for (int i = 0; i < 200 && window > 0; ++i) {
        l.server(tflag::ack | tflag::psh, acked, l.up_seq, chunk);
        l.advance(50'000);  // delayed ACKs
        for (const Seg& s : l.sent_to(kServer)) {
            if (s.h.ack.raw() - acked < 0x80000000u) {
                acked = s.h.ack.raw();
                window = s.h.window;
            }
        }
        l.out.clear();
    }
    CHECK(window == 0);  // backpressure reached the server
    const size_t sent = acked - l.server_nxt;
    CHECK(sent > 16 * 1024);
    CHECK(l.proxy.describe_all()[0].bytes_down < sent);  // the rest waits in N6's buffer
    // The UE opens its window and ACKs what it gets: every accepted byte arrives, in order.
    size_t got = 0;
    bool bad = false;
    uint32_t ack = l.down_seq;
    for (int i = 0; i < 500 && got < sent; ++i) {
        l.ue(tflag::ack, l.ue_nxt, ack, {}, 65535);
        l.advance(250'000);
        for (const Seg& s : l.sent_to(kUe)) {
            if (s.h.seq.raw() == ack && !s.data.empty()) {
                bad |= s.data.find_first_not_of('d') != std::string::npos;
                got += s.data.size();
                ack += static_cast<uint32_t>(s.data.size());
            }
        }
        l.out.clear();
    }
    CHECK_FALSE(bad);
    CHECK(got == sent);
    CHECK(l.proxy.describe_all()[0].bytes_down == sent);
}

TEST_CASE("proxy: an MPTCP UE (MP_CAPABLE SYN with the Convert message), DATA_FIN to FIN",
          "[proxy][mptcp]") {
    Lab l;
    mptcp::crypto::Sha256 sha;
    constexpr uint64_t kUeKey = 0x1122334455667788ULL;
    mw::MpCapable cap;
    cap.flags = mw::capable_flag::hmac_sha256;
    l.syn_data = str(connect_msg(kServer, kServerPort));
    l.ue(tflag::syn, kUeIsn, 0, l.syn_data, 65535, {cap});
    CHECK(l.sent_to(kUe).empty());
    Seg syn = l.one_to(kServer);
    CHECK(syn.opt.mptcp_out_len == 0);  // plain TCP on N6
    l.server(tflag::syn | tflag::ack, kServerIsn, syn.h.seq.raw() + 1);
    l.sent_to(kServer);
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.h.ack.raw() == kUeIsn + 1 + l.syn_data.size());
    // braid's key from the SYN/ACK's MP_CAPABLE.
    REQUIRE(sa.opt.mptcp_out_len > 0);
    auto parsed =
        mw::parse(std::span<const uint8_t>(sa.opt.mptcp_out.data(), sa.opt.mptcp_out_len));
    REQUIRE(parsed.option);
    auto* scap = std::get_if<mw::MpCapable>(&*parsed.option);
    REQUIRE(scap);
    REQUIRE(scap->sender_key);
    const uint64_t braid_key = *scap->sender_key;
    const uint32_t ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    mw::MpCapable third;
    third.flags = mw::capable_flag::hmac_sha256;
    third.sender_key = kUeKey;
    third.receiver_key = braid_key;
    l.ue(tflag::ack, ue_nxt, sa.h.seq.raw() + 1, {}, 65535, {third});
    REQUIRE(l.ep.is_mptcp(l.proxy.describe_all()[0].ue));
    CHECK(l.proxy.describe_all()[0].mptcp);
    // The reply: the first bytes after the handshake, DSN = braid's IDSN + 1, SSN 1.
    Seg r = l.one_to(kUe);
    CHECK(r.data == std::string("\x01\x01\x22\x63", 4));
    CHECK(r.h.seq.raw() == sa.h.seq.raw() + 1);
    // Data from the UE with a DSS mapping (DSN = UE IDSN + 1, SSN 1) reaches the server.
    const uint64_t ue_dsn = mptcp::crypto::key_material(sha, kUeKey).idsn + 1;
    const uint64_t braid_dsn = mptcp::crypto::key_material(sha, braid_key).idsn + 1;
    mw::Dss d;
    d.data_ack = braid_dsn + 4;
    d.mapping = mw::DssMapping{};
    d.mapping->dsn = ue_dsn;
    d.mapping->ssn = 1;
    d.mapping->data_len = 4;
    l.ue(tflag::ack | tflag::psh, ue_nxt, sa.h.seq.raw() + 5, "ping", 65535, {d});
    std::string up;
    for (const Seg& s : l.sent_to(kServer)) {
        up += s.data;
    }
    CHECK(up == "ping");
    SECTION("server RST → MP_FASTCLOSE with the UE's key on the UE's RST (§5.1)") {
        l.server(tflag::rst, kServerIsn + 1, 0);
        bool fastclose = false;
        for (const Seg& s : l.sent_to(kUe)) {
            if ((s.h.flags & tflag::rst) == 0 || s.opt.mptcp_out_len == 0) {
                continue;
            }
            auto o =
                mw::parse(std::span<const uint8_t>(s.opt.mptcp_out.data(), s.opt.mptcp_out_len));
            REQUIRE(o.option);
            if (auto* f = std::get_if<mw::MpFastclose>(&*o.option)) {
                fastclose = f->receiver_key == kUeKey;
            }
        }
        CHECK(fastclose);
        CHECK(l.proxy.size() == 0);
        return;
    }
    // DATA_FIN from the UE → FIN on N6 (§5.1).
    mw::Dss fin;
    fin.data_ack = braid_dsn + 4;
    fin.mapping = mw::DssMapping{};
    fin.mapping->dsn = ue_dsn + 4;
    fin.mapping->ssn = 0;
    fin.mapping->data_len = 1;
    fin.data_fin = true;
    l.ue(tflag::ack, ue_nxt + 4, sa.h.seq.raw() + 5, {}, 65535, {fin});
    bool n6_fin = false;
    for (const Seg& s : l.sent_to(kServer)) {
        n6_fin |= (s.h.flags & tflag::fin) != 0;
    }
    CHECK(n6_fin);
}

TEST_CASE("proxy: bytes still unread when N6 reaches TIME-WAIT are relayed, then FIN", "[proxy]") {
    Lab l(true, 16 * 1024);
    l.establish();
    // The UE closes its side and stops reading (zero window); the proxy's FIN goes to N6.
    l.ue(tflag::ack | tflag::fin, l.ue_nxt, l.down_seq, {}, 0);
    uint32_t n6_fin_seq = 0;
    for (const Seg& s : l.sent_to(kServer)) {
        if (s.h.flags & tflag::fin) {
            n6_fin_seq = s.h.seq.raw();
        }
    }
    REQUIRE(n6_fin_seq != 0);
    // The server acknowledges it, sends 24000 bytes and its FIN: the proxy's UE-side send
    // buffer (16 KiB) fills, N6 enters TIME-WAIT while the rest waits in its receive queue.
    const std::string body(24000, 'z');
    uint32_t seq = l.server_nxt;
    for (size_t off = 0; off < body.size(); off += 1000) {
        l.server(tflag::ack, seq, n6_fin_seq + 1, body.substr(off, 1000));
        seq += 1000;
    }
    l.server(tflag::ack | tflag::fin, seq, n6_fin_seq + 1);
    REQUIRE(l.eng.state(l.proxy.describe_all()[0].n6) == State::time_wait);
    REQUIRE(l.eng.readable_bytes(l.proxy.describe_all()[0].n6) > 0);
    l.out.clear();
    // The UE opens its window: every byte, then the FIN.
    std::string got;
    bool fin = false;
    uint32_t ack = l.down_seq;
    for (int i = 0; i < 400 && !fin; ++i) {
        l.ue(tflag::ack, l.ue_nxt + 1, ack, {}, 65535);
        l.advance(250'000);
        for (const Seg& s : l.sent_to(kUe)) {
            if (s.h.seq.raw() == ack) {
                got += s.data;
                ack += static_cast<uint32_t>(s.data.size());
                if (s.h.flags & tflag::fin) {
                    fin = true;
                    ack += 1;
                }
            }
        }
        l.out.clear();
    }
    CHECK(got == body);
    CHECK(fin);
}

// ---- session steering (issue 7: MAR → scheduler, modification, deletion) ---------------------

namespace {

constexpr uint64_t kUeKey = 0x1122334455667788ULL;

// An MPTCP UE through the proxy to relaying (as in the test above); returns braid's key.
struct MptcpOpen {
    uint64_t braid_key = 0;
    uint32_t ue_nxt = 0;
    uint32_t braid_nxt = 0;  // the UE-side subflow sequence after the Convert reply
    uint32_t n6_nxt = 0;     // braid's next N6 sequence number
};
MptcpOpen open_mptcp(Lab& l) {
    mw::MpCapable cap;
    cap.flags = mw::capable_flag::hmac_sha256;
    l.syn_data = str(connect_msg(kServer, kServerPort));
    l.ue(tflag::syn, kUeIsn, 0, l.syn_data, 65535, {cap});
    Seg syn = l.one_to(kServer);
    l.server(tflag::syn | tflag::ack, kServerIsn, syn.h.seq.raw() + 1);
    l.sent_to(kServer);
    Seg sa = l.one_to(kUe);
    REQUIRE(sa.opt.mptcp_out_len > 0);
    auto parsed =
        mw::parse(std::span<const uint8_t>(sa.opt.mptcp_out.data(), sa.opt.mptcp_out_len));
    REQUIRE(parsed.option);
    auto* scap = std::get_if<mw::MpCapable>(&*parsed.option);
    REQUIRE(scap);
    REQUIRE(scap->sender_key);
    MptcpOpen o;
    o.braid_key = *scap->sender_key;
    o.ue_nxt = kUeIsn + 1 + static_cast<uint32_t>(l.syn_data.size());
    mw::MpCapable third;
    third.flags = mw::capable_flag::hmac_sha256;
    third.sender_key = kUeKey;
    third.receiver_key = o.braid_key;
    l.ue(tflag::ack, o.ue_nxt, sa.h.seq.raw() + 1, {}, 65535, {third});
    Seg r = l.one_to(kUe);
    REQUIRE(r.data.size() == 4);  // the Convert reply
    o.braid_nxt = sa.h.seq.raw() + 5;
    o.n6_nxt = syn.h.seq.raw() + 1;
    REQUIRE(l.proxy.describe_all().size() == 1);
    REQUIRE(l.proxy.describe_all()[0].state == cv::ProxyState::relaying);
    return o;
}

// The UE's RST carries MP_FASTCLOSE with the UE's key (RFC 8684 §3.5).
bool fastclosed(const std::vector<Seg>& to_ue) {
    for (const Seg& s : to_ue) {
        if ((s.h.flags & tflag::rst) == 0 || s.opt.mptcp_out_len == 0) {
            continue;
        }
        auto o = mw::parse(std::span<const uint8_t>(s.opt.mptcp_out.data(), s.opt.mptcp_out_len));
        if (o.option) {
            if (auto* f = std::get_if<mw::MpFastclose>(&*o.option)) {
                return f->receiver_key == kUeKey;
            }
        }
    }
    return false;
}

mptcp::SchedulerConfig lb(uint8_t w3gpp) {
    mptcp::SchedulerConfig c;
    c.mode = mptcp::SchedulerMode::load_balancing;
    c.access[0].weight = w3gpp;
    c.access[1].weight = static_cast<uint8_t>(100 - w3gpp);
    return c;
}

}  // namespace

TEST_CASE("proxy steering: the MAR's scheduler at creation, a modified MAR on the live connection",
          "[proxy][steering]") {
    Lab l;
    l.seid = 0x42;
    mptcp::SchedulerConfig as;
    as.mode = mptcp::SchedulerMode::active_standby;
    as.rtt_threshold_ms = 80;
    l.scheduler = as;
    open_mptcp(l);
    const cv::ProxyConnInfo info = l.proxy.describe_all()[0];
    CHECK(info.seid == 0x42);
    CHECK(info.generation == 1);
    REQUIRE(info.scheduler.has_value());
    CHECK(*info.scheduler == as);
    REQUIRE(l.ep.describe(info.ue));
    CHECK(l.ep.describe(info.ue)->scheduler == mptcp::SchedulerMode::active_standby);

    // Nothing changed: the check costs a lookup, applies nothing.
    l.proxy.check_sessions(l.now);
    CHECK(l.proxy[cv::ProxyCounter::scheduler_updates] == 0);

    // Session Modification: Update MAR to Load Balancing 70/30 (a new snapshot generation).
    l.generation = 2;
    l.scheduler = lb(70);
    l.proxy.check_sessions(l.now);
    CHECK(l.proxy[cv::ProxyCounter::scheduler_updates] == 1);
    CHECK(l.ep.describe(info.ue)->scheduler == mptcp::SchedulerMode::load_balancing);
    CHECK(l.proxy.describe_all()[0].generation == 2);
    CHECK(*l.proxy.describe_all()[0].scheduler == lb(70));

    // A modification of something else (new generation, same MAR): no scheduler change.
    l.generation = 3;
    l.proxy.check_sessions(l.now);
    CHECK(l.proxy[cv::ProxyCounter::scheduler_updates] == 1);
    CHECK(l.proxy.describe_all()[0].generation == 3);

    // Remove MAR: back to the endpoint's default.
    l.generation = 4;
    l.scheduler.reset();
    l.proxy.check_sessions(l.now);
    CHECK(l.proxy[cv::ProxyCounter::scheduler_updates] == 2);
    CHECK(l.ep.describe(info.ue)->scheduler == l.ep.default_scheduler().mode);
    CHECK_FALSE(l.proxy.describe_all()[0].scheduler.has_value());
    CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 0);
}

TEST_CASE("proxy steering: the checks are bounded per call and cover every connection",
          "[proxy][steering]") {
    Lab l(true, 0, 1);  // one connection looked at per check_sessions()
    l.seid = 7;
    const std::string convert = str(connect_msg(kServer, kServerPort));
    for (uint16_t port : {uint16_t(kUePort), uint16_t(kUePort + 1)}) {
        l.input(FourTuple{kProxy, kUe, kProxyPort, port}, tflag::syn, kUeIsn, 0, convert);
    }
    REQUIRE(l.sent_to(kServer).size() == 2);  // two N6 SYNs pending
    REQUIRE(l.proxy.size() == 2);
    l.session_alive = false;
    l.proxy.check_sessions(l.now);
    l.drain();
    CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 1);
    CHECK(l.proxy.size() == 1);
    l.proxy.check_sessions(l.now);
    l.drain();
    CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 2);
    CHECK(l.proxy.size() == 0);
}

TEST_CASE("proxy steering: session deletion fast-closes the UE, FINs the server after the bytes",
          "[proxy][steering]") {
    Lab l;
    l.seid = 0x42;
    l.scheduler = lb(50);
    const MptcpOpen o = open_mptcp(l);
    // The UE sends "ping" (DSS mapping): relayed to the server.
    mptcp::crypto::Sha256 sha;
    const uint64_t ue_dsn = mptcp::crypto::key_material(sha, kUeKey).idsn + 1;
    const uint64_t braid_dsn = mptcp::crypto::key_material(sha, o.braid_key).idsn + 1;
    mw::Dss d;
    d.data_ack = braid_dsn + 4;
    d.mapping = mw::DssMapping{};
    d.mapping->dsn = ue_dsn;
    d.mapping->ssn = 1;
    d.mapping->data_len = 4;
    l.ue(tflag::ack | tflag::psh, o.ue_nxt, o.braid_nxt, "ping", 65535, {d});
    std::string up;
    for (const Seg& s : l.sent_to(kServer)) {
        up += s.data;
    }
    REQUIRE(up == "ping");
    l.out.clear();
    // Per access (no access_of in this lab: unknown): "ping" in, the Convert reply out.
    CHECK(l.ep.access_bytes(mptcp::Access::unknown, true) == 4);
    CHECK(l.ep.access_bytes(mptcp::Access::unknown, false) == 4);
    CHECK(l.ep.access_bytes(mptcp::Access::tgpp, true) == 0);

    SECTION("deleted: MP_FASTCLOSE to the UE, FIN (no RST) to the server, then gone") {
        l.session_alive = false;
        l.proxy.check_sessions(l.now);
        l.drain();
        CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 1);
        CHECK(fastclosed(l.sent_to(kUe)));
        uint32_t fin_seq = 0;
        for (const Seg& s : l.sent_to(kServer)) {
            CHECK((s.h.flags & tflag::rst) == 0);
            if (s.h.flags & tflag::fin) {
                fin_seq = s.h.seq.raw();
            }
        }
        REQUIRE(fin_seq == o.n6_nxt + 4);  // after the relayed bytes
        REQUIRE(l.proxy.size() == 1);
        CHECK(l.proxy.describe_all()[0].session_deleted);
        CHECK(l.proxy.describe_all()[0].state == cv::ProxyState::closing);
        // The server's late bytes have nowhere to go: read and dropped; its FIN ends it.
        l.server(tflag::ack | tflag::psh, kServerIsn + 1, fin_seq + 1, "late");
        l.server(tflag::ack | tflag::fin, kServerIsn + 5, fin_seq + 1);
        CHECK(l.sent_to(kUe).empty());
        CHECK(l.proxy.size() == 0);
        CHECK(l.proxy[cv::ProxyCounter::session_linger_resets] == 0);
        CHECK(l.proxy[cv::ProxyCounter::n6_resets] == 0);
    }
    SECTION("the address now belongs to another session: the same as a deletion") {
        l.seid = 0x43;
        l.proxy.check_sessions(l.now);
        l.drain();
        CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 1);
        CHECK(fastclosed(l.sent_to(kUe)));
    }
    SECTION("a server that never closes is reset after the linger") {
        l.session_alive = false;
        l.proxy.check_sessions(l.now);
        l.drain();
        l.out.clear();
        l.advance(l.proxy.config().session_close_linger_us + 1000);
        bool rst = false;
        for (const Seg& s : l.sent_to(kServer)) {
            rst |= (s.h.flags & tflag::rst) != 0;
        }
        CHECK(rst);
        CHECK(l.proxy[cv::ProxyCounter::session_linger_resets] == 1);
        CHECK(l.proxy.size() == 0);
    }
}

TEST_CASE("proxy steering: deletion while the N6 SYN is pending resets the UE, drops the SYN",
          "[proxy][steering]") {
    Lab l;
    l.seid = 9;
    Seg syn = l.open();
    l.out.clear();
    l.session_alive = false;
    l.proxy.check_sessions(l.now);
    l.drain();
    CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 1);
    bool rst_ue = false;
    for (const Seg& s : l.sent_to(kUe)) {
        rst_ue |= (s.h.flags & tflag::rst) != 0;
    }
    CHECK(rst_ue);
    // The N6 connection in SYN-SENT is dropped without a segment (RFC 9293 §3.10.5)...
    CHECK(l.sent_to(kServer).empty());
    CHECK(l.proxy.size() == 0);
    // ... and a late SYN/ACK from the server finds nothing: the engine answers it with a RST.
    l.server(tflag::syn | tflag::ack, kServerIsn, syn.h.seq.raw() + 1);
    bool rst_n6 = false;
    for (const Seg& s : l.sent_to(kServer)) {
        rst_n6 |= (s.h.flags & tflag::rst) != 0;
    }
    CHECK(rst_n6);
    CHECK(l.proxy.size() == 0);
    CHECK(l.sent_to(kUe).empty());
}

TEST_CASE("proxy steering: connections without a session are never checked", "[proxy][steering]") {
    Lab l;  // seid 0: the lookups report no session identity
    l.establish();
    l.session_alive = false;
    l.proxy.check_sessions(l.now);
    CHECK(l.proxy[cv::ProxyCounter::session_deleted] == 0);
    CHECK(l.proxy.size() == 1);
}

TEST_CASE("proxy: setup latency histogram (UE SYN to UE SYN/ACK)", "[proxy]") {
    cv::SetupHistogram h;
    CHECK(h.quantile_bound_us(0.5) == 0);
    Lab l;
    Seg syn = l.open();
    l.now += 3'000;  // the N6 round trip
    l.server(tflag::syn | tflag::ack, kServerIsn, syn.h.seq.raw() + 1);
    const cv::SetupHistogram& s = l.proxy.setup_histogram();
    CHECK(s.total() == 1);
    CHECK(s.sum_us == 3'000);
    CHECK(s.counts[4] == 1);  // (2500, 5000]
    CHECK(s.quantile_bound_us(0.5) == 5'000);
    for (int i = 0; i < 98; ++i) {
        h.add(100);
    }
    h.add(40'000);
    h.add(9'000'000);
    CHECK(h.total() == 100);
    CHECK(h.quantile_bound_us(0.5) == 250);
    CHECK(h.quantile_bound_us(0.99) == 50'000);
    CHECK(h.quantile_bound_us(1.0) == UINT64_MAX);
}

TEST_CASE(
    "proxy: Extended Connect asking for a TFO cookie → a cookie request on N6, the "
    "server's SYN/ACK options in the reply (RFC 8803 6.2.6, 7.6)",
    "[proxy]") {
    Lab l;
    cv::wire::Connect c;
    c.port = kServerPort;
    c.address =
        cv::Address::v4(uint32_t{kServer.bytes[0]} << 24 | uint32_t{kServer.bytes[1]} << 16 |
                        uint32_t{kServer.bytes[2]} << 8 | kServer.bytes[3]);
    const uint8_t tfo_request[] = {34, 2};
    REQUIRE(c.options.assign(tfo_request));
    std::array<uint8_t, cv::wire::max_message_len> buf{};
    cv::wire::Builder b(buf);
    auto n = b.connect(c).finish();
    REQUIRE(n);
    l.syn_data.assign(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
    l.ue(tflag::syn, kUeIsn, 0, l.syn_data);
    Seg syn = l.one_to(kServer);
    REQUIRE(syn.h.flags == tflag::syn);
    CHECK(syn.opt.fast_open);
    CHECK(syn.opt.fast_open_cookie.empty());
    // The server answers with MSS 1400, SACK-permitted, window scale 0 (Lab::input).
    l.server(tflag::syn | tflag::ack, kServerIsn, syn.h.seq.raw() + 1);
    l.sent_to(kServer);
    Seg sa = l.one_to(kUe);
    const std::string stream = ue_stream(l, sa);
    REQUIRE(stream.size() >= 12);
    // Header + TLV header + 12 option bytes (MSS, NOP NOP SACK-permitted, NOP WS): 5 words.
    CHECK(stream.substr(0, 4) == std::string("\x01\x05\x22\x63", 4));
    CHECK(static_cast<uint8_t>(stream[4]) == 0x14);  // Extended TCP Header
    // Linux's order, as tcpstack emits it: MSS 1400, NOP NOP SACK-permitted, NOP WS 0.
    CHECK(stream.substr(8) == std::string("\x02\x04\x05\x78\x01\x01\x04\x02\x01\x03\x03\x00", 12));
}

}  // namespace braid::test
