// mptcp/wire/options: every subtype and flag combination parsed from and emitted to its exact
// bytes (spec tcp-mptcp-convert.md §2.13 examples), round trips, and every malformed length
// rejected with its named error.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "mptcp/wire/options.h"
#include "tests/unit/hex.h"

using namespace braid::mptcp::wire;
using braid::test::Bytes;
using braid::test::hex;

namespace {

Bytes emit_bytes(const Option& o) {
    std::array<uint8_t, max_option_len> buf{};
    auto n = emit(o, buf);
    REQUIRE(n);
    REQUIRE(*n == option_len(o));
    return Bytes(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
}

// Parses `bytes`, requires alternative T, and checks that emitting it gives the same bytes.
template <class T>
T parse_exact(const Bytes& bytes) {
    ParseResult r = parse(bytes);
    INFO("error " << to_string(r.error));
    REQUIRE(r.option);
    REQUIRE(std::holds_alternative<T>(*r.option));
    CHECK(emit_bytes(*r.option) == bytes);
    return std::get<T>(*r.option);
}

ParseError parse_error(const Bytes& bytes) {
    ParseResult r = parse(bytes);
    REQUIRE_FALSE(r.option);
    CHECK(r.error < ParseError::count);
    return r.error;
}

const Bytes key_a = hex("0102030405060708");
const Bytes key_b = hex("1112131415161718");

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const Bytes& p : parts) {
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

}  // namespace

TEST_CASE("MP_CAPABLE: SYN, SYN/ACK, third ACK, data-carrying ACK with and without checksum") {
    auto syn = parse_exact<MpCapable>(hex("1e 04 01 01"));
    CHECK(syn.flags == capable_flag::hmac_sha256);
    CHECK_FALSE(syn.sender_key);
    auto syn_a = parse_exact<MpCapable>(hex("1e 04 01 81"));
    CHECK(syn_a.flags == (capable_flag::checksum | capable_flag::hmac_sha256));
    auto syn_c = parse_exact<MpCapable>(hex("1e 04 01 21"));
    CHECK(syn_c.flags == (capable_flag::no_new_subflow | capable_flag::hmac_sha256));

    auto synack = parse_exact<MpCapable>(cat({hex("1e 0c 01 01"), key_b}));
    CHECK(synack.sender_key == 0x1112131415161718ull);
    CHECK_FALSE(synack.receiver_key);

    auto ack = parse_exact<MpCapable>(cat({hex("1e 14 01 01"), key_a, key_b}));
    CHECK(ack.sender_key == 0x0102030405060708ull);
    CHECK(ack.receiver_key == 0x1112131415161718ull);
    CHECK_FALSE(ack.data_len);

    auto data = parse_exact<MpCapable>(cat({hex("1e 16 01 01"), key_a, key_b, hex("0064")}));
    CHECK(data.data_len == 100);
    CHECK_FALSE(data.checksum);

    auto data_cs =
        parse_exact<MpCapable>(cat({hex("1e 18 01 81"), key_a, key_b, hex("0064 beef")}));
    CHECK(data_cs.data_len == 100);
    CHECK(data_cs.checksum == 0xbeef);

    // Built from values: the spec §2.13 bytes.
    MpCapable v;
    v.flags = capable_flag::checksum | capable_flag::hmac_sha256;
    v.sender_key = 0x0102030405060708ull;
    v.receiver_key = 0x1112131415161718ull;
    v.data_len = 100;
    v.checksum = 0xbeef;
    CHECK(emit_bytes(v) == cat({hex("1e 18 01 81"), key_a, key_b, hex("0064 beef")}));
}

TEST_CASE("MP_CAPABLE flags: B set or no crypto bit are named, parse still succeeds") {
    CHECK(check_capable_flags(0x01) == CapableFlagsError::none);
    CHECK(check_capable_flags(0x81) == CapableFlagsError::none);
    CHECK(check_capable_flags(0x41) == CapableFlagsError::extensibility_set);
    CHECK(check_capable_flags(0x80) == CapableFlagsError::no_crypto_algorithm);
    CHECK(check_capable_flags(0x02) == CapableFlagsError::no_crypto_algorithm);
    auto b = parse_exact<MpCapable>(hex("1e 04 01 41"));
    CHECK(b.flags == 0x41);
}

TEST_CASE("MP_CAPABLE malformed: version, every wrong length, unrepresentable values") {
    CHECK(parse_error(hex("1e 04 00 01")) == ParseError::capable_bad_version);
    CHECK(parse_error(hex("1e 04 02 01")) == ParseError::capable_bad_version);
    CHECK(parse_error(cat({hex("1e 0c 00 01"), key_b})) == ParseError::capable_bad_version);
    CHECK(parse_error(hex("1e 03 01")) == ParseError::capable_bad_length);
    for (uint8_t len = 5; len <= 26; ++len) {
        if (len == 12 || len == 20 || len == 22 || len == 24) {
            continue;
        }
        Bytes b(len, 0);
        b[0] = 30, b[1] = len, b[2] = 0x01, b[3] = 0x01;
        INFO("length " << int{len});
        CHECK(parse_error(b) == ParseError::capable_bad_length);
    }
    MpCapable no_sender;
    no_sender.receiver_key = 1;
    CHECK_FALSE(option_len(no_sender));
    MpCapable dll_one_key;
    dll_one_key.sender_key = 1;
    dll_one_key.data_len = 5;
    CHECK_FALSE(option_len(dll_one_key));
    MpCapable csum_no_dll;
    csum_no_dll.sender_key = 1;
    csum_no_dll.receiver_key = 2;
    csum_no_dll.checksum = 3;
    CHECK_FALSE(option_len(csum_no_dll));
    std::array<uint8_t, max_option_len> buf{};
    CHECK_FALSE(emit(csum_no_dll, buf));
}

TEST_CASE("MP_JOIN: SYN, SYN/ACK with truncated HMAC, third ACK with 160-bit HMAC") {
    auto syn = parse_exact<MpJoinSyn>(hex("1e 0c 11 01 cd04a475 a1a2a3a4"));
    CHECK(syn == MpJoinSyn{true, 1, 0xcd04a475u, 0xa1a2a3a4u});
    auto syn0 = parse_exact<MpJoinSyn>(hex("1e 0c 10 07 cd04a475 a1a2a3a4"));
    CHECK(syn0 == MpJoinSyn{false, 7, 0xcd04a475u, 0xa1a2a3a4u});

    auto synack = parse_exact<MpJoinSynAck>(hex("1e 10 10 00 864b40428762fd06 b1b2b3b4"));
    CHECK(synack == MpJoinSynAck{false, 0, 0x864b40428762fd06ull, 0xb1b2b3b4u});
    auto synack_b = parse_exact<MpJoinSynAck>(hex("1e 10 11 02 864b40428762fd06 b1b2b3b4"));
    CHECK(synack_b.backup);
    CHECK(synack_b.address_id == 2);

    Bytes mac = hex("53037f2899475529844115fd07e665d23d3554fb");
    auto ack = parse_exact<MpJoinAck>(cat({hex("1e 18 10 00"), mac}));
    CHECK(Bytes(ack.hmac.begin(), ack.hmac.end()) == mac);

    // Reserved bits are ignored on input and written as zero.
    ParseResult rsv = parse(hex("1e 0c 1f 01 cd04a475 a1a2a3a4"));
    REQUIRE(rsv.option);
    CHECK(std::get<MpJoinSyn>(*rsv.option).backup);
    CHECK(emit_bytes(*rsv.option) == hex("1e 0c 11 01 cd04a475 a1a2a3a4"));
}

TEST_CASE("MP_JOIN malformed: every length other than 12, 16, 24") {
    for (uint8_t len = 3; len <= 30; ++len) {
        if (len == 12 || len == 16 || len == 24) {
            continue;
        }
        Bytes b(len, 0);
        b[0] = 30, b[1] = len, b[2] = 0x10;
        INFO("length " << int{len});
        CHECK(parse_error(b) == ParseError::join_bad_length);
    }
}

TEST_CASE("DSS: every combination of A a M m F with and without checksum round-trips") {
    // Flags byte 0x00..0x1f: for each, the exact length with and without checksum.
    for (uint8_t flags = 0; flags < 0x20; ++flags) {
        bool A = flags & dss_flag::data_ack, a = flags & dss_flag::data_ack8;
        bool M = flags & dss_flag::mapping, m = flags & dss_flag::dsn8;
        size_t len = 4 + (A ? (a ? 8 : 4) : 0) + (M ? (m ? 8 : 4) + 6 : 0);
        for (bool csum : {false, true}) {
            if (csum && !M) {
                continue;
            }
            Bytes b(len + (csum ? 2 : 0));
            b[0] = 30, b[1] = static_cast<uint8_t>(b.size()), b[2] = 0x20, b[3] = flags;
            for (size_t i = 4; i < b.size(); ++i) {
                b[i] = static_cast<uint8_t>(0x10 + i);
            }
            INFO("flags " << int{flags} << " checksum " << csum);
            ParseResult r = parse(b);
            REQUIRE(r.option);
            const Dss& d = std::get<Dss>(*r.option);
            CHECK(d.data_ack.has_value() == A);
            CHECK(d.mapping.has_value() == M);
            CHECK(d.data_fin == ((flags & dss_flag::data_fin) != 0));
            if (M) {
                CHECK(d.mapping->dsn8 == m);
                CHECK(d.mapping->checksum.has_value() == csum);
            }
            // 'a' / 'm' without 'A' / 'M' are meaningless: they are not written back.
            Bytes expect = b;
            if (!A) {
                expect[3] &= static_cast<uint8_t>(~dss_flag::data_ack8);
            }
            if (!M) {
                expect[3] &= static_cast<uint8_t>(~dss_flag::dsn8);
            }
            CHECK(emit_bytes(*r.option) == expect);
            ParseResult again = parse(emit_bytes(*r.option));
            REQUIRE(again.option);
            CHECK(std::get<Dss>(*again.option) == d);
        }
    }
}

TEST_CASE("DSS: spec 2.13 examples and the 32-bit forms carry the low 32 bits") {
    auto ack32 = parse_exact<Dss>(hex("1e 08 20 01 01020304"));
    CHECK(ack32.data_ack == 0x01020304u);
    CHECK_FALSE(ack32.data_ack8);
    CHECK_FALSE(ack32.mapping);

    auto full =
        parse_exact<Dss>(hex("1e 1c 20 0f 1111111111111111 2222222222222222 00000001 0004 29df"));
    CHECK(full.data_ack == 0x1111111111111111ull);
    REQUIRE(full.mapping);
    CHECK(full.mapping->dsn == 0x2222222222222222ull);
    CHECK(full.mapping->ssn == 1);
    CHECK(full.mapping->data_len == 4);
    CHECK(full.mapping->checksum == 0x29df);

    auto fin = parse_exact<Dss>(hex("1e 1a 20 1f 1111111111111111 2222222222222222 00000000 0001"));
    CHECK(fin.data_fin);
    CHECK(fin.mapping->ssn == 0);
    CHECK(fin.mapping->data_len == 1);

    Dss v;
    v.data_ack = 0xaabbccdd11223344ull;
    v.data_ack8 = false;
    v.mapping = DssMapping{0x99887766'55443322ull, false, 7, 1000, std::nullopt};
    CHECK(emit_bytes(v) == hex("1e 12 20 05 11223344 55443322 00000007 03e8"));
}

TEST_CASE("DSS malformed: lengths that match no flag set, with or without checksum") {
    // Only A (8): 9, 10 and 12 are wrong; checksum is only possible with a mapping.
    CHECK(parse_error(hex("1e 0a 20 01 01020304 0000")) == ParseError::dss_bad_length);
    CHECK(parse_error(hex("1e 03 20")) == ParseError::dss_bad_length);
    CHECK(parse_error(hex("1e 04 20 01")) == ParseError::dss_bad_length);
    CHECK(parse_error(hex("1e 0c 20 01 0102030405060708")) == ParseError::dss_bad_length);
    CHECK(parse_error(hex("1e 08 20 03 01020304")) == ParseError::dss_bad_length);
    // M without m: 14 or 16; 15 and 18 are wrong.
    for (uint8_t len : {uint8_t{13}, uint8_t{15}, uint8_t{17}, uint8_t{18}}) {
        Bytes b(len, 0);
        b[0] = 30, b[1] = len, b[2] = 0x20, b[3] = dss_flag::mapping;
        INFO("length " << int{len});
        CHECK(parse_error(b) == ParseError::dss_bad_length);
    }
    // Full form plus 2 extra bytes: 30 is beyond any DSS.
    Bytes b(30, 0);
    b[0] = 30, b[1] = 30, b[2] = 0x20, b[3] = 0x0f;
    CHECK(parse_error(b) == ParseError::dss_bad_length);
}

TEST_CASE("ADD_ADDR: IPv4/IPv6, port, echo, truncated HMAC") {
    auto v4 = parse_exact<AddAddr>(hex("1e 10 30 01 c6336402 c0e38f4d4b944417"));
    CHECK_FALSE(v4.echo);
    CHECK(v4.address_id == 1);
    CHECK_FALSE(v4.address.v6);
    CHECK(Bytes(v4.address.view().begin(), v4.address.view().end()) == hex("c6336402"));
    CHECK_FALSE(v4.port);
    CHECK(v4.truncated_hmac == 0xc0e38f4d4b944417ull);

    auto v4p = parse_exact<AddAddr>(hex("1e 12 30 01 c6336402 1f90 6a8bbf8c35b9efab"));
    CHECK(v4p.port == 8080);
    CHECK(v4p.truncated_hmac == 0x6a8bbf8c35b9efabull);

    auto echo = parse_exact<AddAddr>(hex("1e 08 31 01 c6336402"));
    CHECK(echo.echo);
    CHECK_FALSE(echo.truncated_hmac);
    auto echo_p = parse_exact<AddAddr>(hex("1e 0a 31 01 c6336402 1f90"));
    CHECK(echo_p.port == 8080);

    Bytes a6 = hex("20010db8000000000000000000000002");
    auto v6 = parse_exact<AddAddr>(cat({hex("1e 1c 30 05"), a6, hex("0102030405060708")}));
    CHECK(v6.address.v6);
    CHECK(Bytes(v6.address.view().begin(), v6.address.view().end()) == a6);
    parse_exact<AddAddr>(cat({hex("1e 1e 30 05"), a6, hex("01bb 0102030405060708")}));
    parse_exact<AddAddr>(cat({hex("1e 14 31 05"), a6}));
    auto v6ep = parse_exact<AddAddr>(cat({hex("1e 16 31 05"), a6, hex("01bb")}));
    CHECK(v6ep.port == 443);
}

TEST_CASE("ADD_ADDR malformed: wrong lengths, echo with HMAC, no echo without HMAC") {
    for (uint8_t len = 3; len <= 32; ++len) {
        if (len == 8 || len == 10 || len == 16 || len == 18 || len == 20 || len == 22 ||
            len == 28 || len == 30) {
            continue;
        }
        Bytes b(len, 0);
        b[0] = 30, b[1] = len, b[2] = 0x30;
        INFO("length " << int{len});
        CHECK(parse_error(b) == ParseError::add_addr_bad_length);
    }
    CHECK(parse_error(hex("1e 10 31 01 c6336402 c0e38f4d4b944417")) ==
          ParseError::add_addr_echo_with_hmac);
    CHECK(parse_error(hex("1e 08 30 01 c6336402")) == ParseError::add_addr_missing_hmac);
    AddAddr both;
    both.echo = true;
    both.truncated_hmac = 1;
    CHECK_FALSE(option_len(both));
    AddAddr neither;
    CHECK_FALSE(option_len(neither));
}

TEST_CASE("REMOVE_ADDR, MP_PRIO, MP_FAIL, MP_FASTCLOSE, MP_TCPRST") {
    auto rm1 = parse_exact<RemoveAddr>(hex("1e 04 40 01"));
    CHECK(Bytes(rm1.id_list().begin(), rm1.id_list().end()) == Bytes{1});
    auto rm3 = parse_exact<RemoveAddr>(hex("1e 06 40 01 07 ff"));
    CHECK(Bytes(rm3.id_list().begin(), rm3.id_list().end()) == Bytes{1, 7, 0xff});
    Bytes max(40, 9);
    max[0] = 30, max[1] = 40, max[2] = 0x40;
    CHECK(parse_exact<RemoveAddr>(max).count == max_remove_ids);

    CHECK(parse_exact<MpPrio>(hex("1e 03 51")).backup);
    CHECK_FALSE(parse_exact<MpPrio>(hex("1e 03 50")).backup);

    CHECK(parse_exact<MpFail>(hex("1e 0c 60 00 1122334455667788")).dsn == 0x1122334455667788ull);
    CHECK(parse_exact<MpFastclose>(cat({hex("1e 0c 70 00"), key_b})).receiver_key ==
          0x1112131415161718ull);

    auto rst = parse_exact<MpTcpRst>(hex("1e 04 80 01"));
    CHECK_FALSE(rst.transient);
    CHECK(rst.reason == static_cast<uint8_t>(ResetReason::mptcp_error));
    auto rst_t = parse_exact<MpTcpRst>(hex("1e 04 81 06"));
    CHECK(rst_t.transient);
    CHECK(rst_t.reason == static_cast<uint8_t>(ResetReason::middlebox_interference));
    CHECK(parse_exact<MpTcpRst>(hex("1e 04 80 c8")).reason == 0xc8);  // unnamed registry value
    // U V W MUST be 0: ignored on input, written as 0.
    ParseResult uvw = parse(hex("1e 04 8f 02"));
    REQUIRE(uvw.option);
    CHECK(emit_bytes(*uvw.option) == hex("1e 04 81 02"));
}

TEST_CASE("REMOVE_ADDR .. MP_TCPRST malformed lengths") {
    CHECK(parse_error(hex("1e 03 40")) == ParseError::remove_addr_empty);
    CHECK(parse_error(hex("1e 04 51 00")) == ParseError::prio_bad_length);
    CHECK(parse_error(hex("1e 0b 60 00 11223344556677")) == ParseError::fail_bad_length);
    CHECK(parse_error(hex("1e 0d 60 00 1122334455667788 99")) == ParseError::fail_bad_length);
    CHECK(parse_error(hex("1e 08 70 00 11223344")) == ParseError::fastclose_bad_length);
    CHECK(parse_error(hex("1e 03 80")) == ParseError::tcprst_bad_length);
    CHECK(parse_error(hex("1e 05 80 01 00")) == ParseError::tcprst_bad_length);
    RemoveAddr none;
    CHECK_FALSE(option_len(none));
}

TEST_CASE("Framing errors: truncated, not kind 30, too long, trailing bytes, unknown subtype") {
    CHECK(parse_error({}) == ParseError::truncated);
    CHECK(parse_error(hex("1e")) == ParseError::truncated);
    CHECK(parse_error(hex("1e 02")) == ParseError::truncated);
    CHECK(parse_error(hex("1e 08 20 01 0102")) == ParseError::truncated);
    CHECK(parse_error(hex("02 04 05 b4")) == ParseError::not_mptcp);
    CHECK(parse_error(hex("1e 29 20 01")) == ParseError::too_long);
    CHECK(parse_error(hex("1e ff 20 01")) == ParseError::too_long);
    CHECK(parse_error(hex("1e 04 80 01 00")) == ParseError::trailing_bytes);
    for (uint8_t s = 9; s <= 15; ++s) {
        Bytes b = {30, 4, static_cast<uint8_t>(s << 4), 0};
        INFO("subtype " << int{s});
        CHECK(parse_error(b) == ParseError::unknown_subtype);
    }
    // Every error has a distinct name and help text.
    for (uint8_t e = 0; e < static_cast<uint8_t>(ParseError::count); ++e) {
        CHECK(to_string(static_cast<ParseError>(e)) != "unknown");
        CHECK_FALSE(help(static_cast<ParseError>(e)).empty());
    }
    CHECK(to_string(ParseError::dss_bad_length) == "dss_bad_length");
}

TEST_CASE("emit refuses a buffer that is too small") {
    std::array<uint8_t, 11> small{};
    CHECK_FALSE(emit(MpFail{1}, small));
    std::array<uint8_t, 12> exact{};
    CHECK(emit(MpFail{1}, exact) == 12u);
}
