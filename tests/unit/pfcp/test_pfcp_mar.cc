// Codec tests for the Multi-Access Rule IEs (TS 29.244 §7.5.2.8, §7.5.4.16-17; spec
// n4-gtpu-mams.md §1.12) with the hex vectors of spec §1.14, round trips, and the decode errors
// a malformed MAR gets (Cause + Offending IE).
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <vector>

#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/ies_session.h"
#include "tests/unit/hex.h"

namespace {

using namespace braid::pfcp;
using braid::test::Bytes;
using braid::test::hex;

Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

template <typename T>
Bytes encode(const T& ie) {
    Bytes out;
    Writer w(out);
    ie.encode(w);
    REQUIRE(w.ok());
    return out;
}

// One IE (leaf or grouped) from a buffer holding exactly it.
template <typename T>
Result<T, Rejection> decode(const Bytes& tlv) {
    auto list = IeList::parse(tlv);
    REQUIRE(list.ok());
    auto it = list->begin();
    REQUIRE(it != list->end());
    return detail::read_ie<T>(*it);
}

// spec §1.14
const Bytes create_mar_vector =
    hex("00a5 0032 | 00aa 0002 0001 | 00ab 0001 01 | 00ac 0001 02"
        "| 00a6 000d 006c 0004 00000002 00ad 0001 3c | 00a7 000d 006c 0004 00000003 00ad 0001 28");

CreateMar load_balancing_mar() {
    CreateMar m;
    m.mar_id.value = 1;
    m.steering_functionality.value = SteeringFunctionalityValue::mptcp;
    m.steering_mode.value = SteeringModeValue::load_balancing;
    m.tgpp = TgppAccessForwarding{FarId{2}, Weight{60}, std::nullopt, {}};
    m.non_tgpp = NonTgppAccessForwarding{FarId{3}, Weight{40}, std::nullopt, {}};
    return m;
}

TEST_CASE("pfcp mar: the spec's Create MAR vector decodes and re-encodes", "[pfcp][mar][vector]") {
    auto m = decode<CreateMar>(create_mar_vector);
    REQUIRE(m.ok());
    CHECK(m->mar_id.value == 1);
    CHECK(m->steering_functionality.value == SteeringFunctionalityValue::mptcp);
    CHECK(m->steering_mode.value == SteeringModeValue::load_balancing);
    REQUIRE(m->tgpp);
    REQUIRE(m->non_tgpp);
    CHECK(m->tgpp->far_id == FarId{2});
    CHECK(m->tgpp->weight == Weight{60});
    CHECK(m->non_tgpp->far_id == FarId{3});
    CHECK(m->non_tgpp->weight == Weight{40});
    CHECK_FALSE(m->thresholds);
    CHECK(*m == load_balancing_mar());
    CHECK(encode(load_balancing_mar()) == create_mar_vector);
}

TEST_CASE("pfcp mar: Multipath Applicable Indication vector in a Create PDR", "[pfcp][mar]") {
    auto mai = decode<MultipathApplicableIndication>(hex("0109 0001 01"));
    REQUIRE(mai.ok());
    CHECK(mai->has(MultipathApplicableBits::mtai));
    CHECK(encode(*mai) == hex("0109 0001 01"));

    CreatePdr p;
    p.pdr_id.value = 3;
    p.precedence.value = 30;
    p.pdi.source_interface.value = SourceInterface::Value::core;
    p.mar_id = MarId{1};
    p.multipath_applicable = MultipathApplicableIndication{MultipathApplicableBits::mtai};
    auto back = decode<CreatePdr>(encode(p));
    REQUIRE(back.ok());
    CHECK(*back == p);
    CHECK_FALSE(back->far_id);
}

TEST_CASE("pfcp mar: round trips of every MAR IE", "[pfcp][mar]") {
    CreateMar as;
    as.mar_id.value = 7;
    as.steering_functionality.value = SteeringFunctionalityValue::atsss_ll;
    as.steering_mode.value = SteeringModeValue::active_standby;
    as.tgpp = TgppAccessForwarding{
        FarId{2}, std::nullopt, Priority{PriorityValue::active}, {UrrId{5}, UrrId{6}}};
    as.non_tgpp =
        NonTgppAccessForwarding{FarId{3}, std::nullopt, Priority{PriorityValue::standby}, {}};
    as.thresholds = Thresholds{150, 3};
    auto as_back = decode<CreateMar>(encode(as));
    REQUIRE(as_back.ok());
    CHECK(*as_back == as);

    UpdateMar u;
    u.mar_id.value = 7;
    u.steering_mode = SteeringMode{SteeringModeValue::priority_based};
    u.update_tgpp =
        UpdateTgppAccessForwarding{std::nullopt, std::nullopt, Priority{PriorityValue::high}, {}};
    u.update_non_tgpp = UpdateNonTgppAccessForwarding{
        FarId{4}, std::nullopt, Priority{PriorityValue::low}, {UrrId{9}}};
    u.steering_mode_indicator = SteeringModeIndicator{SteeringModeIndicatorBits::albi};
    auto u_back = decode<UpdateMar>(encode(u));
    REQUIRE(u_back.ok());
    CHECK(*u_back == u);

    RemoveMar r{MarId{7}};
    CHECK(encode(r) == hex("00a8 0006 00aa 0002 0007"));
    auto r_back = decode<RemoveMar>(encode(r));
    REQUIRE(r_back.ok());
    CHECK(*r_back == r);

    // Thresholds: each field present only with its flag.
    CHECK(encode(Thresholds{std::nullopt, 5}) == hex("0120 0002 02 05"));
    CHECK(encode(Thresholds{0x0102, std::nullopt}) == hex("0120 0003 01 0102"));
}

TEST_CASE("pfcp mar: malformed MARs are rejected with Cause and Offending IE", "[pfcp][mar]") {
    SECTION("missing mandatory members: 66") {
        // No Steering Mode.
        auto m = decode<CreateMar>(hex("00a5 000b | 00aa 0002 0001 | 00ab 0001 01"));
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().cause == Cause::mandatory_ie_missing);
        CHECK(m.error().offending_ie == IeType::steering_mode);
        // An AFAI without FAR ID.
        auto a = decode<CreateMar>(
            hex("00a5 0019 | 00aa 0002 0001 | 00ab 0001 01 | 00ac 0001 02 | 00a6 0005 00ad 0001 "
                "3c"));
        REQUIRE_FALSE(a.ok());
        CHECK(a.error().cause == Cause::mandatory_ie_missing);
        CHECK(a.error().offending_ie == IeType::far_id);
    }
    SECTION("a member too short: 68") {
        auto m = decode<CreateMar>(hex("00a5 000f | 00aa 0001 00 | 00ab 0001 01 | 00ac 0001 02"));
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().cause == Cause::invalid_length);
        CHECK(m.error().offending_ie == IeType::mar_id);
        auto t = decode<Thresholds>(hex("0120 0002 01 00"));  // RTT flagged, one octet
        REQUIRE_FALSE(t.ok());
        CHECK(t.error().cause == Cause::invalid_length);
    }
    SECTION("a repeated singleton member: 69") {
        auto m = decode<CreateMar>(
            hex("00a5 0015 | 00aa 0002 0001 | 00ab 0001 01 | 00ac 0001 02 | 00ac 0001 00"));
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().cause == Cause::mandatory_ie_incorrect);
        CHECK(m.error().offending_ie == IeType::steering_mode);
    }
    SECTION("spare bits of the nibble IEs are ignored; unknown members skipped") {
        auto m = decode<CreateMar>(
            hex("00a5 0016 | 00aa 0002 0001 | 00ab 0001 f1 | 00ac 0001 e2 | 7fff 0002 abcd"));
        REQUIRE(m.ok());
        CHECK(m->steering_functionality.value == 1);
        CHECK(m->steering_mode.value == 2);
    }
}

// ---- ATSSS control IEs -------------------------------------------------------------------------

TEST_CASE("pfcp atsss: the spec's vectors decode and re-encode", "[pfcp][atsss][vector]") {
    const Bytes provide = hex("00dc 000a | 00de 0001 01 | 00e0 0001 01");
    auto p = decode<ProvideAtsssControlInformation>(provide);
    REQUIRE(p.ok());
    REQUIRE(p->mptcp);
    CHECK(p->mptcp->has(0x01));  // TCI
    CHECK_FALSE(p->atsss_ll);
    REQUIRE(p->pmf);
    CHECK(p->pmf->has(0x01));  // PMFI
    CHECK(encode(*p) == provide);

    // The MPTCP Parameters of the spec's ATSSS Control Parameters vector; its PMF Parameters
    // member is skipped by braid's decoder (braid never sends one).
    const Bytes params =
        hex("00e1 0019 | 00e4 0008 01 01 1404 0a2dff01 | 00e5 0009 05 0a2e0007 0a2f0007");
    const Bytes full = hex("00dd 002e") + params + hex("00e3 000d 00e6 0009 01 0a2dff02 1770 1771");
    auto a = decode<AtsssControlParameters>(full);
    REQUIRE(a.ok());
    REQUIRE(a->mptcp);
    const MptcpParameters& m = *a->mptcp;
    CHECK(m.address.proxy_type == MptcpAddressInformation::transport_converter);
    CHECK(m.address.port == 5124);
    CHECK(m.address.ipv4 == Ipv4Address{10, 45, 255, 1});
    CHECK_FALSE(m.address.ipv6);
    CHECK(m.link.tgpp_ipv4 == Ipv4Address{10, 46, 0, 7});
    CHECK(m.link.non_tgpp_ipv4 == Ipv4Address{10, 47, 0, 7});
    CHECK_FALSE(m.link.tgpp_ipv6);
    CHECK(encode(AtsssControlParameters{m}) == hex("00dd 001d") + params);

    const Bytes both = hex("00e4 0018 03 01 1f90 7f000001 20010000000000000000000000000001");
    auto b = decode<MptcpAddressInformation>(both);
    REQUIRE(b.ok());
    CHECK(b->port == 8080);
    CHECK(b->ipv6 == Ipv6Address{0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
    CHECK(encode(*b) == both);
}

TEST_CASE("pfcp atsss: link-specific addresses in every flag combination", "[pfcp][atsss]") {
    for (int flags = 0; flags < 16; ++flags) {
        LinkSpecificMultipathIpAddress l;
        if (flags & 1) {
            l.tgpp_ipv4 = Ipv4Address{198, 19, 0, 1};
        }
        if (flags & 2) {
            l.tgpp_ipv6 = Ipv6Address{0x20, 0x01, 0x0d, 0xb8, 0, 1};
        }
        if (flags & 4) {
            l.non_tgpp_ipv4 = Ipv4Address{198, 19, 1, 1};
        }
        if (flags & 8) {
            l.non_tgpp_ipv6 = Ipv6Address{0x20, 0x01, 0x0d, 0xb8, 0, 2};
        }
        const Bytes b = encode(l);
        CHECK(b[4] == flags);
        CHECK(b.size() == size_t(5 + ((flags & 1) ? 4 : 0) + ((flags & 2) ? 16 : 0) +
                                 ((flags & 4) ? 4 : 0) + ((flags & 8) ? 16 : 0)));
        auto back = decode<LinkSpecificMultipathIpAddress>(b);
        REQUIRE(back.ok());
        CHECK(*back == l);
    }
    // Truncated: the flags promise more than the value holds.
    auto t = decode<LinkSpecificMultipathIpAddress>(hex("00e5 0004 01 c61300"));
    REQUIRE_FALSE(t.ok());
    CHECK(t.error().cause == Cause::invalid_length);
    auto u = decode<MptcpAddressInformation>(hex("00e4 0005 02 01 1404 00"));
    REQUIRE_FALSE(u.ok());
    CHECK(u.error().cause == Cause::invalid_length);
}

}  // namespace
