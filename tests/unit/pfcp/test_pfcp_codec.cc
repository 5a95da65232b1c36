// Unit tests for the PFCP codec (control/pfcp): header, IE framing, typed leaf IEs, message
// helpers. Golden vectors: spec/n4-gtpu-mams.md §1.14 and tests/unit/pfcp/pfcp_vectors.py
// (scapy.contrib.pfcp; the same bytes dissect cleanly in tshark, see --tshark).
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>
#include "tests/unit/hex.h"

#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/message.h"
#include "control/pfcp/types.h"

namespace {

using namespace braid::pfcp;
using braid::test::Bytes;

using braid::test::hex;

// Views refer to their buffer; keep() gives a test vector a lifetime as long as the test run.
const Bytes& keep(Bytes b) {
    static std::deque<Bytes> kept;
    return kept.emplace_back(std::move(b));
}

template <typename T>
Bytes encode_ie(const T& ie) {
    Bytes out;
    Writer w(out);
    ie.encode(w);
    REQUIRE(w.ok());
    return out;
}

// Parses a buffer holding exactly one IE and returns its typed value.
template <typename T>
T decode_ie(const Bytes& tlv) {
    auto list = IeList::parse(tlv);
    REQUIRE(list.ok());
    auto it = list->begin();
    REQUIRE(it != list->end());
    auto r = parse_ie<T>(*it);
    REQUIRE(r.ok());
    return *r;
}

template <typename T>
IeError decode_error(const Bytes& value) {
    auto r = T::parse(value);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().type == T::type);
    return r.error();
}

template <typename T>
void check_round_trip(const T& ie) {
    const Bytes tlv = encode_ie(ie);
    CHECK(decode_ie<T>(tlv) == ie);
}

UeIpAddress ue_ipv4(Ipv4Address a, bool destination) {
    UeIpAddress u;
    u.ipv4 = a;
    u.destination = destination;
    return u;
}

SdfFilter sdf_fd(std::string text) {
    SdfFilter f;
    f.flow_description = std::move(text);
    return f;
}

SdfFilter sdf_flow_label(uint32_t label) {
    SdfFilter f;
    f.flow_label = label;
    return f;
}

constexpr Ipv4Address ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {a, b, c, d};
}

// 2001:db8::x:y (test addresses only from 198.18.0.0/15 and 2001:db8::/32).
constexpr Ipv6Address ip6(uint16_t low) {
    Ipv6Address a{0x20, 0x01, 0x0d, 0xb8};
    a[14] = static_cast<uint8_t>(low >> 8);
    a[15] = static_cast<uint8_t>(low);
    return a;
}

// ---- golden vectors -----------------------------------------------------------------------

// spec §1.14, with its IPv4/IPv6 addresses replaced by 198.19.255.1, 198.19.1.7, 198.19.2.7,
// 198.19.255.2 and 2001:db8::1 (test addresses only from 198.18.0.0/15 and 2001:db8::/32).
const Bytes spec_up_features = hex("002b 0006 10 41 20 80 01 00");
const Bytes spec_fteid_choose = hex("0015 0002 0d 05");
const Bytes spec_mtai = hex("0109 0001 01");
const Bytes spec_provide_atsss = hex("00dc 000a | 00de 0001 01 | 00e0 0001 01");
const Bytes spec_create_mar =
    hex("00a5 0032 | 00aa 0002 0001 | 00ab 0001 01 | 00ac 0001 02"
        "| 00a6 000d 006c 0004 00000002 00ad 0001 3c | 00a7 000d 006c 0004 00000003 00ad 0001 28");
const Bytes spec_atsss_params =
    hex("00dd 002e | 00e1 0019 | 00e4 0008 01 01 1404 c613ff01"
        "| 00e5 0009 05 c6130107 c6130207 | 00e3 000d 00e6 0009 01 c613ff02 1770 1771");
const Bytes spec_mptcp_address =
    hex("00e4 0018 03 01 1f90 c613ff01 20010db8000000000000000000000001");
const Bytes spec_heartbeat = hex("20 01 000c 000004 00 | 0060 0004 e8d0a1b2");

// tests/unit/pfcp/pfcp_vectors.py (scapy 2.5.0, contrib/pfcp.py)
const Bytes scapy_heartbeat_request = hex("2001000c0000040000600004e8d0a1b2");
const Bytes scapy_association_setup_request =
    hex("2005001500000700003c000500c612040100600004e8d0a1b2");
const Bytes scapy_association_setup_response = hex(
    "2006002b00000700003c001002037570660562726169640474657374001300010100600004e8d0a1b3002b000210"
    "01");
const Bytes scapy_session_establishment_request = hex(
    "2132010f000000000000000000010200003c000500c61204010039000d021122334455667788c612040100010072"
    "003800020001001d0004000000ff0002004b0014000100001500020d050016000908696e7465726e6574005d0005"
    "02c613640200170026010000227065726d6974206f75742069702066726f6d20616e7920746f2061737369676e65"
    "64005f000100006c000400000001006d00040000000100030023006c000400000001002c00010200040012002a00"
    "01010016000908696e7465726e657400030024006c000400000002002c00010200040013002a0001000054000a01"
    "0001020304c612000200070020006d0004000000010019000100001a000a00000f424000001e8480007c000109");
const Bytes scapy_session_establishment_response = hex(
    "23330042112233445566778800010230003c000500c612040200130001010039000d020000000000000001c61204"
    "0200080013003800020001001500090100000401c6120001");

IeList body_of(const Bytes& datagram) {
    auto m = parse_message(datagram);
    REQUIRE(m.ok());
    auto ies = IeList::parse(m->body);
    REQUIRE(ies.ok());
    REQUIRE(validate_tree(*ies).ok());
    return *ies;
}

}  // namespace

// ================================ types =====================================================

TEST_CASE("pfcp sequence number is 24 bits and wraps", "[pfcp]") {
    CHECK(SequenceNumber(0x1234567).value() == 0x234567);
    SequenceNumber s(0xfffffe);
    CHECK(s.next().value() == 0xffffff);
    CHECK(s.next().next().value() == 0);
    ++s;
    ++s;
    CHECK(s == SequenceNumber(0));
}

TEST_CASE("pfcp type tables name every code point", "[pfcp]") {
    CHECK(to_string(MessageType::heartbeat_request) == "Heartbeat Request");
    CHECK(to_string(MessageType::session_report_response) == "Session Report Response");
    CHECK(to_string(static_cast<MessageType>(200)) == "Unknown");
    CHECK(is_request(MessageType::node_report_request));  // 12: even, still a request
    CHECK_FALSE(is_request(MessageType::version_not_supported_response));
    CHECK(is_node_message(MessageType::session_set_deletion_request));
    CHECK(is_session_message(MessageType::session_deletion_request));
    CHECK_FALSE(is_known(static_cast<MessageType>(18)));

    CHECK(to_string(Cause::mandatory_ie_missing) == "Mandatory IE missing");
    CHECK(static_cast<int>(Cause::pfd_application_id_unknown) == 92);
    CHECK(to_string(static_cast<Cause>(10)) == "Spare acceptance");
    CHECK(to_string(static_cast<Cause>(200)) == "Spare rejection");
    CHECK(is_acceptance(static_cast<Cause>(63)));
    CHECK_FALSE(is_acceptance(Cause::request_rejected));
    CHECK_FALSE(is_acceptance(Cause::reserved));

    CHECK(to_string(IeType::create_mar) == "Create MAR");
    CHECK(static_cast<int>(IeType::multipath_applicable_indication) == 265);
    CHECK(is_grouped(IeType::pdi));
    CHECK_FALSE(is_grouped(IeType::f_teid));
    CHECK(to_string(static_cast<IeType>(0x8001)) == "Vendor-specific");
    CHECK(to_string(static_cast<IeType>(9999)) == "Unknown");
}

// ================================ header ====================================================

TEST_CASE("pfcp spec heartbeat vector decodes and re-encodes", "[pfcp][vector]") {
    auto m = parse_message(spec_heartbeat);
    REQUIRE(m.ok());
    CHECK(m->header.type == MessageType::heartbeat_request);
    CHECK_FALSE(m->header.seid);
    CHECK(m->header.sequence == SequenceNumber(4));
    CHECK(m->header.length == 12);
    auto ies = IeList::parse(m->body);
    REQUIRE(ies.ok());
    auto rts = ies->find(IeType::recovery_time_stamp);
    REQUIRE(rts);
    CHECK(parse_ie<RecoveryTimeStamp>(*rts)->ntp_seconds == 0xe8d0a1b2);

    Bytes out;
    Header h;
    h.type = MessageType::heartbeat_request;
    h.sequence = SequenceNumber(4);
    const size_t start = begin_message(h, out);
    Writer w(out);
    RecoveryTimeStamp{0xe8d0a1b2}.encode(w);
    REQUIRE(w.ok());
    REQUIRE(finish_message(out, start));
    CHECK(out == spec_heartbeat);
    CHECK(out == scapy_heartbeat_request);
}

TEST_CASE("pfcp header errors are typed", "[pfcp][header]") {
    using Code = HeaderError::Code;
    auto code = [](const Bytes& b) {
        auto m = parse_message(b);
        REQUIRE_FALSE(m.ok());
        return m.error().code;
    };
    SECTION("too short") {
        CHECK(code(hex("20 01 000c 0000")) == Code::too_short);
        CHECK(code(hex("21 32 000c 0000000000000000")) == Code::too_short);  // S=1 needs 16
        CHECK(code({}) == Code::too_short);
    }
    SECTION("bad version") {
        CHECK(code(hex("40 01 0004 000004 00")) == Code::bad_version);
        CHECK(code(hex("00 01 0004 000004 00")) == Code::bad_version);
    }
    SECTION("length beyond the datagram keeps the header for a Cause 68 answer") {
        auto m = parse_message(keep(hex("20 05 0010 000009 00 | 0060 0004 e8d0a1b2")));
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code == Code::length_beyond_datagram);
        REQUIRE(m.error().header);
        CHECK(m.error().header->sequence == SequenceNumber(9));
        CHECK(m.error().header->type == MessageType::association_setup_request);
    }
    SECTION("length smaller than the header") {
        CHECK(code(hex("20 01 0003 000004 00")) == Code::length_too_small);
        CHECK(code(hex("21 34 000b 0000000000000001 000004 00")) == Code::length_too_small);
    }
    SECTION("S flag against the message type") {
        CHECK(code(hex("21 01 000c 0000000000000000 000004 00")) == Code::seid_flag_mismatch);
        CHECK(code(hex("20 34 0004 000004 00")) == Code::seid_flag_mismatch);
    }
    SECTION("unknown message types parse (the dispatcher drops them)") {
        auto m = parse_message(keep(hex("20 c8 0004 000004 00")));
        REQUIRE(m.ok());
        CHECK_FALSE(is_known(m->header.type));
    }
    SECTION("trailing octets after FO=0") {
        MessageReader r(keep(hex("20 01 0004 000004 00 ff")));
        auto m = r.next();
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code == Code::trailing_bytes);
        CHECK(r.done());
    }
}

TEST_CASE("pfcp bundled messages (FO) iterate", "[pfcp][header]") {
    Bytes dgram;
    for (uint32_t seq : {1u, 2u, 3u}) {
        Header h;
        h.type = MessageType::session_report_request;
        h.seid = Seid(0xabc0 + seq);
        h.sequence = SequenceNumber(seq);
        h.follow_on = seq != 3;
        const size_t start = begin_message(h, dgram);
        Writer w(dgram);
        CauseIe{Cause::request_accepted}.encode(w);
        REQUIRE(finish_message(dgram, start));
    }
    MessageReader r(dgram);
    uint32_t expect = 1;
    while (!r.done()) {
        auto m = r.next();
        REQUIRE(m.ok());
        CHECK(m->header.sequence.value() == expect);
        CHECK(m->header.seid == Seid(0xabc0 + expect));
        CHECK(m->body.size() == 5);
        ++expect;
    }
    CHECK(expect == 4);

    SECTION("a broken second message stops the iteration") {
        dgram.resize(dgram.size() - 1);
        MessageReader r2(dgram);
        CHECK(r2.next().ok());
        CHECK(r2.next().ok());
        auto m = r2.next();
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code == HeaderError::Code::length_beyond_datagram);
        CHECK(r2.done());
    }
}

TEST_CASE("pfcp header with SEID and message priority round-trips", "[pfcp][header]") {
    auto m = parse_message(scapy_session_establishment_response);
    REQUIRE(m.ok());
    CHECK(m->header.type == MessageType::session_establishment_response);
    CHECK(m->header.seid == Seid(0x1122334455667788));
    CHECK(m->header.priority == uint8_t{3});
    CHECK(m->header.sequence == SequenceNumber(0x102));
    Bytes out;
    encode_header(m->header, out);
    CHECK(out == Bytes(scapy_session_establishment_response.begin(),
                       scapy_session_establishment_response.begin() + 16));
}

// ================================ IE framing ================================================

TEST_CASE("pfcp IE list framing errors", "[pfcp][ie]") {
    using Code = IeError::Code;
    CHECK(IeList::parse(keep(hex("0060 00"))).error().code == Code::truncated_header);
    auto beyond = IeList::parse(keep(hex("0060 0005 e8d0a1b2")));
    CHECK(beyond.error() == IeError::length_beyond_buffer(IeType::recovery_time_stamp));
    auto second = IeList::parse(keep(hex("0060 0004 e8d0a1b2 0013")));
    CHECK(second.error().code == Code::truncated_header);
    auto vendor = IeList::parse(keep(hex("8001 0001 00")));
    CHECK(vendor.error() == IeError::invalid_length(static_cast<IeType>(0x8001)));
    CHECK(IeList::parse(std::span<const uint8_t>()).ok());  // an empty body is a valid (empty) list
    // §5.6.3: a zero-length IE is not a framing error.
    auto null_len = IeList::parse(keep(hex("0016 0000")));
    REQUIRE(null_len.ok());
    CHECK((*null_len->begin()).value().empty());
    CHECK(cause_for(IeError::invalid_length(IeType::cause)) == Cause::invalid_length);
    CHECK(cause_for(IeError::invalid_value(IeType::cause)) == Cause::mandatory_ie_incorrect);
}

TEST_CASE("pfcp unknown and vendor IEs are visible and skipped by typed lookups", "[pfcp][ie]") {
    // RTS, vendor IE 0x8010 (enterprise 0x1234) with 3 octets, unknown 3GPP type 999, Cause.
    const Bytes body =
        hex("0060 0004 e8d0a1b2 | 8010 0005 1234 aabbcc | 03e7 0002 0102 | 0013 0001 01");
    auto ies = IeList::parse(body);
    REQUIRE(ies.ok());
    REQUIRE(validate_tree(*ies).ok());
    std::vector<IeView> all(ies->begin(), ies->end());
    REQUIRE(all.size() == 4);
    CHECK(all[1].is_vendor_specific());
    CHECK(all[1].enterprise_id() == 0x1234);
    CHECK(all[1].value().size() == 3);
    CHECK(all[1].value()[0] == 0xaa);
    CHECK_FALSE(is_known(all[2].type()));
    CHECK(parse_ie<CauseIe>(*ies->find(IeType::cause))->value == Cause::request_accepted);
    CHECK_FALSE(missing_mandatory(*ies, {IeType::recovery_time_stamp, IeType::cause}));

    // A vendor IE re-encodes byte for byte.
    Bytes out;
    Writer w(out);
    w.begin_vendor_ie(0x8010, 0x1234);
    w.put_bytes(all[1].value());
    w.end_ie();
    REQUIRE(w.ok());
    CHECK(out == Bytes(all[1].bytes().begin(), all[1].bytes().end()));
}

TEST_CASE("pfcp grouped IE nesting limit", "[pfcp][ie]") {
    // depth grouped Create PDR IEs around a PDR ID.
    auto nested = [](unsigned depth) {
        Bytes out;
        Writer w(out);
        for (unsigned i = 0; i < depth; ++i) {
            w.begin_grouped(IeType::create_pdr);
        }
        PdrId{1}.encode(w);
        for (unsigned i = 0; i < depth; ++i) {
            w.end_grouped();
        }
        return std::make_pair(out, w.ok());
    };
    auto [ok_bytes, ok_written] = nested(max_ie_depth - 1);
    REQUIRE(ok_written);
    auto ok = IeList::parse(ok_bytes);
    REQUIRE(ok.ok());
    CHECK(validate_tree(*ok).ok());

    // One level more: the writer refuses, and a hand-built buffer is rejected on reading.
    CHECK_FALSE(nested(max_ie_depth).second);
    Bytes deep = hex("0038 0002 0001");
    for (unsigned i = 0; i < max_ie_depth; ++i) {
        Bytes outer = {0x00, 0x01, static_cast<uint8_t>(deep.size() >> 8),
                       static_cast<uint8_t>(deep.size())};
        outer.insert(outer.end(), deep.begin(), deep.end());
        deep = outer;
    }
    auto too_deep = IeList::parse(deep);
    REQUIRE(too_deep.ok());
    auto r = validate_tree(*too_deep);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error() == IeError::excessive_nesting(IeType::create_pdr));
}

TEST_CASE("pfcp writer errors", "[pfcp][ie]") {
    Bytes out;
    Writer w(out);
    w.end_ie();
    REQUIRE(w.error());
    CHECK(w.error()->code == WriteError::Code::unbalanced);

    Bytes big;
    Writer w2(big);
    w2.begin_ie(IeType::network_instance);
    w2.put_bytes(Bytes(70000, 'a'));
    w2.end_ie();
    REQUIRE(w2.error());
    CHECK(*w2.error() == WriteError{WriteError::Code::ie_too_long, IeType::network_instance});

    Bytes open;
    Writer w3(open);
    w3.begin_grouped(IeType::pdi);
    CHECK_FALSE(w3.ok());  // still open
    w3.end_grouped();
    CHECK(w3.ok());
    CHECK(open == hex("0002 0000"));
}

// ================================ spec §1.14 vectors ========================================

TEST_CASE("pfcp spec vector: UP Function Features", "[pfcp][vector]") {
    const auto f = decode_ie<UpFunctionFeatures>(spec_up_features);
    for (UpFeature x : {UpFeature::ftup, UpFeature::empu, UpFeature::pfde, UpFeature::mte,
                        UpFeature::mptcp, UpFeature::atsss_ll}) {
        CHECK(f.has(x));
    }
    CHECK_FALSE(f.has(UpFeature::bucp));
    CHECK_FALSE(f.has(UpFeature::rttwp));
    CHECK(to_string(f) == "FTUP EMPU PFDE MTE MPTCP ATSSS-LL");
    CHECK(encode_ie(f) == spec_up_features);  // the received length (6 octets) is kept

    // Built from names, braid emits the shortest form (5 octets, last non-zero is octet 9).
    UpFunctionFeatures built{UpFeature::ftup, UpFeature::empu,  UpFeature::pfde,
                             UpFeature::mte,  UpFeature::mptcp, UpFeature::atsss_ll};
    CHECK(built == f);
    CHECK(encode_ie(built) == hex("002b 0005 10 41 20 80 01"));
    // ... and never fewer than 2 octets.
    CHECK(encode_ie(UpFunctionFeatures{UpFeature::ftup}) == hex("002b 0002 10 00"));
    CHECK(decode_error<UpFunctionFeatures>(hex("10")).code == IeError::Code::invalid_length);
}

TEST_CASE("pfcp UP Function Features bit positions follow the spec table", "[pfcp]") {
    struct Row {
        UpFeature f;
        int octet;
        uint8_t mask;
        std::string_view name;
    };
    // spec §1.9 table (octet, bit mask); spot checks of every octet, first and last bits.
    const Row rows[] = {
        {UpFeature::bucp, 5, 0x01, "BUCP"},
        {UpFeature::ftup, 5, 0x10, "FTUP"},
        {UpFeature::treu, 5, 0x80, "TREU"},
        {UpFeature::empu, 6, 0x01, "EMPU"},
        {UpFeature::pfde, 6, 0x40, "PFDE"},
        {UpFeature::epfar, 6, 0x80, "EPFAR"},
        {UpFeature::dpdra, 7, 0x01, "DPDRA"},
        {UpFeature::mte, 7, 0x20, "MTE"},
        {UpFeature::bundl, 7, 0x40, "BUNDL"},
        {UpFeature::gcom, 7, 0x80, "GCOM"},
        {UpFeature::mpas, 8, 0x01, "MPAS"},
        {UpFeature::tsn, 8, 0x40, "TSN"},
        {UpFeature::mptcp, 8, 0x80, "MPTCP"},
        {UpFeature::atsss_ll, 9, 0x01, "ATSSS-LL"},
        {UpFeature::rds, 9, 0x80, "RDS"},
        {UpFeature::rttwp, 10, 0x01, "RTTWP"},
        {UpFeature::dnsts, 10, 0x80, "DNSTS"},
        {UpFeature::drqos, 11, 0x01, "DRQOS"},
        {UpFeature::mpquic_udp, 11, 0x80, "MPQUIC-UDP"},
        {UpFeature::redsm, 12, 0x01, "REDSM"},
        {UpFeature::eml4s, 12, 0x80, "EML4S"},
        {UpFeature::pdusm, 13, 0x01, "PDUSM"},
        {UpFeature::un6tu, 13, 0x80, "UN6TU"},
        {UpFeature::mbsch, 14, 0x01, "MBSCH"},
        {UpFeature::mpquic_ip, 14, 0x10, "MPQUIC-IP"},
        {UpFeature::mpquic_e, 14, 0x20, "MPQUIC-E"},
        {UpFeature::muxmf, 14, 0x80, "MUXMF"},
        {UpFeature::conudp, 15, 0x01, "CONUDP"},
        {UpFeature::papfd, 15, 0x40, "PAPFD"},
    };
    for (const Row& r : rows) {
        INFO(r.name);
        UpFunctionFeatures s{r.f};
        const Bytes tlv = encode_ie(s);
        const size_t octets = r.octet - 4 > 2 ? r.octet - 4 : 2;
        REQUIRE(tlv.size() == 4 + octets);
        for (size_t i = 0; i < octets; ++i) {
            CHECK(tlv[4 + i] == (static_cast<int>(i) == r.octet - 5 ? r.mask : 0));
        }
        CHECK(to_string(r.f) == r.name);
        CHECK(decode_ie<UpFunctionFeatures>(tlv).has(r.f));
    }
    // Unknown (spare) bits survive a decode/encode cycle and print as bit numbers.
    const Bytes spare = hex("002b 000b 00 00 00 00 00 00 00 00 00 00 80");
    const auto s = decode_ie<UpFunctionFeatures>(spare);
    CHECK(to_string(s) == "bit87");
    CHECK(encode_ie(s) == spare);
}

TEST_CASE("pfcp CP Function Features", "[pfcp]") {
    const auto f = decode_ie<CpFunctionFeatures>(hex("0059 0002 11 01"));
    CHECK(f.has(CpFeature::load));
    CHECK(f.has(CpFeature::bundl));
    CHECK(f.has(CpFeature::psucc));
    CHECK_FALSE(f.has(CpFeature::ovrl));
    CHECK(to_string(f) == "LOAD BUNDL PSUCC");
    CHECK(encode_ie(CpFunctionFeatures{CpFeature::load}) == hex("0059 0001 01"));
    CHECK(decode_error<CpFunctionFeatures>({}).code == IeError::Code::invalid_length);
}

TEST_CASE("pfcp spec vector: F-TEID CHOOSE with CHOOSE ID", "[pfcp][vector]") {
    const auto f = decode_ie<FTeid>(spec_fteid_choose);
    REQUIRE(f.choose);
    CHECK(f.choose->v4);
    CHECK_FALSE(f.choose->v6);
    CHECK(f.choose->choose_id == uint8_t{5});
    CHECK(encode_ie(f) == spec_fteid_choose);
}

TEST_CASE("pfcp spec vectors: ATSSS grouped IEs", "[pfcp][vector]") {
    SECTION("Multipath Applicable Indication") {
        auto l = IeList::parse(spec_mtai);
        REQUIRE(l.ok());
        auto ie = *l->begin();
        CHECK(ie.type() == IeType::multipath_applicable_indication);
        CHECK(ie.value().size() == 1);
        CHECK(ie.value()[0] == 0x01);
    }
    SECTION("Provide ATSSS Control Information") {
        auto l = IeList::parse(spec_provide_atsss);
        REQUIRE(l.ok());
        REQUIRE(validate_tree(*l).ok());
        auto members = (*l->begin()).members();
        REQUIRE(members.ok());
        CHECK(members->find(IeType::mptcp_control_information)->value()[0] == 0x01);
        CHECK(members->find(IeType::pmf_control_information)->value()[0] == 0x01);

        Bytes out;
        Writer w(out);
        const uint8_t one = 1;
        w.begin_grouped(IeType::provide_atsss_control_information);
        w.add(IeType::mptcp_control_information, std::span(&one, 1));
        w.add(IeType::pmf_control_information, std::span(&one, 1));
        w.end_grouped();
        REQUIRE(w.ok());
        CHECK(out == spec_provide_atsss);
    }
    SECTION("Create MAR") {
        auto l = IeList::parse(spec_create_mar);
        REQUIRE(l.ok());
        REQUIRE(validate_tree(*l).ok());
        auto mar = (*l->begin()).members();
        REQUIRE(mar.ok());
        CHECK(parse_ie<UintIe<IeType::mar_id, uint16_t>>(*mar->find(IeType::mar_id))->value == 1);
        auto afai3 = mar->find(IeType::tgpp_access_forwarding_action_information)->members();
        REQUIRE(afai3.ok());
        CHECK(parse_ie<FarId>(*afai3->find(IeType::far_id))->value == 2);
        CHECK(afai3->find(IeType::weight)->value()[0] == 60);
        auto afai_n3 = mar->find(IeType::non_tgpp_access_forwarding_action_information)->members();
        REQUIRE(afai_n3.ok());
        CHECK(parse_ie<FarId>(*afai_n3->find(IeType::far_id))->value == 3);
        CHECK(afai_n3->find(IeType::weight)->value()[0] == 40);

        Bytes out;
        Writer w(out);
        const uint8_t mptcp = 1, load_balancing = 2;
        w.begin_grouped(IeType::create_mar);
        UintIe<IeType::mar_id, uint16_t>{1}.encode(w);
        w.add(IeType::steering_functionality, std::span(&mptcp, 1));
        w.add(IeType::steering_mode, std::span(&load_balancing, 1));
        for (auto [t, far, weight] :
             {std::tuple{IeType::tgpp_access_forwarding_action_information, 2u, uint8_t{60}},
              std::tuple{IeType::non_tgpp_access_forwarding_action_information, 3u, uint8_t{40}}}) {
            w.begin_grouped(t);
            FarId{far}.encode(w);
            w.add(IeType::weight, std::span(&weight, 1));
            w.end_grouped();
        }
        w.end_grouped();
        REQUIRE(w.ok());
        CHECK(out == spec_create_mar);
    }
    SECTION("ATSSS Control Parameters") {
        auto l = IeList::parse(spec_atsss_params);
        REQUIRE(l.ok());
        REQUIRE(validate_tree(*l).ok());
        auto params = (*l->begin()).members();
        REQUIRE(params.ok());
        auto mptcp = params->find(IeType::mptcp_parameters)->members();
        REQUIRE(mptcp.ok());
        auto addr = mptcp->find(IeType::mptcp_address_information)->value();
        REQUIRE(addr.size() == 8);
        CHECK(load_u16(addr.data() + 2) == 5124);
        auto link = mptcp->find(IeType::link_specific_multipath_ip_address)->value();
        CHECK(link.size() == 9);
        auto pmf = params->find(IeType::pmf_parameters)->members();
        REQUIRE(pmf.ok());
        CHECK(pmf->find(IeType::pmf_address_information)->value().size() == 9);
    }
    SECTION("MPTCP Address Information") {
        auto l = IeList::parse(spec_mptcp_address);
        REQUIRE(l.ok());
        CHECK((*l->begin()).value().size() == 24);
    }
}

// ================================ scapy vectors =============================================

TEST_CASE("pfcp scapy vector: Association Setup Request", "[pfcp][vector]") {
    auto m = parse_message(scapy_association_setup_request);
    REQUIRE(m.ok());
    CHECK(m->header.type == MessageType::association_setup_request);
    CHECK(m->header.sequence == SequenceNumber(7));
    const IeList ies = body_of(scapy_association_setup_request);
    CHECK_FALSE(missing_mandatory(ies, {IeType::node_id, IeType::recovery_time_stamp}));
    CHECK(parse_ie<NodeId>(*ies.find(IeType::node_id)).value() ==
          NodeId::from_ipv4(ip4(198, 18, 4, 1)));

    Bytes out;
    Header h;
    h.type = MessageType::association_setup_request;
    h.sequence = SequenceNumber(7);
    const size_t start = begin_message(h, out);
    Writer w(out);
    NodeId::from_ipv4(ip4(198, 18, 4, 1)).encode(w);
    RecoveryTimeStamp{0xe8d0a1b2}.encode(w);
    REQUIRE(w.ok());
    REQUIRE(finish_message(out, start));
    CHECK(out == scapy_association_setup_request);
}

TEST_CASE("pfcp scapy vector: Association Setup Response (what braid sends)", "[pfcp][vector]") {
    const IeList ies = body_of(scapy_association_setup_response);
    const auto node = parse_ie<NodeId>(*ies.find(IeType::node_id));
    REQUIRE(node.ok());
    CHECK(node->kind == NodeId::Kind::fqdn);
    CHECK(node->fqdn == "upf.braid.test");
    const auto features = parse_ie<UpFunctionFeatures>(*ies.find(IeType::up_function_features));
    REQUIRE(features.ok());
    CHECK(to_string(*features) == "FTUP EMPU");

    Bytes out;
    Header h;
    h.type = MessageType::association_setup_response;
    h.sequence = SequenceNumber(7);
    const size_t start = begin_message(h, out);
    Writer w(out);
    NodeId::from_fqdn("upf.braid.test").encode(w);
    CauseIe{Cause::request_accepted}.encode(w);
    RecoveryTimeStamp{0xe8d0a1b3}.encode(w);
    UpFunctionFeatures{UpFeature::ftup, UpFeature::empu}.encode(w);
    REQUIRE(w.ok());
    REQUIRE(finish_message(out, start));
    CHECK(out == scapy_association_setup_response);
}

TEST_CASE("pfcp scapy vector: Session Establishment Request decodes", "[pfcp][vector]") {
    auto m = parse_message(scapy_session_establishment_request);
    REQUIRE(m.ok());
    CHECK(m->header.seid == Seid(0));
    const IeList ies = body_of(scapy_session_establishment_request);
    CHECK_FALSE(missing_mandatory(
        ies, {IeType::node_id, IeType::f_seid, IeType::create_pdr, IeType::create_far}));
    CHECK_FALSE(check_singletons(ies, {IeType::node_id, IeType::f_seid}));
    CHECK(find_all(ies, IeType::create_far).size() == 2);

    const auto fseid = parse_ie<FSeid>(*ies.find(IeType::f_seid));
    REQUIRE(fseid.ok());
    CHECK(fseid->seid == Seid(0x1122334455667788));
    CHECK(fseid->ipv4 == ip4(198, 18, 4, 1));
    CHECK_FALSE(fseid->ipv6);

    const auto pdr_ie = *ies.find(IeType::create_pdr);
    auto pdr = pdr_ie.members();
    REQUIRE(pdr.ok());
    CHECK(parse_ie<PdrId>(*pdr->find(IeType::pdr_id))->value == 1);
    CHECK(parse_ie<Precedence>(*pdr->find(IeType::precedence))->value == 255);
    CHECK(parse_ie<FarId>(*pdr->find(IeType::far_id))->value == 1);
    CHECK(parse_ie<QerId>(*pdr->find(IeType::qer_id))->value == 1);
    CHECK(parse_ie<OuterHeaderRemoval>(*pdr->find(IeType::outer_header_removal))->description ==
          OuterHeaderRemoval::Description::gtpu_udp_ipv4);
    auto pdi = pdr->find(IeType::pdi)->members();
    REQUIRE(pdi.ok());
    CHECK(parse_ie<SourceInterface>(*pdi->find(IeType::source_interface))->value ==
          SourceInterface::Value::access);
    const auto fteid = parse_ie<FTeid>(*pdi->find(IeType::f_teid));
    REQUIRE(fteid.ok());
    CHECK(fteid->choose == FTeid::Choose{true, false, 5});
    CHECK(parse_ie<NetworkInstance>(*pdi->find(IeType::network_instance))->value == "\x08internet");
    CHECK(parse_ie<UeIpAddress>(*pdi->find(IeType::ue_ip_address))->ipv4 == ip4(198, 19, 100, 2));
    CHECK(parse_ie<SdfFilter>(*pdi->find(IeType::sdf_filter))->flow_description ==
          "permit out ip from any to assigned");

    // braid's encoder reproduces the whole Create PDR.
    Bytes out;
    Writer w(out);
    w.begin_grouped(IeType::create_pdr);
    PdrId{1}.encode(w);
    Precedence{255}.encode(w);
    w.begin_grouped(IeType::pdi);
    SourceInterface{SourceInterface::Value::access}.encode(w);
    FTeid{FTeid::Choose{true, false, 5}, {}, {}, {}}.encode(w);
    NetworkInstance{"\x08internet"}.encode(w);
    ue_ipv4(ip4(198, 19, 100, 2), false).encode(w);
    sdf_fd("permit out ip from any to assigned").encode(w);
    w.end_grouped();
    OuterHeaderRemoval{OuterHeaderRemoval::Description::gtpu_udp_ipv4, {}}.encode(w);
    FarId{1}.encode(w);
    QerId{1}.encode(w);
    w.end_grouped();
    REQUIRE(w.ok());
    CHECK(out == Bytes(pdr_ie.bytes().begin(), pdr_ie.bytes().end()));

    // FARs: Apply Action arrives as 1 octet (R15); braid re-encodes it as 2 (R16+).
    const auto fars = find_all(ies, IeType::create_far);
    auto far1 = fars[0].members();
    REQUIRE(far1.ok());
    auto fp1 = far1->find(IeType::forwarding_parameters)->members();
    REQUIRE(fp1.ok());
    CHECK(parse_ie<DestinationInterface>(*fp1->find(IeType::destination_interface))->value ==
          DestinationInterface::Value::core);
    auto far2 = fars[1].members();
    REQUIRE(far2.ok());
    const auto aa = parse_ie<ApplyAction>(*far2->find(IeType::apply_action));
    REQUIRE(aa.ok());
    CHECK(aa->flags == ApplyAction::forw);
    CHECK(encode_ie(*aa) == hex("002c 0002 02 00"));
    auto fp = far2->find(IeType::forwarding_parameters)->members();
    REQUIRE(fp.ok());
    CHECK(parse_ie<DestinationInterface>(*fp->find(IeType::destination_interface))->value ==
          DestinationInterface::Value::access);
    const auto ohc = parse_ie<OuterHeaderCreation>(*fp->find(IeType::outer_header_creation));
    REQUIRE(ohc.ok());
    CHECK(ohc->description == OuterHeaderCreation::gtpu_udp_ipv4);
    CHECK(ohc->teid == Teid(0x01020304));
    CHECK(ohc->ipv4_address == ip4(198, 18, 0, 2));
    CHECK(encode_ie(*ohc) == Bytes(fp->find(IeType::outer_header_creation)->bytes().begin(),
                                   fp->find(IeType::outer_header_creation)->bytes().end()));

    auto qer = ies.find(IeType::create_qer)->members();
    REQUIRE(qer.ok());
    CHECK(parse_ie<GateStatus>(*qer->find(IeType::gate_status)).value() ==
          GateStatus{GateStatus::Gate::open, GateStatus::Gate::open});
    CHECK(parse_ie<Mbr>(*qer->find(IeType::mbr)).value() == Mbr{1000000, 2000000});
    CHECK(parse_ie<Qfi>(*qer->find(IeType::qfi))->value == 9);
    Bytes qer_out;
    Writer wq(qer_out);
    wq.begin_grouped(IeType::create_qer);
    QerId{1}.encode(wq);
    GateStatus{}.encode(wq);
    Mbr{1000000, 2000000}.encode(wq);
    Qfi{9}.encode(wq);
    wq.end_grouped();
    REQUIRE(wq.ok());
    const auto qer_ie = *ies.find(IeType::create_qer);
    CHECK(qer_out == Bytes(qer_ie.bytes().begin(), qer_ie.bytes().end()));
}

TEST_CASE("pfcp scapy vector: Session Establishment Response (what braid sends)",
          "[pfcp][vector]") {
    const IeList ies = body_of(scapy_session_establishment_response);
    CHECK(parse_ie<CauseIe>(*ies.find(IeType::cause))->value == Cause::request_accepted);

    Bytes out;
    Header h;
    h.type = MessageType::session_establishment_response;
    h.seid = Seid(0x1122334455667788);
    h.sequence = SequenceNumber(0x102);
    h.priority = 3;
    const size_t start = begin_message(h, out);
    Writer w(out);
    NodeId::from_ipv4(ip4(198, 18, 4, 2)).encode(w);
    CauseIe{Cause::request_accepted}.encode(w);
    FSeid{Seid(1), ip4(198, 18, 4, 2), std::nullopt}.encode(w);
    w.begin_grouped(IeType::created_pdr);
    PdrId{1}.encode(w);
    FTeid{std::nullopt, Teid(0x401), ip4(198, 18, 0, 1), std::nullopt}.encode(w);
    w.end_grouped();
    REQUIRE(w.ok());
    REQUIRE(finish_message(out, start));
    CHECK(out == scapy_session_establishment_response);
}

// ================================ message helpers ===========================================

TEST_CASE("pfcp message helpers: mandatory and singleton IEs, any order", "[pfcp][message]") {
    // Cause, Node ID, Cause again, Recovery Time Stamp (order deliberately unusual).
    const Bytes body =
        hex("0013 0001 01 | 003c 0005 00 c6120401 | 0013 0001 40 | 0060 0004 e8d0a1b2");
    auto ies = IeList::parse(body);
    REQUIRE(ies.ok());
    CHECK_FALSE(missing_mandatory(*ies, {IeType::recovery_time_stamp, IeType::node_id}));
    CHECK(missing_mandatory(*ies, {IeType::node_id, IeType::f_seid, IeType::create_pdr}) ==
          IeType::f_seid);
    const auto dup = check_singletons(*ies, {IeType::node_id, IeType::cause});
    REQUIRE(dup);
    CHECK(*dup == Rejection{Cause::mandatory_ie_incorrect, IeType::cause});
    CHECK_FALSE(check_singletons(*ies, {IeType::node_id, IeType::recovery_time_stamp}));
    // find() returns the first instance (§7.6).
    CHECK(parse_ie<CauseIe>(*ies->find(IeType::cause))->value == Cause::request_accepted);
    CHECK(find_all(*ies, IeType::cause).size() == 2);
    CHECK(rejection_for(IeError::invalid_length(IeType::node_id)) ==
          Rejection{Cause::invalid_length, IeType::node_id});
}

// ================================ leaf IEs ==================================================

TEST_CASE("pfcp leaf IEs round-trip", "[pfcp][ies]") {
    check_round_trip(CauseIe{Cause::session_context_not_found});
    check_round_trip(OffendingIe{IeType::f_teid});
    check_round_trip(RecoveryTimeStamp{0x12345678});
    check_round_trip(NodeId::from_ipv4(ip4(198, 18, 4, 1)));
    check_round_trip(
        NodeId::from_ipv6({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
    check_round_trip(NodeId::from_fqdn("a.b-c.example"));
    check_round_trip(FSeid{Seid(42), std::nullopt, ip6(0x0402)});
    check_round_trip(FSeid{Seid(~0ull), ip4(198, 18, 4, 2), ip6(0x0409)});
    check_round_trip(FTeid{std::nullopt, Teid(7), ip4(198, 18, 0, 1), ip6(0x0301)});
    check_round_trip(FTeid{FTeid::Choose{true, true, std::nullopt}, {}, {}, {}});
    check_round_trip(ue_ipv4(ip4(198, 19, 100, 3), true));
    UeIpAddress v6;
    v6.ipv6 = Ipv6Address{0x20, 0x01, 0x0d, 0xb8, 0x01};  // 2001:db8:100::
    v6.ipv6_prefix_delegation_bits = 8;
    v6.choose_v4 = true;
    v6.ipv6_prefix_length = 64;
    check_round_trip(v6);
    check_round_trip(UpFunctionFeatures{UpFeature::ftup, UpFeature::papfd});
    check_round_trip(CpFunctionFeatures{CpFeature::papfd});
    check_round_trip(SourceInterface{SourceInterface::Value::vn_internal_5g});
    check_round_trip(DestinationInterface{DestinationInterface::Value::li_function});
    check_round_trip(Precedence{0xfffffffe});
    check_round_trip(PdrId{0xffff});
    check_round_trip(FarId{0x80000001});
    CHECK(is_predefined(FarId{0x80000001}));
    CHECK_FALSE(is_predefined(UrrId{1}));
    check_round_trip(QerId{3});
    check_round_trip(UrrId{4});
    check_round_trip(ApplyAction{ApplyAction::buff | ApplyAction::nocp | ApplyAction::bdpn});
    check_round_trip(ApplyAction{ApplyAction::drop | ApplyAction::dupl});
    OuterHeaderCreation ohc;
    ohc.description = OuterHeaderCreation::gtpu_udp_ipv4 | OuterHeaderCreation::gtpu_udp_ipv6 |
                      OuterHeaderCreation::c_tag | OuterHeaderCreation::n19_indication;
    ohc.teid = Teid(0xdeadbeef);
    ohc.ipv4_address = ip4(198, 18, 0, 2);
    ohc.ipv6_address = ip6(0x0302);
    ohc.c_tag_value = {1, 2, 3};
    check_round_trip(ohc);
    OuterHeaderCreation udp;
    udp.description = OuterHeaderCreation::udp_ipv4 | OuterHeaderCreation::s_tag;
    udp.ipv4_address = ip4(198, 18, 0, 3);
    udp.port = 2152;
    udp.s_tag_value = {4, 5, 6};
    check_round_trip(udp);
    check_round_trip(OuterHeaderRemoval{OuterHeaderRemoval::Description::gtpu_udp_ip,
                                        OuterHeaderRemoval::delete_pdu_session_container});
    check_round_trip(NetworkInstance{"\x08internet"});
    check_round_trip(NetworkInstance{""});
    check_round_trip(SdfFilter{"permit out 17 from 198.18.0.0/15 to assigned 53", 0x2cfc,
                               0x11223344, 0xabcde, 77});
    check_round_trip(SdfFilter{});
    check_round_trip(Qfi{63});
    check_round_trip(GateStatus{GateStatus::Gate::closed, GateStatus::Gate::open});
    check_round_trip(Mbr{Mbr::max_kbps, 0});
    check_round_trip(Gbr{1, 2});
    check_round_trip(VolumeThreshold{1, std::nullopt, ~0ull});
    check_round_trip(VolumeThreshold{});
    check_round_trip(TimeThreshold{3600});
    check_round_trip(MeasurementMethod{MeasurementMethod::durat | MeasurementMethod::volum});
    check_round_trip(ReportingTriggers{ReportingTriggers::perio | ReportingTriggers::volqu});
    check_round_trip(ReportingTriggers{ReportingTriggers::upint});
    check_round_trip(MeasurementPeriod{60});
}

TEST_CASE("pfcp leaf IE encodings match the spec layouts", "[pfcp][ies]") {
    CHECK(encode_ie(FSeid{Seid(1), ip4(198, 18, 4, 1), std::nullopt}) ==
          hex("0039 000d 02 0000000000000001 c6120401"));
    CHECK(encode_ie(FTeid{std::nullopt, Teid(0x10), ip4(198, 18, 0, 1), std::nullopt}) ==
          hex("0015 0009 01 00000010 c6120001"));
    CHECK(encode_ie(ue_ipv4(ip4(198, 19, 100, 2), true)) == hex("005d 0005 06 c6136402"));
    CHECK(encode_ie(GateStatus{GateStatus::Gate::closed, GateStatus::Gate::open}) ==
          hex("0019 0001 04"));
    CHECK(encode_ie(Gbr{0x0102030405, 1}) == hex("001b 000a 0102030405 0000000001"));
    CHECK(encode_ie(VolumeThreshold{std::nullopt, 5, std::nullopt}) ==
          hex("001f 0009 02 0000000000000005"));
    CHECK(encode_ie(ReportingTriggers{ReportingTriggers::volth | ReportingTriggers::timqu}) ==
          hex("0025 0002 02 02"));
    CHECK(encode_ie(ReportingTriggers{ReportingTriggers::reemr}) == hex("0025 0003 00 00 01"));
    CHECK(encode_ie(NodeId::from_fqdn("a.bc")) == hex("003c 0006 02 01 61 02 6263"));
    CHECK(encode_ie(OffendingIe{IeType::node_id}) == hex("0028 0002 003c"));
    CHECK(encode_ie(sdf_flow_label(0x12345)) == hex("0017 0005 08 00 012345"));
}

TEST_CASE("pfcp leaf IE length and value errors", "[pfcp][ies]") {
    using Code = IeError::Code;
    SECTION("invalid length") {
        CHECK(decode_error<CauseIe>({}).code == Code::invalid_length);
        CHECK(decode_error<OffendingIe>(hex("00")).code == Code::invalid_length);
        CHECK(decode_error<RecoveryTimeStamp>(hex("e8d0a1")).code == Code::invalid_length);
        CHECK(decode_error<NodeId>(hex("00 c61204")).code == Code::invalid_length);
        CHECK(decode_error<NodeId>(hex("01 20010db8")).code == Code::invalid_length);
        CHECK(decode_error<NodeId>(hex("02")).code == Code::invalid_length);
        CHECK(decode_error<NodeId>(hex("02 05 6162")).code == Code::invalid_length);
        CHECK(decode_error<FSeid>(hex("02 0000000000000001")).code == Code::invalid_length);
        CHECK(decode_error<FSeid>(hex("01 0000000000000001 c6120401")).code ==
              Code::invalid_length);
        CHECK(decode_error<FTeid>(hex("01 00000001 c61200")).code == Code::invalid_length);
        CHECK(decode_error<FTeid>(hex("0d")).code == Code::invalid_length);  // CHID, no id
        CHECK(decode_error<UeIpAddress>(hex("42 c6136402")).code == Code::invalid_length);
        CHECK(decode_error<UpFunctionFeatures>(hex("10")).code == Code::invalid_length);
        CHECK(decode_error<SourceInterface>({}).code == Code::invalid_length);
        CHECK(decode_error<DestinationInterface>({}).code == Code::invalid_length);
        CHECK(decode_error<Precedence>(hex("000000")).code == Code::invalid_length);
        CHECK(decode_error<PdrId>(hex("01")).code == Code::invalid_length);
        CHECK(decode_error<FarId>(hex("000001")).code == Code::invalid_length);
        CHECK(decode_error<ApplyAction>({}).code == Code::invalid_length);
        CHECK(decode_error<OuterHeaderCreation>(hex("01")).code == Code::invalid_length);
        CHECK(decode_error<OuterHeaderCreation>(hex("0100 00000001 c612")).code ==
              Code::invalid_length);
        CHECK(decode_error<OuterHeaderRemoval>({}).code == Code::invalid_length);
        CHECK(decode_error<SdfFilter>(hex("01")).code == Code::invalid_length);
        CHECK(decode_error<SdfFilter>(hex("01 00 0005 6162")).code == Code::invalid_length);
        CHECK(decode_error<SdfFilter>(hex("10 00 000001")).code == Code::invalid_length);
        CHECK(decode_error<Qfi>({}).code == Code::invalid_length);
        CHECK(decode_error<GateStatus>({}).code == Code::invalid_length);
        CHECK(decode_error<Mbr>(hex("0000000001 00000000")).code == Code::invalid_length);
        CHECK(decode_error<VolumeThreshold>(hex("03 0000000000000001")).code ==
              Code::invalid_length);
        CHECK(decode_error<VolumeThreshold>({}).code == Code::invalid_length);
        CHECK(decode_error<MeasurementMethod>({}).code == Code::invalid_length);
        CHECK(decode_error<ReportingTriggers>(hex("01")).code == Code::invalid_length);
        CHECK(decode_error<TimeThreshold>(hex("0000")).code == Code::invalid_length);
    }
    SECTION("invalid value") {
        CHECK(decode_error<CauseIe>(hex("00")).code == Code::invalid_value);
        CHECK(decode_error<NodeId>(hex("03 c6120401")).code == Code::invalid_value);
        CHECK(decode_error<NodeId>(hex("02 02 612e")).code == Code::invalid_value);  // '.'
        CHECK(decode_error<NodeId>(hex("02 40")).code == Code::invalid_value);       // len 64
        CHECK(decode_error<NodeId>(hex("02 00")).code == Code::invalid_value);       // empty
        CHECK(decode_error<NodeId>(hex("02 01 61 00 01 62")).code == Code::invalid_value);
        CHECK(decode_error<FSeid>(hex("00 0000000000000001")).code == Code::invalid_value);
        CHECK(decode_error<FTeid>(hex("00 00000001")).code == Code::invalid_value);
        CHECK(decode_error<FTeid>(hex("04")).code == Code::invalid_value);  // CH, no family
        CHECK(decode_error<FTeid>(hex("09 00000001 c6120001")).code == Code::invalid_value);
        CHECK(decode_error<UeIpAddress>(hex("41 20010db8000000000000000000000001 81")).code ==
              Code::invalid_value);
        CHECK(decode_error<SourceInterface>(hex("05")).code == Code::invalid_value);
        CHECK(decode_error<DestinationInterface>(hex("06")).code == Code::invalid_value);
        CHECK(decode_error<ApplyAction>(hex("03")).code == Code::invalid_value);     // DROP+FORW
        CHECK(decode_error<ApplyAction>(hex("10")).code == Code::invalid_value);     // DUPL only
        CHECK(decode_error<ApplyAction>(hex("0a")).code == Code::invalid_value);     // NOCP+FORW
        CHECK(decode_error<ApplyAction>(hex("02 02")).code == Code::invalid_value);  // BDPN
        CHECK(decode_error<OuterHeaderCreation>(hex("0001")).code == Code::invalid_value);
        CHECK(decode_error<OuterHeaderRemoval>(hex("09")).code == Code::invalid_value);
    }
    SECTION("parse_ie checks the IE type") {
        auto l = IeList::parse(keep(hex("0013 0001 01")));
        REQUIRE(l.ok());
        auto r = parse_ie<Precedence>(*l->begin());
        REQUIRE_FALSE(r.ok());
        CHECK(r.error() == IeError::invalid_value(IeType::cause));
    }
}

TEST_CASE("pfcp leaf IEs: lenient reading", "[pfcp][ies]") {
    // Trailing octets of an extendable IE are ignored; spare bits are not checked.
    CHECK(CauseIe::parse(hex("01 ff")).value() == CauseIe{Cause::request_accepted});
    CHECK(SourceInterface::parse(hex("f1")).value().value == SourceInterface::Value::core);
    CHECK(Qfi::parse(hex("c5")).value().value == 5);
    CHECK(ApplyAction::parse(hex("02 e0 ff")).value().flags == ApplyAction::forw);
    // Gate values 2-3 mean closed.
    CHECK(GateStatus::parse(hex("0e")).value() ==
          GateStatus{GateStatus::Gate::closed, GateStatus::Gate::closed});
    // A received FQDN root label is tolerated.
    CHECK(NodeId::parse(hex("02 01 61 00")).value() == NodeId::from_fqdn("a"));
    // Spare acceptance / rejection causes are held as received.
    CHECK(static_cast<int>(CauseIe::parse(hex("c8")).value().value) == 200);
}

TEST_CASE("pfcp leaf IE encoder rejects values it cannot carry", "[pfcp][ies]") {
    auto fails = [](const auto& ie) {
        Bytes out;
        Writer w(out);
        ie.encode(w);
        return !w.ok() && w.error()->code == WriteError::Code::unencodable_value;
    };
    CHECK(fails(CauseIe{Cause::reserved}));
    CHECK(fails(NodeId::from_fqdn("")));
    CHECK(fails(NodeId::from_fqdn("a..b")));
    CHECK(fails(NodeId::from_fqdn(std::string(64, 'x'))));
    CHECK(fails(FSeid{}));
    CHECK(fails(FTeid{}));
    CHECK(fails(FTeid{FTeid::Choose{}, {}, {}, {}}));
    CHECK(fails(Qfi{64}));
    CHECK(fails(Mbr{Mbr::max_kbps + 1, 0}));
    CHECK(fails(ApplyAction{0}));
    CHECK(fails(OuterHeaderCreation{}));
    CHECK(fails(sdf_flow_label(0x100000)));
    UeIpAddress bad_prefix;
    bad_prefix.ipv6_prefix_length = 129;
    CHECK(fails(bad_prefix));
}

TEST_CASE("pfcp recovery time stamp converts NTP eras", "[pfcp][ies]") {
    CHECK(RecoveryTimeStamp::from_unix(0).ntp_seconds == 2208988800u);
    CHECK(RecoveryTimeStamp{2208988800u}.to_unix() == 0);
    CHECK(RecoveryTimeStamp{0xe8d0a1b2}.to_unix() == int64_t{0xe8d0a1b2} - 2208988800);
    // 2036-02-07T06:28:16Z is NTP 0 of era 1.
    constexpr int64_t era1 = 4294967296 - 2208988800;
    CHECK(RecoveryTimeStamp::from_unix(era1).ntp_seconds == 0);
    CHECK(RecoveryTimeStamp{0}.to_unix() == era1);
    CHECK(RecoveryTimeStamp::from_unix(era1 + 5).to_unix() == era1 + 5);
}
