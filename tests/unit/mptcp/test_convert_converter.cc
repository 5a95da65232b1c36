// mptcp/convert/converter: each decision of the sans-I/O converter — open N6 (source address
// and port per address mode, N6 SYN options per RFC 8803 §7, no SYN amplification), every
// refusal with its Error TLV and named counter, per-UE limits, the error-reply rate limit with
// injected time, N6 outcomes mapped to the UE's reply, and the teardown table (spec §1.8).
#include <catch2/catch.hpp>

#include <map>
#include <tuple>
#include <vector>

#include "mptcp/convert/converter.h"
#include "tests/unit/hex.h"

using namespace braid::mptcp::convert;
using braid::test::Bytes;
using braid::test::hex;

namespace {

// 198.18.0.0/15 and 2001:db8::/32 only.
const Address ue4 = Address::v4(0xc6130001u);  // 198.19.0.1
const Address ue6 = Address::v6({0x20, 0x01, 0x0d, 0xb8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
const Address server4 = Address::v4(0xc6120005u);   // 198.18.0.5
const Address braid_n6 = Address::v4(0xc6120001u);  // 198.18.0.1

// Records reservations; refuses everything when `full`.
struct FakePorts : PortSource {
    bool full = false;
    std::vector<std::tuple<Address, Address, uint16_t, uint16_t>> calls;
    std::optional<uint16_t> reserve(const Address& src, const Address& dst, uint16_t dst_port,
                                    uint16_t preferred) override {
        calls.emplace_back(src, dst, dst_port, preferred);
        if (full) {
            return std::nullopt;
        }
        return preferred != 0 ? preferred : uint16_t{40000};
    }
};

Bytes connect_msg(const Address& dst, uint16_t port, std::initializer_list<Bytes> options = {},
                  bool info = false) {
    braid::mptcp::convert::wire::Connect c;
    c.port = port;
    c.address = dst;
    for (const Bytes& o : options) {
        REQUIRE(c.add_option(o[0], std::span<const uint8_t>(o).subspan(2)));
    }
    std::array<uint8_t, wire::max_message_len> buf{};
    wire::Builder b(buf);
    if (info) {
        b.info();
    }
    auto n = b.connect(c).finish();
    REQUIRE(n);
    return Bytes(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
}

Bytes reply_of(const Decision& d) {
    return Bytes(d.reply_bytes().begin(), d.reply_bytes().end());
}

struct Fixture {
    Policy policy;
    UeContext ctx;
    UeState ue;
    FakePorts ports;
    uint64_t now = 1'000'000;

    Fixture() {
        ctx.in_session = true;
        ctx.mptcp_enabled = true;
        ctx.ue_v4 = ue4;
        ctx.ue_v6 = ue6;
        policy.own = {braid_n6};
        policy.deny = {Prefix::v4(0xc6128000u, 17)};  // 198.18.128.0/17
    }

    Decision syn(Converter& cv, const Bytes& data, uint32_t syn_bytes = 200) {
        UeSyn s;
        s.data = data;
        s.syn_bytes = syn_bytes;
        s.client = ue4;
        s.client_port = 33000;
        s.mptcp = true;
        return cv.on_syn(ctx, ue, s, ports, now);
    }
};

}  // namespace

TEST_CASE("converter: Base Connect opens N6 from the UE address (address preserving)") {
    Fixture f;
    Converter cv(f.policy);
    Bytes data = connect_msg(server4, 443);
    data.insert(data.end(), {'G', 'E', 'T'});
    Decision d = f.syn(cv, data);
    REQUIRE(d.verdict == Verdict::open_n6);
    CHECK_FALSE(d.refusal);
    CHECK(d.n6.src == ue4);
    CHECK(d.n6.src_port == 33000);  // the client's port, free
    CHECK(d.n6.dst == server4);
    CHECK(d.n6.dst_port == 443);
    CHECK(d.n6.options == N6SynOptions{});  // only the engine's own MSS / WS
    CHECK_FALSE(d.n6.extended);
    CHECK(d.n6.message_len == 24);  // the 3 bytes after it are user data
    CHECK(f.ue.connections == 1);
    CHECK(f.ue.pending_syns == 1);
    CHECK(cv.counters()[Counter::n6_opens] == 1);

    SECTION("the server's SYN+ACK: the empty reply, pending SYN released") {
        N6Outcome o;
        o.kind = N6Outcome::Kind::syn_ack;
        Decision r = cv.on_n6_outcome(f.ue, d.n6, o);
        CHECK(r.verdict == Verdict::established);
        CHECK(reply_of(r) == hex("01 01 22 63"));
        CHECK(f.ue.pending_syns == 0);
        CHECK(f.ue.connections == 1);
        cv.on_closed(f.ue);
        CHECK(f.ue.connections == 0);
    }
    SECTION("the server's RST: Connection Reset, then FIN") {
        N6Outcome o;
        o.kind = N6Outcome::Kind::rst;
        Decision r = cv.on_n6_outcome(f.ue, d.n6, o);
        CHECK(r.verdict == Verdict::reply);
        CHECK(r.is_error);
        CHECK(r.refusal == Refusal::server_reset);
        CHECK(reply_of(r) == hex("01 02 22 63  1e 01 60 00"));
        CHECK(f.ue.pending_syns == 0);
        CHECK(f.ue.connections == 0);
        CHECK(cv.counters()[Refusal::server_reset] == 1);
        CHECK(cv.counters().errors_by_code[0x60] == 1);
    }
    SECTION("ICMP port unreachable (hard): Destination Unreachable with the code") {
        N6Outcome o;
        o.kind = N6Outcome::Kind::icmp;
        o.icmp_code = 3;
        Decision r = cv.on_n6_outcome(f.ue, d.n6, o);
        CHECK(reply_of(r) == hex("01 02 22 63  1e 01 61 03"));
        CHECK(r.refusal == Refusal::destination_unreachable);
        CHECK(f.ue.connections == 0);
    }
    SECTION("ICMP host unreachable (soft): keep waiting; timeout reports it") {
        N6Outcome o;
        o.kind = N6Outcome::Kind::icmp;
        o.icmp_code = 1;
        Decision r = cv.on_n6_outcome(f.ue, d.n6, o);
        CHECK(r.verdict == Verdict::ignore);
        CHECK(f.ue.pending_syns == 1);
        CHECK(cv.counters()[Counter::icmp_soft_errors] == 1);
        N6Outcome t;
        t.kind = N6Outcome::Kind::timeout;
        t.last_soft_icmp = 1;
        r = cv.on_n6_outcome(f.ue, d.n6, t);
        CHECK(reply_of(r) == hex("01 02 22 63  1e 01 61 01"));
        CHECK(f.ue.pending_syns == 0);
    }
    SECTION("silence: Network Failure") {
        N6Outcome t;
        t.kind = N6Outcome::Kind::timeout;
        Decision r = cv.on_n6_outcome(f.ue, d.n6, t);
        CHECK(reply_of(r) == hex("01 02 22 63  1e 01 41 00"));
        CHECK(r.refusal == Refusal::server_timeout);
    }
}

TEST_CASE("converter: Extended Connect — options per RFC 8803 §7, Extended TCP Header reply") {
    Fixture f;
    Converter cv(f.policy);
    // TFO cookie request, MPTCP, SACK-permitted, Timestamps with values, MSS and WS (ignored).
    Bytes data =
        connect_msg(server4, 80,
                    {hex("22 02"), hex("1e 02"), hex("04 02"), hex("08 0a 00 00 00 07 00 00 00 00"),
                     hex("02 04 05 b4"), hex("03 03 07")});
    Decision d = f.syn(cv, data);
    REQUIRE(d.verdict == Verdict::open_n6);
    CHECK(d.n6.extended);
    CHECK(d.n6.options.sack_permitted);
    CHECK(d.n6.options.timestamps);
    CHECK(d.n6.options.tfo);
    CHECK(d.n6.options.tfo_cookie.empty());               // a cookie request downstream
    CHECK(cv.counters()[Counter::options_ignored] == 3);  // MPTCP, MSS, WS

    const Bytes server_opts = hex("02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 02 01 03 03 07");
    N6Outcome o;
    o.kind = N6Outcome::Kind::syn_ack;
    o.syn_ack_options = server_opts;
    Decision r = cv.on_n6_outcome(f.ue, d.n6, o);
    CHECK(reply_of(r) == hex("01 07 22 63  14 06 00 00  02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 "
                             "00 02 01 03 03 07"));

    SECTION("a TFO cookie is copied") {
        Decision c = f.syn(cv, connect_msg(server4, 80, {hex("22 06 a1 a2 a3 a4")}));
        REQUIRE(c.verdict == Verdict::open_n6);
        CHECK(c.n6.options.tfo);
        CHECK(c.n6.options.tfo_cookie.size == 4);
        CHECK(c.n6.options.tfo_cookie.data[3] == 0xa4);
    }
    SECTION("a TFO option of a bad length is Malformed Message") {
        Bytes bad = connect_msg(server4, 80, {hex("22 04 a1 a2")});
        Decision c = f.syn(cv, bad);
        CHECK(c.verdict == Verdict::reply);
        CHECK(c.refusal == Refusal::malformed_message);
        CHECK(c.reply[6] == 0x01);
    }
}

TEST_CASE("converter: Info alone and Info with Connect") {
    Fixture f;
    Converter cv(f.policy);
    Decision d = f.syn(cv, hex("01 02 22 63  01 01 00 00"));
    CHECK(d.verdict == Verdict::reply);
    CHECK_FALSE(d.is_error);
    CHECK_FALSE(d.refusal);
    CHECK(reply_of(d) == hex("01 03 22 63  15 02 00 00  1e 04 08 22"));
    CHECK(f.ue.connections == 0);
    CHECK(cv.counters()[Counter::info_replies] == 1);

    Decision both = f.syn(cv, connect_msg(server4, 443, {}, true));
    REQUIRE(both.verdict == Verdict::open_n6);
    CHECK(both.n6.info);
    N6Outcome o;
    o.kind = N6Outcome::Kind::syn_ack;
    CHECK(reply_of(cv.on_n6_outcome(f.ue, both.n6, o)) ==
          hex("01 03 22 63  15 02 00 00  1e 04 08 22"));
}

TEST_CASE("converter: message errors answered per spec §1.6") {
    Fixture f;
    Converter cv(f.policy);
    SECTION("not Convert: ignored silently") {
        Decision d = f.syn(cv, Bytes{'G', 'E', 'T', ' ', '/'});
        CHECK(d.verdict == Verdict::ignore);
        CHECK(d.refusal == Refusal::not_convert);
        CHECK(d.reply_len == 0);
        CHECK(cv.counters()[Refusal::not_convert] == 1);
    }
    SECTION("version 2: Unsupported Version listing 1") {
        Decision d = f.syn(cv, hex("02 02 22 63  01 01 00 00"));
        CHECK(reply_of(d) == hex("01 02 22 63  1e 01 00 01"));
        CHECK(d.refusal == Refusal::bad_version);
    }
    SECTION("Total Length 0: reset") {
        Decision d = f.syn(cv, hex("01 00 22 63"));
        CHECK(d.verdict == Verdict::reset);
        CHECK(cv.counters()[Counter::resets] == 1);
    }
    SECTION("duplicate TLV: Malformed Message echoing the message") {
        Bytes dup = hex("01 03 22 63  01 01 00 00  01 01 00 00");
        Decision d = f.syn(cv, dup);
        CHECK(reply_of(d) == hex("01 05 22 63  1e 04 01 00  01 03 22 63 01 01 00 00 01 01 00 00"));
        CHECK(d.refusal == Refusal::malformed_message);
        CHECK(cv.counters().errors_by_code[1] == 1);
        // User data after the message is not echoed.
        Bytes with_data = dup;
        with_data.insert(with_data.end(), {'G', 'E', 'T', ' '});
        CHECK(reply_of(f.syn(cv, with_data)) == reply_of(d));
    }
    SECTION("unknown TLV: Unsupported Message echo") {
        Decision d = f.syn(cv, hex("01 02 22 63  63 01 00 00"));
        CHECK(reply_of(d) == hex("01 04 22 63  1e 03 02 00  01 02 22 63 63 01 00 00"));
        CHECK(d.refusal == Refusal::unsupported_tlv);
    }
    SECTION("a TLV only converters send: Unsupported Message") {
        Decision d = f.syn(cv, hex("01 02 22 63  1e 01 60 00"));
        CHECK(d.refusal == Refusal::unsupported_tlv);
        CHECK(d.reply[6] == 0x02);
    }
    SECTION("message cut short in the SYN: Malformed Message") {
        Bytes cut = connect_msg(server4, 443);
        cut.resize(12);
        Decision d = f.syn(cv, cut);
        CHECK(d.refusal == Refusal::incomplete_message);
        CHECK(d.reply[6] == 0x01);
    }
    SECTION("neither Connect nor Info: Malformed Message") {
        Decision d = f.syn(cv, hex("01 04 22 63  16 03 00 00  c0 c1 c2 c3 c4 c5 c6 c7"));
        CHECK(d.refusal == Refusal::no_connect);
        CHECK(d.reply[6] == 0x01);
    }
    SECTION("Connect to loopback: Malformed Message (RFC 8803 §6.2.5)") {
        Decision d = f.syn(cv, hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff "
                                   "7f 00 00 01"));
        CHECK(d.refusal == Refusal::malformed_message);
    }
    CHECK(f.ue.connections == 0);
}

TEST_CASE("converter: authorization and the destination ACL") {
    Fixture f;
    Converter cv(f.policy);
    const Bytes msg = connect_msg(server4, 443);
    SECTION("no session: Not Authorized") {
        f.ctx = UeContext{};
        Decision d = f.syn(cv, msg);
        CHECK(reply_of(d) == hex("01 02 22 63  1e 01 20 00"));
        CHECK(d.refusal == Refusal::no_session);
    }
    SECTION("session without MPTCP: Not Authorized") {
        f.ctx.mptcp_enabled = false;
        Decision d = f.syn(cv, msg);
        CHECK(reply_of(d) == hex("01 02 22 63  1e 01 20 00"));
        CHECK(d.refusal == Refusal::mptcp_not_enabled);
    }
    SECTION("braid's own address: Not Authorized") {
        Decision d = f.syn(cv, connect_msg(braid_n6, 443));
        CHECK(d.refusal == Refusal::destination_denied);
        CHECK(d.reply[6] == 0x20);
    }
    SECTION("a configured deny prefix (IPv4 and IPv6)") {
        CHECK(f.syn(cv, connect_msg(Address::v4(0xc6128001u), 80)).refusal ==
              Refusal::destination_denied);
        CHECK(f.syn(cv, connect_msg(Address::v4(0xc6127fffu), 80)).verdict == Verdict::open_n6);
        Converter cv6([&] {
            Policy p = f.policy;
            p.deny.push_back(
                Prefix::v6({0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 48));
            return p;
        }());
        Address in =
            Address::v6({0x20, 0x01, 0x0d, 0xb8, 0xde, 0xad, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
        Address out =
            Address::v6({0x20, 0x01, 0x0d, 0xb8, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9});
        CHECK(f.syn(cv6, connect_msg(in, 80)).refusal == Refusal::destination_denied);
        Decision ok = f.syn(cv6, connect_msg(out, 80));
        INFO("refusal " << (ok.refusal ? to_string(*ok.refusal) : "none"));
        REQUIRE(ok.verdict == Verdict::open_n6);
        CHECK(ok.n6.src == ue6);  // IPv6 destination: the UE's IPv6 address
    }
}

TEST_CASE("converter: unsupported TCP options listed once each (TCP-AO, unknown kinds)") {
    Fixture f;
    Converter cv(f.policy);
    Decision d = f.syn(
        cv, connect_msg(server4, 443,
                        {hex("1d 04 00 00"), hex("04 02"), hex("fd 02"), hex("1d 04 01 01")}));
    CHECK(reply_of(d) == hex("01 03 22 63  1e 02 21 1d fd 00 00 00"));
    CHECK(d.refusal == Refusal::unsupported_option);
    CHECK(f.ue.connections == 0);
}

TEST_CASE("converter: per-UE limits on connections and pending SYNs") {
    Fixture f;
    f.policy.per_ue_max_connections = 3;
    f.policy.per_ue_max_pending_syns = 2;
    f.policy.error_reply_rate = 100;
    Converter cv(f.policy);
    const Bytes msg = connect_msg(server4, 443);
    Decision a = f.syn(cv, msg);
    Decision b = f.syn(cv, msg);
    REQUIRE(a.verdict == Verdict::open_n6);
    REQUIRE(b.verdict == Verdict::open_n6);
    Decision c = f.syn(cv, msg);
    CHECK(c.refusal == Refusal::ue_pending_syn_limit);
    CHECK(reply_of(c) == hex("01 02 22 63  1e 01 40 00"));
    N6Outcome ok;
    ok.kind = N6Outcome::Kind::syn_ack;
    cv.on_n6_outcome(f.ue, a.n6, ok);
    cv.on_n6_outcome(f.ue, b.n6, ok);
    CHECK(f.ue.pending_syns == 0);
    REQUIRE(f.syn(cv, msg).verdict == Verdict::open_n6);
    Decision d = f.syn(cv, msg);
    CHECK(d.refusal == Refusal::ue_connection_limit);
    CHECK(d.reply[6] == 0x40);
    cv.on_closed(f.ue);
    CHECK(f.syn(cv, msg).verdict == Verdict::open_n6);
    CHECK(cv.counters()[Refusal::ue_connection_limit] == 1);
    CHECK(cv.counters()[Refusal::ue_pending_syn_limit] == 1);
}

TEST_CASE("converter: error replies are rate-limited per UE (injected time)") {
    Fixture f;
    f.policy.error_reply_rate = 2;  // two per second, bucket of two
    Converter cv(f.policy);
    f.ctx.mptcp_enabled = false;
    const Bytes msg = connect_msg(server4, 443);
    CHECK(f.syn(cv, msg).verdict == Verdict::reply);
    CHECK(f.syn(cv, msg).verdict == Verdict::reply);
    Decision limited = f.syn(cv, msg);
    CHECK(limited.verdict == Verdict::ignore);
    CHECK(limited.refusal == Refusal::mptcp_not_enabled);  // still counted as a refusal
    CHECK(cv.counters()[Counter::error_replies_limited] == 1);
    CHECK(cv.counters()[Refusal::mptcp_not_enabled] == 3);
    CHECK(cv.counters()[Counter::error_replies] == 2);
    f.now += 499'999;  // not quite one token
    CHECK(f.syn(cv, msg).verdict == Verdict::ignore);
    f.now += 1;
    CHECK(f.syn(cv, msg).verdict == Verdict::reply);
    // Another UE has its own bucket.
    UeState other;
    UeSyn s;
    s.data = msg;
    s.syn_bytes = 200;
    CHECK(cv.on_syn(f.ctx, other, s, f.ports, f.now).verdict == Verdict::reply);
    // A long pause refills the bucket only to its depth.
    f.now += 3'600'000'000ull;
    CHECK(f.syn(cv, msg).verdict == Verdict::reply);
    CHECK(f.syn(cv, msg).verdict == Verdict::reply);
    CHECK(f.syn(cv, msg).verdict == Verdict::ignore);
}

TEST_CASE("converter: source selection in address-sharing mode (paired pooling)") {
    Fixture f;
    f.policy.mode = AddressMode::sharing;
    f.policy.n6_pool_v4 = Prefix::v4(0xc6126400u, 24);  // 198.18.100.0/24
    Converter cv(f.policy);
    const Bytes msg = connect_msg(server4, 443);
    Decision a = f.syn(cv, msg);
    REQUIRE(a.verdict == Verdict::open_n6);
    CHECK(a.n6.src.is_v4());
    CHECK((a.n6.src.v4_host() & 0xffffff00u) == 0xc6126400u);
    CHECK((a.n6.src.v4_host() & 0xff) != 0);     // not the network address
    CHECK((a.n6.src.v4_host() & 0xff) != 0xff);  // nor the broadcast address
    CHECK(a.n6.src_port == 40000);               // the allocator's choice, no preference
    CHECK(std::get<3>(f.ports.calls.back()) == 0);
    // The same UE always gets the same address (RFC 6888 REQ-2).
    Decision b = f.syn(cv, msg);
    CHECK(b.n6.src == a.n6.src);
    // Some other UE lands somewhere in the pool too.
    UeContext other = f.ctx;
    other.ue_v4 = Address::v4(0xc6130002u);
    UeState st;
    UeSyn s;
    s.data = msg;
    s.syn_bytes = 200;
    Decision c = cv.on_syn(other, st, s, f.ports, f.now);
    CHECK((c.n6.src.v4_host() & 0xffffff00u) == 0xc6126400u);
    // No IPv6 pool: Network Failure for an IPv6 destination.
    Address v6dst = Address::v6({0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    Decision d = f.syn(cv, connect_msg(v6dst, 443));
    CHECK(d.refusal == Refusal::no_source_address);
    CHECK(reply_of(d) == hex("01 02 22 63  1e 01 41 00"));
}

TEST_CASE("converter: no free port and no UE address of the family") {
    Fixture f;
    Converter cv(f.policy);
    f.ports.full = true;
    Decision d = f.syn(cv, connect_msg(server4, 443));
    CHECK(d.refusal == Refusal::no_source_port);
    CHECK(d.reply[6] == 0x40);
    CHECK(f.ue.connections == 0);
    f.ports.full = false;
    f.ctx.ue_v4.reset();
    Decision e = f.syn(cv, connect_msg(server4, 443));
    CHECK(e.refusal == Refusal::no_source_address);
    CHECK(e.reply[6] == 0x41);
}

TEST_CASE("converter: the N6 SYN is never bigger than the UE's") {
    Fixture f;
    Converter cv(f.policy);
    // TS + SACK-P + TFO with a 16-byte cookie toward IPv4: 20 + 20 + (4+4+12+18 -> 40) = 80.
    const Bytes cookie = hex("22 12 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f");
    const Bytes msg = connect_msg(server4, 443, {hex("04 02"), hex("08 02"), cookie});
    Decision full = f.syn(cv, msg, 80);
    REQUIRE(full.verdict == Verdict::open_n6);
    CHECK(full.n6.options.timestamps);
    CHECK(full.n6.options.tfo);
    CHECK(cv.counters()[Counter::options_dropped_for_size] == 0);
    // Four bytes less: Timestamps go (SACK-permitted alone takes 4 bytes instead of 12).
    Decision smaller = f.syn(cv, msg, 76);
    REQUIRE(smaller.verdict == Verdict::open_n6);
    CHECK_FALSE(smaller.n6.options.timestamps);
    CHECK(smaller.n6.options.tfo);
    CHECK(smaller.n6.options.sack_permitted);
    // Too small even for the engine's own MSS and WS: refused.
    Decision none = f.syn(cv, msg, 40);
    CHECK(none.refusal == Refusal::syn_amplification);
    CHECK(none.reply[6] == 0x20);
    CHECK(cv.counters()[Counter::options_dropped_for_size] == 4);
}

TEST_CASE("converter: ICMP hard and soft errors (RFC 1122 §4.2.3.9)") {
    CHECK(icmp_is_hard(false, 2));
    CHECK(icmp_is_hard(false, 3));
    CHECK_FALSE(icmp_is_hard(false, 0));
    CHECK_FALSE(icmp_is_hard(false, 1));
    CHECK_FALSE(icmp_is_hard(false, 4));
    CHECK_FALSE(icmp_is_hard(false, 13));
    CHECK(icmp_is_hard(true, 4));
    CHECK_FALSE(icmp_is_hard(true, 0));
    CHECK_FALSE(icmp_is_hard(true, 1));
    CHECK_FALSE(icmp_is_hard(true, 3));
}

TEST_CASE("converter: teardown table (RFC 8803 §4.2, §5.1)") {
    CHECK(on_event(Event::ue_data_fin) == TeardownAction::fin_n6);
    CHECK(on_event(Event::ue_subflow_rst) == TeardownAction::subflow_only);
    CHECK(on_event(Event::ue_fastclose) == TeardownAction::rst_n6);
    CHECK(on_event(Event::n6_fin) == TeardownAction::close_ue);
    CHECK(on_event(Event::n6_rst) == TeardownAction::fastclose_ue);
    CHECK(on_event(Event::n6_failed) == TeardownAction::fastclose_ue);
}

TEST_CASE("converter: counters and refusals are named") {
    for (size_t i = 0; i < refusal_count; ++i) {
        auto r = static_cast<Refusal>(i);
        CHECK(to_string(r) != "unknown");
        CHECK_FALSE(help(r).empty());
    }
    for (size_t i = 0; i < counter_count; ++i) {
        auto c = static_cast<Counter>(i);
        CHECK(to_string(c) != "unknown");
        CHECK_FALSE(help(c).empty());
    }
    CHECK(to_string(Refusal::destination_denied) == "destination_denied");
}

TEST_CASE("converter: prefixes") {
    Prefix p = Prefix::v4(0xc6120000u, 15);
    CHECK(p.contains(Address::v4(0xc6130001u)));
    CHECK_FALSE(p.contains(Address::v4(0xc6140001u)));
    CHECK_FALSE(p.contains(ue6));
    Prefix z = Prefix::v4(0, 0);  // 0.0.0.0/0 holds every IPv4 address, no IPv6 one
    CHECK(z.contains(server4));
    CHECK_FALSE(z.contains(ue6));
}
