// tcpstack/seq.h and tcpstack/wire/: serial arithmetic, the options codec (every error named),
// the header view and the pseudo-header checksums.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <vector>

#include "tcpstack/seq.h"
#include "tcpstack/wire/tcp.h"

using namespace braid::tcp;
using namespace braid::tcp::wire;

TEST_CASE("RFC 1982 serial arithmetic: Seq compares across the 2^32 wrap") {
    Seq a(0xfffffff0u);
    Seq b = a + 0x20;
    CHECK(b.raw() == 0x10);
    CHECK(a < b);
    CHECK(b > a);
    CHECK(b - a == 0x20);
    CHECK(a - b == -0x20);
    CHECK(seq_span(a, b) == 0x20);
    CHECK(seq_span(b, a) == 0);
    CHECK(seq_in(Seq(0), a, b));
    CHECK_FALSE(seq_in(b, a, b));
    CHECK(seq_max(a, b) == b);
    CHECK(seq_min(a, b) == a);
    CHECK(Seq(5) <= Seq(5));
}

TEST_CASE("RFC 9293 3.2: options parse: MSS, WS, SACK-permitted, TS, SACK, MPTCP, TFO, unknown") {
    std::vector<uint8_t> b = {
        2,  4,  0x05, 0xb4,                    // MSS 1460
        1,  3,  3,    7,                       // NOP WS 7
        4,  2,                                 // SACK-P
        8,  10, 0,    0,    0, 1, 0, 0, 0, 2,  // TS 1, 2
        99, 3,  0xaa,                          // unknown kind with a length: skipped
        30, 4,  0x20, 0x01,                    // MPTCP, kept raw
        34, 6,  1,    2,    3, 4,              // TFO cookie
    };
    auto r = parse_options(b);
    REQUIRE_FALSE(r.error);
    CHECK(r.options.mss == 1460);
    CHECK(r.options.window_scale == 7);
    CHECK(r.options.sack_permitted);
    REQUIRE(r.options.timestamps);
    CHECK(r.options.timestamps->tsval == 1);
    CHECK(r.options.timestamps->tsecr == 2);
    REQUIRE(r.options.mptcp_count == 1);
    CHECK(r.options.mptcp[0].size() == 4);
    CHECK(r.options.mptcp[0][0] == 30);
    CHECK(r.options.fast_open);
    CHECK(r.options.fast_open_cookie.size() == 4);

    std::vector<uint8_t> sack = {1, 1, 5, 18, 0, 0, 0, 10, 0, 0, 0, 20, 0, 0, 0, 30, 0, 0, 0, 40};
    auto s = parse_options(sack);
    REQUIRE_FALSE(s.error);
    REQUIRE(s.options.sack_count == 2);
    CHECK(s.options.sack[1] == SackBlock{Seq(30), Seq(40)});
}

TEST_CASE("RFC 9293 3.1: EOL ends the option list") {
    std::vector<uint8_t> b = {0, 2, 0};  // EOL then garbage
    auto r = parse_options(b);
    CHECK_FALSE(r.error);
    CHECK_FALSE(r.options.mss);
}

TEST_CASE("RFC 9293 3.2: malformed options give a named error") {
    struct Case {
        std::vector<uint8_t> bytes;
        WireError error;
    };
    std::vector<Case> cases = {
        {{2}, WireError::option_truncated},
        {{2, 0}, WireError::option_bad_length},
        {{2, 1}, WireError::option_bad_length},
        {{99, 10, 0}, WireError::option_bad_length},  // runs past the header
        {{2, 3, 0}, WireError::bad_mss_length},
        {{3, 4, 0, 0}, WireError::bad_window_scale_length},
        {{4, 3, 0}, WireError::bad_sack_permitted_length},
        {{5, 2}, WireError::bad_sack_length},
        {{5, 9, 0, 0, 0, 0, 0, 0, 0}, WireError::bad_sack_length},
        {{8, 8, 0, 0, 0, 0, 0, 0}, WireError::bad_timestamps_length},
        {{34, 4, 0, 0}, WireError::bad_fast_open_length},
    };
    for (const auto& c : cases) {
        auto r = parse_options(c.bytes);
        REQUIRE(r.error);
        CHECK(*r.error == c.error);
        CHECK(to_string(*r.error) != "unknown");
    }
}

TEST_CASE("RFC 7323 2.3: window scale above 14 is parsed as sent (the engine clamps)") {
    std::vector<uint8_t> b = {3, 3, 20};
    auto r = parse_options(b);
    CHECK(r.options.window_scale == 20);
}

TEST_CASE("Options emit: canonical SYN layout is 20 bytes and round-trips") {
    Options o;
    o.mss = 1400;
    o.window_scale = 7;
    o.sack_permitted = true;
    o.timestamps = Timestamps{123, 456};
    std::array<uint8_t, max_options_len> buf{};
    auto n = emit_options(o, buf);
    REQUIRE(n == 20);
    CHECK(options_len(o) == 20);
    auto r = parse_options(std::span(buf.data(), *n));
    REQUIRE_FALSE(r.error);
    CHECK(r.options.mss == 1400);
    CHECK(r.options.window_scale == 7);
    CHECK(r.options.sack_permitted);
    CHECK(r.options.timestamps == o.timestamps);
}

TEST_CASE("RFC 2018 3: with timestamps at most 3 SACK blocks fit, the first ones are kept") {
    Options o;
    o.timestamps = Timestamps{1, 2};
    o.sack_count = 4;
    for (uint32_t i = 0; i < 4; ++i) {
        o.sack[i] = {Seq(100 * i), Seq(100 * i + 50)};
    }
    std::array<uint8_t, max_options_len> buf{};
    auto n = emit_options(o, buf);
    REQUIRE(n);
    CHECK(*n <= 40);
    CHECK(*n % 4 == 0);
    auto r = parse_options(std::span(buf.data(), *n));
    REQUIRE_FALSE(r.error);
    REQUIRE(r.options.sack_count == 3);
    CHECK(r.options.sack[0] == o.sack[0]);
    CHECK(r.options.sack[2] == o.sack[2]);
    o.timestamps.reset();
    n = emit_options(o, buf);
    r = parse_options(std::span(buf.data(), *n));
    CHECK(r.options.sack_count == 4);
}

TEST_CASE("Options emit: MPTCP raw options are written back, too much is refused") {
    std::array<uint8_t, 20> mp{};
    mp[0] = 30;
    mp[1] = 20;
    Options o;
    o.timestamps = Timestamps{1, 2};
    o.mptcp_count = 1;
    o.mptcp[0] = mp;
    std::array<uint8_t, max_options_len> buf{};
    auto n = emit_options(o, buf);
    REQUIRE(n == 32);
    auto r = parse_options(std::span(buf.data(), *n));
    REQUIRE(r.options.mptcp_count == 1);
    CHECK(r.options.mptcp[0].size() == 20);
    o.mptcp_count = 2;
    o.mptcp[1] = mp;
    CHECK_FALSE(emit_options(o, buf));
}

TEST_CASE("RFC 9293 3.1: header view checks the data offset") {
    std::array<uint8_t, 24> b{};
    b[12] = 0x40;  // 4 words
    CHECK(parse_segment(b).error == WireError::bad_data_offset);
    b[12] = 0x70;  // 28 bytes > 24
    CHECK(parse_segment(b).error == WireError::truncated_header);
    CHECK(parse_segment(std::span(b.data(), 19)).error == WireError::truncated_header);
    b[12] = 0x60;
    auto r = parse_segment(b);
    REQUIRE(r.segment);
    CHECK(r.segment->options.size() == 4);
    CHECK(r.segment->payload.empty());
}

TEST_CASE("Header emit/parse round trip with options and payload") {
    Header h;
    h.src_port = 80;
    h.dst_port = 40000;
    h.seq = Seq(0xdeadbeef);
    h.ack = Seq(42);
    h.flags = flag::syn | flag::ack;
    h.window = 1234;
    Options o;
    o.mss = 1460;
    std::array<uint8_t, 64> buf{};
    auto n = emit_header(h, o, buf);
    REQUIRE(n == 24);
    auto r = parse_segment(std::span(buf.data(), 30));
    REQUIRE(r.segment);
    const Header& p = r.segment->header;
    CHECK(p.src_port == 80);
    CHECK(p.dst_port == 40000);
    CHECK(p.seq == h.seq);
    CHECK(p.ack == h.ack);
    CHECK(p.flags == h.flags);
    CHECK(p.window == 1234);
    CHECK(r.segment->payload.size() == 6);
    CHECK(parse_options(r.segment->options).options.mss == 1460);
}

TEST_CASE("RFC 9293 3.1: IPv4 pseudo-header checksum, known vector and verification") {
    // SYN 198.18.0.2:40000 -> 198.18.0.1:80, seq 1, no options. Expected value from an
    // independent one's-complement sum (Python) over the words pseudo: c612 0002 c612 0001 0006
    // 0014; header: 9c40 0050 0000 0001 0000 0000 5002 ffff 0000 0000.
    std::array<uint8_t, 4> src = {198, 18, 0, 2};
    std::array<uint8_t, 4> dst = {198, 18, 0, 1};
    std::array<uint8_t, 20> seg = {0x9c, 0x40, 0x00, 0x50, 0,    0,    0, 1, 0, 0,
                                   0,    0,    0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0};
    uint16_t c = checksum_ipv4(src, dst, seg);
    CHECK(c == 0x8729);
    seg[16] = static_cast<uint8_t>(c >> 8);
    seg[17] = static_cast<uint8_t>(c);
    CHECK(checksum_ipv4(src, dst, seg) == 0);
    seg[5] ^= 1;
    CHECK(checksum_ipv4(src, dst, seg) != 0);
}

TEST_CASE("RFC 8200 8.1: IPv6 pseudo-header checksum verifies what it produced, odd length") {
    std::array<uint8_t, 16> src{0x20, 0x01, 0x0d, 0xb8};
    std::array<uint8_t, 16> dst{0x20, 0x01, 0x0d, 0xb8};
    src[15] = 2;
    dst[15] = 1;
    std::vector<uint8_t> seg(21, 0);
    seg[12] = 0x50;
    seg[20] = 0x7f;  // one payload byte
    uint16_t c = checksum_ipv6(src, dst, seg);
    seg[16] = static_cast<uint8_t>(c >> 8);
    seg[17] = static_cast<uint8_t>(c);
    CHECK(checksum_ipv6(src, dst, seg) == 0);
    dst[15] = 3;
    CHECK(checksum_ipv6(src, dst, seg) != 0);
}
