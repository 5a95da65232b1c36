// IPv6 Neighbor Discovery encoding and checked parsing (RFC 4861), against frames scapy built:
//   Ether(src='02:00:00:00:06:01', dst='33:33:ff:00:00:02')/IPv6(src='2001:db8:6::1',
//     dst='ff02::1:ff00:2', hlim=255)/ICMPv6ND_NS(tgt='2001:db8:6::2')/
//     ICMPv6NDOptSrcLLAddr(lladdr='02:00:00:00:06:01')
//   Ether(...)/IPv6(src='2001:db8:6::2', dst='2001:db8:6::1', hlim=255)/
//     ICMPv6ND_NA(tgt='2001:db8:6::2', R=0, S=1,
//     O=1)/ICMPv6NDOptDstLLAddr(lladdr='02:00:00:00:06:02')
#include <catch2/catch.hpp>

#include <vector>

#include "dataplane/nd.h"

using namespace braid::dataplane;
using nd::Ipv6Addr;

namespace {

const std::vector<uint8_t> scapy_ns = {
    0x33, 0x33, 0xff, 0x00, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x86, 0xdd, 0x60,
    0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x06, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x02, 0x87, 0x00, 0x16, 0x1b, 0x00, 0x00,
    0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x01, 0x01, 0x02, 0x00, 0x00, 0x00, 0x06, 0x01};
const std::vector<uint8_t> scapy_na = {
    0x02, 0x00, 0x00, 0x00, 0x06, 0x01, 0x02, 0x00, 0x00, 0x00, 0x06, 0x02, 0x86, 0xdd, 0x60,
    0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x06, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x06, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x84, 0x5f, 0x60, 0x00,
    0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x02, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00, 0x06, 0x02};

constexpr Ipv6Addr braid_ip{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
constexpr Ipv6Addr dn_ip{0x20, 0x01, 0x0d, 0xb8, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
constexpr MacAddr braid_mac{2, 0, 0, 0, 6, 1};
constexpr MacAddr dn_mac{2, 0, 0, 0, 6, 2};

Ipv6Addr addr_at(const std::vector<uint8_t>& f, size_t off) {
    Ipv6Addr a;
    std::copy(f.begin() + static_cast<long>(off), f.begin() + static_cast<long>(off + 16),
              a.begin());
    return a;
}

// Parse the ICMPv6 part of a frame (Ethernet + IPv6 without extension headers).
nd::ParseResult parse_frame(const std::vector<uint8_t>& f) {
    return nd::parse(f.data() + 54, f.size() - 54, f[21], addr_at(f, 22), addr_at(f, 38));
}

}  // namespace

TEST_CASE("nd: the solicitation braid sends is scapy's, byte for byte", "[nd]") {
    std::vector<uint8_t> out(nd::solicitation_frame_len);
    REQUIRE(nd::build_solicitation(out, braid_mac, braid_ip, dn_ip) == out.size());
    CHECK(out == scapy_ns);
    std::vector<uint8_t> small(nd::solicitation_frame_len - 1);
    CHECK(nd::build_solicitation(small, braid_mac, braid_ip, dn_ip) == 0);
}

TEST_CASE("nd: solicited-node group and its multicast MAC", "[nd]") {
    const Ipv6Addr g = nd::solicited_node(dn_ip);
    CHECK(g == Ipv6Addr{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 0, 2});
    CHECK(nd::multicast_mac(g) == MacAddr{0x33, 0x33, 0xff, 0, 0, 2});
}

TEST_CASE("nd: checksums of scapy's frames verify", "[nd]") {
    for (const auto* f : {&scapy_ns, &scapy_na}) {
        CHECK(nd::icmp6_checksum(addr_at(*f, 22), addr_at(*f, 38), f->data() + 54, 32) == 0);
    }
}

TEST_CASE("nd: an advertisement yields target, flags and target link-layer address", "[nd]") {
    auto r = parse_frame(scapy_na);
    REQUIRE(r.msg);
    CHECK(r.msg->type == nd::type_advertisement);
    CHECK(r.msg->target == dn_ip);
    REQUIRE(r.msg->lladdr);
    CHECK(*r.msg->lladdr == dn_mac);
    CHECK(r.msg->solicited);
    CHECK(r.msg->override_flag);
    CHECK_FALSE(r.msg->router);
}

TEST_CASE("nd: a solicitation yields its source link-layer address", "[nd]") {
    auto r = parse_frame(scapy_ns);
    REQUIRE(r.msg);
    CHECK(r.msg->type == nd::type_solicitation);
    CHECK(r.msg->target == dn_ip);
    REQUIRE(r.msg->lladdr);
    CHECK(*r.msg->lladdr == braid_mac);
}

TEST_CASE("nd: bad messages are rejected with a reason", "[nd]") {
    auto with = [](auto edit) {
        std::vector<uint8_t> f = scapy_na;
        edit(f);
        return parse_frame(f);
    };
    auto err = [](const nd::ParseResult& r) {
        REQUIRE_FALSE(r.msg);
        return r.error;
    };
    CHECK(err(with([](auto& f) { f[21] = 64; })) == nd::ParseError::bad_hop_limit);
    CHECK(err(with([](auto& f) { f[55] = 1; })) == nd::ParseError::bad_code);
    CHECK(err(with([](auto& f) { f.resize(54 + 23); })) == nd::ParseError::truncated);
    CHECK(err(with([](auto& f) { f[62] = 0xff; })) == nd::ParseError::bad_target);
    CHECK(err(with([](auto& f) { f[79] = 0; })) == nd::ParseError::bad_option);  // length 0
    CHECK(err(with([](auto& f) { f[79] = 2; })) == nd::ParseError::bad_option);  // beyond
    CHECK(err(with([](auto& f) { f.push_back(1); })) == nd::ParseError::bad_option);
    CHECK(err(with([](auto& f) { f[38] = 0xff; })) == nd::ParseError::solicited_to_multicast);
    // A solicitation from the unspecified address (DAD) must not carry a source LL option.
    std::vector<uint8_t> dad = scapy_ns;
    std::fill(dad.begin() + 22, dad.begin() + 38, 0);
    CHECK(err(parse_frame(dad)) == nd::ParseError::bad_source);
    dad.resize(54 + 24);
    CHECK(parse_frame(dad).msg.has_value());
}

TEST_CASE("nd: unknown options are skipped, no link-layer option is fine", "[nd]") {
    std::vector<uint8_t> f = scapy_na;
    f.resize(54 + 24);
    std::vector<uint8_t> mtu_opt = {5, 1, 0, 0, 0, 0, 0x05, 0xdc};  // MTU option
    f.insert(f.end(), mtu_opt.begin(), mtu_opt.end());
    auto r = parse_frame(f);
    REQUIRE(r.msg);
    CHECK_FALSE(r.msg->lladdr);
}
