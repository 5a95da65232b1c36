// GTP-U codec (dataplane/gtpu.h): spec vectors (n4-gtpu-mams.md §2.9), scapy golden vectors
// (tests/pipeline/gtpu_vectors.py), every parse error, round trips.
#include <catch2/catch.hpp>

#include "tests/unit/hex.h"

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "dataplane/gtpu.h"

using namespace braid::gtpu;

namespace {

using braid::test::Bytes;

using braid::test::hex;

std::string to_hex(std::span<const uint8_t> b) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (uint8_t x : b) {
        s += digits[x >> 4];
        s += digits[x & 15];
    }
    return s;
}

// Returns a copy: the ParseResult is usually a temporary.
Packet require_packet(const ParseResult& r) {
    INFO("parse error: " << to_string(r.error()));
    const Packet* p = r.packet();
    REQUIRE(p != nullptr);
    return *p;
}

ParseError parse_error(const Bytes& b) {
    auto r = parse(b);
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.packet() == nullptr);
    return r.error();
}

// The inner packet of every scapy G-PDU vector: IP(src="198.19.100.2", dst="198.19.0.2", id=1) /
// ICMP(id=1, seq=1), 28 octets.
const std::string_view inner_ip = "4500001c0001000040018ab5c6136402c61300020800f7fd00010001";

// Builds a message: header octets 1-4 computed from `flags`/`type` and the rest, TEID given.
Bytes message(uint8_t flags, uint8_t type, uint32_t teid, const Bytes& rest) {
    Bytes b{flags,
            type,
            static_cast<uint8_t>(rest.size() >> 8),
            static_cast<uint8_t>(rest.size()),
            static_cast<uint8_t>(teid >> 24),
            static_cast<uint8_t>(teid >> 16),
            static_cast<uint8_t>(teid >> 8),
            static_cast<uint8_t>(teid)};
    b.insert(b.end(), rest.begin(), rest.end());
    return b;
}

// G-PDU with E = 1, the given extension header chain (first type `first`) and a 4-octet T-PDU.
Bytes gpdu_with_chain(uint8_t first, const Bytes& chain) {
    Bytes rest{0x00, 0x00, 0x00, first};
    rest.insert(rest.end(), chain.begin(), chain.end());
    for (uint8_t x : {0x45, 0x00, 0x00, 0x04}) {
        rest.push_back(x);
    }
    return message(0x34, 0xff, 0x11223344, rest);
}

DlPduSessionInfo dl_info(uint8_t qfi_value, bool rqi = false, std::optional<uint8_t> ppi = {},
                         std::optional<uint64_t> ts = {}, std::optional<uint32_t> seq = {}) {
    DlPduSessionInfo d;
    d.qfi = qfi_value;
    d.rqi = rqi;
    d.ppi = ppi;
    d.dl_sending_timestamp = ts;
    d.dl_qfi_seq = seq;
    return d;
}

UlPduSessionInfo ul_info(uint8_t qfi_value) {
    UlPduSessionInfo u;
    u.qfi = qfi_value;
    return u;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Strong types and names

TEST_CASE("Teid is a distinct type: no implicit conversion from or to uint32_t", "[gtpu]") {
    STATIC_REQUIRE_FALSE(std::is_convertible_v<uint32_t, Teid>);
    STATIC_REQUIRE_FALSE(std::is_convertible_v<Teid, uint32_t>);
    STATIC_REQUIRE(std::is_constructible_v<Teid, uint32_t>);
    std::array<uint8_t, 4> w{};
    Teid{0x11223344}.to_wire(w);
    CHECK(w == std::array<uint8_t, 4>{0x11, 0x22, 0x33, 0x44});
    CHECK(Teid::from_wire(w) == Teid{0x11223344});
    CHECK(Teid::from_wire(w).value() == 0x11223344u);
    CHECK(Teid{1} < Teid{2});
}

TEST_CASE("TS 29.281 Table 6.1-1: message types and their names", "[gtpu]") {
    CHECK(static_cast<int>(MessageType::echo_request) == 1);
    CHECK(static_cast<int>(MessageType::echo_response) == 2);
    CHECK(static_cast<int>(MessageType::error_indication) == 26);
    CHECK(static_cast<int>(MessageType::supported_ext_hdr_notification) == 31);
    CHECK(static_cast<int>(MessageType::tunnel_status) == 253);
    CHECK(static_cast<int>(MessageType::end_marker) == 254);
    CHECK(static_cast<int>(MessageType::g_pdu) == 255);
    CHECK(to_string(MessageType::g_pdu) == "g_pdu");
    CHECK(to_string(MessageType::error_indication) == "error_indication");
    CHECK(to_string(static_cast<MessageType>(16)) == "unknown");
    CHECK(is_known(MessageType::end_marker));
    CHECK_FALSE(is_known(static_cast<MessageType>(3)));
}

TEST_CASE("every parse error has a distinct snake_case name and help text (drop reasons)",
          "[gtpu]") {
    const std::vector<std::string_view> expected{
        "too_short",
        "bad_version",
        "not_gtp",
        "length_mismatch",
        "ext_header_truncated",
        "ext_header_zero_length",
        "ext_chain_too_long",
        "unknown_required_ext_header",
        "ext_header_bad_length",
        "duplicate_ext_header",
        "bad_pdu_session_container",
        "unknown_pdu_type",
    };
    REQUIRE(expected.size() == static_cast<size_t>(ParseError::count));
    std::set<std::string_view> seen;
    for (size_t i = 0; i < expected.size(); ++i) {
        const auto e = static_cast<ParseError>(i);
        CHECK(to_string(e) == expected[i]);
        CHECK_FALSE(help(e).empty());
        seen.insert(to_string(e));
    }
    CHECK(seen.size() == expected.size());
    CHECK(to_string(IeError::unknown_tv_ie) == "unknown_tv_ie");
    CHECK(to_string(IeError::ie_truncated) == "ie_truncated");
    CHECK(to_string(IeError::missing_mandatory_ie) == "missing_mandatory_ie");
    CHECK(to_string(IeError::bad_ie_length) == "bad_ie_length");
}

TEST_CASE("TS 29.281 §5.2.1: comprehension class comes from bits 8-7 of the type", "[gtpu]") {
    CHECK(comprehension(0x20) == Comprehension::not_required_forward);
    CHECK(comprehension(0x40) == Comprehension::not_required_discard);
    CHECK(comprehension(0x85) == Comprehension::required_endpoint);
    CHECK(comprehension(0xc0) == Comprehension::required_all);
    // The list braid advertises is ascending and holds only types it parses.
    CHECK(std::is_sorted(supported_ext_headers.begin(), supported_ext_headers.end()));
}

// ---------------------------------------------------------------------------------------------
// Spec §2.9 vectors: decode, and re-encode the ones braid emits

TEST_CASE("spec §2.9: Echo Request seq 7 decodes and re-encodes byte for byte", "[gtpu]") {
    const auto b = hex("32 01 0004 00000000 0007 00 00");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.version == 1);
    CHECK(p.header.pt);
    CHECK(p.header.s);
    CHECK_FALSE(p.header.e);
    CHECK_FALSE(p.header.pn);
    CHECK(p.header.type == MessageType::echo_request);
    CHECK(p.header.length == 4);
    CHECK(p.header.teid == Teid{0});
    CHECK(p.header.seq == uint16_t{7});
    CHECK_FALSE(p.header.npdu);
    CHECK(p.header.header_len == 12);
    CHECK(p.header.payload_offset() == 12);
    CHECK(p.payload.empty());
    auto ies = parse_echo(p.payload);
    REQUIRE(ies.ok());
    CHECK_FALSE(ies.value()->recovery);

    std::array<uint8_t, 64> out{};
    const size_t n = encode_echo_request(out, 7);
    CHECK(to_hex({out.data(), n}) == to_hex(b));
}

TEST_CASE("spec §2.9 / TS 29.281 §7.2.2: Echo Response echoes seq, TEID 0, Recovery 0", "[gtpu]") {
    const auto b = hex("32 02 0006 00000000 0007 00 00 | 0e 00");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.type == MessageType::echo_response);
    CHECK(p.header.seq == uint16_t{7});
    CHECK(p.header.teid == Teid{0});
    auto ies = parse_echo(p.payload);
    REQUIRE(ies.ok());
    CHECK(ies.value()->recovery == uint8_t{0});

    std::array<uint8_t, 64> out{};
    const size_t n = encode_echo_response(out, 7);
    CHECK(to_hex({out.data(), n}) == to_hex(b));
    // scapy: GTPHeader(gtp_type=2, S=1, seq=7, teid=0)/GTPEchoResponse(IE_list=[IE_Recovery(
    //        restart_counter=0)])
    CHECK(to_hex({out.data(), n}) == "3202000600000000000700000e00");
}

TEST_CASE("spec §2.9 / TS 29.281 §7.3.1: Error Indication with UDP Port extension header",
          "[gtpu]") {
    // The spec's vector with its peer address replaced by 198.18.0.1 (test addresses only from
    // 198.18.0.0/15 and 2001:db8::/32).
    const auto b =
        hex("36 1a 0014 00000000 0000 00 40 | 01 9c40 00 | 10 deadbeef | 85 0004 c6120001");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.type == MessageType::error_indication);
    CHECK(p.header.e);
    CHECK(p.header.s);
    CHECK(p.header.teid == Teid{0});
    CHECK(p.header.next_ext_type == ext_type::udp_port);
    CHECK(p.udp_port == uint16_t{40000});
    CHECK(p.ext_header_count == 1);
    CHECK(p.header.header_len == 16);
    auto ies = parse_error_indication(p.payload);
    REQUIRE(ies.ok());
    CHECK(ies.value()->teid_data_i == Teid{0xdeadbeef});
    CHECK(ies.value()->peer == PeerAddress::ipv4(0xc6120001));
    CHECK(ies.value()->peer.ipv4_host_order() == 0xc6120001u);

    std::array<uint8_t, 64> out{};
    const size_t n =
        encode_error_indication(out, 0, Teid{0xdeadbeef}, PeerAddress::ipv4(0xc6120001), 40000);
    CHECK(to_hex({out.data(), n}) == to_hex(b));
    // scapy: GTP_U_Header(gtp_type=26, S=1, E=1, seq=0, teid=0, next_ex=0x40)
    //        / GTP_UDPPort_ExtensionHeader(udp_port=40000) / GTPErrorIndication(IE_list=[
    //        IE_TEIDI(TEIDI=0xdeadbeef), IE_GSNAddress(length=4, ipv4_address="198.18.0.1")])
    CHECK(to_hex({out.data(), n}) == "361a00140000000000000040019c400010deadbeef850004c6120001");
}

TEST_CASE("spec §2.9 / TS 29.281 §7.3.2: End Marker has S=0, the old TEID and no IEs", "[gtpu]") {
    const auto b = hex("30 fe 0000 55667788");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.type == MessageType::end_marker);
    CHECK(p.header.teid == Teid{0x55667788});
    CHECK_FALSE(p.header.seq);
    CHECK(p.header.header_len == 8);
    CHECK(p.payload.empty());

    std::array<uint8_t, 8> out{};
    REQUIRE(encode_end_marker(out, Teid{0x55667788}) == 8);
    CHECK(to_hex(out) == to_hex(b));
    // scapy: GTP_U_Header(gtp_type=254, teid=0x55667788)
    CHECK(to_hex(out) == "30fe000055667788");
}

TEST_CASE("spec §2.9 / TS 29.281 §8.5: SEHN carries a 1-octet-count Extension Header Type List",
          "[gtpu]") {
    const auto b = hex("32 1f 0008 00000000 0000 00 00 | 8d 02 85 40");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.type == MessageType::supported_ext_hdr_notification);
    auto ies = parse_supported_ext_headers_notification(p.payload);
    REQUIRE(ies.ok());
    REQUIRE(ies.value()->types.size() == 2);
    CHECK(ies.value()->types[0] == 0x85);
    CHECK(ies.value()->types[1] == 0x40);

    const std::array<uint8_t, 2> list{0x85, 0x40};
    std::array<uint8_t, 64> out{};
    const size_t n = encode_supported_ext_headers_notification(out, 0, list);
    CHECK(to_hex({out.data(), n}) == to_hex(b));
}

TEST_CASE("SEHN with braid's default list advertises exactly the types braid parses", "[gtpu]") {
    std::array<uint8_t, 64> out{};
    const size_t n = encode_supported_ext_headers_notification(out, 3);
    CHECK(to_hex({out.data(), n}) ==
          to_hex(hex("32 1f 000a 00000000 0003 00 00 | 8d 04 40 82 85 c0")));
}

TEST_CASE("spec §2.9: UL G-PDU with PDU Session Container QFI 9 (Length = 8 + T-PDU)", "[gtpu]") {
    // scapy: GTP_U_Header(teid=0x11223344, gtp_type=255, E=1, next_ex=0x85)
    //        / GTPPDUSessionContainer(type=1, QFI=9) / IP(...) / ICMP(...)
    const auto b = hex(std::string("34ff00241122334400000085011009 00") + std::string(inner_ip));
    const auto& p = require_packet(parse(b));
    CHECK(p.header.type == MessageType::g_pdu);
    CHECK(p.header.teid == Teid{0x11223344});
    CHECK(p.header.length == 8 + 28);
    CHECK(p.header.header_len == 16);
    CHECK_FALSE(p.header.seq);  // octets 9-12 exist (E=1) but the sequence number is not meaningful
    REQUIRE(p.pdu_session);
    const auto* ul = std::get_if<UlPduSessionInfo>(&*p.pdu_session);
    REQUIRE(ul != nullptr);
    CHECK(ul->qfi == 9);
    CHECK(*ul == ul_info(9));
    CHECK(qfi(*p.pdu_session) == 9);
    CHECK(to_hex(p.payload) == inner_ip);

    std::array<uint8_t, 64> out{};
    const size_t n = encode_gpdu_header(out, Teid{0x11223344}, 28, std::optional{*ul});
    REQUIRE(n == 16);
    CHECK(to_hex({out.data(), n}) == to_hex({b.data(), 16}));
}

TEST_CASE("spec §2.9 / TS 38.415 §5.5.2.1: DL container with PPP, RQI, QFI 5, PPI 3 (8 octets)",
          "[gtpu]") {
    // scapy: GTP_U_Header(teid=0x01020304, gtp_type=255, E=1, next_ex=0x85)
    //        / GTPPDUSessionContainer(type=0, PPP=1, RQI=1, QFI=5, PPI=3) / IP(...) / ICMP(...)
    const auto b =
        hex(std::string("34ff002801020304000000850200c56000000000") + std::string(inner_ip));
    const auto& p = require_packet(parse(b));
    CHECK(p.header.header_len == 20);
    REQUIRE(p.pdu_session);
    const auto* dl = std::get_if<DlPduSessionInfo>(&*p.pdu_session);
    REQUIRE(dl != nullptr);
    const DlPduSessionInfo want = dl_info(5, true, 3);
    CHECK(*dl == want);
    CHECK(to_hex(p.payload) == inner_ip);

    std::array<uint8_t, 64> out{};
    const size_t n = encode_gpdu_header(out, Teid{0x01020304}, 28, std::optional{want});
    REQUIRE(n == 20);
    CHECK(gpdu_header_len(std::optional{want}) == 20);
    CHECK(to_hex({out.data(), n}) == to_hex({b.data(), 20}));
    // The spec's own rendering of the extension header.
    CHECK(to_hex({out.data() + 12, 8}) == "0200c56000000000");
}

TEST_CASE("spec §2.6: minimal DL container (QFI 5) is 4 octets: 01 00 05 00", "[gtpu]") {
    // scapy: GTP_U_Header(teid=0x01020304, gtp_type=255, E=1, next_ex=0x85)
    //        / GTPPDUSessionContainer(type=0, QFI=5) / IP(...) / ICMP(...)
    const auto b = hex(std::string("34ff00240102030400000085010005 00") + std::string(inner_ip));
    const auto& p = require_packet(parse(b));
    REQUIRE(p.pdu_session);
    CHECK(std::get<DlPduSessionInfo>(*p.pdu_session) == dl_info(5));

    std::array<uint8_t, 64> out{};
    const size_t n = encode_gpdu_header(out, Teid{0x01020304}, 28, std::optional{dl_info(5)});
    REQUIRE(n == 16);
    CHECK(to_hex({out.data(), n}) == to_hex({b.data(), 16}));
}

TEST_CASE(
    "TS 29.281 §4.4.2: the outer IPv4/UDP of a downlink G-PDU (2152 both ways, no UDP "
    "checksum)",
    "[gtpu]") {
    // scapy: IP(src="198.18.0.1", dst="198.18.0.2", id=7, ttl=64, flags=0)
    //        / UDP(sport=2152, dport=2152, chksum=0) / <8 + 100 octets>
    const std::optional<DlPduSessionInfo> none;
    REQUIRE(ipv4_gpdu_outer_len(none) == 36);
    std::array<uint8_t, 64> out{};
    const size_t n =
        encode_ipv4_gpdu_outer(out, 0xc6120001, 0xc6120002, 7, Teid{0x01020304}, 100, none);
    REQUIRE(n == 36);
    CHECK(to_hex({out.data(), 28}) ==
          to_hex(hex("45000088000700004011ee36c6120001c61200020868086800740000")));
    std::array<uint8_t, 16> gtp{};
    REQUIRE(encode_gpdu_header(gtp, Teid{0x01020304}, 100, none) == 8);
    CHECK(to_hex({out.data() + 28, 8}) == to_hex({gtp.data(), 8}));
    // With a container, and refusals: too small a buffer, a payload past the 16-bit lengths.
    CHECK(encode_ipv4_gpdu_outer(out, 1, 2, 0, Teid{1}, 100, std::optional{dl_info(5)}) == 44);
    CHECK(encode_ipv4_gpdu_outer(std::span<uint8_t>(out.data(), 35), 1, 2, 0, Teid{1}, 100, none) ==
          0);
    CHECK(encode_ipv4_gpdu_outer(out, 1, 2, 0, Teid{1}, 65535 - 35, none) == 0);
}

TEST_CASE("TS 38.415 §5.5.2.1: DL QMP time stamp and SNP sequence number, padded to 4n", "[gtpu]") {
    // scapy: GTPPDUSessionContainer(type=0, QMP=1, SNP=1, QFI=7,
    //        dlSendTime=0x0102030405060708, dlQFISeqNum=0xabcdef) under
    //        GTP_U_Header(teid=0x01020304, gtp_type=255, E=1, next_ex=0x85)
    const auto b = hex(std::string("34ff00300102030400000085040c070102030405060708abcdef0000") +
                       std::string(inner_ip));
    const auto& p = require_packet(parse(b));
    const DlPduSessionInfo want = dl_info(7, false, std::nullopt, 0x0102030405060708, 0xabcdef);
    REQUIRE(p.pdu_session);
    CHECK(std::get<DlPduSessionInfo>(*p.pdu_session) == want);
    CHECK(p.header.header_len == 28);

    std::array<uint8_t, 64> out{};
    const size_t n = encode_gpdu_header(out, Teid{0x01020304}, 28, std::optional{want});
    REQUIRE(n == 28);
    CHECK(to_hex({out.data(), n}) == to_hex({b.data(), 28}));
}

TEST_CASE("TS 38.415 §5.5.2.2: UL container with every R16 optional field, in order", "[gtpu]") {
    // scapy: GTPPDUSessionContainer(type=1, QMP=1, dlDelayInd=1, ulDelayInd=1, SNP=1,
    //        N3N9DelayInd=1, QFI=9, dlSendTimeRpt=0x1111111111111111,
    //        dlRecvTime=0x2222222222222222, ulSendTime=0x3333333333333333,
    //        dlDelayRslt=0x44444444, ulDelayRslt=0x55555555, UlQFISeqNum=0x666666,
    //        N3N9DelayRslt=0x77777777) under GTP_U_Header(teid=0x11223344, gtp_type=255, E=1,
    //        next_ex=0x85)
    const auto b = hex(std::string("34ff004c 11223344 00000085 | 0b 1f 89 1111111111111111 "
                                   "2222222222222222 3333333333333333 44444444 55555555 666666 "
                                   "77777777 00 00") +
                       std::string(inner_ip));
    const auto& p = require_packet(parse(b));
    const UlPduSessionInfo want{
        .qfi = 9,
        .qmp = UlQmpTimestamps{0x1111111111111111, 0x2222222222222222, 0x3333333333333333},
        .dl_delay_result = 0x44444444,
        .ul_delay_result = 0x55555555,
        .ul_qfi_seq = 0x666666,
        .n3n9_delay_result = 0x77777777,
        .new_ie_flags = std::nullopt,
    };
    REQUIRE(p.pdu_session);
    CHECK(std::get<UlPduSessionInfo>(*p.pdu_session) == want);
    CHECK(p.header.header_len == 12 + 44);
    CHECK(to_hex(p.payload) == inner_ip);

    std::array<uint8_t, 64> out{};
    const size_t n = encode_gpdu_header(out, Teid{0x11223344}, 28, std::optional{want});
    REQUIRE(n == 56);
    CHECK(to_hex({out.data(), n}) == to_hex({b.data(), 56}));
}

TEST_CASE("TS 38.415 §5.5.2.2: UL New IE Flags octet is read, later fields skipped by length",
          "[gtpu]") {
    // QFI 9, New IE Flag = 1, New IE Flags = 0x01 (D1) followed by 4 octets braid does not
    // decode; content 7 octets + 2 → Length 3 (12 octets, 3 padding).
    const auto b = gpdu_with_chain(0x85, hex("03 10 49 01 aabbccdd 000000 00"));
    const auto& p = require_packet(parse(b));
    REQUIRE(p.pdu_session);
    const auto& ul = std::get<UlPduSessionInfo>(*p.pdu_session);
    CHECK(ul.qfi == 9);
    CHECK(ul.new_ie_flags == uint8_t{0x01});
    CHECK(p.payload.size() == 4);
}

TEST_CASE("scapy golden: plain G-PDU header (8 octets, no optional fields)", "[gtpu]") {
    // scapy: GTP_U_Header(teid=0x11223344, gtp_type=255) / IP(...) / ICMP(...)
    const auto b = hex(std::string("30ff001c11223344") + std::string(inner_ip));
    const auto& p = require_packet(parse(b));
    CHECK(p.header.teid == Teid{0x11223344});
    CHECK(p.header.header_len == 8);
    CHECK_FALSE(p.pdu_session);
    CHECK(p.ext_header_count == 0);
    CHECK(p.ext_chain.empty());
    CHECK(to_hex(p.payload) == inner_ip);

    std::array<uint8_t, 8> out{};
    REQUIRE(encode_gpdu_header(out, Teid{0x11223344}, 28, std::optional<DlPduSessionInfo>{}) == 8);
    CHECK(to_hex(out) == "30ff001c11223344");
}

TEST_CASE("scapy golden: Error Indication without extension header, IPv4 and IPv6 peers",
          "[gtpu]") {
    std::array<uint8_t, 64> out{};
    SECTION("IPv4") {
        // scapy: GTP_U_Header(gtp_type=26, S=1, seq=0, teid=0) / GTPErrorIndication(IE_list=[
        //        IE_TEIDI(TEIDI=0xdeadbeef), IE_GSNAddress(length=4, ipv4_address="198.18.0.1")])
        const std::string golden = "321a0010000000000000000010deadbeef850004c6120001";
        const size_t n =
            encode_error_indication(out, 0, Teid{0xdeadbeef}, PeerAddress::ipv4(0xc6120001));
        CHECK(to_hex({out.data(), n}) == golden);
        const auto b = hex(golden);
        const auto& p = require_packet(parse(b));
        CHECK_FALSE(p.udp_port);
        auto ies = parse_error_indication(p.payload);
        REQUIRE(ies.ok());
        CHECK(ies.value()->peer.is_ipv4());
    }
    SECTION("IPv6") {
        // scapy: GTP_U_Header(gtp_type=26, S=1, seq=0, teid=0) / GTPErrorIndication(IE_list=[
        //        IE_TEIDI(TEIDI=1), IE_GSNAddress(length=16, ipv6_address="2001:db8::1")])
        const std::string golden =
            "321a001c0000000000000000100000000185001020010db8000000000000000000000001";
        const auto v6 = hex("20010db8000000000000000000000001");
        const auto peer = PeerAddress::ipv6(std::span<const uint8_t, 16>(v6.data(), 16));
        const size_t n = encode_error_indication(out, 0, Teid{1}, peer);
        CHECK(to_hex({out.data(), n}) == golden);
        const auto b = hex(golden);
        const auto& p = require_packet(parse(b));
        auto ies = parse_error_indication(p.payload);
        REQUIRE(ies.ok());
        CHECK_FALSE(ies.value()->peer.is_ipv4());
        CHECK(ies.value()->peer == peer);
        CHECK(ies.value()->teid_data_i == Teid{1});
    }
}

TEST_CASE(
    "Interop (open5gs): Error Indication with a header TEID and a DL container is read by "
    "its IEs",
    "[gtpu]") {
    const auto b = message(0x36, 0x1a, 0xdeadbeef,
                           hex("0000 00 85 | 01 00 01 00 | 10 deadbeef | 85 0004 c6120001"));
    const auto& p = require_packet(parse(b));
    CHECK(p.header.teid == Teid{0xdeadbeef});
    REQUIRE(p.pdu_session);
    CHECK(qfi(*p.pdu_session) == 1);
    auto ies = parse_error_indication(p.payload);
    REQUIRE(ies.ok());
    CHECK(ies.value()->teid_data_i == Teid{0xdeadbeef});
}

// ---------------------------------------------------------------------------------------------
// Header rules

TEST_CASE("TS 29.281 §5.1: the Length field counts the optional fields and extension headers",
          "[gtpu]") {
    SECTION("S=1 G-PDU: Length = 4 + T-PDU") {
        const auto b = hex("32 ff 0007 00000001 1234 00 00 | aa bb cc");
        const auto& p = require_packet(parse(b));
        CHECK(p.header.seq == uint16_t{0x1234});
        CHECK(p.header.header_len == 12);
        CHECK(p.payload.size() == 3);
    }
    SECTION("a Length that leaves out the optional fields is a length mismatch") {
        CHECK(parse_error(hex("32 ff 0003 00000001 1234 00 00 | aa bb cc")) ==
              ParseError::length_mismatch);
    }
    SECTION("encoders set Length = header beyond octet 8 + payload") {
        std::array<uint8_t, 64> out{};
        const size_t n = encode_gpdu_header(out, Teid{1}, 100, std::optional{dl_info(1)});
        REQUIRE(n == 16);
        CHECK(out[2] == 0);
        CHECK(out[3] == 8 + 100);
    }
}

TEST_CASE("TS 29.281 §5.1: N-PDU Number present iff PN; octet 12 ignored when E=0", "[gtpu]") {
    const auto b = hex("31 ff 0005 00000001 0000 7b 85 | ee");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.pn);
    CHECK(p.header.npdu == uint8_t{0x7b});
    CHECK_FALSE(p.header.seq);
    CHECK(p.header.next_ext_type == 0);  // 0x85 there, but E=0: not meaningful
    CHECK_FALSE(p.pdu_session);
    CHECK(p.payload.size() == 1);
}

TEST_CASE("TS 29.281 §5.1: the spare bit is ignored; TEID 0 is accepted from a peer", "[gtpu]") {
    const auto b = hex("38 ff 0001 00000000 | 45");
    const auto& p = require_packet(parse(b));
    CHECK(p.header.teid == Teid{0});
    CHECK(p.payload.size() == 1);
}

TEST_CASE("TS 29.281 §5.1: E=1 with next type 0 is an empty chain", "[gtpu]") {
    const auto b = hex("34 ff 0005 00000001 0000 00 00 | 45");
    const auto& p = require_packet(parse(b));
    CHECK(p.ext_header_count == 0);
    CHECK(p.header.header_len == 12);
}

TEST_CASE("a G-PDU with an empty T-PDU parses (the pipeline decides what to do with it)",
          "[gtpu]") {
    const auto b = hex("30 ff 0000 00000001");
    const auto& p = require_packet(parse(b));
    CHECK(p.payload.empty());
    CHECK(p.payload.data() != nullptr);
}

// ---------------------------------------------------------------------------------------------
// Every parse error

TEST_CASE("too_short: fewer than 8 octets, or flags announcing octets 9-12 that are absent",
          "[gtpu]") {
    const auto full = hex("30 ff 0000 00000001");
    for (size_t n = 0; n < 8; ++n) {
        CHECK(parse_error(Bytes(full.begin(), full.begin() + static_cast<long>(n))) ==
              ParseError::too_short);
    }
    CHECK(parse_error(hex("32 01 0000 00000000")) == ParseError::too_short);
    CHECK(parse_error(hex("34 ff 0002 00000000 0000")) == ParseError::too_short);
    CHECK(parse_error(hex("31 ff 0003 00000000 0000 00")) == ParseError::too_short);
}

TEST_CASE("bad_version: GTPv0 and GTPv2 headers are rejected", "[gtpu]") {
    CHECK(parse_error(hex("10 ff 0000 00000001")) == ParseError::bad_version);
    CHECK(parse_error(hex("48 01 0004 00000000 0000 00 00")) == ParseError::bad_version);
    CHECK(parse_error(hex("f0 ff 0000 00000001")) == ParseError::bad_version);
}

TEST_CASE("not_gtp: PT=0 (GTP') is rejected", "[gtpu]") {
    CHECK(parse_error(hex("20 ff 0000 00000001")) == ParseError::not_gtp);
}

TEST_CASE("length_mismatch: Length must equal the UDP payload minus 8, no more, no less",
          "[gtpu]") {
    CHECK(parse_error(hex("30 ff 0002 00000001 | 45")) == ParseError::length_mismatch);
    CHECK(parse_error(hex("30 ff 0001 00000001 | 45 00")) == ParseError::length_mismatch);
    CHECK(parse_error(hex("30 ff ffff 00000001")) == ParseError::length_mismatch);
}

TEST_CASE("ext_header_truncated: chain announced but missing, or Length beyond the message",
          "[gtpu]") {
    // E=1, next 0x85, nothing after octet 12.
    CHECK(parse_error(hex("34 ff 0004 00000001 0000 00 85")) == ParseError::ext_header_truncated);
    // Length 2 (8 octets) but only 4 left.
    CHECK(parse_error(hex("34 ff 0008 00000001 0000 00 85 | 02 00 05 00")) ==
          ParseError::ext_header_truncated);
    // The last header points to another one that is not there.
    CHECK(parse_error(hex("34 ff 0008 00000001 0000 00 85 | 01 00 05 40")) ==
          ParseError::ext_header_truncated);
}

TEST_CASE("ext_header_zero_length: an extension header with Length 0 is rejected", "[gtpu]") {
    CHECK(parse_error(gpdu_with_chain(0x85, hex("00 00 05 00"))) ==
          ParseError::ext_header_zero_length);
    CHECK(parse_error(gpdu_with_chain(0x20, hex("00 00 00 00"))) ==
          ParseError::ext_header_zero_length);
}

TEST_CASE("ext_chain_too_long: at most 8 extension headers per message", "[gtpu]") {
    // Service Class Indicator (0x20, not required): Length 1, SCI, spare, next.
    auto chain = [](int count) {
        Bytes c;
        for (int i = 0; i < count; ++i) {
            const uint8_t next = (i + 1 < count) ? 0x20 : 0x00;
            for (uint8_t x : {uint8_t{0x01}, uint8_t{0x07}, uint8_t{0x00}, next}) {
                c.push_back(x);
            }
        }
        return c;
    };
    const auto eight = gpdu_with_chain(0x20, chain(8));
    const auto& p = require_packet(parse(eight));
    CHECK(p.ext_header_count == 8);
    CHECK(p.payload.size() == 4);
    CHECK(parse_error(gpdu_with_chain(0x20, chain(9))) == ParseError::ext_chain_too_long);
}

TEST_CASE(
    "TS 29.281 §5.2: an unknown comprehension-required extension header is reported with "
    "its type",
    "[gtpu]") {
    SECTION("0x84 NR RAN Container (10: endpoint must comprehend)") {
        auto r = parse(gpdu_with_chain(0x84, hex("01 00 00 00")));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == ParseError::unknown_required_ext_header);
        CHECK(r.unknown_ext_type() == 0x84);
    }
    SECTION("0xc5 unassigned (11: every recipient must comprehend), after a known header") {
        auto r = parse(gpdu_with_chain(0x85, hex("01 10 09 c5 | 01 00 00 00")));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == ParseError::unknown_required_ext_header);
        CHECK(r.unknown_ext_type() == 0xc5);
    }
    SECTION("the SEHN answer lists what braid supports, not the offending type") {
        std::array<uint8_t, 32> out{};
        const size_t n = encode_supported_ext_headers_notification(out, 0);
        auto p = parse({out.data(), n});
        REQUIRE(p.ok());
        auto ies = parse_supported_ext_headers_notification(require_packet(p).payload);
        const auto* v = ies.value();
        REQUIRE(v != nullptr);
        CHECK(std::find(v->types.begin(), v->types.end(), 0x84) == v->types.end());
    }
}

TEST_CASE("TS 29.281 §5.2: unknown comprehension-not-required extension headers are skipped",
          "[gtpu]") {
    // 0x20 (00 class), 0x7f (01 class, unassigned), then the PDU Session Container.
    const auto b =
        gpdu_with_chain(0x20, hex("01 07 00 7f | 02 aa bb cc dd ee ff 85 | 01 10 09 00"));
    const auto& p = require_packet(parse(b));
    CHECK(p.ext_header_count == 3);
    REQUIRE(p.pdu_session);
    CHECK(qfi(*p.pdu_session) == 9);
    CHECK(p.header.header_len == 12 + 4 + 8 + 4);
    CHECK(to_hex(p.payload) == "45000004");

    // The chain can be walked again through the checked view.
    std::vector<std::pair<uint8_t, size_t>> seen;
    for (const ExtHeader& e : p.ext_headers()) {
        seen.emplace_back(e.type, e.content.size());
    }
    const std::vector<std::pair<uint8_t, size_t>> want{{0x20, 2}, {0x7f, 6}, {0x85, 2}};
    CHECK(seen == want);
}

TEST_CASE("TS 29.281 §5.2.2: UDP Port, PDCP PDU Number and Long PDCP PDU Number are recognised",
          "[gtpu]") {
    const auto b = gpdu_with_chain(0x40, hex("01 9c40 c0 | 01 1234 82 | 02 03 ffff 000000 00"));
    const auto& p = require_packet(parse(b));
    CHECK(p.udp_port == uint16_t{40000});
    CHECK(p.pdcp_pdu_number == uint16_t{0x1234});
    CHECK(p.long_pdcp_pdu_number == uint32_t{0x3ffff});
    CHECK(p.ext_header_count == 3);

    const auto nr = gpdu_with_chain(0x03, hex("02 01 0002 000000 00"));
    CHECK(require_packet(parse(nr)).long_pdcp_pdu_number == uint32_t{0x10002});
}

TEST_CASE("ext_header_bad_length: fixed-size extension headers must have their Length", "[gtpu]") {
    CHECK(parse_error(gpdu_with_chain(0x40, hex("02 9c40 0000 0000 00"))) ==
          ParseError::ext_header_bad_length);
    CHECK(parse_error(gpdu_with_chain(0xc0, hex("02 1234 0000 0000 00"))) ==
          ParseError::ext_header_bad_length);
    CHECK(parse_error(gpdu_with_chain(0x82, hex("01 0001 00"))) ==
          ParseError::ext_header_bad_length);
}

TEST_CASE("duplicate_ext_header: one PDU Session Container per G-PDU", "[gtpu]") {
    CHECK(parse_error(gpdu_with_chain(0x85, hex("01 10 09 85 | 01 10 05 00"))) ==
          ParseError::duplicate_ext_header);
    CHECK(parse_error(gpdu_with_chain(0x40, hex("01 0001 40 | 01 0002 00"))) ==
          ParseError::duplicate_ext_header);
}

TEST_CASE("bad_pdu_session_container: flags announcing fields the container does not hold",
          "[gtpu]") {
    SECTION("DL PPP=1 needs octet 3") {
        CHECK(parse_error(gpdu_with_chain(0x85, hex("01 00 85 00"))) ==
              ParseError::bad_pdu_session_container);
    }
    SECTION("DL QMP=1 needs 8 octets of time stamp") {
        CHECK(parse_error(gpdu_with_chain(0x85, hex("02 08 05 000000000000 00"))) ==
              ParseError::bad_pdu_session_container);
    }
    SECTION("DL SNP=1 needs 3 octets") {
        CHECK(parse_error(gpdu_with_chain(0x85, hex("01 04 05 00"))) ==
              ParseError::bad_pdu_session_container);
    }
    SECTION("UL QMP=1 needs 24 octets") {
        CHECK(parse_error(gpdu_with_chain(0x85, hex("02 18 09 000000000000 00"))) ==
              ParseError::bad_pdu_session_container);
    }
    SECTION("UL DL Delay Ind / UL Delay Ind / SNP / N3N9 / New IE flag each need their octets") {
        for (auto chain :
             {"01 14 09 00", "01 12 09 00", "01 11 09 00", "01 10 89 00", "01 10 49 00"}) {
            INFO(chain);
            CHECK(parse_error(gpdu_with_chain(0x85, hex(chain))) ==
                  ParseError::bad_pdu_session_container);
        }
    }
    SECTION("the exposed content parser rejects fewer than 2 octets") {
        auto r = parse_pdu_session_container(hex("00"));
        REQUIRE(std::holds_alternative<ParseError>(r));
        CHECK(std::get<ParseError>(r) == ParseError::bad_pdu_session_container);
    }
}

TEST_CASE("unknown_pdu_type: TS 38.415 PDU types other than 0 and 1 are rejected", "[gtpu]") {
    CHECK(parse_error(gpdu_with_chain(0x85, hex("01 20 05 00"))) == ParseError::unknown_pdu_type);
    CHECK(parse_error(gpdu_with_chain(0x85, hex("01 f0 05 00"))) == ParseError::unknown_pdu_type);
}

TEST_CASE("a PDU Session Container's padding is not interpreted", "[gtpu]") {
    // DL QFI 5, no flags, Length 2: four padding octets with junk.
    const auto& p = require_packet(parse(gpdu_with_chain(0x85, hex("02 00 05 ff ff ff ff 00"))));
    CHECK(std::get<DlPduSessionInfo>(*p.pdu_session) == dl_info(5));
}

// ---------------------------------------------------------------------------------------------
// IEs

TEST_CASE("TS 29.281 §8: Error Indication IEs — unknown TLV and Private Extension are skipped",
          "[gtpu]") {
    const auto ies = hex("10 00000007 | 85 0004 c6120002 | 90 0002 abcd | ff 0003 0001 aa");
    auto r = parse_error_indication(ies);
    REQUIRE(r.ok());
    CHECK(r.value()->teid_data_i == Teid{7});
    CHECK(r.value()->peer == PeerAddress::ipv4(0xc6120002));
}

TEST_CASE("TS 29.281 §8: an unknown TV IE (type < 128) cannot be skipped", "[gtpu]") {
    auto r = parse_error_indication(hex("01 80 | 10 00000007 | 85 0004 c6120002"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == IeError::unknown_tv_ie);
    CHECK(parse_echo(hex("0e 00 | 7f 00")).error() == IeError::unknown_tv_ie);
}

TEST_CASE("TS 29.281 §8: truncated IEs are rejected", "[gtpu]") {
    CHECK(parse_error_indication(hex("10 000000")).error() == IeError::ie_truncated);
    CHECK(parse_error_indication(hex("10 00000007 | 85 00")).error() == IeError::ie_truncated);
    CHECK(parse_error_indication(hex("10 00000007 | 85 0004 c612")).error() ==
          IeError::ie_truncated);
    CHECK(parse_echo(hex("0e")).error() == IeError::ie_truncated);
    CHECK(parse_supported_ext_headers_notification(hex("8d")).error() == IeError::ie_truncated);
    CHECK(parse_supported_ext_headers_notification(hex("8d 03 85 40")).error() ==
          IeError::ie_truncated);
}

TEST_CASE("TS 29.281 §7.3.1: Error Indication without TEID Data I or Peer Address is rejected",
          "[gtpu]") {
    CHECK(parse_error_indication(hex("10 00000007")).error() == IeError::missing_mandatory_ie);
    CHECK(parse_error_indication(hex("85 0004 c6120002")).error() == IeError::missing_mandatory_ie);
    CHECK(parse_error_indication({}).error() == IeError::missing_mandatory_ie);
    CHECK(parse_supported_ext_headers_notification({}).error() == IeError::missing_mandatory_ie);
}

TEST_CASE("TS 29.281 §8.4: GTP-U Peer Address is 4 or 16 octets", "[gtpu]") {
    CHECK(parse_error_indication(hex("10 00000007 | 85 0005 c612000200")).error() ==
          IeError::bad_ie_length);
    CHECK_FALSE(PeerAddress::from_octets(hex("0102")));
    CHECK(PeerAddress::from_octets(hex("c6120002")) == PeerAddress::ipv4(0xc6120002));
}

TEST_CASE("TS 29.281 §8: the first occurrence of a repeated IE wins", "[gtpu]") {
    auto r = parse_error_indication(
        hex("10 00000007 | 10 00000008 | 85 0004 c6120002 | 85 0004 c6120003"));
    REQUIRE(r.ok());
    CHECK(r.value()->teid_data_i == Teid{7});
    CHECK(r.value()->peer == PeerAddress::ipv4(0xc6120002));
}

// ---------------------------------------------------------------------------------------------
// Encoders: bounds and round trips

TEST_CASE("encoders return 0 and write nothing past the buffer when it is too small", "[gtpu]") {
    std::array<uint8_t, 64> buf{};
    const auto small = [&](size_t n) { return std::span<uint8_t>(buf.data(), n); };
    const DlPduSessionInfo dl = dl_info(5, true, 3);
    for (size_t n = 0; n < 20; ++n) {
        buf.fill(0xee);
        CHECK(encode_gpdu_header(small(n), Teid{1}, 10, std::optional{dl}) == 0);
        CHECK(encode_echo_response(small(std::min<size_t>(n, 13)), 1) == 0);
        CHECK(encode_echo_request(small(std::min<size_t>(n, 11)), 1) == 0);
        CHECK(encode_end_marker(small(std::min<size_t>(n, 7)), Teid{1}) == 0);
        CHECK(encode_error_indication(small(n), 1, Teid{1}, PeerAddress::ipv4(0xc6120001)) == 0);
        CHECK(encode_supported_ext_headers_notification(small(std::min<size_t>(n, 17)), 1) == 0);
        CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t x) { return x == 0xee; }));
    }
}

TEST_CASE("encode_gpdu_header refuses a total that overflows the 16-bit Length", "[gtpu]") {
    std::array<uint8_t, 64> out{};
    CHECK(encode_gpdu_header(out, Teid{1}, 0xffff, std::optional<DlPduSessionInfo>{}) == 8);
    CHECK(encode_gpdu_header(out, Teid{1}, 0xffff, std::optional{DlPduSessionInfo{}}) == 0);
    CHECK(encode_gpdu_header(out, Teid{1}, 0xffff - 8, std::optional{DlPduSessionInfo{}}) == 16);
}

TEST_CASE("encode_supported_ext_headers_notification refuses more than 255 types", "[gtpu]") {
    std::vector<uint8_t> out(400);
    std::vector<uint8_t> types(256, 0x85);
    CHECK(encode_supported_ext_headers_notification(out, 0, types) == 0);
    types.resize(255);
    CHECK(encode_supported_ext_headers_notification(out, 0, types) == 14 + 255);
}

TEST_CASE("round trip: every DL container shape survives encode → parse", "[gtpu]") {
    for (int mask = 0; mask < 8; ++mask) {
        DlPduSessionInfo d = dl_info(63, (mask & 1) != 0);
        if (mask & 1) {
            d.ppi = 7;
        }
        if (mask & 2) {
            d.dl_sending_timestamp = 0xfedcba9876543210;
        }
        if (mask & 4) {
            d.dl_qfi_seq = 0xffffff;
        }
        Bytes buf(64 + 5);
        const size_t n = encode_gpdu_header(buf, Teid{0xcafef00d}, 5, std::optional{d});
        REQUIRE(n > 0);
        REQUIRE(n % 4 == 0);
        CHECK(n == gpdu_header_len(std::optional{d}));
        buf.resize(n + 5);
        const auto& p = require_packet(parse(buf));
        CHECK(p.header.teid == Teid{0xcafef00d});
        CHECK(p.header.header_len == n);
        CHECK(p.payload.size() == 5);
        REQUIRE(p.pdu_session);
        CHECK(std::get<DlPduSessionInfo>(*p.pdu_session) == d);
    }
}

TEST_CASE("round trip: every UL container shape survives encode → parse", "[gtpu]") {
    for (int mask = 0; mask < 64; ++mask) {
        UlPduSessionInfo u = ul_info(static_cast<uint8_t>(mask));
        if (mask & 1) {
            u.qmp = UlQmpTimestamps{1, 2, 3};
        }
        if (mask & 2) {
            u.dl_delay_result = 4;
        }
        if (mask & 4) {
            u.ul_delay_result = 5;
        }
        if (mask & 8) {
            u.ul_qfi_seq = 6;
        }
        if (mask & 16) {
            u.n3n9_delay_result = 7;
        }
        if (mask & 32) {
            u.new_ie_flags = 0;
        }
        Bytes buf(128);
        const size_t n = encode_gpdu_header(buf, Teid{mask + 1u}, 0, std::optional{u});
        REQUIRE(n > 0);
        REQUIRE(n % 4 == 0);
        buf.resize(n);
        const auto& p = require_packet(parse(buf));
        CHECK(p.header.teid == Teid{mask + 1u});
        REQUIRE(p.pdu_session);
        CHECK(std::get<UlPduSessionInfo>(*p.pdu_session) == u);
    }
}

TEST_CASE("round trip: Error Indication, Echo and SEHN encoders parse back", "[gtpu]") {
    std::array<uint8_t, 64> out{};
    SECTION("error indication with UDP port") {
        const size_t n =
            encode_error_indication(out, 9, Teid{42}, PeerAddress::ipv4(0xc6120002), 2152);
        const auto& p = require_packet(parse({out.data(), n}));
        CHECK(p.header.type == MessageType::error_indication);
        CHECK(p.header.teid == Teid{0});
        CHECK(p.header.seq == uint16_t{9});
        CHECK(p.udp_port == uint16_t{2152});
        auto ies = parse_error_indication(p.payload);
        REQUIRE(ies.ok());
        CHECK(ies.value()->teid_data_i == Teid{42});
    }
    SECTION("echo response") {
        const size_t n = encode_echo_response(out, 0xffff);
        const auto& p = require_packet(parse({out.data(), n}));
        CHECK(p.header.seq == uint16_t{0xffff});
        CHECK(parse_echo(p.payload).value()->recovery == uint8_t{0});
    }
}

// ---------------------------------------------------------------------------------------------
// The uplink fast path (parse_gpdu_fast): what it takes, parse() reads the same way

namespace {

// parse_gpdu_fast's answer, checked against parse()'s when it has one.
std::optional<FastGpdu> fast_checked(const Bytes& b) {
    const auto fast = parse_gpdu_fast(b);
    if (fast) {
        const auto r = parse(b);
        REQUIRE(r.packet() != nullptr);
        const Packet& p = *r.packet();
        CHECK(p.header.type == MessageType::g_pdu);
        CHECK(fast->teid == p.header.teid.value());
        CHECK(fast->payload_offset == p.header.header_len);
        CHECK(fast->qfi ==
              (p.pdu_session ? std::optional<uint8_t>(qfi(*p.pdu_session)) : std::nullopt));
    }
    return fast;
}

}  // namespace

TEST_CASE("G-PDU fast path: the two common uplink forms, as parse() reads them", "[gtpu]") {
    const Bytes tpdu = hex(inner_ip);
    // No optional fields.
    CHECK(fast_checked(message(0x30, 0xff, 0x11223344, tpdu)) ==
          FastGpdu{0x11223344, 8, std::nullopt});
    // E only, one UL PDU Session Container with QFI 9 (Length 1, next type none).
    const Bytes ul_container{0x01, 0x10, 0x09, 0x00};
    Bytes with_qfi = gpdu_with_chain(0x85, ul_container);
    CHECK(fast_checked(with_qfi) == FastGpdu{0x11223344, 16, uint8_t{9}});
}

TEST_CASE("G-PDU fast path: everything else is left to parse()", "[gtpu]") {
    const Bytes tpdu = hex(inner_ip);
    const std::vector<std::pair<const char*, Bytes>> others = {
        {"S flag (sequence number)", message(0x32, 0xff, 1, Bytes{0, 7, 0, 0, 0x45, 0, 0, 4})},
        {"PN flag", message(0x31, 0xff, 1, Bytes{0, 0, 7, 0, 0x45, 0, 0, 4})},
        {"E and S", message(0x36, 0xff, 1, Bytes{0, 7, 0, 0x85, 1, 0x10, 9, 0, 0x45, 0, 0, 4})},
        {"Echo Request", message(0x32, 0x01, 0, Bytes{0, 1, 0, 0})},
        {"End Marker", message(0x30, 0xfe, 1, Bytes{})},
        {"version 2", message(0x50, 0xff, 1, tpdu)},
        {"Length one short",
         [&] {
             Bytes b = message(0x30, 0xff, 1, tpdu);
             b[3] = static_cast<uint8_t>(b[3] - 1);
             return b;
         }()},
        {"header only, E set", message(0x34, 0xff, 1, Bytes{0, 0, 0, 0x85})},
        {"DL container", gpdu_with_chain(0x85, Bytes{0x01, 0x00, 0x09, 0x00})},
        {"UL container with SNP", gpdu_with_chain(0x85, Bytes{0x02, 0x11, 0x09, 0, 0, 1, 0, 0})},
        {"UL container with the new IE flag", gpdu_with_chain(0x85, Bytes{0x01, 0x10, 0x49, 0x00})},
        {"container, then a UDP Port header",
         gpdu_with_chain(0x85, Bytes{0x01, 0x10, 0x09, 0x40, 0x01, 0x08, 0x68, 0x00})},
        {"UDP Port header alone", gpdu_with_chain(0x40, Bytes{0x01, 0x08, 0x68, 0x00})},
        {"container of Length 2", gpdu_with_chain(0x85, Bytes{0x02, 0x10, 0x09, 0, 0, 0, 0, 0})},
    };
    for (const auto& [name, b] : others) {
        INFO(name);
        CHECK_FALSE(fast_checked(b).has_value());
    }
    // Every single-octet corruption of the two forms: taken only where parse() agrees.
    for (Bytes base : {message(0x30, 0xff, 0x11223344, tpdu),
                       gpdu_with_chain(0x85, Bytes{0x01, 0x10, 0x09, 0x00})}) {
        for (size_t i = 0; i < 16 && i < base.size(); ++i) {
            for (int v = 0; v < 256; ++v) {
                Bytes b = base;
                b[i] = static_cast<uint8_t>(v);
                (void)fast_checked(b);
            }
        }
    }
}
