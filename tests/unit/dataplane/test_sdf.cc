// SDF filters (dataplane/sdf.h): IPFilterRule parsing and printing, packet keys, matching and
// the classifier (linear and rte_acl engines give the same answers).
#include <arpa/inet.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/sdf.h"
#include "tests/unit/eal_fixture.h"

using namespace braid::dataplane::sdf;

namespace {

using Bytes = std::vector<uint8_t>;
using Addr = std::array<uint8_t, 16>;
using Engine = Classifier::Engine;

// Test literals (also used at static initialisation, outside any test case: no REQUIRE).
Addr addr(int af, const char* s) {
    Addr a{};
    if (inet_pton(af, s, a.data()) != 1) {
        std::fprintf(stderr, "test_sdf: bad address literal %s\n", s);
        std::abort();
    }
    return a;
}
Addr a4(const char* s) {
    return addr(AF_INET, s);
}
Addr a6(const char* s) {
    return addr(AF_INET6, s);
}

Prefix pfx(const char* s, uint8_t len) {
    Prefix p;
    const bool v6 = std::string(s).find(':') != std::string::npos;
    p.family = v6 ? 6 : 4;
    p.addr = v6 ? a6(s) : a4(s);
    p.len = len;
    return p;
}

// UE 198.19.100.1 and 2001:db8:100:1::/64 (TS 29.244 UE IP Address with IPv6 prefix).
const UeAddresses ue_addrs{pfx("198.19.100.1", 32), pfx("2001:db8:100:1::", 64)};

FlowDescription fd(const char* text) {
    auto r = parse_flow_description(text);
    if (auto* e = std::get_if<std::string>(&r)) {
        FAIL("parse '" << text << "': " << *e);
    }
    return std::get<FlowDescription>(r);
}

std::string parse_error(const char* text) {
    auto r = parse_flow_description(text);
    if (std::holds_alternative<FlowDescription>(r)) {
        return "(parsed)";
    }
    return std::get<std::string>(r);
}

Filter flt(const char* text) {
    Filter f;
    f.flow = fd(text);
    return f;
}

// ------------------------------------------------------------------------------ packet builders

// Builders append field by field (GCC's -Wnull-dereference dislikes indexed writes into a fresh
// vector).
void add16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}

void add(Bytes& b, const Bytes& more) {
    b.insert(b.end(), more.begin(), more.end());
}

void add_addr(Bytes& b, const Addr& a, size_t n) {
    b.insert(b.end(), a.begin(), a.begin() + static_cast<std::ptrdiff_t>(n));
}

void set16(Bytes& b, size_t off, uint16_t v) {
    REQUIRE(off + 2 <= b.size());
    b.at(off) = static_cast<uint8_t>(v >> 8);
    b.at(off + 1) = static_cast<uint8_t>(v);
}

Bytes udp(uint16_t sport, uint16_t dport) {
    Bytes b;
    add16(b, sport);
    add16(b, dport);
    add16(b, 12);
    add16(b, 0);
    add(b, {0xab, 0xab, 0xab, 0xab});
    return b;
}

Bytes tcp(uint16_t sport, uint16_t dport) {
    Bytes b;
    add16(b, sport);
    add16(b, dport);
    add(b, {0, 0, 0, 1, 0, 0, 0, 0, 5 << 4, 0x10, 0xff, 0xff, 0, 0, 0, 0});
    return b;
}

Bytes esp(uint32_t spi) {
    Bytes b = {static_cast<uint8_t>(spi >> 24),
               static_cast<uint8_t>(spi >> 16),
               static_cast<uint8_t>(spi >> 8),
               static_cast<uint8_t>(spi),
               0,
               0,
               0,
               1};
    b.resize(24, 0x55);
    return b;
}

Bytes ipv4(const char* src, const char* dst, uint8_t proto, const Bytes& l4, uint8_t tos = 0,
           const Bytes& options = {}, uint16_t frag = 0) {
    Bytes b;
    b.push_back(static_cast<uint8_t>(0x40 | (20 + options.size()) / 4));
    b.push_back(tos);
    add16(b, static_cast<uint16_t>(20 + options.size() + l4.size()));
    add16(b, 0x1234);  // identification
    add16(b, frag);
    b.push_back(64);
    b.push_back(proto);
    add16(b, 0);  // checksum: not looked at
    add_addr(b, a4(src), 4);
    add_addr(b, a4(dst), 4);
    add(b, options);
    add(b, l4);
    return b;
}

Bytes ipv6(const char* src, const char* dst, uint8_t nh, const Bytes& payload, uint8_t tc = 0,
           uint32_t flow_label = 0) {
    Bytes b;
    b.push_back(static_cast<uint8_t>(0x60 | tc >> 4));
    b.push_back(static_cast<uint8_t>((tc & 0x0f) << 4 | (flow_label >> 16 & 0x0f)));
    b.push_back(static_cast<uint8_t>(flow_label >> 8));
    b.push_back(static_cast<uint8_t>(flow_label));
    add16(b, static_cast<uint16_t>(payload.size()));
    b.push_back(nh);
    b.push_back(64);
    add_addr(b, a6(src), 16);
    add_addr(b, a6(dst), 16);
    add(b, payload);
    return b;
}

// Hop-by-Hop / Routing / Destination Options header of (units + 1) * 8 octets, then `rest`.
Bytes ext(uint8_t nh, uint8_t units, const Bytes& rest) {
    Bytes b = {nh, units, 1, static_cast<uint8_t>((units + 1u) * 8u - 4)};  // PadN
    b.resize((units + 1u) * 8u, 0);
    add(b, rest);
    return b;
}

Bytes frag6(uint8_t nh, uint16_t offset8, bool more, const Bytes& rest) {
    Bytes b = {nh, 0};
    add16(b, static_cast<uint16_t>(offset8 << 3 | (more ? 1 : 0)));
    add(b, {0, 0, 0, 0x2a});
    add(b, rest);
    return b;
}

PacketKey key_of(const Bytes& pkt, Direction dir) {
    PacketKey k;
    REQUIRE(extract_key(pkt.data(), pkt.size(), dir, k));
    return k;
}

RuleInput rule(uint16_t pdr, uint32_t precedence, std::vector<Filter> filters) {
    RuleInput r;
    r.pdr_index = pdr;
    r.precedence = precedence;
    r.filters = std::move(filters);
    return r;
}

std::unique_ptr<Classifier> classifier(const std::vector<RuleInput>& rules, Engine engine,
                                       const UeAddresses& ue = ue_addrs) {
    if (engine != Engine::linear) {
        braid::test::eal_once();
    }
    std::string err;
    auto c = Classifier::build(rules, ue, &err, engine);
    INFO(err);
    REQUIRE(c != nullptr);
    return c;
}

// Match order (TS 29.244 §5.2.1): lowest precedence value first; ties by PDR index.
std::vector<RuleInput> in_match_order(std::vector<RuleInput> rules) {
    std::stable_sort(rules.begin(), rules.end(), [](const RuleInput& a, const RuleInput& b) {
        return a.precedence != b.precedence ? a.precedence < b.precedence
                                            : a.pdr_index < b.pdr_index;
    });
    return rules;
}

// The reference in its plainest form, on top of matches(); `ordered` is in_match_order().
int oracle(const std::vector<RuleInput>& ordered, const PacketKey& key, uint32_t teid,
           std::optional<uint8_t> qfi, const UeAddresses& ue = ue_addrs) {
    for (const RuleInput& r : ordered) {
        if ((r.teid && *r.teid != teid) || (r.qfi && (!qfi || *qfi != *r.qfi))) {
            continue;
        }
        if (r.filters.empty()) {
            return r.pdr_index;
        }
        for (const Filter& f : r.filters) {
            if (matches(f, key, ue)) {
                return r.pdr_index;
            }
        }
    }
    return -1;
}

}  // namespace

// ------------------------------------------------------------------------------ parsing

TEST_CASE("parse: the TS 29.212 §5.4.2 forms", "[sdf]") {
    SECTION("any to assigned") {
        FlowDescription f = fd("permit out ip from any to assigned");
        CHECK_FALSE(f.proto);
        CHECK(f.remote.family == 0);
        CHECK(f.ue_assigned);
        CHECK(f.ue.family == 0);
        CHECK(f.remote_ports.empty());
        CHECK(f.ue_ports.empty());
    }
    SECTION("IPv4 prefix, port list, UE port") {
        FlowDescription f = fd("permit out 17 from 198.18.0.0/16 1000-2000,3000 to assigned 80");
        CHECK(f.proto == 17);
        CHECK(f.remote == pfx("198.18.0.0", 16));
        CHECK(f.remote_ports == std::vector<PortRange>{{1000, 2000}, {3000, 3000}});
        CHECK(f.ue_assigned);
        CHECK(f.ue_ports == std::vector<PortRange>{{80, 80}});
    }
    SECTION("IPv6 prefix to an explicit IPv6 host") {
        FlowDescription f = fd("permit out 6 from 2001:db8::/32 to 2001:db8:1::1 443");
        CHECK(f.proto == 6);
        CHECK(f.remote == pfx("2001:db8::", 32));
        CHECK_FALSE(f.ue_assigned);
        CHECK(f.ue == pfx("2001:db8:1::1", 128));
        CHECK(f.ue_ports == std::vector<PortRange>{{443, 443}});
    }
    SECTION("host address without a length, to any") {
        FlowDescription f = fd("permit out 50 from 198.19.2.3 to any");
        CHECK(f.remote == pfx("198.19.2.3", 32));
        CHECK(f.ue.family == 0);
        CHECK_FALSE(f.ue_assigned);
    }
    SECTION("blanks, tabs and keyword case are free") {
        CHECK(fd("  PERMIT\tOut  IP from   any to\tASSIGNED  ") ==
              fd("permit out ip from any to assigned"));
    }
    SECTION("protocol 0 and 255, port 0 and 65535") {
        CHECK(fd("permit out 0 from any 0 to assigned 65535").proto == 0);
        CHECK(fd("permit out 255 from any to assigned").proto == 255);
    }
    SECTION("host bits of a prefix are cleared") {
        CHECK(fd("permit out ip from 198.18.7.9/16 to assigned").remote == pfx("198.18.0.0", 16));
        CHECK(fd("permit out ip from 2001:db8:ffff::1/36 to assigned").remote ==
              pfx("2001:db8:f000::", 36));
    }
    SECTION("ports on 'ip' are accepted (they only match packets with ports)") {
        CHECK(fd("permit out ip from any 53 to assigned").remote_ports.size() == 1);
    }
}

TEST_CASE("parse: each error names the token and its column", "[sdf]") {
    struct Case {
        const char* text;
        std::vector<const char*> expect;  // substrings of the error
    };
    const Case cases[] = {
        {"", {"empty"}},
        {"   ", {"empty"}},
        {"deny out ip from any to assigned", {"'deny'", "column 1"}},
        {"allow out ip from any to assigned", {"expected 'permit'", "column 1", "'allow'"}},
        {"permit in ip from any to assigned", {"'in'", "column 8", "downlink"}},
        {"permit", {"expected 'out'", "column 7", "end of text"}},
        {"permit both ip from any to assigned", {"expected 'out'", "'both'"}},
        {"permit out", {"protocol", "column 11", "end of text"}},
        {"permit out tcp from any to assigned", {"protocol 'tcp'", "column 12"}},
        {"permit out 256 from any to assigned", {"protocol '256'", "column 12"}},
        {"permit out -1 from any to assigned", {"protocol '-1'"}},
        {"permit out ip to any", {"expected 'from' at column 15", "'to'"}},
        {"permit out ip from", {"source address", "column 19"}},
        {"permit out ip from assigned to any", {"'assigned'", "column 20", "'to'"}},
        {"permit out ip from !198.18.0.0/16 to assigned", {"negated", "column 20"}},
        {"permit out ip from 198.18.0.300 to assigned", {"invalid address", "198.18.0.300"}},
        {"permit out ip from 198.18.0 to assigned", {"invalid address"}},
        {"permit out ip from 2001:db8:::1 to assigned", {"invalid address"}},
        {"permit out ip from 198.18.0.0/33 to assigned", {"prefix length '/33'", "0-32"}},
        {"permit out ip from 2001:db8::/129 to assigned", {"prefix length '/129'", "0-128"}},
        {"permit out ip from 198.18.0.0/ to assigned", {"prefix length"}},
        {"permit out ip from 198.18.0.0/x to assigned", {"prefix length '/x'"}},
        {"permit out 17 from any 70000 to assigned", {"invalid port '70000'", "column 24"}},
        {"permit out 17 from any 2000-1000 to assigned", {"reversed", "'2000-1000'"}},
        {"permit out 17 from any 1000,,2000 to assigned", {"empty port", "column 29"}},
        {"permit out 17 from any 1000, to assigned", {"empty port"}},
        {"permit out 17 from any 1000-2000-3000 to assigned", {"invalid port"}},
        {"permit out 17 from any 10 , 20 to assigned", {"expected 'to'", "','"}},
        {"permit out ip from any assigned", {"expected source ports or 'to'", "'assigned'"}},
        {"permit out ip from any", {"expected source ports or 'to'", "end of text"}},
        {"permit out ip from any to", {"destination address", "column 26"}},
        {"permit out ip from 198.18.0.1 to 2001:db8::1", {"families", "IPv4", "IPv6"}},
        {"permit out ip from any to assigned frag", {"option 'frag'", "column 36"}},
        {"permit out 6 from any to assigned established", {"option 'established'"}},
        {"permit out 6 from any to assigned 80 setup", {"option 'setup'"}},
        {"permit out 1 from any to assigned icmptypes 8", {"option 'icmptypes'"}},
        {"permit out ip from any to assigned ipoptions ssrr", {"option 'ipoptions'"}},
        {"permit out ip from any to assigned 80 443", {"unexpected '443'", "column 39"}},
        {"permit out ip from any to assigned extra", {"unexpected 'extra'"}},
    };
    for (const Case& c : cases) {
        const std::string e = parse_error(c.text);
        INFO("'" << c.text << "' -> " << e);
        for (const char* want : c.expect) {
            CHECK(e.find(want) != std::string::npos);
        }
    }
    SECTION("at most 32 port ranges per list") {
        std::string ports;
        for (int i = 0; i < 33; ++i) {
            ports += (i ? "," : "") + std::to_string(1000 + i);
        }
        std::string text = "permit out 17 from any " + ports + " to assigned";
        CHECK(parse_error(text.c_str()).find("too many port ranges") != std::string::npos);
        ports = ports.substr(0, ports.rfind(','));
        text = "permit out 17 from any " + ports + " to assigned";
        CHECK(fd(text.c_str()).remote_ports.size() == 32);
    }
}

TEST_CASE("to_string: canonical text that parses back to the same value", "[sdf]") {
    const char* canonical[] = {
        "permit out ip from any to assigned",
        "permit out ip from any to any",
        "permit out 17 from 198.18.0.0/16 1000-2000,3000 to assigned 80",
        "permit out 6 from 2001:db8::/32 to 2001:db8:1::1 443",
        "permit out 50 from 198.19.2.3 to 198.19.100.0/24",
        "permit out 0 from 0.0.0.0/0 0-65535 to assigned 0",
        "permit out 132 from 2001:db8:5::/48 to assigned 1-2,5,7-9",
    };
    for (const char* text : canonical) {
        INFO(text);
        FlowDescription f = fd(text);
        CHECK(to_string(f) == text);
        CHECK(fd(to_string(f).c_str()) == f);
    }
    // Non-canonical spellings come out canonical.
    CHECK(to_string(fd("Permit  out IP from 198.18.7.9/16 80-80 to 198.19.100.1/32")) ==
          "permit out ip from 198.18.0.0/16 80 to 198.19.100.1");
    CHECK(to_string(fd("permit out 17 from 2001:DB8:0:0::0/32 to 2001:db8::1/128 1-1")) ==
          "permit out 17 from 2001:db8::/32 to 2001:db8::1 1");
}

// ------------------------------------------------------------------------------ packet keys

TEST_CASE("extract_key: IPv4 UDP, oriented UE side / remote side", "[sdf]") {
    const Bytes dl = ipv4("198.18.5.5", "198.19.100.1", 17, udp(53, 40000), 0xb8);
    PacketKey k = key_of(dl, Direction::downlink);
    CHECK(k.family == 4);
    CHECK(k.ue == a4("198.19.100.1"));
    CHECK(k.remote == a4("198.18.5.5"));
    CHECK(k.proto == 17);
    CHECK(k.has_ports);
    CHECK(k.ue_port == 40000);
    CHECK(k.remote_port == 53);
    CHECK(k.tos == 0xb8);
    CHECK_FALSE(k.has_spi);

    const Bytes ul = ipv4("198.19.100.1", "198.18.5.5", 17, udp(40000, 53));
    PacketKey u = key_of(ul, Direction::uplink);
    CHECK(u.ue == a4("198.19.100.1"));
    CHECK(u.remote == a4("198.18.5.5"));
    CHECK(u.ue_port == 40000);
    CHECK(u.remote_port == 53);
}

TEST_CASE("extract_key: IPv4 options, TCP, SCTP, ESP, ICMP, fragments", "[sdf]") {
    SECTION("options (IHL 7) before TCP") {
        const Bytes opts = {0x01, 0x01, 0x01, 0x01, 0x94, 0x04, 0x00, 0x00};  // NOPs, Router Alert
        PacketKey k = key_of(ipv4("198.18.1.1", "198.19.100.1", 6, tcp(443, 50000), 0, opts),
                             Direction::downlink);
        CHECK(k.proto == 6);
        CHECK(k.has_ports);
        CHECK(k.remote_port == 443);
        CHECK(k.ue_port == 50000);
    }
    SECTION("SCTP common header") {
        Bytes sctp;
        add16(sctp, 38412);
        add16(sctp, 9);
        add(sctp, {0, 0, 0, 0, 0, 0, 0, 0});
        PacketKey k = key_of(ipv4("198.18.1.1", "198.19.100.1", 132, sctp), Direction::downlink);
        CHECK(k.has_ports);
        CHECK(k.remote_port == 38412);
        CHECK(k.ue_port == 9);
    }
    SECTION("ESP: SPI, no ports") {
        PacketKey k =
            key_of(ipv4("198.18.1.1", "198.19.100.1", 50, esp(0xdeadbeef)), Direction::downlink);
        CHECK(k.proto == 50);
        CHECK(k.has_spi);
        CHECK(k.spi == 0xdeadbeef);
        CHECK_FALSE(k.has_ports);
    }
    SECTION("ICMP: no ports") {
        PacketKey k =
            key_of(ipv4("198.18.1.1", "198.19.100.1", 1, Bytes(8, 0)), Direction::downlink);
        CHECK(k.proto == 1);
        CHECK_FALSE(k.has_ports);
    }
    SECTION("first fragment has ports, later fragments do not") {
        PacketKey first = key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2), 0, {}, 0x2000),
                                 Direction::downlink);
        CHECK(first.has_ports);
        PacketKey later = key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2), 0, {}, 0x0003),
                                 Direction::downlink);
        CHECK(later.proto == 17);
        CHECK_FALSE(later.has_ports);
    }
    SECTION("link-layer padding after Total Length is ignored") {
        Bytes p = ipv4("198.18.1.1", "198.19.100.1", 17, Bytes(4, 0));  // 4 octets of "UDP"
        p.resize(p.size() + 8, 0);                                      // padding
        PacketKey k;
        CHECK_FALSE(extract_key(p.data(), p.size(), Direction::downlink, k));
    }
}

TEST_CASE("extract_key: IPv6 traffic class, flow label, extension headers", "[sdf]") {
    SECTION("plain UDP") {
        PacketKey k =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 17, udp(443, 1234), 0xa5, 0x12345),
                   Direction::downlink);
        CHECK(k.family == 6);
        CHECK(k.ue == a6("2001:db8:100:1::1"));
        CHECK(k.remote == a6("2001:db8:5::9"));
        CHECK(k.tos == 0xa5);
        CHECK(k.flow_label == 0x12345);
        CHECK(k.remote_port == 443);
        CHECK(k.ue_port == 1234);
        PacketKey u = key_of(ipv6("2001:db8:100:1::1", "2001:db8:5::9", 17, udp(1234, 443)),
                             Direction::uplink);
        CHECK(u.ue == k.ue);
        CHECK(u.remote == k.remote);
        CHECK(u.ue_port == 1234);
        CHECK(u.remote_port == 443);
    }
    SECTION("hop-by-hop, destination options, routing, then TCP") {
        const Bytes pay = ext(60, 0, ext(43, 1, ext(6, 0, tcp(80, 5555))));
        PacketKey k =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 0, pay), Direction::downlink);
        CHECK(k.proto == 6);
        CHECK(k.has_ports);
        CHECK(k.remote_port == 80);
        CHECK(k.ue_port == 5555);
    }
    SECTION("fragment header: the first fragment has ports, later ones do not") {
        PacketKey first =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 44, frag6(17, 0, true, udp(7, 8))),
                   Direction::downlink);
        CHECK(first.proto == 17);
        CHECK(first.has_ports);
        CHECK(first.remote_port == 7);
        PacketKey later =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 44, frag6(17, 185, false, udp(7, 8))),
                   Direction::downlink);
        CHECK(later.proto == 17);
        CHECK_FALSE(later.has_ports);
    }
    SECTION("ESP after a destination options header") {
        PacketKey k =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 60, ext(50, 0, esp(0x1000))),
                   Direction::downlink);
        CHECK(k.proto == 50);
        CHECK(k.has_spi);
        CHECK(k.spi == 0x1000);
    }
    SECTION("beyond five extension headers: no upper-layer header is looked for") {
        Bytes pay = udp(1, 2);
        uint8_t nh = 17;
        for (int i = 0; i < 6; ++i) {
            pay = ext(nh, 0, pay);
            nh = 60;
        }
        PacketKey k =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 60, pay), Direction::downlink);
        CHECK(k.proto == 60);
        CHECK_FALSE(k.has_ports);
        pay = udp(1, 2);
        nh = 17;
        for (int i = 0; i < 5; ++i) {
            pay = ext(nh, 0, pay);
            nh = 60;
        }
        k = key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 60, pay), Direction::downlink);
        CHECK(k.proto == 17);
        CHECK(k.has_ports);
    }
    SECTION("no next header (59)") {
        PacketKey k =
            key_of(ipv6("2001:db8:5::9", "2001:db8:100:1::1", 59, {}), Direction::downlink);
        CHECK(k.proto == 59);
        CHECK_FALSE(k.has_ports);
    }
}

TEST_CASE("extract_key: every truncation is refused", "[sdf]") {
    PacketKey k;
    auto refused = [&](const Bytes& p, size_t len) {
        INFO("len " << len << " of " << p.size());
        CHECK_FALSE(extract_key(p.data(), len, Direction::downlink, k));
    };
    SECTION("IPv4 headers") {
        const Bytes p = ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2), 0, Bytes(4, 1));
        for (size_t len = 0; len < 24 + 8; ++len) {
            refused(p, len);
        }
        CHECK(extract_key(p.data(), 24 + 8, Direction::downlink, k));
        Bytes bad = p;
        bad[0] = 0x44;  // IHL 4 < 5
        refused(bad, bad.size());
        bad = p;
        bad[0] = 0x4f;  // IHL 15: 60 octets > packet
        refused(bad, 40);
        bad = p;
        set16(bad, 2, 16);  // Total Length < header
        refused(bad, bad.size());
        bad = p;
        set16(bad, 2, 28);  // Total Length cuts the UDP header
        refused(bad, bad.size());
        refused(ipv4("198.18.1.1", "198.19.100.1", 6, Bytes(19, 0)), 39);
        refused(ipv4("198.18.1.1", "198.19.100.1", 6, Bytes(19, 0)), 20 + 19);
        refused(ipv4("198.18.1.1", "198.19.100.1", 50, Bytes(7, 0)), 27);
        refused(ipv4("198.18.1.1", "198.19.100.1", 132, Bytes(11, 0)), 31);
    }
    SECTION("IPv6 headers and extension headers") {
        const Bytes p = ipv6("2001:db8:5::9", "2001:db8:100:1::1", 0,
                             ext(44, 1, frag6(17, 0, true, udp(1, 2))));
        const size_t full = 40 + 16 + 8 + 8;
        for (size_t len = 0; len < full; ++len) {
            refused(p, len);
        }
        CHECK(extract_key(p.data(), full, Direction::downlink, k));
        Bytes bad = p;
        set16(bad, 4, 16 + 8 + 7);  // Payload Length cuts the UDP header
        refused(bad, bad.size());
    }
    SECTION("not IP") {
        Bytes p = ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2));
        p[0] = 0x55;
        refused(p, p.size());
        CHECK_FALSE(extract_key(nullptr, 0, Direction::downlink, k));
    }
}

// ------------------------------------------------------------------------------ matching

TEST_CASE("matches: uplink and downlink packets of one flow match the same filter", "[sdf]") {
    const Filter f = flt("permit out 17 from 198.18.5.0/24 53 to assigned");
    const Bytes dl = ipv4("198.18.5.5", "198.19.100.1", 17, udp(53, 40000));
    const Bytes ul = ipv4("198.19.100.1", "198.18.5.5", 17, udp(40000, 53));
    CHECK(matches(f, key_of(dl, Direction::downlink), ue_addrs));
    CHECK(matches(f, key_of(ul, Direction::uplink), ue_addrs));
    // The same bytes read in the wrong direction do not.
    CHECK_FALSE(matches(f, key_of(ul, Direction::downlink), ue_addrs));
    CHECK_FALSE(matches(f, key_of(dl, Direction::uplink), ue_addrs));
    // IPv6.
    const Filter f6 = flt("permit out 6 from 2001:db8:5::/48 443 to assigned 1024-65535");
    CHECK(matches(
        f6,
        key_of(ipv6("2001:db8:100:1::7", "2001:db8:5::1", 6, tcp(50000, 443)), Direction::uplink),
        ue_addrs));
    CHECK_FALSE(matches(
        f6,
        key_of(ipv6("2001:db8:100:1::7", "2001:db8:5::1", 6, tcp(1000, 443)), Direction::uplink),
        ue_addrs));
}

TEST_CASE("matches: port ranges and lists at their edges", "[sdf]") {
    const Filter f = flt("permit out 17 from any 1000-2000,3000 to assigned 80");
    auto m = [&](uint16_t remote, uint16_t ue) {
        return matches(
            f, key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(remote, ue)), Direction::downlink),
            ue_addrs);
    };
    CHECK_FALSE(m(999, 80));
    CHECK(m(1000, 80));
    CHECK(m(1500, 80));
    CHECK(m(2000, 80));
    CHECK_FALSE(m(2001, 80));
    CHECK_FALSE(m(2999, 80));
    CHECK(m(3000, 80));
    CHECK_FALSE(m(3001, 80));
    CHECK_FALSE(m(3000, 81));
    CHECK_FALSE(m(3000, 79));
    // A packet without ports never matches a filter with ports.
    const Filter any_ports = flt("permit out ip from any 0-65535 to assigned");
    CHECK_FALSE(matches(
        any_ports, key_of(ipv4("198.18.1.1", "198.19.100.1", 1, Bytes(8, 0)), Direction::downlink),
        ue_addrs));
    CHECK(matches(any_ports,
                  key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(0, 0)), Direction::downlink),
                  ue_addrs));
}

TEST_CASE("matches: 'assigned' is the session's UE address or prefix", "[sdf]") {
    const Filter f = flt("permit out ip from any to assigned");
    auto dl4 = [](const char* ue) {
        return key_of(ipv4("198.18.1.1", ue, 17, udp(1, 2)), Direction::downlink);
    };
    auto dl6 = [](const char* ue) {
        return key_of(ipv6("2001:db8:5::1", ue, 17, udp(1, 2)), Direction::downlink);
    };
    CHECK(matches(f, dl4("198.19.100.1"), ue_addrs));
    CHECK_FALSE(matches(f, dl4("198.19.100.2"), ue_addrs));
    CHECK(matches(f, dl6("2001:db8:100:1::1"), ue_addrs));
    CHECK(matches(f, dl6("2001:db8:100:1:ffff::"), ue_addrs));
    CHECK_FALSE(matches(f, dl6("2001:db8:100:2::1"), ue_addrs));
    // A session without an IPv6 prefix: "assigned" stands for any IPv6 address.
    const UeAddresses v4_only{pfx("198.19.100.1", 32), Prefix{}};
    CHECK(matches(f, dl6("2001:db8:100:2::1"), v4_only));
    CHECK_FALSE(matches(f, dl4("198.19.100.2"), v4_only));
    // An explicit UE address ignores the session's.
    const Filter g = flt("permit out ip from any to 198.19.100.0/24");
    CHECK(matches(g, dl4("198.19.100.2"), ue_addrs));
    CHECK_FALSE(matches(g, dl4("198.19.101.1"), ue_addrs));
    CHECK_FALSE(matches(g, dl6("2001:db8:100:1::1"), ue_addrs));
    // A family-specific remote address restricts the family.
    const Filter h = flt("permit out ip from 198.18.0.0/15 to assigned");
    CHECK_FALSE(matches(h, dl6("2001:db8:100:1::1"), ue_addrs));
}

TEST_CASE("matches: ToS/Traffic Class, SPI, flow label", "[sdf]") {
    Filter tos;
    tos.tos = std::array<uint8_t, 2>{0xb8, 0xfc};  // DSCP EF
    auto k4 = [](uint8_t t) {
        return key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2), t), Direction::downlink);
    };
    CHECK(matches(tos, k4(0xb8), ue_addrs));
    CHECK(matches(tos, k4(0xbb), ue_addrs));  // ECN bits masked out
    CHECK_FALSE(matches(tos, k4(0x00), ue_addrs));

    Filter spi;
    spi.spi = 0x1000;
    CHECK(matches(spi,
                  key_of(ipv4("198.18.1.1", "198.19.100.1", 50, esp(0x1000)), Direction::downlink),
                  ue_addrs));
    CHECK_FALSE(matches(
        spi, key_of(ipv4("198.18.1.1", "198.19.100.1", 50, esp(0x1001)), Direction::downlink),
        ue_addrs));
    CHECK_FALSE(matches(spi, k4(0), ue_addrs));

    Filter fl;
    fl.flow_label = 0x12345;
    CHECK(matches(fl,
                  key_of(ipv6("2001:db8:5::1", "2001:db8:100:1::1", 17, udp(1, 2), 0, 0x12345),
                         Direction::downlink),
                  ue_addrs));
    CHECK_FALSE(matches(fl,
                        key_of(ipv6("2001:db8:5::1", "2001:db8:100:1::1", 17, udp(1, 2), 0, 0x1),
                               Direction::downlink),
                        ue_addrs));
    CHECK_FALSE(matches(fl, k4(0), ue_addrs));
}

// ------------------------------------------------------------------------------ classifier

TEST_CASE("classifier: lowest precedence value first, ties by PDR index", "[sdf]") {
    const std::vector<RuleInput> rules = {
        rule(1, 300, {}),  // catch-all
        rule(2, 100, {flt("permit out 17 from any to assigned")}),
        rule(3, 50, {flt("permit out 17 from any 53 to assigned")}),
        rule(5, 100, {flt("permit out ip from 198.18.0.0/16 to assigned")}),
        rule(4, 100, {flt("permit out ip from 198.18.0.0/16 to assigned")}),
    };
    for (Engine e : {Engine::linear, Engine::acl}) {
        INFO(static_cast<int>(e));
        auto c = classifier(rules, e);
        CHECK(c->uses_acl() == (e == Engine::acl));
        CHECK(c->filter_count() == 4);
        auto dl = [&](const Bytes& p) {
            return c->match(key_of(p, Direction::downlink), 0, std::nullopt);
        };
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 17, udp(53, 2))) == 3);
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 17, udp(54, 2))) == 2);
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 6, tcp(54, 2))) == 4);
        CHECK(dl(ipv4("198.19.1.1", "198.19.100.1", 6, tcp(54, 2))) == 1);
        CHECK(dl(ipv6("2001:db8:5::1", "2001:db8:100:1::1", 6, tcp(1, 2))) == 1);
    }
}

TEST_CASE("classifier: TEID, QFI, empty rules and no match", "[sdf]") {
    RuleInput a = rule(1, 10, {flt("permit out 17 from any to assigned")});
    a.teid = 0x100;
    a.qfi = 9;
    RuleInput b = rule(2, 20, {});
    b.teid = 0x100;
    RuleInput c = rule(3, 30, {flt("permit out 6 from any to assigned")});
    const std::vector<RuleInput> rules = {a, b, c};
    const PacketKey udp_key =
        key_of(ipv4("198.19.100.1", "198.18.1.1", 17, udp(1, 2)), Direction::uplink);
    const PacketKey tcp_key =
        key_of(ipv4("198.19.100.1", "198.18.1.1", 6, tcp(1, 2)), Direction::uplink);
    for (Engine e : {Engine::linear, Engine::acl}) {
        INFO(static_cast<int>(e));
        auto cl = classifier(rules, e);
        CHECK(cl->match(udp_key, 0x100, 9) == 1);
        CHECK(cl->match(udp_key, 0x100, 5) == 2);
        CHECK(cl->match(udp_key, 0x100, std::nullopt) == 2);
        CHECK(cl->match(udp_key, 0x101, 9) == -1);
        CHECK(cl->match(tcp_key, 0x101, 9) == 3);
        CHECK(cl->match(tcp_key, 0x100, 9) == 2);
        PacketKey bad = udp_key;
        bad.family = 5;
        CHECK(cl->match(bad, 0x100, 9) == -1);
    }
    for (Engine e : {Engine::linear, Engine::acl}) {
        auto empty = classifier({}, e);
        CHECK(empty->match(udp_key, 0, std::nullopt) == -1);
        CHECK(empty->filter_count() == 0);
    }
}

TEST_CASE("classifier: a packet without ports never matches a filter with ports", "[sdf]") {
    // Port lists that admit 0 (the port value of a portless key), and ones that do not.
    const std::vector<RuleInput> rules = {
        rule(1, 10, {flt("permit out ip from any 0-100 to assigned")}),
        rule(2, 20, {flt("permit out ip from any 0 to assigned 0-65535")}),
        rule(3, 30, {flt("permit out ip from any to assigned 1-100")}),
        rule(4, 40, {flt("permit out ip from any to assigned")}),
    };
    const PacketKey icmp =
        key_of(ipv4("198.18.1.1", "198.19.100.1", 1, Bytes(8, 0)), Direction::downlink);
    const PacketKey later_fragment = key_of(
        ipv4("198.18.1.1", "198.19.100.1", 17, udp(0, 50), 0, {}, 0x0010), Direction::downlink);
    for (Engine e : {Engine::linear, Engine::acl}) {
        INFO(static_cast<int>(e));
        auto c = classifier(rules, e);
        CHECK(c->match(icmp, 0, std::nullopt) == 4);
        CHECK(c->match(later_fragment, 0, std::nullopt) == 4);
        CHECK(c->match(
                  key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(0, 50)), Direction::downlink),
                  0, std::nullopt) == 1);
        CHECK(c->match(
                  key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(101, 50)), Direction::downlink),
                  0, std::nullopt) == 3);
    }
}

TEST_CASE("classifier: a rule failing on ToS, SPI or flow label yields to the next one", "[sdf]") {
    Filter tos = flt("permit out 17 from any to assigned");
    tos.tos = std::array<uint8_t, 2>{0xb8, 0xfc};
    Filter spi = flt("permit out 50 from 198.18.0.0/15 to assigned");
    spi.spi = 0x1000;
    Filter fl = flt("permit out 17 from any to assigned");
    fl.flow_label = 0x12345;
    const std::vector<RuleInput> rules = {
        rule(1, 10, {tos}),
        rule(2, 20, {spi}),
        rule(3, 30, {fl}),
        rule(4, 40, {flt("permit out ip from any to assigned")}),
    };
    for (Engine e : {Engine::linear, Engine::acl}) {
        INFO(static_cast<int>(e));
        auto c = classifier(rules, e);
        auto dl = [&](const Bytes& p) {
            return c->match(key_of(p, Direction::downlink), 0, std::nullopt);
        };
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2), 0xb9)) == 1);
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2), 0x28)) == 4);
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 50, esp(0x1000))) == 2);
        CHECK(dl(ipv4("198.18.1.1", "198.19.100.1", 50, esp(0x1001))) == 4);
        CHECK(dl(ipv6("2001:db8:5::1", "2001:db8:100:1::1", 17, udp(1, 2), 0, 0x12345)) == 3);
        CHECK(dl(ipv6("2001:db8:5::1", "2001:db8:100:1::1", 17, udp(1, 2), 0xb8, 0x12345)) == 1);
        CHECK(dl(ipv6("2001:db8:5::1", "2001:db8:100:1::1", 17, udp(1, 2), 0, 0x12346)) == 4);
    }
}

TEST_CASE("classifier: rte_acl above the threshold, linear up to it", "[sdf]") {
    braid::test::eal_once();
    std::vector<RuleInput> rules;
    for (size_t i = 0; i < Classifier::acl_threshold; ++i) {
        rules.push_back(rule(static_cast<uint16_t>(i), static_cast<uint32_t>(i),
                             {flt("permit out 17 from any to assigned")}));
    }
    std::string err;
    auto at = Classifier::build(rules, ue_addrs, &err);
    REQUIRE(at != nullptr);
    CHECK_FALSE(at->uses_acl());
    CHECK(at->filter_count() == Classifier::acl_threshold);
    rules.push_back(rule(999, 0, {flt("permit out 6 from any to assigned")}));
    auto above = Classifier::build(rules, ue_addrs, &err);
    REQUIRE(above != nullptr);
    CHECK(above->uses_acl());
    const PacketKey k =
        key_of(ipv4("198.18.1.1", "198.19.100.1", 17, udp(1, 2)), Direction::downlink);
    CHECK(above->match(k, 0, std::nullopt) == 0);
}

TEST_CASE("classifier: invalid input is refused with a reason", "[sdf]") {
    braid::test::eal_once();
    struct Case {
        const char* name;
        std::vector<RuleInput> rules;
        UeAddresses ue;
        const char* expect;
    };
    FlowDescription mixed = fd("permit out ip from 198.18.0.0/15 to any");
    mixed.ue = pfx("2001:db8::1", 128);
    FlowDescription long_prefix = fd("permit out ip from 198.18.0.0/15 to any");
    long_prefix.remote.len = 33;
    FlowDescription bad_family = fd("permit out ip from any to any");
    bad_family.remote.family = 5;
    FlowDescription reversed = fd("permit out 17 from any 10 to assigned");
    reversed.remote_ports[0] = {20, 10};
    FlowDescription assigned_and_explicit = fd("permit out ip from any to assigned");
    assigned_and_explicit.ue = pfx("198.19.100.1", 32);
    Filter fl;
    fl.flow_label = 0x100000;
    RuleInput qfi = rule(7, 1, {});
    qfi.qfi = 64;
    auto one = [](FlowDescription f) {
        Filter x;
        x.flow = std::move(f);
        return std::vector<RuleInput>{rule(7, 1, {x})};
    };
    const Case cases[] = {
        {"mixed families", one(mixed), ue_addrs, "families differ"},
        {"prefix length", one(long_prefix), ue_addrs, "prefix length 33"},
        {"address family", one(bad_family), ue_addrs, "address family 5"},
        {"reversed ports", one(reversed), ue_addrs, "reversed port range 20-10"},
        {"assigned + address", one(assigned_and_explicit), ue_addrs, "'assigned'"},
        {"flow label", {rule(7, 1, {fl})}, ue_addrs, "20 bits"},
        {"QFI", {qfi}, ue_addrs, "QFI 64"},
        {"UE v4", {}, UeAddresses{pfx("2001:db8::1", 128), Prefix{}}, "swapped"},
        {"UE v6 length",
         {},
         UeAddresses{Prefix{},
                     [] {
                         Prefix p = pfx("2001:db8::", 64);
                         p.len = 130;
                         return p;
                     }()},
         "prefix length 130"},
    };
    for (const Case& c : cases) {
        for (Engine e : {Engine::linear, Engine::acl}) {
            INFO(c.name << " engine " << static_cast<int>(e));
            std::string err;
            CHECK(Classifier::build(c.rules, c.ue, &err, e) == nullptr);
            INFO(err);
            CHECK(err.find(c.expect) != std::string::npos);
        }
    }
}

TEST_CASE("classifier: rte_acl refuses a rule set that expands past its limit", "[sdf]") {
    braid::test::eal_once();
    // 32 x 32 disjoint port ranges: 1024 ACL rules per filter; 65 filters exceed 65536.
    std::string ports;
    for (int i = 0; i < 32; ++i) {
        ports += (i ? "," : "") + std::to_string(100 * i) + "-" + std::to_string(100 * i + 10);
    }
    const std::string text = "permit out 17 from any " + ports + " to assigned " + ports;
    std::vector<RuleInput> rules;
    for (uint16_t i = 0; i < 65; ++i) {
        rules.push_back(rule(i, i, {flt(text.c_str())}));
    }
    std::string err;
    CHECK(Classifier::build(rules, ue_addrs, &err) == nullptr);
    CHECK(err.find("more than 65536 IPv4 ACL rules") != std::string::npos);
    // The linear engine has no such limit.
    CHECK(Classifier::build(rules, ue_addrs, &err, Engine::linear) != nullptr);
}

// ------------------------------------------------------------------------------ randomized

namespace {

struct Gen {
    std::mt19937 rng;
    explicit Gen(uint32_t seed) : rng(seed) {}

    uint32_t below(uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); }
    bool chance(double p) { return std::bernoulli_distribution(p)(rng); }
    template <typename T>
    const T& pick(const std::vector<T>& v) {
        return v[below(static_cast<uint32_t>(v.size()))];
    }

    const std::vector<Prefix> remote4 = {pfx("198.18.0.0", 15), pfx("198.18.1.0", 24),
                                         pfx("198.18.1.7", 32), pfx("198.18.128.0", 17),
                                         pfx("198.19.2.0", 23), pfx("198.18.0.0", 0)};
    const std::vector<Prefix> remote6 = {pfx("2001:db8::", 32), pfx("2001:db8:5::", 48),
                                         pfx("2001:db8:5::9", 128), pfx("2001:db8:5:0:8000::", 65),
                                         pfx("2001:db8::", 0)};
    const std::vector<Prefix> ue4 = {pfx("198.19.100.0", 24), pfx("198.19.100.1", 32)};
    const std::vector<Prefix> ue6 = {pfx("2001:db8:100:1::1", 128), pfx("2001:db8:100::", 48),
                                     pfx("2001:db8:100:1::", 64)};
    const std::vector<uint16_t> ports = {0,    1,    53,   80,   443,   999,  1000,
                                         1500, 2000, 2001, 3000, 65534, 65535};
    const std::vector<std::optional<uint8_t>> protos = {std::nullopt, 6, 17, 50, 1, 132};

    std::vector<PortRange> port_list() {
        std::vector<PortRange> out;
        if (chance(rich ? 0.7 : 0.8)) {
            return out;
        }
        const uint32_t n = !rich || chance(0.8) ? 1 : 2 + below(2);
        for (uint32_t i = 0; i < n; ++i) {
            uint16_t a = pick(ports);
            uint16_t b = chance(0.5) ? a : pick(ports);
            out.push_back({std::min(a, b), std::max(a, b)});
        }
        return out;
    }

    Filter filter() {
        Filter f;
        const bool flow = !rich || chance(0.9);
        if (flow) {
            FlowDescription fd;
            const uint32_t fam = below(5) == 0 ? 0 : 1 + below(2);  // 0 any, 1 IPv4, 2 IPv6
            // Few catch-alls: they would hide every rule after them.
            fd.proto = fam == 0 ? pick(protos).value_or(17) : pick(protos);
            if (fam != 0 && chance(0.8)) {
                fd.remote = fam == 1 ? pick(remote4) : pick(remote6);
            }
            const uint32_t u = below(10);
            if (u < 5) {
                fd.ue_assigned = true;
            } else if (u < 8 && fam != 0) {
                fd.ue = fam == 1 ? pick(ue4) : pick(ue6);
            }
            fd.remote_ports = port_list();
            fd.ue_ports = port_list();
            f.flow = fd;
        }
        if (!rich) {
            return f;
        }
        if (chance(flow ? 0.15 : 0.6)) {
            const std::vector<uint8_t> masks = {0xfc, 0xe0, 0xff, 0x00};
            f.tos = std::array<uint8_t, 2>{static_cast<uint8_t>(pick(tos_values)), pick(masks)};
        }
        if (chance(flow ? 0.1 : 0.3)) {
            f.spi = chance(0.5) ? 0x100 : 0x200;
        }
        if (chance(flow ? 0.08 : 0.3)) {
            f.flow_label = chance(0.5) ? 0x12345 : 0x1;
        }
        if (!flow && !f.spi && !f.flow_label && (!f.tos || (*f.tos)[1] == 0)) {
            return filter();  // would match every packet
        }
        return f;
    }

    // rich: every field, two TEIDs, several port ranges per list: the hardest sets for rte_acl
    // to build (seconds above ~50 rules). Otherwise flow descriptions only, one TEID, at most
    // one port range per list, as PCC rules mostly are.
    bool rich = true;

    std::vector<RuleInput> rules(size_t n) {
        std::vector<RuleInput> out;
        for (size_t i = 0; i < n; ++i) {
            RuleInput r;
            r.pdr_index = static_cast<uint16_t>(i + 1);
            r.precedence = below(static_cast<uint32_t>(n / 2 + 2));  // plenty of ties
            if (chance(0.3)) {
                r.teid = rich ? 1 + below(2) : 1;
            }
            if (chance(0.3)) {
                r.qfi = chance(0.5) ? 5 : 9;
            }
            const uint32_t nf = chance(0.03) ? 0 : 1 + below(3);
            if (nf == 0) {
                r.precedence += static_cast<uint32_t>(n);  // a catch-all goes last, as in PFCP
            }
            for (uint32_t k = 0; k < nf; ++k) {
                r.filters.push_back(filter());
            }
            out.push_back(std::move(r));
        }
        return out;
    }

    const std::vector<int> tos_values = {0, 0x20, 0xb8, 0xb9, 0x28};
    const std::vector<const char*> remote4_hosts = {"198.18.1.7",    "198.18.1.8", "198.18.200.3",
                                                    "198.19.2.1",    "198.19.3.1", "198.18.0.1",
                                                    "198.19.255.255"};
    const std::vector<const char*> ue4_hosts = {"198.19.100.1", "198.19.100.2", "198.19.101.1"};
    const std::vector<const char*> remote6_hosts = {
        "2001:db8:5::9", "2001:db8:5::a", "2001:db8:5:0:8000::1", "2001:db8:6::1", "2001:db8::1"};
    const std::vector<const char*> ue6_hosts = {"2001:db8:100:1::1", "2001:db8:100:1::2",
                                                "2001:db8:100:2::1"};

    PacketKey key() {
        PacketKey k;
        k.family = chance(0.5) ? 4 : 6;
        if (k.family == 4) {
            k.ue = a4(pick(ue4_hosts));
            k.remote = a4(pick(remote4_hosts));
        } else {
            k.ue = a6(pick(ue6_hosts));
            k.remote = a6(pick(remote6_hosts));
            k.flow_label = chance(0.3) ? 0x12345 : (chance(0.3) ? 0x1 : below(1 << 20));
        }
        const std::vector<uint8_t> ps = {6, 17, 50, 1, 132};
        k.proto = pick(ps);
        if ((k.proto == 6 || k.proto == 17 || k.proto == 132) && chance(0.9)) {
            k.has_ports = true;
            k.ue_port = chance(0.7) ? pick(ports) : static_cast<uint16_t>(below(65536));
            k.remote_port = chance(0.7) ? pick(ports) : static_cast<uint16_t>(below(65536));
        }
        if (k.proto == 50 && chance(0.9)) {
            k.has_spi = true;
            k.spi = chance(0.8) ? 0x100 * (1 + below(3)) : below(~0u);
        }
        k.tos = static_cast<uint8_t>(chance(0.7) ? pick(tos_values) : below(256));
        return k;
    }

    // A random address inside `p` (of its family).
    Addr inside(const Prefix& p) {
        Addr a = p.addr;
        const unsigned bits = p.family == 4 ? 32 : 128;
        for (unsigned i = p.len; i < bits; ++i) {
            const auto bit = static_cast<uint8_t>(0x80 >> (i % 8));
            a[i / 8] = static_cast<uint8_t>(chance(0.5) ? a[i / 8] | bit : a[i / 8] & ~bit);
        }
        return a;
    }

    uint16_t port_in(const std::vector<PortRange>& r) {
        const PortRange& x = pick(r);
        return static_cast<uint16_t>(x.lo + below(x.hi - x.lo + 1u));
    }

    // A packet inside one filter of `r` (with the rule's TEID and QFI): `r` or a rule before it
    // wins.
    PacketKey key_for(const RuleInput& r, uint32_t& teid, std::optional<uint8_t>& qfi) {
        PacketKey k = key();
        if (r.teid) {
            teid = *r.teid;
        }
        if (r.qfi) {
            qfi = r.qfi;
        }
        if (r.filters.empty()) {
            return k;
        }
        const Filter& f = pick(r.filters);
        uint8_t fam = k.family;
        if (f.flow && f.flow->remote.family != 0) {
            fam = f.flow->remote.family;
        } else if (f.flow && !f.flow->ue_assigned && f.flow->ue.family != 0) {
            fam = f.flow->ue.family;
        }
        if (f.flow_label) {
            fam = 6;
        }
        if (fam != k.family) {
            k.family = fam;
            k.ue = fam == 4 ? a4(pick(ue4_hosts)) : a6(pick(ue6_hosts));
            k.remote = fam == 4 ? a4(pick(remote4_hosts)) : a6(pick(remote6_hosts));
            k.flow_label = fam == 6 ? below(1 << 20) : 0;
        }
        if (f.flow) {
            const FlowDescription& fd = *f.flow;
            if (fd.proto) {
                k.proto = *fd.proto;
            }
            if (fd.remote.family == fam) {
                k.remote = inside(fd.remote);
            }
            const Prefix up = fd.ue_assigned ? (fam == 4 ? ue_addrs.v4 : ue_addrs.v6) : fd.ue;
            if (up.family == fam) {
                k.ue = inside(up);
            }
            if (!fd.remote_ports.empty() || !fd.ue_ports.empty()) {
                if (!fd.proto) {
                    k.proto = pick(std::vector<uint8_t>{6, 17, 132});
                }
                k.has_ports = true;
            }
            if (!fd.remote_ports.empty()) {
                k.remote_port = port_in(fd.remote_ports);
            }
            if (!fd.ue_ports.empty()) {
                k.ue_port = port_in(fd.ue_ports);
            }
        }
        if (f.tos) {
            const uint8_t m = (*f.tos)[1];
            k.tos = static_cast<uint8_t>(((*f.tos)[0] & m) | (below(256) & ~m));
        }
        if (f.spi) {
            k.has_spi = true;
            k.spi = *f.spi;
        }
        if (f.flow_label) {
            k.flow_label = *f.flow_label;
        }
        return k;
    }
};

}  // namespace

TEST_CASE("classifier: rte_acl and linear agree on random rule sets and packets", "[sdf]") {
    braid::test::eal_once();
    Gen g(20240611);
    struct Set {
        size_t rules;
        bool rich;
    };
    // Filter counts from 1 to ~400, on both sides of acl_threshold.
    const Set sets[] = {{1, true},  {1, true},   {3, true},   {3, true},   {8, true},
                        {8, true},  {12, true},  {12, true},  {20, true},  {20, true},
                        {40, true}, {24, false}, {80, false}, {200, false}};
    size_t total_hits = 0;
    for (const Set& set : sets) {
        const size_t n = set.rules;
        g.rich = set.rich;
        const std::vector<RuleInput> rules = g.rules(n);
        const std::vector<RuleInput> ordered = in_match_order(rules);
        auto lin = classifier(rules, Engine::linear);
        auto acl = classifier(rules, Engine::acl);
        auto autom = classifier(rules, Engine::automatic);
        CHECK(autom->uses_acl() == (autom->filter_count() > Classifier::acl_threshold));
        size_t hits = 0;
        std::vector<bool> winners(n + 2);
        for (int i = 0; i < 4000; ++i) {
            uint32_t teid = 1 + g.below(3);
            std::optional<uint8_t> qfi =
                g.chance(0.3) ? std::nullopt : std::optional<uint8_t>(g.chance(0.5) ? 5 : 9);
            // Half random, half aimed at one filter of one rule.
            const PacketKey k =
                g.chance(0.5) ? g.key()
                              : g.key_for(rules[g.below(static_cast<uint32_t>(n))], teid, qfi);
            const int want = oracle(ordered, k, teid, qfi);
            const int l = lin->match(k, teid, qfi);
            const int a = acl->match(k, teid, qfi);
            const int m = autom->match(k, teid, qfi);
            if (l != want || a != want || m != want) {
                FAIL_CHECK("rules " << n << " rich " << set.rich << " packet " << i << ": oracle "
                                    << want << " linear " << l << " acl " << a << " auto " << m
                                    << " (family " << int(k.family) << " proto " << int(k.proto)
                                    << " ports " << k.has_ports << " " << k.remote_port << "->"
                                    << k.ue_port << ")");
                return;
            }
            hits += want >= 0;
            winners[static_cast<size_t>(want + 1)] = true;
        }
        // The rule set is not degenerate: several rules win.
        INFO(n << " rules, " << autom->filter_count() << " filters, " << hits << " hits");
        CHECK(std::count(winners.begin(), winners.end(), true) >=
              static_cast<std::ptrdiff_t>(std::min<size_t>(n, 3)));
        total_hits += hits;
    }
    CHECK(total_hits > 0);
}

TEST_CASE("classifier: concurrent readers on one rte_acl classifier", "[sdf]") {
    braid::test::eal_once();
    Gen g(7);
    g.rich = false;
    const std::vector<RuleInput> rules = g.rules(60);
    const std::vector<RuleInput> ordered = in_match_order(rules);
    auto acl = classifier(rules, Engine::acl);
    std::vector<PacketKey> keys;
    std::vector<int> want;
    for (int i = 0; i < 2000; ++i) {
        keys.push_back(g.key());
        want.push_back(oracle(ordered, keys.back(), 1, 5));
    }
    std::atomic<int> mismatches{0};
    auto reader = [&] {
        for (int round = 0; round < 20; ++round) {
            for (size_t i = 0; i < keys.size(); ++i) {
                if (acl->match(keys[i], 1, 5) != want[i]) {
                    mismatches.fetch_add(1, std::memory_order_relaxed);
                }
            }
        }
    };
    std::thread t1(reader);
    std::thread t2(reader);
    reader();
    t1.join();
    t2.join();
    CHECK(mismatches.load() == 0);
}
