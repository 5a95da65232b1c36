// mptcp/convert/wire: the RFC 8803 Convert codec against the byte vectors of spec
// tcp-mptcp-convert.md §1.12 (parsed and emitted byte for byte), hand-built messages, the mbuf
// chain helper, and every malformed form with its named error and the answer it calls for.
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <vector>

#include "mptcp/convert/wire.h"
#include "tests/unit/hex.h"

using namespace braid::mptcp::convert::wire;
using braid::test::Bytes;
using braid::test::hex;

namespace {

Message parse_complete(const Bytes& b) {
    Message m;
    ParseResult r = parse(b, m);
    INFO("error " << to_string(r.error));
    REQUIRE(r.status == Status::complete);
    CHECK(r.length == b[1] * 4u);
    return m;
}

Bytes emit_bytes(const Message& m) {
    std::array<uint8_t, max_message_len> buf{};
    auto n = emit(m, buf);
    REQUIRE(n);
    return Bytes(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
}

ParseError parse_error(const Bytes& b) {
    Message m;
    ParseResult r = parse(b, m);
    REQUIRE(r.status == Status::failed);
    return r.error;
}

template <class F>
Bytes build(F&& f) {
    std::array<uint8_t, max_message_len> buf{};
    auto n = f(std::span<uint8_t>(buf));
    REQUIRE(n);
    return Bytes(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(*n));
}

const Bytes base_connect =
    hex("01 06 22 63  0a 05 01 bb  00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01");
const Bytes ext_connect =
    hex("01 07 22 63  0a 06 00 50  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01  22 02 1e 02");

}  // namespace

TEST_CASE("convert wire: Base Connect to 192.0.2.1:443 (spec §1.12)") {
    Message m = parse_complete(base_connect);
    REQUIRE(m.connect);
    CHECK(m.connect->port == 443);
    CHECK(m.connect->address.is_v4());
    CHECK(m.connect->address.v4_host() == 0xc0000201u);
    CHECK(m.connect->address == Address::v4(0xc0000201u));
    CHECK_FALSE(m.connect->extended());
    CHECK_FALSE(m.info);
    CHECK(emit_bytes(m) == base_connect);
}

TEST_CASE("convert wire: Extended Connect to [2001:db8::1]:80 with TFO and MPTCP (spec §1.12)") {
    Message m = parse_complete(ext_connect);
    REQUIRE(m.connect);
    CHECK(m.connect->port == 80);
    CHECK_FALSE(m.connect->address.is_v4());
    CHECK(m.connect->address.bytes[0] == 0x20);
    CHECK(m.connect->address.bytes[15] == 0x01);
    REQUIRE(m.connect->extended());
    std::vector<uint8_t> kinds;
    m.connect->for_each_option([&](ConnectOption o) {
        kinds.push_back(o.kind);
        CHECK(o.value.empty());
    });
    CHECK(kinds == std::vector<uint8_t>{34, 30});
    CHECK(emit_bytes(m) == ext_connect);
}

TEST_CASE("convert wire: converter replies emitted byte for byte (spec §1.12)") {
    SECTION("Info and Supported TCP Extensions {30,4,8,34}") {
        Message info = parse_complete(hex("01 02 22 63  01 01 00 00"));
        CHECK(info.info);
        CHECK(emit_bytes(info) == hex("01 02 22 63  01 01 00 00"));
        const uint8_t kinds[] = {30, 4, 8, 34};
        Bytes sup = build(
            [&](std::span<uint8_t> o) { return Builder(o).supported_extensions(kinds).finish(); });
        CHECK(sup == hex("01 03 22 63  15 02 00 00  1e 04 08 22"));
        Message back = parse_complete(sup);
        REQUIRE(back.supported_extensions);
        CHECK(Bytes(back.supported_extensions->view().begin(),
                    back.supported_extensions->view().end()) == Bytes{30, 4, 8, 34});
    }
    SECTION("empty reply: header alone") {
        Bytes empty = build([](std::span<uint8_t> o) { return Builder(o).finish(); });
        CHECK(empty == hex("01 01 22 63"));
        Message m = parse_complete(empty);
        CHECK(m == Message{});
    }
    SECTION("Cookie TLV with an 8-byte cookie") {
        Bytes c = hex("01 04 22 63  16 03 00 00  c0 c1 c2 c3 c4 c5 c6 c7");
        Message m = parse_complete(c);
        REQUIRE(m.cookie);
        CHECK(m.cookie->size == 8);
        CHECK(emit_bytes(m) == c);
    }
    SECTION("Error TLVs") {
        CHECK(build([](auto o) { return emit_error(ErrorCode::connection_reset, 0, o); }) ==
              hex("01 02 22 63  1e 01 60 00"));
        CHECK(build([](auto o) { return emit_error(ErrorCode::not_authorized, 0, o); }) ==
              hex("01 02 22 63  1e 01 20 00"));
        CHECK(build([](auto o) { return emit_error(ErrorCode::destination_unreachable, 3, o); }) ==
              hex("01 02 22 63  1e 01 61 03"));
        CHECK(build([](auto o) { return emit_error(ErrorCode::unsupported_version, 1, o); }) ==
              hex("01 02 22 63  1e 01 00 01"));
        const uint8_t ao[] = {29};
        CHECK(build([&](auto o) { return emit_unsupported_options(ao, o); }) ==
              hex("01 02 22 63  1e 01 21 1d"));
        Bytes missing = hex("01 04 22 63  1e 03 03 00  c0 c1 c2 c3 c4 c5 c6 c7");
        Message m = parse_complete(missing);
        REQUIRE(m.error);
        CHECK(m.error->code == static_cast<uint8_t>(ErrorCode::missing_cookie));
        CHECK(m.error->value.size == 9);
        CHECK(emit_bytes(m) == missing);
        const uint8_t two[] = {29, 42};
        CHECK(build([&](auto o) { return emit_unsupported_options(two, o); }) ==
              hex("01 03 22 63  1e 02 21 1d 2a 00 00 00"));
    }
    SECTION("Extended TCP Header with the server's SYN+ACK options") {
        const Bytes opts = hex("02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 02 01 03 03 07");
        Bytes e = build([&](auto o) { return Builder(o).extended_tcp_header(opts).finish(); });
        CHECK(e == hex("01 07 22 63  14 06 00 00  02 04 05 b4 04 02 08 0a 00 00 00 01 00 00 00 02 "
                       "01 03 03 07"));
        Message m = parse_complete(e);
        REQUIRE(m.extended_tcp_header);
        CHECK(Bytes(m.extended_tcp_header->view().begin(), m.extended_tcp_header->view().end()) ==
              opts);
        // Options that are not a whole number of words are zero-padded.
        const Bytes odd = hex("02 04 05 b4 01 03 03 07 04 02");
        CHECK(build([&](auto o) { return Builder(o).extended_tcp_header(odd).finish(); }) ==
              hex("01 05 22 63  14 04 00 00  02 04 05 b4 01 03 03 07 04 02 00 00"));
    }
}

TEST_CASE("convert wire: Malformed / Unsupported Message echo the received message (Fig. 23)") {
    Bytes dup = hex("01 03 22 63  01 01 00 00  01 01 00 00");
    Bytes e = build([&](auto o) { return emit_error_echo(ErrorCode::malformed_message, dup, o); });
    CHECK(e == hex("01 05 22 63  1e 04 01 00  01 03 22 63 01 01 00 00 01 01 00 00"));
    Message m = parse_complete(e);
    REQUIRE(m.error);
    CHECK(m.error->code == 1);
    // A received message too long to echo whole is cut on a word so that the reply fits.
    Bytes big(max_message_len, 0xab);
    Bytes cut =
        build([&](auto o) { return emit_error_echo(ErrorCode::unsupported_message, big, o); });
    CHECK(cut.size() == max_message_len);
    CHECK(cut[1] == 255);
    CHECK(cut[7] == 0);
    CHECK(cut.back() == 0xab);
    // A cut-off message (not whole words) is echoed zero-padded.
    Bytes partial = hex("01 05 22 63 0a");
    CHECK(build([&](auto o) {
              return emit_error_echo(ErrorCode::malformed_message, partial, o);
          }) == hex("01 04 22 63  1e 03 01 00  01 05 22 63 0a 00 00 00"));
}

TEST_CASE("convert wire: hand-built messages; user data after the message; TLV order") {
    Connect c;
    c.port = 8080;
    c.address = Address::v4(0xc6120005u);  // 198.18.0.5
    const uint8_t cookie[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const uint8_t ts_value[] = {0, 0, 0, 0, 0, 0, 0, 0};
    REQUIRE(c.add_option(4));
    REQUIRE(c.add_option(8, ts_value));
    REQUIRE(c.add_option(34, cookie));
    Bytes msg = build([&](auto o) { return Builder(o).info().connect(c).finish(); });
    CHECK(msg == hex("01 0d 22 63  01 01 00 00  0a 0b 1f 90  00 00 00 00 00 00 00 00 00 00 ff ff "
                     "c6 12 00 05  04 02 08 0a 00 00 00 00 00 00 00 00 22 0a 01 02 03 04 05 06 "
                     "07 08 00 00"));
    // User data follows the TLVs: the message is 4 * Total Length bytes.
    Bytes stream = msg;
    stream.insert(stream.end(), {'G', 'E', 'T', ' '});
    Message m;
    ParseResult r = parse(stream, m);
    REQUIRE(r.status == Status::complete);
    CHECK(r.length == msg.size());
    CHECK(m.info);
    REQUIRE(m.connect);
    CHECK(*m.connect == c);
    // Connect before Info parses too; emit writes type order.
    Bytes swapped =
        hex("01 07 22 63  0a 05 01 bb  00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
            "01 01 00 00");
    Message s = parse_complete(swapped);
    CHECK(s.info);
    CHECK(emit_bytes(s) == hex("01 07 22 63  01 01 00 00  0a 05 01 bb  00 00 00 00 00 00 00 00 00 "
                               "00 ff ff c0 00 02 01"));
}

TEST_CASE("convert wire: Connect option list: NOPs ignored, padding stops the list") {
    // NOP, SACK-permitted, then padding.
    Bytes b =
        hex("01 07 22 63  0a 06 00 50  20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01 "
            "01 04 02 00");
    Message m = parse_complete(b);
    REQUIRE(m.connect);
    std::vector<uint8_t> kinds;
    m.connect->for_each_option([&](ConnectOption o) { kinds.push_back(o.kind); });
    CHECK(kinds == std::vector<uint8_t>{4});
    // Canonical: the NOP is gone on emit.
    CHECK(emit_bytes(m) == hex("01 07 22 63  0a 06 00 50  20 01 0d b8 00 00 00 00 00 00 00 00 00 "
                               "00 00 01 04 02 00 00"));
    // Length 6 with only padding is a Base Connect.
    Message p =
        parse_complete(hex("01 07 22 63  0a 06 00 50  20 01 0d b8 00 00 00 00 00 00 00 00 "
                           "00 00 00 01 00 00 00 00"));
    CHECK_FALSE(p.connect->extended());
}

TEST_CASE("convert wire: prefixes need more bytes; the magic is checked first") {
    Message m;
    CHECK(parse(Bytes{}, m).status == Status::need_more);
    CHECK(parse(hex("01"), m).status == Status::need_more);
    CHECK(parse(hex("01 06"), m).status == Status::need_more);
    CHECK(parse(hex("01 06 22"), m).status == Status::need_more);
    ParseResult r = parse(Bytes(base_connect.begin(), base_connect.begin() + 10), m);
    CHECK(r.status == Status::need_more);
    CHECK(r.length == 24);
    // Three bytes whose third is not the magic's are not Convert.
    CHECK(parse(hex("47 45 54"), m).error == ParseError::not_convert);
}

TEST_CASE("convert wire: every malformed form has its named error and answer (spec §1.6)") {
    struct Case {
        const char* name;
        Bytes bytes;
        ParseError error;
        Action act;
        ErrorCode code;
    };
    const Case cases[] = {
        {"HTTP request, not Convert", hex("47 45 54 20 2f"), ParseError::not_convert,
         Action::ignore, ErrorCode::malformed_message},
        {"wrong magic second byte", hex("01 01 22 64"), ParseError::not_convert, Action::ignore,
         ErrorCode::malformed_message},
        {"version 0", hex("00 01 22 63"), ParseError::bad_version, Action::reply,
         ErrorCode::unsupported_version},
        {"version 2", hex("02 02 22 63 01 01 00 00"), ParseError::bad_version, Action::reply,
         ErrorCode::unsupported_version},
        {"Total Length 0", hex("01 00 22 63"), ParseError::zero_total_length, Action::reset,
         ErrorCode::malformed_message},
        {"TLV Length 0", hex("01 02 22 63 01 00 00 00"), ParseError::tlv_zero_length, Action::reply,
         ErrorCode::malformed_message},
        {"TLV past Total Length", hex("01 02 22 63 0a 05 01 bb 00 00 00 00"),
         ParseError::tlv_overrun, Action::reply, ErrorCode::malformed_message},
        {"type 0", hex("01 02 22 63 00 01 00 00"), ParseError::reserved_type, Action::reply,
         ErrorCode::unsupported_message},
        {"unknown type 2", hex("01 02 22 63 02 01 00 00"), ParseError::unknown_type, Action::reply,
         ErrorCode::unsupported_message},
        {"private type 200", hex("01 02 22 63 c8 01 00 00"), ParseError::unknown_type,
         Action::reply, ErrorCode::unsupported_message},
        {"duplicate Info", hex("01 03 22 63 01 01 00 00 01 01 00 00"), ParseError::duplicate_type,
         Action::reply, ErrorCode::malformed_message},
        {"duplicate Connect",
         hex("01 0b 22 63  0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
             "0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01"),
         ParseError::duplicate_type, Action::reply, ErrorCode::malformed_message},
        {"Info Length 2", hex("01 03 22 63 01 02 00 00 00 00 00 00"), ParseError::info_bad_length,
         Action::reply, ErrorCode::malformed_message},
        {"Connect Length 4", hex("01 05 22 63 0a 04 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff"),
         ParseError::connect_too_short, Action::reply, ErrorCode::malformed_message},
        {"Connect to 127.0.0.1",
         hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff 7f 00 00 01"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect to 224.0.0.1",
         hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff e0 00 00 01"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect to 255.255.255.255",
         hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff ff ff ff ff"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect to 0.0.0.0",
         hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff 00 00 00 00"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect to ::1",
         hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect to ::",
         hex("01 06 22 63 0a 05 01 bb 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect to ff02::1",
         hex("01 06 22 63 0a 05 01 bb ff 02 00 00 00 00 00 00 00 00 00 00 00 00 00 01"),
         ParseError::connect_bad_address, Action::reply, ErrorCode::malformed_message},
        {"Connect option Length 1",
         hex("01 07 22 63 0a 06 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
             "04 01 00 00"),
         ParseError::connect_bad_option, Action::reply, ErrorCode::malformed_message},
        {"Connect option past the TLV",
         hex("01 07 22 63 0a 06 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
             "22 06 01 02"),
         ParseError::connect_bad_option, Action::reply, ErrorCode::malformed_message},
        {"Connect option kind in the last byte",
         hex("01 07 22 63 0a 06 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
             "04 02 01 08"),
         ParseError::connect_bad_option, Action::reply, ErrorCode::malformed_message},
        {"Connect non-zero padding",
         hex("01 07 22 63 0a 06 01 bb 00 00 00 00 00 00 00 00 00 00 ff ff c0 00 02 01 "
             "04 02 00 08"),
         ParseError::connect_bad_padding, Action::reply, ErrorCode::malformed_message},
        {"Supported Extensions non-zero padding", hex("01 03 22 63 15 02 00 00 1e 00 08 00"),
         ParseError::supported_bad_padding, Action::reply, ErrorCode::malformed_message},
    };
    for (const Case& c : cases) {
        INFO(c.name);
        ParseError e = parse_error(c.bytes);
        CHECK(to_string(e) == to_string(c.error));
        CHECK(action(e) == c.act);
        if (c.act == Action::reply) {
            CHECK(error_code(e) == c.code);
        }
        CHECK_FALSE(help(e).empty());
    }
}

TEST_CASE("convert wire: builders refuse what cannot be represented") {
    std::array<uint8_t, max_message_len> buf{};
    // Kind 0 cannot be listed (it is the padding).
    const uint8_t zero[] = {30, 0};
    CHECK_FALSE(Builder(buf).supported_extensions(zero).finish());
    // More than 1020 bytes.
    Bytes cookie(max_message_len, 1);
    CHECK_FALSE(Builder(buf).cookie(cookie).finish());
    // An output buffer too small.
    std::array<uint8_t, 7> small{};
    CHECK_FALSE(Builder(small).info().finish());
    CHECK(Builder(std::span<uint8_t>(small).first(4)).finish() == 4u);
    std::array<uint8_t, 3> tiny{};
    CHECK_FALSE(Builder(tiny).finish());
    // The biggest message: 1020 bytes.
    Bytes c2(max_message_len - 8, 1);
    CHECK(Builder(buf).cookie(c2).finish() == max_message_len);
}

TEST_CASE("convert wire: parse over an mbuf chain split inside a TLV") {
    // Three segments: 5 bytes of TCP-ish prefix + 7 message bytes, 9 more, the rest.
    Bytes stream = Bytes{9, 9, 9, 9, 9};
    stream.insert(stream.end(), ext_connect.begin(), ext_connect.end());
    stream.insert(stream.end(), {'x', 'y'});
    std::array<uint8_t, 64> b0{}, b1{}, b2{};
    std::array<rte_mbuf, 3> segs{};
    const size_t cuts[] = {12, 9, stream.size() - 21};
    std::array<uint8_t*, 3> bufs = {b0.data(), b1.data(), b2.data()};
    size_t at = 0;
    for (size_t i = 0; i < 3; ++i) {
        std::copy(stream.begin() + static_cast<ptrdiff_t>(at),
                  stream.begin() + static_cast<ptrdiff_t>(at + cuts[i]), bufs[i]);
        segs[i].buf_addr = bufs[i];
        segs[i].data_off = 0;
        segs[i].data_len = static_cast<uint16_t>(cuts[i]);
        segs[i].next = i < 2 ? &segs[i + 1] : nullptr;
        at += cuts[i];
    }
    segs[0].pkt_len = static_cast<uint32_t>(stream.size());
    Message m;
    std::array<uint8_t, max_message_len> scratch{};
    size_t copied = 0;
    ParseResult r =
        parse(&segs[0], 5, static_cast<uint32_t>(stream.size() - 5), m, scratch, copied);
    REQUIRE(r.status == Status::complete);
    CHECK(r.length == ext_connect.size());
    CHECK(copied == stream.size() - 5);
    REQUIRE(m.connect);
    CHECK(m.connect->port == 80);
    // A chain shorter than the message: need more.
    r = parse(&segs[0], 5, 15, m, scratch, copied);
    CHECK(r.status == Status::need_more);
    CHECK(copied == 15);
}
