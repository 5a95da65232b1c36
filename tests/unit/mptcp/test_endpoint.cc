// MPTCP on the engine (mptcp/endpoint.h): scripted segments from a Linux-like MPTCP client into
// an MPTCP listener, sans I/O, time injected. The handshake (keys, checksum negotiation, SYN
// cookies), fallback to plain TCP, DSS mappings both ways, DATA_ACK, DATA_FIN ordering and a
// DSS checksum failure.
#include <catch2/catch.hpp>

#include <deque>
#include <string>

#include "mptcp/endpoint.h"
#include "tcpstack/engine.h"
#include "tests/unit/tcpstack/tcp_env.h"

namespace braid::test {
namespace {

using namespace braid::tcp;
namespace mw = braid::mptcp::wire;
namespace tflag = braid::tcp::wire::flag;
using mptcp::Counter;

const IpAddr kLocal = IpAddr::v4(198, 18, 0, 1);
const IpAddr kRemote = IpAddr::v4(198, 18, 0, 2);
constexpr uint32_t kIrs = 1000;  // the client's ISN
constexpr uint64_t kClientKey = 0x0123456789abcdefULL;

struct Out {
    wire::Header h;
    wire::Options opt;
    std::string data;
};

// The MPTCP options of a segment braid sent.
struct MpOut {
    std::optional<mw::MpCapable> cap;
    std::optional<mw::Dss> dss;
};

MpOut mp_of(const Out& o) {
    MpOut r;
    std::span<const uint8_t> b(o.opt.mptcp_out.data(), o.opt.mptcp_out_len);
    while (b.size() >= 2) {
        size_t len = b[1];
        REQUIRE(len >= 2);
        REQUIRE(len <= b.size());
        mw::ParseResult p = mw::parse(b.first(len));
        REQUIRE(p.option);
        if (auto* c = std::get_if<mw::MpCapable>(&*p.option)) {
            r.cap = *c;
        }
        if (auto* d = std::get_if<mw::Dss>(&*p.option)) {
            r.dss = *d;
        }
        b = b.subspan(len);
    }
    return r;
}

struct Harness {
    explicit Harness(bool checksums = false, uint32_t backlog = 128)
        : eng(
              config(),
              [this](OutSegment&& s) {
                  // The whole segment must fit: options within 40 bytes.
                  CHECK(wire::options_len(s.options) <= wire::max_options_len);
                  CHECK((s.header.has(tflag::rst) || wire::options_len(s.options) > 0));
                  out.push_back(Out{s.header, s.options, take_bytes(s.payload)});
              },
              [this](const Event& e) { ep.on_engine_event(e); }),
          ep(eng, ep_config(checksums), tokens, [this](const Event& e) { events.push_back(e); }) {
        ListenOptions lo;
        lo.port = 80;
        lo.hook = &ep;
        lo.backlog = backlog;
        lo.rcv_buf = 64 * 1024;
        lid = *eng.listen(lo);
    }
    static EngineConfig config() {
        EngineConfig c;
        c.clone_pool = tcp_env().clones;
        for (size_t i = 0; i < c.secret.size(); ++i) {
            c.secret[i] = static_cast<uint8_t>(i * 5 + 3);
        }
        c.cc = CcAlgorithm::newreno;
        return c;
    }
    mptcp::EndpointConfig ep_config(bool checksums) {
        mptcp::EndpointConfig c;
        c.data_pool = tcp_env().data;
        c.checksums = checksums;
        c.rcv_buf = 64 * 1024;
        c.secret[0] = 42;
        c.rng = [this] {
            return rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
        };
        return c;
    }

    // A segment from the client with optional MPTCP options (encoded here, kept alive for the
    // call) and timestamps.
    void inject(uint8_t flags, uint32_t seq, uint32_t ack, std::vector<mw::Option> mp = {},
                const std::string& data = {}, bool ts = true) {
        wire::Options o;
        if (ts) {
            o.timestamps = wire::Timestamps{tsval++, ts_echo};
        }
        std::array<std::array<uint8_t, 40>, 4> store{};
        for (size_t i = 0; i < mp.size(); ++i) {
            auto n = mw::emit(mp[i], store[i]);
            REQUIRE(n);
            o.mptcp[o.mptcp_count++] = std::span<const uint8_t>(store[i].data(), *n);
        }
        if (flags & tflag::syn) {
            o.mss = 1460;
            o.sack_permitted = true;
            o.window_scale = 7;
        }
        wire::Header h;
        h.src_port = 40000;
        h.dst_port = 80;
        h.seq = Seq(seq);
        h.ack = Seq(ack);
        h.flags = flags;
        h.window = 65535;
        rte_mbuf* p = data.empty() ? nullptr : make_payload(data);
        eng.input(tuple, h, o, p, now);
        ep.poll(now);
    }
    Out expect() {
        REQUIRE_FALSE(out.empty());
        Out o = out.front();
        out.pop_front();
        if (o.opt.timestamps) {
            ts_echo = o.opt.timestamps->tsval;
        }
        return o;
    }

    // SYN (MP_CAPABLE, flags) → SYN/ACK; returns braid's key from it (0 if none).
    uint64_t syn(uint8_t cap_flags = mw::capable_flag::hmac_sha256, bool with_option = true) {
        mw::MpCapable c;
        c.flags = cap_flags;
        std::vector<mw::Option> mp;
        if (with_option) {
            mp.push_back(c);
        }
        inject(tflag::syn, kIrs, 0, mp);
        Out sa = expect();
        REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
        iss = sa.h.seq.raw();
        synack_opt = sa.opt;
        MpOut m = mp_of(sa);
        return m.cap && m.cap->sender_key ? *m.cap->sender_key : 0;
    }
    // Full handshake; returns the accepted connection.
    ConnId connect(uint8_t cap_flags = mw::capable_flag::hmac_sha256) {
        server_key = syn(cap_flags);
        REQUIRE(server_key != 0);
        mw::MpCapable c;
        c.flags = cap_flags;
        c.sender_key = kClientKey;
        c.receiver_key = server_key;
        inject(tflag::ack, kIrs + 1, iss + 1, {c});
        auto id = eng.accept(lid);
        REQUIRE(id);
        return *id;
    }

    uint64_t counter(Counter c) const { return ep.counters()[c]; }

    mptcp::LocalTokenTable tokens;
    std::deque<Out> out;
    std::vector<Event> events;
    uint64_t now = 10'000'000;
    uint64_t rng_state = 7;
    uint32_t tsval = 100;
    uint32_t ts_echo = 0;
    uint32_t iss = 0;
    uint64_t server_key = 0;
    wire::Options synack_opt;
    FourTuple tuple{kLocal, kRemote, 80, 40000};
    ListenerId lid = 0;
    Engine eng;
    mptcp::Endpoint ep;
};

mptcp::crypto::KeyMaterial keys(uint64_t key) {
    static mptcp::crypto::Sha256 sha;
    return mptcp::crypto::key_material(sha, key);
}

mw::DssMapping mapping(uint64_t dsn, uint32_t ssn, uint16_t len) {
    mw::DssMapping m;
    m.dsn = dsn;
    m.ssn = ssn;
    m.data_len = len;
    return m;
}

mw::Dss dss(std::optional<uint64_t> data_ack, std::optional<mw::DssMapping> m = {},
            bool fin = false) {
    mw::Dss d;
    d.data_ack = data_ack;
    d.mapping = m;
    d.data_fin = fin;
    return d;
}

}  // namespace

TEST_CASE("mptcp endpoint: passive MP_CAPABLE v1 handshake", "[mptcp][endpoint]") {
    Harness t;
    uint64_t key = t.syn();
    REQUIRE(key != 0);
    MpOut sa = mp_of(Out{{}, t.synack_opt, {}});
    REQUIRE(sa.cap);
    CHECK(sa.cap->flags == mw::capable_flag::hmac_sha256);  // no checksums asked, none offered
    CHECK_FALSE(sa.cap->receiver_key);
    // The token is reserved from the SYN on.
    CHECK(t.tokens.contains(keys(key).token));
    CHECK(t.counter(Counter::syn_mp_capable) == 1);

    mw::MpCapable ack;
    ack.sender_key = kClientKey;
    ack.receiver_key = key;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {ack});
    auto id = t.eng.accept(t.lid);
    REQUIRE(id);
    REQUIRE(t.ep.is_mptcp(*id));
    auto d = t.ep.describe(*id);
    REQUIRE(d);
    CHECK(d->state == mptcp::ConnState::established);
    CHECK(d->local_token == keys(key).token);
    CHECK(d->remote_token == keys(kClientKey).token);
    CHECK_FALSE(d->checksums);
    CHECK(t.counter(Counter::established) == 1);
    // The SYN/ACK's options fit: MP_CAPABLE 12 + MSS, SACK-P, TS, WS.
    CHECK(wire::options_len(t.synack_opt) == 32);
}

TEST_CASE("mptcp endpoint: a SYN without MP_CAPABLE is plain TCP", "[mptcp][endpoint]") {
    Harness t;
    CHECK(t.syn(0, false) == 0);
    CHECK(t.synack_opt.mptcp_out_len == 0);
    CHECK(t.counter(Counter::fallback_syn_no_option) == 1);
    t.inject(tflag::ack, kIrs + 1, t.iss + 1);
    auto id = t.eng.accept(t.lid);
    REQUIRE(id);
    CHECK_FALSE(t.ep.is_mptcp(*id));
    CHECK_FALSE(t.eng.hooked(*id));
    // Data through the endpoint's API goes straight to the engine.
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {}, "hello");
    CHECK(take_bytes(t.ep.recv(*id, t.now)) == "hello");
    t.now += 50'000;  // the delayed ACK
    t.eng.on_timer(t.now);
    Out a = t.expect();
    CHECK(a.opt.mptcp_out_len == 0);
}

TEST_CASE("mptcp endpoint: unusable MP_CAPABLE in the SYN falls back", "[mptcp][endpoint]") {
    Harness t;
    // B (extensibility) set: ignore MP_CAPABLE.
    CHECK(t.syn(mw::capable_flag::hmac_sha256 | mw::capable_flag::extensibility) == 0);
    CHECK(t.counter(Counter::fallback_syn_bad_option) == 1);
    Harness u;
    // No crypto algorithm bit.
    CHECK(u.syn(0) == 0);
    CHECK(u.counter(Counter::fallback_syn_bad_option) == 1);
}

TEST_CASE("mptcp endpoint: third ACK without MP_CAPABLE falls back to TCP", "[mptcp][endpoint]") {
    Harness t;
    uint64_t key = t.syn();
    REQUIRE(key != 0);
    t.inject(tflag::ack, kIrs + 1, t.iss + 1);  // options stripped by a middlebox
    auto id = t.eng.accept(t.lid);
    REQUIRE(id);
    CHECK_FALSE(t.ep.is_mptcp(*id));
    CHECK_FALSE(t.tokens.contains(keys(key).token));
    CHECK(t.counter(Counter::fallback_third_ack) == 1);
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {}, "plain");
    CHECK(take_bytes(t.ep.recv(*id, t.now)) == "plain");
}

TEST_CASE("mptcp endpoint: third ACK echoing a wrong key falls back", "[mptcp][endpoint]") {
    Harness t;
    uint64_t key = t.syn();
    mw::MpCapable ack;
    ack.sender_key = kClientKey;
    ack.receiver_key = key ^ 1;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {ack});
    auto id = t.eng.accept(t.lid);
    REQUIRE(id);
    CHECK_FALSE(t.ep.is_mptcp(*id));
    CHECK(t.counter(Counter::fallback_bad_key) == 1);
}

TEST_CASE("mptcp endpoint: checksum negotiation either side", "[mptcp][endpoint]") {
    SECTION("client asks (A in the SYN)") {
        Harness t;
        ConnId id = t.connect(mw::capable_flag::hmac_sha256 | mw::capable_flag::checksum);
        MpOut sa = mp_of(Out{{}, t.synack_opt, {}});
        CHECK((sa.cap->flags & mw::capable_flag::checksum) != 0);
        CHECK(t.ep.describe(id)->checksums);
    }
    SECTION("braid asks (A in the SYN/ACK)") {
        Harness t(true);
        ConnId id = t.connect();
        MpOut sa = mp_of(Out{{}, t.synack_opt, {}});
        CHECK((sa.cap->flags & mw::capable_flag::checksum) != 0);
        CHECK(t.ep.describe(id)->checksums);
    }
    SECTION("neither") {
        Harness t;
        ConnId id = t.connect();
        CHECK_FALSE(t.ep.describe(id)->checksums);
    }
}

TEST_CASE("mptcp endpoint: data in through DSS, DATA_ACK on braid's ACKs", "[mptcp][endpoint]") {
    Harness t;
    ConnId id = t.connect();
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    uint64_t sdsn = keys(t.server_key).idsn + 1;
    // First data in the MP_CAPABLE data form (22 bytes): DSN = IDSN + 1, SSN 1.
    mw::MpCapable first;
    first.sender_key = kClientKey;
    first.receiver_key = t.server_key;
    first.data_len = 5;
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {first}, "hello");
    CHECK(t.ep.readable_bytes(id) == 5);
    // Then a DSS mapping with a DATA_ACK for nothing sent yet (braid's IDSN + 1).
    t.inject(tflag::ack | tflag::psh, kIrs + 6, t.iss + 1, {dss(sdsn, mapping(cdsn + 5, 6, 6))},
             " world");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "hello world");
    CHECK(t.ep.describe(id)->bytes_in == 11);
    // Two segments: braid ACKs at once, with the DATA_ACK past both.
    bool found = false;
    while (!t.out.empty()) {
        Out a = t.expect();
        MpOut m = mp_of(a);
        REQUIRE(m.dss);
        REQUIRE(m.dss->data_ack);
        CHECK(m.dss->data_ack8);
        if (a.h.ack.raw() == kIrs + 12) {
            CHECK(*m.dss->data_ack == cdsn + 11);
            found = true;
        }
        CHECK_FALSE(m.dss->mapping);  // nothing to map on a pure ACK
    }
    CHECK(found);
    CHECK(t.counter(Counter::rx_bytes) == 11);
}

TEST_CASE("mptcp endpoint: data out carries a DSS mapping per segment", "[mptcp][endpoint]") {
    Harness t;
    ConnId id = t.connect();
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    uint64_t sdsn = keys(t.server_key).idsn + 1;
    std::string msg(3000, 'x');
    for (size_t i = 0; i < msg.size(); ++i) {
        msg[i] = static_cast<char>('a' + i % 26);
    }
    REQUIRE(t.ep.send(id, make_payload(msg), t.now) == 3000);
    std::string got;
    uint32_t expect_ssn = 1;
    for (int round = 0; round < 10 && got.size() < msg.size(); ++round) {
        if (t.out.empty()) {
            // Nagle holds the short tail until the data in flight is ACKed (with DATA_ACK).
            t.inject(tflag::ack, kIrs + 1, t.iss + 1 + static_cast<uint32_t>(got.size()),
                     {dss(sdsn + got.size())});
            continue;
        }
        Out s = t.expect();
        MpOut m = mp_of(s);
        REQUIRE(m.dss);
        REQUIRE(m.dss->mapping);
        // Options: TS 12 + DSS 28 = 40, so the payload is MSS - 40.
        CHECK(s.data.size() <= 1460 - 40);
        CHECK(m.dss->mapping->ssn == expect_ssn);
        CHECK(m.dss->mapping->ssn == s.h.seq.raw() - t.iss);
        CHECK(m.dss->mapping->dsn == sdsn + got.size());
        CHECK(m.dss->mapping->data_len == s.data.size());
        CHECK(*m.dss->data_ack == cdsn);
        CHECK_FALSE(m.dss->data_fin);
        expect_ssn += static_cast<uint32_t>(s.data.size());
        got += s.data;
    }
    CHECK(got.size() == msg.size());
    CHECK((got == msg));
    CHECK(t.ep.describe(id)->bytes_out == 3000);
}

TEST_CASE("mptcp endpoint: DSS checksum on what braid sends", "[mptcp][endpoint]") {
    Harness t(true);
    ConnId id = t.connect();
    REQUIRE(t.ep.send(id, make_payload("checksummed"), t.now) == 11);
    Out s = t.expect();
    MpOut m = mp_of(s);
    REQUIRE(m.dss->mapping);
    REQUIRE(m.dss->mapping->checksum);
    mptcp::crypto::DssChecksum c(m.dss->mapping->dsn, m.dss->mapping->ssn,
                                 m.dss->mapping->data_len);
    c.add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data.data()), s.data.size()));
    CHECK(c.verify(*m.dss->mapping->checksum));
}

TEST_CASE("mptcp endpoint: DSS checksum failure resets the connection", "[mptcp][endpoint]") {
    Harness t(true);
    ConnId id = t.connect();
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    mw::DssMapping m = mapping(cdsn, 1, 4);
    mptcp::crypto::DssChecksum c(cdsn, 1, 4);
    c.add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("good"), 4));
    m.checksum = c.value();
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(std::nullopt, m)}, "gooD");
    CHECK(t.counter(Counter::rx_checksum_failed) == 1);
    CHECK(t.counter(Counter::reset_checksum) == 1);
    CHECK(t.ep.readable_bytes(id) == 0);
    bool rst = false;
    while (!t.out.empty()) {
        rst = rst || t.expect().h.has(tflag::rst);
    }
    CHECK(rst);
    CHECK_FALSE(t.eng.state(id));
    CHECK_FALSE(t.ep.is_mptcp(id));
}

TEST_CASE("mptcp endpoint: the peer's DATA_FIN waits for the data before it", "[mptcp][endpoint]") {
    Harness t;
    ConnId id = t.connect();
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    // Data [1, 5) is lost; the DATA_FIN (alone, SSN 0, length 1) at DSN cdsn + 4 arrives first.
    t.inject(tflag::ack, kIrs + 5, t.iss + 1, {dss(std::nullopt, mapping(cdsn + 4, 0, 1), true)});
    CHECK_FALSE(t.ep.peer_closed(id));
    CHECK(t.ep.describe(id)->state == mptcp::ConnState::established);
    t.out.clear();
    // The data arrives: the DATA_FIN is reached, DATA_ACK covers it.
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(std::nullopt, mapping(cdsn, 1, 4))},
             "data");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "data");
    CHECK(t.ep.peer_closed(id));
    CHECK(t.ep.describe(id)->state == mptcp::ConnState::close_wait);
    t.ep.shutdown_write(id, t.now);
    uint64_t last_ack = 0;
    while (!t.out.empty()) {
        MpOut m = mp_of(t.expect());
        last_ack = *m.dss->data_ack;
    }
    CHECK(last_ack == cdsn + 5);
}

TEST_CASE("mptcp endpoint: braid's DATA_FIN, then FIN on the subflow once DATA_ACKed",
          "[mptcp][endpoint]") {
    Harness t;
    ConnId id = t.connect();
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    uint64_t sdsn = keys(t.server_key).idsn + 1;
    REQUIRE(t.ep.send(id, make_payload("bye"), t.now) == 3);
    t.ep.shutdown_write(id, t.now);
    Out d = t.expect();
    MpOut m = mp_of(d);
    CHECK(d.data == "bye");
    REQUIRE(m.dss->mapping);
    // The DATA_FIN rides on the data (length counts it) or on the next ACK, alone.
    bool fin_seen = m.dss->data_fin;
    if (fin_seen) {
        CHECK(m.dss->mapping->data_len == 4);
    } else {
        Out f = t.expect();
        MpOut fm = mp_of(f);
        REQUIRE(fm.dss->mapping);
        CHECK(fm.dss->data_fin);
        CHECK(fm.dss->mapping->dsn == sdsn + 3);
        CHECK(fm.dss->mapping->ssn == 0);
        CHECK(fm.dss->mapping->data_len == 1);
    }
    CHECK(t.ep.describe(id)->state == mptcp::ConnState::fin_wait);
    CHECK_FALSE(d.h.has(tflag::fin));  // no subflow FIN before the DATA_ACK
    t.out.clear();
    // DATA_ACK for the data only: still no FIN.
    t.inject(tflag::ack, kIrs + 1, t.iss + 4, {dss(sdsn + 3)});
    for (const auto& o : t.out) {
        CHECK_FALSE(o.h.has(tflag::fin));
    }
    t.out.clear();
    // DATA_ACK past the DATA_FIN: the subflow sends its FIN.
    t.inject(tflag::ack, kIrs + 1, t.iss + 4, {dss(sdsn + 4)});
    bool fin = false;
    while (!t.out.empty()) {
        fin = fin || t.expect().h.has(tflag::fin);
    }
    CHECK(fin);
    // The peer's DATA_FIN and subflow FIN: closed both ways.
    t.inject(tflag::ack | tflag::fin, kIrs + 1, t.iss + 5,
             {dss(sdsn + 4, mapping(cdsn, 0, 1), true)});
    CHECK(t.ep.peer_closed(id));
    CHECK(t.counter(Counter::rx_data_fin) == 1);
    CHECK(t.counter(Counter::tx_data_fin) == 1);
}

TEST_CASE("mptcp endpoint: a DATA_FIN lost on a bare ACK is sent again until DATA_ACKed",
          "[mptcp][endpoint]") {
    Harness t;
    ConnId id = t.connect();
    uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.ep.shutdown_write(id, t.now);  // no data: the DATA_FIN goes alone on a bare ACK
    Out f = t.expect();
    REQUIRE(mp_of(f).dss->data_fin);
    CHECK(mp_of(f).dss->mapping->dsn == sdsn);
    t.out.clear();  // lost
    t.now += 500'000;
    t.ep.poll(t.now);
    CHECK(t.out.empty());  // not yet
    t.now += 600'000;
    t.ep.poll(t.now);
    Out again = t.expect();
    MpOut m = mp_of(again);
    REQUIRE(m.dss->mapping);
    CHECK(m.dss->data_fin);
    CHECK(m.dss->mapping->dsn == sdsn);
    CHECK(m.dss->mapping->data_len == 1);
    // DATA_ACKed: no more retries.
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn + 1)});
    t.out.clear();
    t.now += 5'000'000;
    t.ep.poll(t.now);
    for (const auto& o : t.out) {
        MpOut x = mp_of(o);
        CHECK_FALSE((x.dss && x.dss->data_fin));
    }
}

TEST_CASE("mptcp endpoint: SYN cookies carry a derived key the third ACK proves",
          "[mptcp][endpoint]") {
    Harness t(false, 0);  // backlog 0: every SYN gets a cookie
    uint64_t key = t.syn();
    REQUIRE(key != 0);
    CHECK(t.counter(Counter::cookie_syn_acks) == 1);
    CHECK(t.tokens.size() == 0);  // no state before the ACK
    mw::MpCapable ack;
    ack.sender_key = kClientKey;
    ack.receiver_key = key;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {ack});
    auto id = t.eng.accept(t.lid);
    REQUIRE(id);
    REQUIRE(t.ep.is_mptcp(*id));
    CHECK(t.ep.describe(*id)->state == mptcp::ConnState::established);
    CHECK(t.ep.describe(*id)->local_token == keys(key).token);
    // Data both ways works on the rebuilt connection.
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(std::nullopt, mapping(cdsn, 1, 2))},
             "hi");
    CHECK(take_bytes(t.ep.recv(*id, t.now)) == "hi");

    // Same SYN again from another port, the ACK echoing a forged key: plain TCP.
    Harness u(false, 0);
    uint64_t k2 = u.syn();
    ack.receiver_key = k2 + 1;
    u.inject(tflag::ack, kIrs + 1, u.iss + 1, {ack});
    auto id2 = u.eng.accept(u.lid);
    REQUIRE(id2);
    CHECK_FALSE(u.ep.is_mptcp(*id2));
    CHECK(u.counter(Counter::fallback_cookie_ack) == 1);
}

TEST_CASE("mptcp endpoint: echo through the endpoint API", "[mptcp][endpoint]") {
    Harness t;
    ConnId id = t.connect();
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    uint64_t sdsn = keys(t.server_key).idsn + 1;
    std::string msg(5000, 'q');
    // Client sends 5000 bytes in 4 segments of at most 1400 (each with its mapping).
    uint32_t off = 0;
    while (off < msg.size()) {
        uint32_t n = std::min<uint32_t>(1400, static_cast<uint32_t>(msg.size()) - off);
        t.inject(tflag::ack, kIrs + 1 + off, t.iss + 1,
                 {dss(sdsn, mapping(cdsn + off, 1 + off, static_cast<uint16_t>(n)))},
                 msg.substr(off, n));
        off += n;
    }
    t.out.clear();
    rte_mbuf* m = t.ep.recv(id, t.now);
    REQUIRE(m != nullptr);
    REQUIRE(rte_pktmbuf_pkt_len(m) == 5000);
    REQUIRE(t.ep.send(id, m, t.now) == 5000);
    std::string echoed;
    for (int round = 0; round < 20 && echoed.size() < msg.size(); ++round) {
        if (t.out.empty()) {
            t.inject(tflag::ack, kIrs + 1 + off, t.iss + 1 + static_cast<uint32_t>(echoed.size()),
                     {dss(sdsn + echoed.size())});
            continue;
        }
        echoed += t.expect().data;
    }
    CHECK(echoed.size() == msg.size());
    CHECK((echoed == msg));
}

}  // namespace braid::test
