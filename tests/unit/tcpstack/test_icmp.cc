// ICMP errors about braid's TCP segments: the checked parser (tcpstack/icmp.h) against packets
// scapy built, and what the engine does with them (RFC 1122 §4.2.3.9, RFC 5461, RFC 5927).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "tcpstack/icmp.h"
#include "tests/unit/tcpstack/harness.h"

using namespace braid::test;

namespace {

std::vector<uint8_t> hex(const std::string& s) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < s.size(); i += 2) {
        out.push_back(static_cast<uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
    }
    return out;
}

// scapy: IP(src="198.18.0.1", dst="198.18.0.10")/ICMP(type=3, code=3)/raw(q)[:28] with
// q = IP(src="198.18.0.10", dst="198.18.5.5")/TCP(sport=40000, dport=80, seq=0x11223344, "S").
const std::string port_unreachable_v4 =
    "45000038000100004001ee94c6120001c612000a03031c060000000045000028000100004006e99bc612000ac6"
    "1205059c40005011223344";
// scapy: IPv6(src="2001:db8::1", dst="2001:db8::10")/ICMPv6DestUnreach(code=4)/raw(q6) with
// q6 = IPv6(src="2001:db8::10", dst="2001:db8:5::5")/TCP(sport=40001, dport=443,
// seq=0xa1b2c3d4, flags="S").
const std::string port_unreachable_v6 =
    "6000000000443a4020010db800000000000000000000000120010db800000000000000000000001001043cc000"
    "000000600000000014064020010db800000000000000000000001020010db80005000000000000000000059c41"
    "01bba1b2c3d4000000005002200030d30000";
// The same quote in ICMPv6PacketTooBig(mtu=1400).
const std::string too_big_v6 =
    "6000000000443a4020010db800000000000000000000000120010db80000000000000000000000100200364c00"
    "000578600000000014064020010db800000000000000000000001020010db80005000000000000000000059c41"
    "01bba1b2c3d4000000005002200030d30000";

std::optional<IcmpError> parse(const std::vector<uint8_t>& b, IcmpParseError* why = nullptr) {
    return parse_icmp_error(b, why);
}

// Recomputes the ICMP checksum of an IPv4 packet with a 20-octet header.
void fix_icmp4_checksum(std::vector<uint8_t>& p) {
    p[22] = p[23] = 0;
    uint32_t sum = 0;
    for (size_t i = 20; i < p.size(); i += 2) {
        sum += static_cast<uint32_t>(p[i] << 8 | (i + 1 < p.size() ? p[i + 1] : 0));
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    p[22] = static_cast<uint8_t>(~sum >> 8);
    p[23] = static_cast<uint8_t>(~sum);
}

// An ICMPv4 error from a router (198.18.9.9) to `to` quoting a TCP segment `to`:sport → `dst`:dport
// with `seq` (RFC 792 layout, checksums computed).
std::vector<uint8_t> icmp4(uint8_t type, uint8_t code, const IpAddr& to, const IpAddr& dst,
                           uint16_t sport, uint16_t dport, uint32_t seq) {
    std::vector<uint8_t> q(28, 0);
    q[0] = 0x45;
    q[3] = 40;
    q[8] = 64;
    q[9] = 6;
    std::copy_n(to.bytes.begin(), 4, q.begin() + 12);
    std::copy_n(dst.bytes.begin(), 4, q.begin() + 16);
    q[20] = static_cast<uint8_t>(sport >> 8);
    q[21] = static_cast<uint8_t>(sport);
    q[22] = static_cast<uint8_t>(dport >> 8);
    q[23] = static_cast<uint8_t>(dport);
    for (int i = 0; i < 4; ++i) {
        q[24 + i] = static_cast<uint8_t>(seq >> (24 - 8 * i));
    }
    std::vector<uint8_t> p(20, 0);
    p[0] = 0x45;
    p[3] = static_cast<uint8_t>(20 + 8 + q.size());
    p[8] = 64;
    p[9] = 1;
    p[12] = 198, p[13] = 18, p[14] = 9, p[15] = 9;
    std::copy_n(to.bytes.begin(), 4, p.begin() + 16);
    const std::vector<uint8_t> icmp = {type, code, 0, 0, 0, 0, 0, 0};
    p.insert(p.end(), icmp.begin(), icmp.end());
    p.insert(p.end(), q.begin(), q.end());
    fix_icmp4_checksum(p);
    return p;
}

}  // namespace

TEST_CASE("ICMP parser: an ICMPv4 Port Unreachable yields the quoted connection and sequence") {
    auto e = parse(hex(port_unreachable_v4));
    REQUIRE(e);
    CHECK_FALSE(e->v6);
    CHECK(e->type == 3);
    CHECK(e->code == 3);
    CHECK(e->kind == IcmpKind::unreachable);
    CHECK(e->hard());
    CHECK(e->tuple.local == IpAddr::v4(198, 18, 0, 10));
    CHECK(e->tuple.remote == IpAddr::v4(198, 18, 5, 5));
    CHECK(e->tuple.local_port == 40000);
    CHECK(e->tuple.remote_port == 80);
    CHECK(e->seq.raw() == 0x11223344);
}

TEST_CASE("ICMP parser: ICMPv6 Port Unreachable (checksum over the pseudo header) and Too Big") {
    auto e = parse(hex(port_unreachable_v6));
    REQUIRE(e);
    CHECK(e->v6);
    CHECK(e->kind == IcmpKind::unreachable);
    CHECK(e->hard());
    CHECK(e->tuple.local.family == 6);
    CHECK(e->tuple.local_port == 40001);
    CHECK(e->tuple.remote_port == 443);
    CHECK(e->seq.raw() == 0xa1b2c3d4);
    auto t = parse(hex(too_big_v6));
    REQUIRE(t);
    CHECK(t->kind == IcmpKind::too_big);
    CHECK(t->mtu == 1400);
    CHECK_FALSE(t->hard());
}

TEST_CASE("ICMP parser: RFC 1122 4.2.3.9 hard and soft Destination Unreachable codes") {
    CHECK_FALSE(icmp_unreachable_is_hard(false, 0));   // net
    CHECK_FALSE(icmp_unreachable_is_hard(false, 1));   // host
    CHECK(icmp_unreachable_is_hard(false, 2));         // protocol
    CHECK(icmp_unreachable_is_hard(false, 3));         // port
    CHECK_FALSE(icmp_unreachable_is_hard(false, 13));  // administratively prohibited
    CHECK_FALSE(icmp_unreachable_is_hard(true, 1));    // administratively prohibited
    CHECK_FALSE(icmp_unreachable_is_hard(true, 3));    // address unreachable
    CHECK(icmp_unreachable_is_hard(true, 4));          // port
}

TEST_CASE("ICMP parser: every malformed or foreign message is refused with its reason") {
    const auto good = hex(port_unreachable_v4);
    IcmpParseError why{};
    SECTION("empty and truncated") {
        CHECK_FALSE(parse({}, &why));
        CHECK(why == IcmpParseError::truncated);
        CHECK_FALSE(parse({good.begin(), good.begin() + 30}, &why));
        CHECK(why == IcmpParseError::truncated);
    }
    SECTION("a wrong checksum") {
        auto b = good;
        b[23] ^= 1;
        CHECK_FALSE(parse(b, &why));
        CHECK(why == IcmpParseError::bad_checksum);
    }
    SECTION("the quote cut before the sequence number") {
        auto b = icmp4(3, 3, IpAddr::v4(198, 18, 0, 10), IpAddr::v4(198, 18, 5, 5), 1, 2, 3);
        b.resize(b.size() - 2);
        b[3] = static_cast<uint8_t>(b.size());
        fix_icmp4_checksum(b);  // to reach the quote check
        CHECK_FALSE(parse(b, &why));
        CHECK(why == IcmpParseError::quote_truncated);
    }
    SECTION("an echo request is no error; a source quench is not acted on") {
        CHECK_FALSE(parse(icmp4(8, 0, kLocal, kRemote, 1, 2, 3), &why));
        CHECK(why == IcmpParseError::not_an_error);
        CHECK_FALSE(parse(icmp4(4, 0, kLocal, kRemote, 1, 2, 3), &why));
        CHECK(why == IcmpParseError::unhandled_type);
    }
    SECTION("sent to another address than the quoted source") {
        auto b = icmp4(3, 3, kLocal, kRemote, 1, 2, 3);
        b[19] ^= 1;  // outer destination; the ICMP checksum does not cover it
        CHECK_FALSE(parse(b, &why));
        CHECK(why == IcmpParseError::address_mismatch);
    }
    SECTION("the quoted packet is UDP") {
        auto b = icmp4(3, 3, kLocal, kRemote, 1, 2, 3);
        b[28 + 9] = 17;
        fix_icmp4_checksum(b);
        CHECK_FALSE(parse(b, &why));
        CHECK(why == IcmpParseError::quote_not_tcp);
    }
}

namespace {

struct Connecting {
    Harness h;
    FourTuple t{kLocal, kRemote, 50000, 443};
    ConnId id = 0;
    uint32_t iss = 0;
    Connecting() {
        auto c = h.eng.connect({.tuple = t}, h.now);
        REQUIRE(c);
        id = *c;
        iss = h.expect().h.seq.raw();
    }
    IcmpVerdict deliver(uint8_t type, uint8_t code, uint32_t seq) {
        auto e = parse_icmp_error(icmp4(type, code, t.local, t.remote, 50000, 443, seq), nullptr);
        REQUIRE(e);
        return h.eng.icmp_error(*e, h.now);
    }
};

}  // namespace

TEST_CASE("RFC 1122 4.2.3.9: a hard ICMP error aborts a connection attempt with its code") {
    Connecting c;
    CHECK(c.deliver(3, 3, c.iss) == IcmpVerdict::aborted);
    CHECK_FALSE(c.h.eng.state(c.id).has_value());
    REQUIRE_FALSE(c.h.events.empty());
    const Event& e = c.h.events.back();
    CHECK(e.kind == EventKind::reset);
    CHECK(e.reason == CloseReason::unreachable);
    REQUIRE(e.icmp);
    CHECK(e.icmp->type == 3);
    CHECK(e.icmp->code == 3);
    CHECK(c.h.counter(Counter::icmp_hard_aborts) == 1);
    c.h.expect_none();  // no RST toward an unreachable destination
}

TEST_CASE("RFC 1122 4.2.3.9: a soft ICMP error is reported with the SYN's timeout") {
    Connecting c;
    CHECK(c.deliver(3, 1, c.iss) == IcmpVerdict::soft);  // host unreachable
    CHECK(c.h.eng.state(c.id) == State::syn_sent);
    CHECK(c.h.eng.last_icmp(c.id) == IcmpNote{false, 3, 1});
    CHECK(c.h.counter(Counter::icmp_errors) == 1);
    for (int i = 0; i < 12 && c.h.eng.state(c.id); ++i) {
        c.h.advance(70'000'000);
    }
    REQUIRE_FALSE(c.h.eng.state(c.id).has_value());
    const Event& e = c.h.events.back();
    CHECK(e.reason == CloseReason::syn_timeout);
    REQUIRE(e.icmp);
    CHECK(e.icmp->code == 1);
}

TEST_CASE("RFC 5927 4.1: an ICMP error quoting a sequence number we never sent is ignored") {
    Connecting c;
    CHECK(c.deliver(3, 3, c.iss + 100) == IcmpVerdict::out_of_window);
    CHECK(c.deliver(3, 3, c.iss - 1) == IcmpVerdict::out_of_window);
    CHECK(c.h.eng.state(c.id) == State::syn_sent);
    CHECK_FALSE(c.h.eng.last_icmp(c.id).has_value());
    CHECK(c.h.counter(Counter::icmp_out_of_window) == 2);
}

TEST_CASE("RFC 5461 4: in a synchronized state a hard error is only remembered") {
    Connecting c;
    c.h.inject({flag::syn | flag::ack, 7000, c.iss + 1, 65535, {}, "", c.t});
    REQUIRE(c.h.eng.state(c.id) == State::established);
    CHECK(c.deliver(3, 3, c.iss + 1) == IcmpVerdict::soft);
    CHECK(c.h.eng.state(c.id) == State::established);
    CHECK(c.h.eng.last_icmp(c.id) == IcmpNote{false, 3, 3});
}

TEST_CASE("ICMP: Fragmentation Needed is counted and ignored (no path MTU discovery)") {
    Connecting c;
    CHECK(c.deliver(3, 4, c.iss) == IcmpVerdict::ignored);
    CHECK(c.h.eng.state(c.id) == State::syn_sent);
    CHECK(c.h.counter(Counter::icmp_too_big_ignored) == 1);
}

TEST_CASE("ICMP: an error for no connection changes nothing") {
    Connecting c;
    auto e = parse_icmp_error(icmp4(3, 3, c.t.local, c.t.remote, 50001, 443, c.iss), nullptr);
    REQUIRE(e);
    CHECK(c.h.eng.icmp_error(*e, c.h.now) == IcmpVerdict::no_connection);
    CHECK(c.h.eng.state(c.id) == State::syn_sent);
}
