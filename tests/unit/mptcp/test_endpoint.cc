// MPTCP on the engine (mptcp/endpoint.h): scripted segments from a Linux-like MPTCP client into
// an MPTCP listener, sans I/O, time injected. The handshake (keys, checksum negotiation, SYN
// cookies), fallback to plain TCP, DSS mappings both ways, DATA_ACK, DATA_FIN ordering and a
// DSS checksum failure.
#include <catch2/catch.hpp>

#include <deque>
#include <map>
#include <set>
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
const IpAddr kRemote2 = IpAddr::v4(198, 18, 0, 3);  // the client's second address
constexpr uint32_t kIrs = 1000;                     // the client's ISN
constexpr uint64_t kClientKey = 0x0123456789abcdefULL;

struct Out {
    wire::Header h;
    wire::Options opt;
    std::string data;
    FourTuple tuple{};
};

// The MPTCP options of a segment braid sent.
struct MpOut {
    std::optional<mw::MpCapable> cap;
    std::optional<mw::Dss> dss;
    std::optional<mw::MpJoinSynAck> join;
    std::optional<mw::MpFastclose> fastclose;
    std::optional<mw::MpTcpRst> tcprst;
    std::optional<mw::AddAddr> add_addr;
    std::optional<mw::RemoveAddr> remove_addr;
    std::optional<mw::MpFail> mp_fail;
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
        if (auto* j = std::get_if<mw::MpJoinSynAck>(&*p.option)) {
            r.join = *j;
        }
        if (auto* f = std::get_if<mw::MpFastclose>(&*p.option)) {
            r.fastclose = *f;
        }
        if (auto* x = std::get_if<mw::MpTcpRst>(&*p.option)) {
            r.tcprst = *x;
        }
        if (auto* x = std::get_if<mw::AddAddr>(&*p.option)) {
            r.add_addr = *x;
        }
        if (auto* x = std::get_if<mw::RemoveAddr>(&*p.option)) {
            r.remove_addr = *x;
        }
        if (auto* x = std::get_if<mw::MpFail>(&*p.option)) {
            r.mp_fail = *x;
        }
        b = b.subspan(len);
    }
    return r;
}

struct Harness {
    explicit Harness(bool checksums = false, uint32_t backlog = 128, uint32_t max_subflows = 4,
                     mptcp::SchedulerConfig sched = {}, bool defer_syn_data = false,
                     std::vector<mptcp::AdvertisedAddress> advertise = {})
        : advertised(std::move(advertise)),
          eng(
              config(),
              [this](OutSegment&& s) {
                  // The whole segment must fit: options within 40 bytes.
                  CHECK(wire::options_len(s.options) <= wire::max_options_len);
                  CHECK((s.header.has(tflag::rst) || wire::options_len(s.options) > 0));
                  out.push_back(Out{s.header, s.options, take_bytes(s.payload), s.tuple});
              },
              [this](const Event& e) { ep.on_engine_event(e); }),
          ep(eng, ep_config(checksums, max_subflows, sched), tokens,
             [this](const Event& e) { events.push_back(e); }) {
        ListenOptions lo;
        lo.port = 80;
        lo.hook = &ep;
        lo.backlog = backlog;
        lo.defer_syn_data = defer_syn_data;
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
    mptcp::EndpointConfig ep_config(bool checksums, uint32_t max_subflows,
                                    const mptcp::SchedulerConfig& sched) {
        mptcp::EndpointConfig c;
        c.scheduler = sched;
        // The client's first address is its 3GPP one, the second (kRemote2) its non-3GPP one.
        c.access_of = [](const FourTuple& t) {
            return t.remote == kRemote2 ? mptcp::Access::non_tgpp : mptcp::Access::tgpp;
        };
        c.max_subflows = max_subflows;
        if (!advertised.empty()) {
            c.advertise = [this](const FourTuple& t) {
                CHECK(t == tuple);  // the initial subflow's
                return advertised;
            };
        }
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
        inject_to(tuple, flags, seq, ack, std::move(mp), data, ts);
    }
    void inject_to(const FourTuple& to, uint8_t flags, uint32_t seq, uint32_t ack,
                   std::vector<mw::Option> mp = {}, const std::string& data = {}, bool ts = true) {
        wire::Options o;
        if (ts) {
            o.timestamps = wire::Timestamps{tsval++, ts_echo[to.remote_port]};
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
        h.src_port = to.remote_port;
        h.dst_port = to.local_port;
        h.seq = Seq(seq);
        h.ack = Seq(ack);
        h.flags = flags;
        h.window = window;
        rte_mbuf* p = data.empty() ? nullptr : make_payload(data);
        eng.input(to, h, o, p, now);
        ep.poll(now);
    }
    Out expect() {
        REQUIRE_FALSE(out.empty());
        Out o = out.front();
        out.pop_front();
        if (o.opt.timestamps) {
            ts_echo[o.tuple.remote_port] = o.opt.timestamps->tsval;
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

    // MP_JOIN SYN on `to` for the connection with braid's key `key`; returns braid's SYN/ACK.
    Out join_syn(const FourTuple& to, uint32_t irs, uint32_t nonce, bool backup = false,
                 std::optional<uint32_t> token = {}) {
        mw::MpJoinSyn j;
        j.backup = backup;
        j.address_id = 1;
        j.token = token ? *token : mptcp::crypto::key_material(sha, server_key).token;
        j.nonce = nonce;
        inject_to(to, tflag::syn, irs, 0, {j});
        return expect();
    }
    // The join's third ACK with HMAC-A computed as a Linux client does (or a wrong one).
    void join_ack(const FourTuple& to, uint32_t irs, const Out& synack, uint32_t nonce,
                  bool good = true) {
        MpOut m = mp_of(synack);
        REQUIRE(m.join);
        mw::MpJoinAck a;
        a.hmac = mptcp::crypto::join_ack_hmac(sha, kClientKey, server_key, nonce, m.join->nonce);
        if (!good) {
            a.hmac[0] ^= 1;
        }
        inject_to(to, tflag::ack, irs + 1, synack.h.seq.raw() + 1, {a});
    }

    uint64_t counter(Counter c) const { return ep.counters()[c]; }
    mptcp::crypto::Sha256 sha;

    mptcp::LocalTokenTable tokens;
    std::deque<Out> out;
    std::vector<Event> events;
    uint64_t now = 10'000'000;
    uint64_t rng_state = 7;
    uint32_t tsval = 100;
    uint16_t window = 65535;               // the client's window field (scaled by 7 after the SYN)
    std::map<uint16_t, uint32_t> ts_echo;  // per subflow (client port): its TSecr
    uint32_t iss = 0;
    uint64_t server_key = 0;
    wire::Options synack_opt;
    FourTuple tuple{kLocal, kRemote, 80, 40000};
    ListenerId lid = 0;
    std::vector<mptcp::AdvertisedAddress> advertised;
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

TEST_CASE("mptcp endpoint: DSS checksum failure on the only subflow: MP_FAIL, infinite mapping",
          "[mptcp][endpoint][mp_fail]") {
    Harness t(true);
    ConnId id = t.connect();
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    // braid has sent something (not yet Data-ACKed) when the failure happens.
    REQUIRE(t.ep.send(id, make_payload("abc"), t.now) == 3);
    t.out.clear();
    mw::DssMapping m = mapping(cdsn, 1, 4);
    mptcp::crypto::DssChecksum c(cdsn, 1, 4);
    c.add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("good"), 4));
    m.checksum = c.value();
    // A middlebox changed the payload: the checksum fails.
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(std::nullopt, m)}, "gooD");
    CHECK(t.counter(Counter::rx_checksum_failed) == 1);
    CHECK(t.counter(Counter::fallback_mp_fail) == 1);
    CHECK(t.counter(Counter::reset_checksum) == 0);
    // §3.7: MP_FAIL with the failed mapping's DSN on an ACK, no RST; the connection lives as
    // plain TCP and the bytes (as the middlebox left them) reach the application.
    bool fail = false;
    while (!t.out.empty()) {
        Out a = t.expect();
        CHECK_FALSE(a.h.has(tflag::rst));
        if (auto f = mp_of(a).mp_fail) {
            CHECK(f->dsn == cdsn);
            CHECK(a.data.empty());
            fail = true;
        }
    }
    CHECK(fail);
    CHECK(t.counter(Counter::mp_fail_sent) == 1);
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "gooD");
    REQUIRE(t.ep.describe(id));
    CHECK(t.ep.describe(id)->fallen_back);
    CHECK(t.ep.state(id) == State::established);
    // The peer answers with its MP_FAIL (counted, not answered again) and sends plain TCP.
    t.inject(tflag::ack, kIrs + 5, t.iss + 4, {mw::MpFail{cdsn}});
    CHECK(t.counter(Counter::mp_fail_received) == 1);
    CHECK(t.counter(Counter::mp_fail_sent) == 1);
    t.inject(tflag::ack | tflag::psh, kIrs + 5, t.iss + 4, {}, "plain");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "plain");
    // Never back to MPTCP: a join is refused.
    t.out.clear();
    Out jr = t.join_syn(FourTuple{kLocal, kRemote2, 80, 40001}, 50000, 0x11223344);
    CHECK(jr.h.has(tflag::rst));
    CHECK(t.counter(Counter::join_fallen_back) == 1);
    // braid's next data carries the one infinite mapping, retroactive from the last Data-ACKed
    // byte ("abc" was never Data-ACKed), the checksum field kept (negotiated) and zero.
    t.out.clear();
    REQUIRE(t.ep.send(id, make_payload("next"), t.now) == 4);
    Out d = t.expect();
    CHECK(d.data == "next");
    REQUIRE(mp_of(d).dss);
    REQUIRE(mp_of(d).dss->mapping);
    CHECK(mp_of(d).dss->mapping->data_len == 0);
    CHECK(mp_of(d).dss->mapping->dsn == sdsn);
    CHECK(mp_of(d).dss->mapping->ssn == 1);
    CHECK(mp_of(d).dss->mapping->checksum == 0);
    CHECK(t.counter(Counter::infinite_mapping_sent) == 1);
    // Then plain TCP: no MPTCP option at all.
    t.inject(tflag::ack, kIrs + 10, t.iss + 8);
    REQUIRE(t.ep.send(id, make_payload("more"), t.now) == 4);
    Out d2 = t.expect();
    CHECK(d2.data == "more");
    CHECK(d2.opt.mptcp_out_len == 0);
    // The peer's FIN is the DATA_FIN; braid's close is a FIN on the subflow.
    t.inject(tflag::ack | tflag::fin, kIrs + 10, t.iss + 12);
    CHECK(t.ep.peer_closed(id));
    t.out.clear();
    t.ep.close(id, t.now);
    bool fin = false;
    while (!t.out.empty()) {
        Out f = t.expect();
        fin = fin || f.h.has(tflag::fin);
        CHECK(f.opt.mptcp_out_len == 0);
    }
    CHECK(fin);
}

TEST_CASE("mptcp endpoint: options stripped on the first data: fallback to TCP, infinite mapping",
          "[mptcp][endpoint][fallback]") {
    Harness t;
    ConnId id = t.connect();
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.out.clear();
    // A middlebox passed the handshake's options but strips them from data: the client's first
    // data arrives with no DSS (nor MP_CAPABLE with data).
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {}, "hello");
    CHECK(t.counter(Counter::fallback_no_dss) == 1);
    CHECK(t.counter(Counter::fallback_mp_fail) == 0);
    CHECK(t.counter(Counter::rx_unmapped_bytes) == 0);
    REQUIRE(t.ep.describe(id));
    CHECK(t.ep.describe(id)->fallen_back);
    // The bytes map 1:1 onto the stream (§3.7): the application reads them.
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "hello");
    // No MP_FAIL (no checksum failed), no RST; whatever braid ACKs with carries no DATA_ACK.
    t.now += 50'000;
    t.eng.on_timer(t.now);
    t.ep.poll(t.now);
    while (!t.out.empty()) {
        Out a = t.expect();
        CHECK_FALSE(a.h.has(tflag::rst));
        CHECK_FALSE(mp_of(a).mp_fail);
        CHECK_FALSE(mp_of(a).dss);
    }
    CHECK(t.counter(Counter::mp_fail_sent) == 0);
    // braid's first data carries the one infinite mapping (from its first DSN), then none.
    REQUIRE(t.ep.send(id, make_payload("world"), t.now) == 5);
    Out d = t.expect();
    CHECK(d.data == "world");
    REQUIRE(mp_of(d).dss);
    REQUIRE(mp_of(d).dss->mapping);
    CHECK(mp_of(d).dss->mapping->data_len == 0);
    CHECK(mp_of(d).dss->mapping->dsn == sdsn);
    CHECK(mp_of(d).dss->mapping->ssn == 1);
    CHECK(t.counter(Counter::infinite_mapping_sent) == 1);
    t.inject(tflag::ack | tflag::psh, kIrs + 6, t.iss + 6, {}, " again");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == " again");
    REQUIRE(t.ep.send(id, make_payload("!"), t.now) == 1);
    Out d2 = t.expect();
    CHECK(d2.data == "!");
    CHECK(d2.opt.mptcp_out_len == 0);
    // Never back to MPTCP: a join is refused.
    t.out.clear();
    Out jr = t.join_syn(FourTuple{kLocal, kRemote2, 80, 40001}, 50000, 0x11223344);
    CHECK(jr.h.has(tflag::rst));
    CHECK(t.counter(Counter::join_fallen_back) == 1);
}

TEST_CASE("mptcp endpoint: an ACK of braid's data without a DATA_ACK falls back",
          "[mptcp][endpoint][fallback]") {
    Harness t;
    ConnId id = t.connect();
    // braid speaks first (a server-first protocol); the client's ACK for it lost its DSS.
    REQUIRE(t.ep.send(id, make_payload("banner"), t.now) == 6);
    Out d = t.expect();
    REQUIRE(mp_of(d).dss);
    // A bare ACK of only the SYN/ACK (no data acknowledged) says nothing.
    t.inject(tflag::ack, kIrs + 1, t.iss + 1);
    CHECK(t.counter(Counter::fallback_no_dss) == 0);
    CHECK_FALSE(t.ep.describe(id)->fallen_back);
    t.inject(tflag::ack, kIrs + 1, t.iss + 7);
    CHECK(t.counter(Counter::fallback_no_dss) == 1);
    CHECK(t.ep.describe(id)->fallen_back);
    // The client's bytes (plain TCP now) reach the application.
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 7, {}, "hi");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "hi");
}

TEST_CASE("mptcp endpoint: data without a DSS after DSS was seen does not fall back",
          "[mptcp][endpoint][fallback]") {
    Harness t;
    ConnId id = t.connect();
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(sdsn, mapping(cdsn, 1, 3))}, "abc");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "abc");
    // Options stripped later on: the RFC's fallback is for the first data only; these bytes
    // are unmapped (dropped, counted; a window's worth resets the subflow).
    t.inject(tflag::ack | tflag::psh, kIrs + 4, t.iss + 1, {}, "def");
    CHECK(t.counter(Counter::fallback_no_dss) == 0);
    CHECK(t.counter(Counter::rx_unmapped_bytes) == 3);
    CHECK_FALSE(t.ep.describe(id)->fallen_back);
    CHECK(t.ep.readable_bytes(id) == 0);
}

TEST_CASE("mptcp endpoint: DSS checksum failure after a join resets the connection",
          "[mptcp][endpoint][mp_fail]") {
    Harness t(true);
    ConnId id = t.connect();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa = t.join_syn(t2, 50000, 0x11223344);
    t.join_ack(t2, 50000, sa, 0x11223344);
    REQUIRE(t.ep.subflows(id).size() == 2);
    t.out.clear();
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    mw::DssMapping m = mapping(cdsn, 1, 4);
    mptcp::crypto::DssChecksum c(cdsn, 1, 4);
    c.add(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("good"), 4));
    m.checksum = c.value();
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(std::nullopt, m)}, "gooD");
    CHECK(t.counter(Counter::rx_checksum_failed) == 1);
    CHECK(t.counter(Counter::reset_checksum) == 1);
    CHECK(t.counter(Counter::fallback_mp_fail) == 0);
    CHECK(t.ep.readable_bytes(id) == 0);
    int rsts = 0;
    while (!t.out.empty()) {
        Out r = t.expect();
        if (r.h.has(tflag::rst)) {
            ++rsts;
            CHECK(mp_of(r).fastclose);
        }
    }
    CHECK(rsts == 2);
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

// ---------------------------------------------------------------------------------------------
// MP_JOIN: more subflows (RFC 8684 §3.2)

namespace {
constexpr uint32_t kIrs2 = 50000;
constexpr uint32_t kNonceA = 0x11223344;

bool has_event(const Harness& t, ConnId id, EventKind k) {
    for (const Event& e : t.events) {
        if (e.conn == id && e.kind == k) {
            return true;
        }
    }
    return false;
}

// A connection with a second, joined subflow from kRemote2 (braid's key in t.server_key); the
// segments of the handshakes are taken.
struct Joined {
    explicit Joined(mptcp::SchedulerConfig sched = {}, bool backup = false)
        : t(false, 128, 4, sched) {
        id = t.connect();
        sa = t.join_syn(t2, kIrs2, kNonceA, backup);
        t.join_ack(t2, kIrs2, sa, kNonceA);
        iss2 = sa.h.seq.raw();
        REQUIRE(t.ep.subflows(id).size() == 2);
        t.out.clear();
    }
    Harness t;
    ConnId id = 0;
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa;
    uint32_t iss2 = 0;
};

// The same with the join's backup flag set: braid sends on the first subflow.
struct JoinedBackup : Joined {
    JoinedBackup() : Joined({}, true) {}
};
}  // namespace

TEST_CASE("mptcp endpoint: MP_JOIN with the right HMACs adds a subflow",
          "[mptcp][endpoint][join]") {
    Harness t;
    ConnId id = t.connect();
    t.out.clear();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa = t.join_syn(t2, kIrs2, kNonceA);
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.tuple == t2);
    MpOut m = mp_of(sa);
    REQUIRE(m.join);
    CHECK_FALSE(m.join->backup);
    CHECK(m.join->address_id == 0);  // same local address as the initial subflow
    // HMAC-B = HMAC(Key-B || Key-A, R-B || R-A), leftmost 64 bits: what Linux checks.
    CHECK(m.join->truncated_hmac ==
          mptcp::crypto::join_synack_hmac(t.sha, t.server_key, kClientKey, m.join->nonce, kNonceA));
    CHECK(wire::options_len(sa.opt) <= wire::max_options_len);
    CHECK(t.ep.subflows(id).size() == 2);
    CHECK(t.ep.subflows(id)[1].state == mptcp::SubflowState::joining);

    t.join_ack(t2, kIrs2, sa, kNonceA);
    // The "4th ACK": an immediate ACK on the new subflow (§3.2), carrying the DATA_ACK.
    Out a4 = t.expect();
    CHECK(a4.tuple == t2);
    CHECK(a4.h.flags == tflag::ack);
    CHECK(a4.data.empty());
    REQUIRE(mp_of(a4).dss);
    CHECK(mp_of(a4).dss->data_ack == keys(kClientKey).idsn + 1);
    CHECK(t.counter(Counter::join_syn) == 1);
    CHECK(t.counter(Counter::join_accepted) == 1);
    auto sfs = t.ep.subflows(id);
    REQUIRE(sfs.size() == 2);
    CHECK(sfs[1].state == mptcp::SubflowState::established);
    CHECK(sfs[1].join);
    CHECK(sfs[1].tuple == t2);
    CHECK(sfs[1].remote_address_id == 1);
    CHECK(t.ep.describe(id)->subflows == 2);
    CHECK(t.ep.subflows_by_state()[static_cast<size_t>(mptcp::SubflowState::established)] == 2);
    // The subflow is not a new connection for the application.
    CHECK_FALSE(t.ep.accept(t.lid));
    CHECK(t.ep.find_token(keys(t.server_key).token) == id);
}

TEST_CASE("mptcp endpoint: MP_JOIN with a bad HMAC-A is reset", "[mptcp][endpoint][join]") {
    Harness t;
    ConnId id = t.connect();
    t.out.clear();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa = t.join_syn(t2, kIrs2, kNonceA);
    t.join_ack(t2, kIrs2, sa, kNonceA, false);
    Out r = t.expect();
    CHECK(r.tuple == t2);
    CHECK((r.h.flags & tflag::rst) != 0);
    // §3.6: the subflow alone is reset, and says why.
    REQUIRE(mp_of(r).tcprst);
    CHECK(mp_of(r).tcprst->reason ==
          static_cast<uint8_t>(mw::ResetReason::administratively_prohibited));
    CHECK_FALSE(mp_of(r).fastclose);
    CHECK(t.counter(Counter::tcprst_sent) == 1);
    CHECK(t.counter(Counter::join_bad_hmac) == 1);
    CHECK(t.counter(Counter::join_accepted) == 0);
    // The connection goes on on its first subflow; the application saw nothing.
    CHECK(t.ep.subflows(id).size() == 1);
    CHECK(t.ep.describe(id)->state == mptcp::ConnState::established);
    CHECK_FALSE(has_event(t, id, EventKind::reset));
    CHECK_FALSE(has_event(t, id, EventKind::closed));
    CHECK(t.ep.state(id) == State::established);
}

TEST_CASE("mptcp endpoint: MP_JOIN for an unknown token is refused with a RST",
          "[mptcp][endpoint][join]") {
    Harness t;
    ConnId id = t.connect();
    t.out.clear();
    size_t conns = t.eng.connection_count();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out r = t.join_syn(t2, kIrs2, kNonceA, false, keys(t.server_key).token ^ 0x5a5a);
    CHECK(r.h.flags == (tflag::rst | tflag::ack));
    CHECK(r.h.ack.raw() == kIrs2 + 1);
    CHECK(t.counter(Counter::join_unknown_token) == 1);
    CHECK(t.eng.connection_count() == conns);  // no state kept
    CHECK(t.eng.counters()[static_cast<size_t>(braid::tcp::Counter::rst_sent_hook_refused)] == 1);
    CHECK(t.ep.subflows(id).size() == 1);
    CHECK(t.out.empty());
}

TEST_CASE("mptcp endpoint: MP_JOIN beyond the subflow limit is refused",
          "[mptcp][endpoint][join]") {
    Harness t(false, 128, 2);
    ConnId id = t.connect();
    t.out.clear();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa = t.join_syn(t2, kIrs2, kNonceA);
    t.join_ack(t2, kIrs2, sa, kNonceA);
    t.out.clear();
    REQUIRE(t.ep.subflows(id).size() == 2);
    const FourTuple t3{kLocal, kRemote2, 80, 40002};
    Out r = t.join_syn(t3, kIrs2 + 7, kNonceA + 1);
    CHECK((r.h.flags & tflag::rst) != 0);
    CHECK(r.tuple == t3);
    CHECK(t.counter(Counter::join_limit) == 1);
    CHECK(t.counter(Counter::join_accepted) == 1);
    CHECK(t.ep.subflows(id).size() == 2);
}

TEST_CASE("mptcp endpoint: MP_JOIN under SYN-cookie pressure is refused",
          "[mptcp][endpoint][join]") {
    Harness t(false, 0);  // every SYN gets a cookie: a join would need state
    uint64_t key = t.syn();
    mw::MpCapable ack;
    ack.sender_key = kClientKey;
    ack.receiver_key = key;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {ack});
    auto id = t.eng.accept(t.lid);
    REQUIRE(id);
    t.server_key = key;
    t.out.clear();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out r = t.join_syn(t2, kIrs2, kNonceA);
    CHECK((r.h.flags & tflag::rst) != 0);
    CHECK(t.counter(Counter::join_cookie_pressure) == 1);
    CHECK(t.ep.subflows(*id).size() == 1);
}

TEST_CASE("mptcp endpoint: MP_JOIN before the connection is established is refused",
          "[mptcp][endpoint][join]") {
    Harness t;
    t.server_key = t.syn();  // SYN/ACK sent, the third ACK not yet
    t.out.clear();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out r = t.join_syn(t2, kIrs2, kNonceA);
    CHECK((r.h.flags & tflag::rst) != 0);
    CHECK(t.counter(Counter::join_not_established) == 1);
}

TEST_CASE_METHOD(Joined, "mptcp endpoint: data over two subflows is reassembled",
                 "[mptcp][endpoint][join]") {
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    // The second half first, on the new subflow: held out of order at the data level.
    t.inject_to(t2, tflag::ack | tflag::psh, kIrs2 + 1, iss2 + 1,
                {dss(sdsn, mapping(cdsn + 6, 1, 5))}, "world");
    CHECK(t.ep.readable_bytes(id) == 0);
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(sdsn, mapping(cdsn, 1, 6))},
             "hello ");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "hello world");
    // A copy of the same bytes on the other subflow (the client reinjecting) is not delivered
    // twice.
    t.inject_to(t2, tflag::ack | tflag::psh, kIrs2 + 6, iss2 + 1, {dss(sdsn, mapping(cdsn, 6, 6))},
                "hello ");
    CHECK(t.ep.readable_bytes(id) == 0);
    CHECK(t.counter(Counter::rx_duplicate_bytes) == 6);
    // The DATA_ACK covers both subflows' bytes on every subflow's ACKs.
    t.now += 50'000;
    t.eng.on_timer(t.now);
    t.ep.poll(t.now);
    REQUIRE_FALSE(t.out.empty());
    while (!t.out.empty()) {
        Out a = t.expect();
        REQUIRE(mp_of(a).dss);
        CHECK(mp_of(a).dss->data_ack == cdsn + 11);
    }
    auto sfs = t.ep.subflows(id);
    REQUIRE(sfs.size() == 2);
    CHECK(sfs[0].bytes_in == 6);
    CHECK(sfs[1].bytes_in == 11);
}

TEST_CASE_METHOD(Joined, "mptcp endpoint: data without a DSS with two subflows does not fall back",
                 "[mptcp][endpoint][fallback]") {
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {}, "abc");
    CHECK(t.counter(Counter::fallback_no_dss) == 0);
    CHECK(t.counter(Counter::rx_unmapped_bytes) == 3);
    CHECK_FALSE(t.ep.describe(id)->fallen_back);
}

TEST_CASE_METHOD(JoinedBackup,
                 "mptcp endpoint: new data avoids a backup subflow; MP_PRIO changes that",
                 "[mptcp][endpoint][join]") {
    CHECK(t.ep.subflows(id)[1].backup);
    REQUIRE(t.ep.send(id, make_payload("abc"), t.now) == 3);
    Out d = t.expect();
    CHECK(d.tuple == t.tuple);
    CHECK(d.data == "abc");
    // MP_PRIO on the first subflow: it becomes the backup, the other one carries new data.
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    mw::MpPrio prio;
    prio.backup = true;
    t.inject(tflag::ack, kIrs + 1, t.iss + 4, {prio, dss(sdsn + 3)});
    mw::MpPrio regular;
    t.inject_to(t2, tflag::ack, kIrs2 + 1, sa.h.seq.raw() + 1, {regular});
    CHECK(t.counter(Counter::mp_prio) == 2);
    t.out.clear();
    REQUIRE(t.ep.send(id, make_payload("def"), t.now) == 3);
    Out d2 = t.expect();
    CHECK(d2.tuple == t2);
    CHECK(d2.data == "def");
    REQUIRE(mp_of(d2).dss);
    REQUIRE(mp_of(d2).dss->mapping);
    CHECK(mp_of(d2).dss->mapping->dsn == sdsn + 3);
    CHECK(mp_of(d2).dss->mapping->ssn == 1);  // the subflow's own sequence space
}

TEST_CASE_METHOD(JoinedBackup, "mptcp endpoint: the first subflow reset, the second carries on",
                 "[mptcp][endpoint][join]") {
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    // The client's first bytes arrive on the first subflow and are read.
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(sdsn, mapping(cdsn, 1, 4))},
             "AAAA");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "AAAA");
    // braid's data goes out on the first subflow and is lost with it.
    REQUIRE(t.ep.send(id, make_payload("server-data"), t.now) == 11);
    t.out.clear();
    t.inject(tflag::rst, kIrs + 5, 0, {}, {}, false);
    // The connection lives: the application hears nothing, its state is the second subflow's.
    CHECK_FALSE(has_event(t, id, EventKind::reset));
    CHECK(t.ep.is_mptcp(id));
    CHECK(t.ep.state(id) == State::established);
    CHECK(t.counter(Counter::subflow_failed) == 1);
    auto sfs = t.ep.subflows(id);
    REQUIRE(sfs.size() == 1);
    CHECK(sfs[0].tuple == t2);
    // braid's un-DATA_ACKed bytes are reinjected on the second subflow with their DSNs.
    Out r = t.expect();
    CHECK(r.tuple == t2);
    CHECK(r.data == "server-data");
    REQUIRE(mp_of(r).dss);
    REQUIRE(mp_of(r).dss->mapping);
    CHECK(mp_of(r).dss->mapping->dsn == sdsn);
    CHECK(mp_of(r).dss->mapping->ssn == 1);
    CHECK(t.counter(Counter::tx_reinjected_bytes) == 11);
    CHECK(t.out.empty());  // once
    // The client reinjects its own bytes too (AAAA again, then new ones): delivered once.
    t.inject_to(t2, tflag::ack | tflag::psh, kIrs2 + 1, iss2 + 12,
                {dss(sdsn + 11, mapping(cdsn, 1, 8))}, "AAAABBBB");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "BBBB");
    CHECK(t.ep.describe(id)->bytes_in == 8);
    // More data from the application goes out on the survivor.
    t.out.clear();
    REQUIRE(t.ep.send(id, make_payload("more"), t.now) == 4);
    Out m = t.expect();
    CHECK(m.tuple == t2);
    CHECK(m.data == "more");
    CHECK(mp_of(m).dss->mapping->dsn == sdsn + 11);
    // The last subflow's end is the connection's.
    t.inject_to(t2, tflag::rst, kIrs2 + 9, 0, {}, {}, false);
    CHECK(has_event(t, id, EventKind::reset));
    CHECK_FALSE(t.ep.is_mptcp(id));
    CHECK_FALSE(t.tokens.contains(keys(t.server_key).token));
}

TEST_CASE("mptcp endpoint: two subflows share the peer's connection-level window",
          "[mptcp][endpoint][join]") {
    Harness t;
    // The client's buffer: 16 << 7 = 2048 bytes past the DATA_ACK, said on both subflows.
    t.window = 16;
    ConnId id = t.connect();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa = t.join_syn(t2, kIrs2, kNonceA);
    t.join_ack(t2, kIrs2, sa, kNonceA);
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn)});
    t.inject_to(t2, tflag::ack, kIrs2 + 1, sa.h.seq.raw() + 1, {dss(sdsn)});
    t.out.clear();
    REQUIRE(t.ep.send(id, make_payload(std::string(6000, 'w')), t.now) == 6000);
    auto queued = [&] {
        uint64_t n = 0;
        for (const auto& s : t.ep.subflows(id)) {
            n += s.bytes_out;
        }
        return n;
    };
    // Each subflow's own window would let 2048 through: together they must not exceed it.
    CHECK(queued() == 2048);
    CHECK_FALSE(t.out.empty());
    // The DATA_ACK moves and the window with it: more is handed to the subflows.
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn + 2048)});
    CHECK(queued() == 4096);
}

TEST_CASE_METHOD(JoinedBackup, "mptcp endpoint: a stalled subflow's data goes out on the other one",
                 "[mptcp][endpoint][join]") {
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    REQUIRE(t.ep.send(id, make_payload("stuck"), t.now) == 5);
    Out d = t.expect();
    REQUIRE(d.tuple == t.tuple);
    // The first subflow's path is cut: its RTO fires once (enough: stall_backoffs), nothing
    // comes back.
    t.now = t.eng.next_timer();
    t.eng.on_timer(t.now);
    t.ep.poll(t.now);
    t.now += mptcp::stall_check_us;
    t.ep.poll(t.now);
    CHECK(t.counter(Counter::subflow_stalled) == 1);
    CHECK(t.ep.subflows(id)[0].stalled);
    // The same bytes, same DSN, on the second subflow; the connection lives.
    bool reinjected = false;
    while (!t.out.empty()) {
        Out o = t.expect();
        if (o.tuple == t2 && o.data == "stuck") {
            REQUIRE(mp_of(o).dss->mapping);
            CHECK(mp_of(o).dss->mapping->dsn == sdsn);
            reinjected = true;
        }
    }
    CHECK(reinjected);
    CHECK(t.ep.subflows(id).size() == 2);
    CHECK_FALSE(has_event(t, id, EventKind::reset));
}

TEST_CASE("mptcp endpoint: active-standby fails over at the active subflow's first RTO",
          "[mptcp][endpoint][scheduler][failover]") {
    mptcp::SchedulerConfig sched;
    sched.mode = mptcp::SchedulerMode::active_standby;  // 3GPP (the first subflow) active
    Joined f(sched);
    Harness& t = f.t;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    // The active subflow carries data; the client acknowledges it (an RTT sample: RTO ~ 1 s,
    // the harness engine's rto_min).
    REQUIRE(t.ep.send(f.id, make_payload("first"), t.now) == 5);
    Out d = t.expect();
    REQUIRE(d.tuple == t.tuple);
    t.now += 5'000;
    t.inject(tflag::ack, kIrs + 1, t.iss + 6, {dss(sdsn + 5)});
    t.out.clear();
    // The cut: what goes out now on the active subflow is never acknowledged.
    const uint64_t cut = t.now;
    REQUIRE(t.ep.send(f.id, make_payload("lost-on-active"), t.now) == 14);
    REQUIRE(t.expect().tuple == t.tuple);
    REQUIRE(t.out.empty());
    const uint32_t rto = t.eng.describe(f.id)->rto_us;
    // Time passes in 10 ms steps as the daemon's loop would: the first RTO expiry (one
    // back-off, no more) makes the subflow stalled and its bytes go out on the standby at once.
    std::optional<uint64_t> on_standby;
    while (!on_standby && t.now < cut + 3'000'000) {
        t.now += 10'000;
        if (t.eng.next_timer() != 0 && t.eng.next_timer() <= t.now) {
            t.eng.on_timer(t.now);
        }
        t.ep.poll(t.now);
        while (!t.out.empty()) {
            Out o = t.expect();
            if (o.tuple == f.t2 && o.data == "lost-on-active") {
                REQUIRE(mp_of(o).dss);
                REQUIRE(mp_of(o).dss->mapping);
                CHECK(mp_of(o).dss->mapping->dsn == sdsn + 5);  // the same DSNs
                on_standby = t.now;
            }
        }
    }
    REQUIRE(on_standby);
    CHECK(t.eng.describe(f.id)->backoff == 1);
    // Within the RTO and one stall check of the cut: with the daemon's rto_min (200 ms) that
    // is well under a second (issue 6).
    CHECK(*on_standby - cut <= rto + mptcp::stall_check_us + 10'000);
    CHECK(t.counter(Counter::subflow_stalled) == 1);
    CHECK(t.counter(Counter::tx_reinjected_bytes) == 14);
    CHECK(t.counter(Counter::sched_failover) >= 1);
    CHECK(t.counter(Counter::sched_failover_rtt) == 0);
    // The client acknowledges the copy on the standby; new data follows there while the
    // active one stays silent.
    t.inject_to(f.t2, tflag::ack, kIrs2 + 1, f.iss2 + 15, {dss(sdsn + 19)});
    t.out.clear();
    REQUIRE(t.ep.send(f.id, make_payload("next"), t.now) == 4);
    Out n = t.expect();
    CHECK(n.tuple == f.t2);
    CHECK(n.data == "next");
    // The active path comes back (an ACK moves it): new data returns to it.
    t.inject(tflag::ack, kIrs + 1, t.iss + 20, {dss(sdsn + 23)});
    t.now += mptcp::stall_check_us;
    t.ep.poll(t.now);
    CHECK_FALSE(t.ep.subflows(f.id)[0].stalled);
    t.out.clear();
    REQUIRE(t.ep.send(f.id, make_payload("back"), t.now) == 4);
    bool back = false;
    while (!t.out.empty()) {
        Out o = t.expect();
        back = back || (o.tuple == t.tuple && o.data == "back");
    }
    CHECK(back);
}

TEST_CASE("mptcp endpoint: after both DATA_FINs a subflow on a dead path is reset",
          "[mptcp][endpoint][join]") {
    Harness t;
    ConnId id = t.connect();
    const FourTuple t2{kLocal, kRemote2, 80, 40001};
    Out sa = t.join_syn(t2, kIrs2, kNonceA);
    t.join_ack(t2, kIrs2, sa, kNonceA);
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    // The client's DATA_FIN alone, then the application closes: braid's DATA_FIN, DATA_ACKed.
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn, mapping(cdsn, 0, 1), true)});
    t.ep.close(id, t.now);
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn + 1)});
    REQUIRE(t.ep.describe(id)->state == mptcp::ConnState::closed);
    // FIN on both subflows; the first one's is acknowledged, the second path is dead.
    auto i1 = t.eng.describe(id);
    REQUIRE(i1);
    t.inject(tflag::ack, kIrs + 1, i1->snd_nxt, {dss(sdsn + 1)});
    for (int i = 0; i < 20 && t.ep.subflows(id).size() > 1; ++i) {
        t.now += 1'000'000;
        t.eng.on_timer(t.now);
        t.ep.poll(t.now);
    }
    auto sfs = t.ep.subflows(id);
    REQUIRE(sfs.size() == 1);
    CHECK(sfs[0].tuple == t.tuple);
    CHECK_FALSE(has_event(t, id, EventKind::reset));
    CHECK_FALSE(has_event(t, id, EventKind::closed));
    // The last subflow's end, however it goes, is the connection's normal close.
    t.inject(tflag::rst, kIrs + 1, 0, {}, {}, false);
    bool normal = false;
    for (const Event& e : t.events) {
        normal = normal ||
                 (e.conn == id && e.kind == EventKind::closed && e.reason == CloseReason::normal);
    }
    CHECK(normal);
    CHECK_FALSE(t.ep.is_mptcp(id));
}

TEST_CASE("mptcp endpoint: braid's abort sends MP_FASTCLOSE with the peer's key on every RST",
          "[mptcp][endpoint][fastclose]") {
    Joined f;
    f.t.ep.abort(f.id, f.t.now);
    std::set<uint16_t> ports;
    while (!f.t.out.empty()) {
        Out r = f.t.expect();
        CHECK(r.h.flags == tflag::rst);
        REQUIRE(mp_of(r).fastclose);
        CHECK(mp_of(r).fastclose->receiver_key == kClientKey);  // §3.5: the receiver's key
        ports.insert(r.tuple.remote_port);
    }
    CHECK(ports == std::set<uint16_t>{40000, 40001});  // option R: on all subflows
    CHECK(f.t.counter(Counter::fastclose_sent) == 1);
    CHECK_FALSE(f.t.ep.is_mptcp(f.id));
    CHECK_FALSE(f.t.tokens.contains(keys(f.t.server_key).token));
}

TEST_CASE("mptcp endpoint: the peer's MP_FASTCLOSE on a RST resets the whole connection",
          "[mptcp][endpoint][fastclose]") {
    Joined f;
    mw::MpFastclose fc;
    fc.receiver_key = f.t.server_key;
    f.t.inject(tflag::rst, kIrs + 1, 0, {fc}, {}, false);
    // The other subflow is reset too, with a plain RST (no MP_FASTCLOSE back).
    Out r = f.t.expect();
    CHECK(r.tuple == f.t2);
    CHECK(r.h.flags == tflag::rst);
    CHECK_FALSE(mp_of(r).fastclose);
    CHECK(f.t.out.empty());
    CHECK(has_event(f.t, f.id, EventKind::reset));
    CHECK(f.t.counter(Counter::fastclose_received) == 1);
    CHECK(f.t.counter(Counter::subflow_failed) == 0);
    CHECK_FALSE(f.t.ep.is_mptcp(f.id));
}

TEST_CASE("mptcp endpoint: MP_FASTCLOSE on an ACK (option A) resets every subflow",
          "[mptcp][endpoint][fastclose]") {
    Joined f;
    mw::MpFastclose fc;
    fc.receiver_key = f.t.server_key;
    f.t.inject_to(f.t2, tflag::ack, kIrs2 + 1, f.iss2 + 1, {fc});
    std::set<uint16_t> ports;
    while (!f.t.out.empty()) {
        Out r = f.t.expect();
        if (r.h.flags & tflag::rst) {
            ports.insert(r.tuple.remote_port);
        }
    }
    CHECK(ports == std::set<uint16_t>{40000, 40001});
    CHECK(has_event(f.t, f.id, EventKind::reset));
    CHECK(f.t.counter(Counter::fastclose_received) == 1);
}

TEST_CASE("mptcp endpoint: MP_FASTCLOSE with a key that is not braid's ends one subflow only",
          "[mptcp][endpoint][fastclose]") {
    Joined f;
    mw::MpFastclose fc;
    fc.receiver_key = f.t.server_key ^ 1;
    f.t.inject(tflag::rst, kIrs + 1, 0, {fc}, {}, false);
    CHECK(f.t.counter(Counter::fastclose_bad_key) == 1);
    CHECK(f.t.counter(Counter::fastclose_received) == 0);
    CHECK_FALSE(has_event(f.t, f.id, EventKind::reset));
    CHECK(f.t.ep.state(f.id) == State::established);
    auto sfs = f.t.ep.subflows(f.id);
    REQUIRE(sfs.size() == 1);
    CHECK(sfs[0].tuple == f.t2);
}

TEST_CASE("mptcp endpoint: MP_TCPRST on the peer's RST is counted, the connection lives",
          "[mptcp][endpoint][fastclose]") {
    Joined f;
    mw::MpTcpRst x;
    x.reason = static_cast<uint8_t>(mw::ResetReason::unacceptable_performance);
    f.t.inject_to(f.t2, tflag::rst, kIrs2 + 1, 0, {x}, {}, false);
    CHECK(f.t.counter(Counter::tcprst_received) == 1);
    CHECK(f.t.counter(Counter::subflow_failed) == 1);
    CHECK(f.t.ep.state(f.id) == State::established);
    CHECK(f.t.ep.subflows(f.id).size() == 1);
}

TEST_CASE("mptcp endpoint: the redundant scheduler sends every byte on both subflows",
          "[mptcp][endpoint][scheduler]") {
    mptcp::SchedulerConfig sched;
    sched.mode = mptcp::SchedulerMode::redundant;  // 3GPP primary by default
    Joined f(sched);
    const uint64_t sdsn = keys(f.t.server_key).idsn + 1;
    REQUIRE(f.t.ep.send(f.id, make_payload("hello"), f.t.now) == 5);
    std::map<uint16_t, Out> by_port;
    while (!f.t.out.empty()) {
        Out o = f.t.expect();
        if (!o.data.empty()) {
            by_port[o.tuple.remote_port] = o;
        }
    }
    REQUIRE(by_port.size() == 2);
    for (auto& [port, o] : by_port) {
        CHECK(o.data == "hello");
        REQUIRE(mp_of(o).dss);
        REQUIRE(mp_of(o).dss->mapping);
        CHECK(mp_of(o).dss->mapping->dsn == sdsn);  // the same data-level bytes twice
    }
    CHECK(f.t.counter(Counter::tx_bytes) == 5);
    CHECK(f.t.counter(Counter::tx_redundant_bytes) == 5);
    CHECK(f.t.ep.describe(f.id)->scheduler == mptcp::SchedulerMode::redundant);
}

TEST_CASE("mptcp endpoint: set_scheduler switches a live connection to another access",
          "[mptcp][endpoint][scheduler]") {
    mptcp::SchedulerConfig sched;
    sched.mode = mptcp::SchedulerMode::active_standby;  // 3GPP active
    Joined f(sched);
    auto sent_on = [&f](const std::string& data) {
        REQUIRE(f.t.ep.send(f.id, make_payload(data), f.t.now) == data.size());
        std::set<uint16_t> ports;
        while (!f.t.out.empty()) {
            Out o = f.t.expect();
            if (!o.data.empty()) {
                ports.insert(o.tuple.remote_port);
            }
        }
        return ports;
    };
    CHECK(sent_on("one") == std::set<uint16_t>{40000});
    auto subs = f.t.ep.subflows(f.id);
    CHECK(subs[0].access == mptcp::Access::tgpp);
    CHECK(subs[1].access == mptcp::Access::non_tgpp);
    // A Session Modification makes non-3GPP the active access.
    sched.access[0].priority = mptcp::AccessPriority::standby;
    sched.access[1].priority = mptcp::AccessPriority::active;
    REQUIRE(f.t.ep.set_scheduler(f.id, sched, f.t.now));
    CHECK(sent_on("two") == std::set<uint16_t>{40001});
    CHECK(f.t.counter(Counter::sched_failover) == 0);
    CHECK_FALSE(f.t.ep.set_scheduler(f.id + 1000, sched, f.t.now));
}

TEST_CASE("mptcp endpoint: a deferred MP_CAPABLE SYN with data (RFC 8803 over RFC 8684 B.2)",
          "[mptcp][endpoint][convert]") {
    Harness t(false, 128, 4, {}, true);
    mw::MpCapable c;
    c.flags = mw::capable_flag::hmac_sha256;
    t.inject(tflag::syn, kIrs, 0, {c}, "CONVERT");
    CHECK(t.out.empty());  // held: the converter answers once N6 has
    REQUIRE(t.events.size() == 1);
    REQUIRE(t.events[0].kind == EventKind::syn_data);
    const ConnId id = t.events[0].conn;
    CHECK(take_bytes(t.eng.take_syn_data(id)) == "CONVERT");
    t.eng.answer_syn(id, t.now);
    t.ep.poll(t.now);
    Out sa = t.expect();
    REQUIRE(sa.h.flags == (tflag::syn | tflag::ack));
    CHECK(sa.h.ack.raw() == kIrs + 1 + 7);  // all SYN data acknowledged
    MpOut m = mp_of(sa);
    REQUIRE(m.cap);
    REQUIRE(m.cap->sender_key);
    t.iss = sa.h.seq.raw();
    t.server_key = *m.cap->sender_key;
    // The client's first data after the handshake: TCP seq after the SYN data, SSN 1 and
    // DSN = IDSN + 1 (the SYN data is outside both spaces).
    mw::MpCapable first;
    first.sender_key = kClientKey;
    first.receiver_key = t.server_key;
    first.data_len = 5;
    t.inject(tflag::ack | tflag::psh, kIrs + 8, t.iss + 1, {first}, "hello");
    REQUIRE(t.eng.accept(t.lid) == id);
    REQUIRE(t.ep.is_mptcp(id));
    uint64_t cdsn = keys(kClientKey).idsn + 1;
    t.inject(tflag::ack | tflag::psh, kIrs + 13, t.iss + 1, {dss({}, mapping(cdsn + 5, 6, 6))},
             " world");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "hello world");
    CHECK(t.ep.describe(id)->state == mptcp::ConnState::established);
}

// ---------------------------------------------------------------------------------------------
// MP_FAIL from the peer; ADD_ADDR / REMOVE_ADDR (RFC 8684 §3.7, §3.4)

TEST_CASE("mptcp endpoint: the peer's MP_FAIL: MP_FAIL back, infinite mapping, plain TCP",
          "[mptcp][endpoint][mp_fail]") {
    Harness t;
    ConnId id = t.connect();
    const uint64_t cdsn = keys(kClientKey).idsn + 1;
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.inject(tflag::ack | tflag::psh, kIrs + 1, t.iss + 1, {dss(sdsn, mapping(cdsn, 1, 2))}, "hi");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "hi");
    REQUIRE(t.ep.send(id, make_payload("abcd"), t.now) == 4);
    t.out.clear();
    // The client's checksum failed on braid's "abcd": MP_FAIL with its DSN on an ACK.
    t.inject(tflag::ack, kIrs + 3, t.iss + 5, {mw::MpFail{sdsn}});
    CHECK(t.counter(Counter::mp_fail_received) == 1);
    CHECK(t.counter(Counter::fallback_mp_fail) == 1);
    // braid answers with MP_FAIL (§3.7: the receiver of MP_FAIL sends it back).
    bool fail = false;
    while (!t.out.empty()) {
        Out a = t.expect();
        CHECK_FALSE(a.h.has(tflag::rst));
        if (auto f = mp_of(a).mp_fail) {
            CHECK(f->dsn == sdsn);
            fail = true;
        }
    }
    CHECK(fail);
    CHECK(t.ep.describe(id)->fallen_back);
    // braid's next data carries the infinite mapping from the failed (not Data-ACKed) DSN.
    REQUIRE(t.ep.send(id, make_payload("efgh"), t.now) == 4);
    Out d = t.expect();
    CHECK(d.data == "efgh");
    REQUIRE(mp_of(d).dss);
    REQUIRE(mp_of(d).dss->mapping);
    CHECK(mp_of(d).dss->mapping->data_len == 0);
    CHECK(mp_of(d).dss->mapping->dsn == sdsn);
    CHECK(mp_of(d).dss->mapping->ssn == 1);
    CHECK_FALSE(mp_of(d).dss->mapping->checksum);
    // The client's data without any DSS now reaches the application (its own infinite
    // mapping, if it sends one, changes nothing).
    t.inject(tflag::ack | tflag::psh, kIrs + 3, t.iss + 9,
             {dss(std::nullopt, mapping(cdsn + 2, 3, 0))}, "plain");
    t.inject(tflag::ack | tflag::psh, kIrs + 8, t.iss + 9, {}, " tcp");
    CHECK(take_bytes(t.ep.recv(id, t.now)) == "plain tcp");
    CHECK(t.counter(Counter::rx_unmapped_bytes) == 0);
}

TEST_CASE_METHOD(Joined, "mptcp endpoint: the peer's MP_FAIL with two subflows resets",
                 "[mptcp][endpoint][mp_fail]") {
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {mw::MpFail{keys(t.server_key).idsn + 1}});
    CHECK(t.counter(Counter::mp_fail_received) == 1);
    CHECK(t.counter(Counter::reset_mp_fail) == 1);
    CHECK(t.counter(Counter::fallback_mp_fail) == 0);
    int rsts = 0;
    while (!t.out.empty()) {
        Out r = t.expect();
        if (r.h.has(tflag::rst)) {
            ++rsts;
            CHECK(mp_of(r).fastclose);
        }
    }
    CHECK(rsts == 2);
    CHECK_FALSE(t.ep.is_mptcp(id));
    CHECK(has_event(t, id, EventKind::closed));  // braid's abort (reason: aborted)
}

namespace {
const IpAddr kLocal2 = IpAddr::v4(198, 18, 0, 9);  // braid's second address

mptcp::AdvertisedAddress second_address(std::optional<uint16_t> port = {}) {
    mptcp::AdvertisedAddress a;
    a.id = 1;
    a.address = kLocal2;
    a.port = port;
    return a;
}

mw::IpAddress wire_v4(const IpAddr& a) {
    mw::IpAddress w;
    std::copy_n(a.bytes.begin(), 4, w.bytes.begin());
    return w;
}

// The pure ACKs braid sent that carry an ADD_ADDR, taken from t.out.
std::vector<mw::AddAddr> add_addrs(Harness& t) {
    std::vector<mw::AddAddr> v;
    while (!t.out.empty()) {
        Out o = t.expect();
        if (auto a = mp_of(o).add_addr) {
            CHECK(o.data.empty());
            CHECK(wire::options_len(o.opt) <= wire::max_options_len);
            v.push_back(*a);
        }
    }
    return v;
}
}  // namespace

TEST_CASE("mptcp endpoint: braid announces a configured address with ADD_ADDR until echoed",
          "[mptcp][endpoint][add_addr]") {
    Harness t(false, 128, 4, {}, false, {second_address(8080)});
    ConnId id = t.connect();
    // After the third ACK: a pure ACK with ADD_ADDR (ID 1, the address, port, HMAC with
    // braid as the sender: HMAC(Key-braid || Key-client, ID || address || port), rightmost 64).
    auto sent = add_addrs(t);
    REQUIRE(sent.size() == 1);
    CHECK_FALSE(sent[0].echo);
    CHECK(sent[0].address_id == 1);
    CHECK(sent[0].address == wire_v4(kLocal2));
    CHECK(sent[0].port == 8080);
    CHECK(sent[0].truncated_hmac ==
          mptcp::crypto::add_addr_hmac(t.sha, t.server_key, kClientKey, 1, wire_v4(kLocal2), 8080));
    CHECK(t.counter(Counter::add_addr_sent) == 1);
    // Not echoed: sent again after 1 s.
    t.now += 500'000;
    t.ep.poll(t.now);
    CHECK(add_addrs(t).empty());
    t.now += 600'000;
    t.ep.poll(t.now);
    CHECK(add_addrs(t).size() == 1);
    CHECK(t.counter(Counter::add_addr_sent) == 2);
    // The echo (E=1, no HMAC) stops it.
    mw::AddAddr echo = sent[0];
    echo.echo = true;
    echo.truncated_hmac.reset();
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {echo});
    CHECK(t.counter(Counter::add_addr_echoed) == 1);
    for (int i = 0; i < 10; ++i) {
        t.now += 1'000'000;
        t.ep.poll(t.now);
    }
    CHECK(add_addrs(t).empty());
    CHECK(t.counter(Counter::add_addr_sent) == 2);
    CHECK(t.counter(Counter::add_addr_unechoed) == 0);
    auto la = t.ep.local_addresses(id);
    REQUIRE(la.size() == 1);
    CHECK(la[0].echoed);
    CHECK(la[0].sends == 2);
    CHECK(la[0].addr == second_address(8080));
    // An echo for something braid never announced is ignored.
    echo.address_id = 7;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {echo});
    CHECK(t.counter(Counter::add_addr_echo_unknown) == 1);
}

TEST_CASE("mptcp endpoint: an ADD_ADDR never echoed is given up after the bounded tries",
          "[mptcp][endpoint][add_addr]") {
    Harness t;
    ConnId id = t.connect();
    t.out.clear();
    REQUIRE(t.ep.advertise(id, second_address(), t.now));
    auto sent = add_addrs(t);
    REQUIRE(sent.size() == 1);
    CHECK_FALSE(sent[0].port);
    CHECK(sent[0].truncated_hmac == mptcp::crypto::add_addr_hmac(t.sha, t.server_key, kClientKey, 1,
                                                                 wire_v4(kLocal2), std::nullopt));
    // 1 s, then 2 s later: 3 tries in all, then given up (4 s after the last).
    size_t n = 1;
    for (int i = 0; i < 20; ++i) {
        t.now += 500'000;
        t.ep.poll(t.now);
        n += add_addrs(t).size();
    }
    CHECK(n == 3);
    CHECK(t.counter(Counter::add_addr_sent) == 3);
    CHECK(t.counter(Counter::add_addr_unechoed) == 1);
    // The ID keeps its address: another address under ID 1 is refused, ID 0 too.
    mptcp::AdvertisedAddress other = second_address();
    other.address = IpAddr::v4(198, 18, 0, 10);
    CHECK_FALSE(t.ep.advertise(id, other, t.now));
    other.id = 0;
    CHECK_FALSE(t.ep.advertise(id, other, t.now));
    CHECK_FALSE(t.ep.advertise(12345, second_address(), t.now));  // no such connection
}

TEST_CASE("mptcp endpoint: the peer joins braid's announced address with its address ID",
          "[mptcp][endpoint][add_addr]") {
    Harness t(false, 128, 4, {}, false, {second_address()});
    ConnId id = t.connect();
    t.out.clear();
    const FourTuple t2{kLocal2, kRemote, 80, 40001};
    Out sa = t.join_syn(t2, kIrs2, kNonceA);
    REQUIRE(mp_of(sa).join);
    CHECK(mp_of(sa).join->address_id == 1);
    t.join_ack(t2, kIrs2, sa, kNonceA);
    CHECK(t.counter(Counter::join_accepted) == 1);
    REQUIRE(t.ep.subflows(id).size() == 2);
    // Withdrawn: REMOVE_ADDR [1] on the first subflow, the subflow on that address reset.
    t.out.clear();
    REQUIRE(t.ep.withdraw(id, 1, t.now));
    bool removed = false, reset = false;
    while (!t.out.empty()) {
        Out o = t.expect();
        if (auto r = mp_of(o).remove_addr) {
            CHECK(o.tuple == t.tuple);
            REQUIRE(r->count == 1);
            CHECK(r->ids[0] == 1);
            removed = true;
        }
        if (o.h.has(tflag::rst)) {
            CHECK(o.tuple == t2);
            REQUIRE(mp_of(o).tcprst);
            CHECK_FALSE(mp_of(o).fastclose);
            reset = true;
        }
    }
    CHECK(removed);
    CHECK(reset);
    CHECK(t.counter(Counter::remove_addr_sent) == 1);
    CHECK(t.counter(Counter::remove_addr_subflow_reset) == 1);
    CHECK(t.ep.subflows(id).size() == 1);
    CHECK(t.ep.local_addresses(id).empty());
    CHECK_FALSE(has_event(t, id, EventKind::reset));
    CHECK_FALSE(t.ep.withdraw(id, 1, t.now));  // gone already
}

TEST_CASE("mptcp endpoint: the peer's ADD_ADDR is verified, recorded and echoed",
          "[mptcp][endpoint][add_addr]") {
    Harness t;
    ConnId id = t.connect();
    t.out.clear();
    // The client announces its second address: HMAC with the client as the sender.
    mw::AddAddr a;
    a.address_id = 2;
    a.address = wire_v4(kRemote2);
    a.truncated_hmac =
        mptcp::crypto::add_addr_hmac(t.sha, kClientKey, t.server_key, 2, a.address, std::nullopt);
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {a});
    CHECK(t.counter(Counter::add_addr_received) == 1);
    auto echoes = add_addrs(t);
    REQUIRE(echoes.size() == 1);
    CHECK(echoes[0].echo);
    CHECK(echoes[0].address_id == 2);
    CHECK(echoes[0].address == a.address);
    CHECK_FALSE(echoes[0].truncated_hmac);
    CHECK(t.counter(Counter::add_addr_echo_sent) == 1);
    auto pa = t.ep.peer_addresses(id);
    REQUIRE(pa.size() == 1);
    CHECK(pa[0].id == 2);
    CHECK(pa[0].address == kRemote2);
    CHECK_FALSE(pa[0].port);
    // A wrong HMAC (e.g. the keys swapped, as early Linux did): ignored, no echo.
    mw::AddAddr bad = a;
    bad.address_id = 3;
    bad.truncated_hmac =
        mptcp::crypto::add_addr_hmac(t.sha, t.server_key, kClientKey, 3, a.address, std::nullopt);
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {bad});
    CHECK(t.counter(Counter::add_addr_bad_hmac) == 1);
    CHECK(add_addrs(t).empty());
    CHECK(t.ep.peer_addresses(id).size() == 1);
    // REMOVE_ADDR takes it away (no subflow used it); an unknown ID is ignored.
    mw::RemoveAddr r;
    r.count = 2;
    r.ids[0] = 2;
    r.ids[1] = 9;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {r});
    CHECK(t.counter(Counter::remove_addr_received) == 1);
    CHECK(t.counter(Counter::remove_addr_unknown_id) == 1);
    CHECK(t.ep.peer_addresses(id).empty());
    CHECK(t.ep.describe(id)->state == mptcp::ConnState::established);
}

TEST_CASE_METHOD(Joined, "mptcp endpoint: REMOVE_ADDR from the peer resets the subflows on it",
                 "[mptcp][endpoint][add_addr]") {
    // The joined subflow came from address ID 1 (its MP_JOIN SYN said so).
    REQUIRE(t.ep.subflows(id)[1].remote_address_id == 1);
    mw::RemoveAddr r;
    r.count = 1;
    r.ids[0] = 1;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {r});
    CHECK(t.counter(Counter::remove_addr_received) == 1);
    CHECK(t.counter(Counter::remove_addr_subflow_reset) == 1);
    Out rst = t.expect();
    CHECK(rst.tuple == t2);
    CHECK(rst.h.has(tflag::rst));
    REQUIRE(mp_of(rst).tcprst);
    CHECK(mp_of(rst).tcprst->reason == static_cast<uint8_t>(mw::ResetReason::unspecified));
    REQUIRE(t.ep.subflows(id).size() == 1);
    CHECK(t.ep.subflows(id)[0].tuple == t.tuple);
    CHECK_FALSE(has_event(t, id, EventKind::reset));
    // Removing the address of the last subflow keeps it: the connection lives on it.
    r.ids[0] = 0;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {r});
    CHECK(t.counter(Counter::remove_addr_last_subflow) == 1);
    CHECK(t.ep.subflows(id).size() == 1);
    CHECK(t.ep.state(id) == State::established);
}

TEST_CASE("mptcp endpoint: an ADD_ADDR that cannot fit a pure ACK is dropped, not retried",
          "[mptcp][endpoint][add_addr]") {
    Harness t;
    ConnId id = t.connect();
    t.out.clear();
    mptcp::AdvertisedAddress v6;
    v6.id = 2;
    v6.address.family = 6;
    v6.address.bytes = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    v6.port = 8080;  // 30 bytes: with the timestamps (12) above 40
    REQUIRE(t.ep.advertise(id, v6, t.now));
    size_t acks = t.out.size();
    CHECK(add_addrs(t).empty());
    CHECK(acks <= 1);  // no storm of ACKs trying again
    CHECK(t.counter(Counter::signal_too_long) == 1);
    for (int i = 0; i < 10; ++i) {
        t.now += 1'000'000;
        t.ep.poll(t.now);
    }
    CHECK(t.out.empty());
    CHECK(t.counter(Counter::add_addr_sent) == 0);
    // Without the port (28 bytes) it fits.
    v6.id = 3;
    v6.port.reset();
    REQUIRE(t.ep.advertise(id, v6, t.now));
    auto sent = add_addrs(t);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].address.v6);
    CHECK(sent[0].address_id == 3);
}

TEST_CASE("mptcp endpoint: a closed connection-level window is probed until it opens",
          "[mptcp][endpoint][probe]") {
    Harness t;
    t.window = 16;  // 16 << 7 = 2048 bytes past the DATA_ACK
    ConnId id = t.connect();
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn)});
    t.out.clear();
    t.eng.set_nagle(id, false);
    REQUIRE(t.ep.send(id, make_payload(std::string(6000, 'p')), t.now) == 6000);
    uint32_t sent = 0;
    while (!t.out.empty()) {
        sent += static_cast<uint32_t>(t.expect().data.size());
    }
    REQUIRE(sent == 2048);
    // The peer takes everything at subflow level and closes its connection-level window: braid
    // has 3952 bytes waiting and nothing in flight, so no subflow persist timer runs.
    t.window = 0;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1 + 2048, {dss(sdsn + 2048)});
    t.out.clear();
    const uint64_t rto = t.eng.describe(id)->rto_us;
    REQUIRE(rto > 0);
    // The peer's window update is lost. Time passes: braid must probe, with backoff.
    std::vector<uint64_t> probes;
    const uint64_t start = t.now;
    while (t.now < start + 200'000'000) {
        t.now += 100'000;
        t.eng.on_timer(t.now);
        t.ep.poll(t.now);
        while (!t.out.empty()) {
            Out p = t.expect();
            // An ACK the peer must answer: sequence SND.UNA - 1, no data, the DATA_ACK on it.
            CHECK(p.h.flags == tflag::ack);
            CHECK(p.h.seq.raw() == t.iss + 2048);
            CHECK(p.data.empty());
            MpOut m = mp_of(p);
            REQUIRE(m.dss);
            CHECK(m.dss->data_ack);
            CHECK_FALSE(m.dss->mapping);
            probes.push_back(t.now);
            // The first three are answered, the window still closed (the peer's ACK carries
            // DATA_ACK + zero window); the later ones are lost.
            if (probes.size() <= 3) {
                t.inject(tflag::ack, kIrs + 1, t.iss + 1 + 2048, {dss(sdsn + 2048)});
            }
        }
    }
    REQUIRE(probes.size() >= 8);
    CHECK(probes[0] - start == rto);
    for (size_t i = 1; i < probes.size(); ++i) {
        uint64_t want = std::min<uint64_t>(rto << i, mptcp::window_probe_max_us);
        CHECK(probes[i] - probes[i - 1] == want);
    }
    CHECK(probes.back() - probes[probes.size() - 2] == 60'000'000);  // capped
    CHECK(t.counter(Counter::window_probes) == probes.size());
    CHECK(t.ep.subflows(id)[0].bytes_out == 2048);  // nothing more was queued

    // The next probe is answered with the window open: braid resumes at once.
    const size_t before = probes.size();
    t.window = 16;
    std::string resumed;
    uint64_t first_dsn = 0;
    for (int i = 0; i < 700 && resumed.empty(); ++i) {
        t.now += 100'000;
        t.eng.on_timer(t.now);
        t.ep.poll(t.now);
        if (!t.out.empty()) {
            Out p = t.expect();
            REQUIRE(p.data.empty());  // the probe
            t.inject(tflag::ack, kIrs + 1, t.iss + 1 + 2048, {dss(sdsn + 2048)});
            while (!t.out.empty()) {
                Out d = t.expect();
                MpOut m = mp_of(d);
                if (!d.data.empty() && m.dss && m.dss->mapping && resumed.empty()) {
                    first_dsn = m.dss->mapping->dsn;
                }
                resumed += d.data;
            }
        }
    }
    CHECK(resumed.size() == 2048);
    CHECK(first_dsn == sdsn + 2048);
    CHECK(t.ep.subflows(id)[0].bytes_out == 4096);
    CHECK(t.counter(Counter::window_probes) == before + 1);
    // Data in flight again: no more connection-level probes (the subflow's RTO covers it).
    for (int i = 0; i < 100; ++i) {
        t.now += 100'000;
        t.eng.on_timer(t.now);
        t.ep.poll(t.now);
    }
    CHECK(t.counter(Counter::window_probes) == before + 1);
}

TEST_CASE("mptcp endpoint: data the only subflow acknowledged but never DATA_ACKed is sent again",
          "[mptcp][endpoint][probe]") {
    Harness t;
    ConnId id = t.connect();
    const uint64_t sdsn = keys(t.server_key).idsn + 1;
    t.inject(tflag::ack, kIrs + 1, t.iss + 1, {dss(sdsn)});
    t.out.clear();
    REQUIRE(t.ep.send(id, make_payload("hello"), t.now) == 5);
    REQUIRE(t.expect().data == "hello");
    // The peer's TCP acknowledges the bytes, its MPTCP layer drops them: no DATA_ACK for them.
    t.inject(tflag::ack, kIrs + 1, t.iss + 6, {dss(sdsn)});
    REQUIRE(t.out.empty());
    const uint64_t rto = t.eng.describe(id)->rto_us;
    const uint64_t start = t.now;
    std::vector<uint64_t> resends;
    uint32_t ssn = 6;
    while (t.now < start + 20'000'000 && resends.size() < 3) {
        t.now += 10'000;
        t.eng.on_timer(t.now);
        t.ep.poll(t.now);
        while (!t.out.empty()) {
            Out d = t.expect();
            // The same DSNs on new subflow sequence space.
            REQUIRE(d.data == "hello");
            MpOut m = mp_of(d);
            REQUIRE(m.dss);
            REQUIRE(m.dss->mapping);
            CHECK(m.dss->mapping->dsn == sdsn);
            CHECK(m.dss->mapping->ssn == ssn);
            CHECK(d.h.seq.raw() == t.iss + ssn);
            ssn += 5;
            resends.push_back(t.now);
            if (resends.size() < 3) {
                // Dropped again at the data level, acknowledged at the subflow level.
                t.inject(tflag::ack, kIrs + 1, t.iss + ssn, {dss(sdsn)});
            } else {
                t.inject(tflag::ack, kIrs + 1, t.iss + ssn, {dss(sdsn + 5)});
            }
        }
    }
    REQUIRE(resends.size() == 3);
    // From the subflow's RTO on (checked every stall_check_us), then doubling.
    CHECK(resends[0] - start >= rto);
    CHECK(resends[0] - start <= rto + mptcp::stall_check_us);
    CHECK(resends[1] - resends[0] >= 2 * rto);
    CHECK(resends[2] - resends[1] >= 4 * rto);
    CHECK(t.counter(Counter::data_retransmits) == 3);
    CHECK(t.counter(Counter::window_probes) == 0);
    // DATA_ACKed: nothing more.
    t.now += 100'000'000;
    t.eng.on_timer(t.now);
    t.ep.poll(t.now);
    CHECK(t.out.empty());
    CHECK(t.counter(Counter::data_retransmits) == 3);
}

}  // namespace braid::test
