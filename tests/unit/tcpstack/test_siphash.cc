// SipHash-2-4: the vector printed in the paper's appendix, plus vectors for other lengths and a
// second key computed with an independent implementation (OpenSSL 3 `openssl mac SIPHASH`,
// whose output is the 8 result bytes little-endian, as written here).
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "tcpstack/siphash.h"

using namespace braid::tcp;

namespace {

constexpr std::array<uint8_t, 16> kPaperKey = {0, 1, 2,  3,  4,  5,  6,  7,
                                               8, 9, 10, 11, 12, 13, 14, 15};

std::vector<uint8_t> counting(size_t n) {
    std::vector<uint8_t> m(n);
    for (size_t i = 0; i < n; ++i) {
        m[i] = static_cast<uint8_t>(i);
    }
    return m;
}

// The result as OpenSSL prints it: its bytes, least significant first.
std::string le_hex(uint64_t v) {
    std::string s;
    char b[3];
    for (int i = 0; i < 8; ++i) {
        std::snprintf(b, sizeof b, "%02X", static_cast<unsigned>((v >> (8 * i)) & 0xff));
        s += b;
    }
    return s;
}

}  // namespace

TEST_CASE("siphash: paper appendix A vector (key 00..0f, message 00..0e)", "[siphash]") {
    const SipKey k = SipKey::from_bytes(kPaperKey);
    CHECK(k.k0 == 0x0706050403020100ULL);
    CHECK(k.k1 == 0x0f0e0d0c0b0a0908ULL);
    CHECK(siphash24(k, counting(15)) == 0xa129ca6149be45e5ULL);
}

TEST_CASE("siphash: lengths around the 8-byte word boundary", "[siphash]") {
    const SipKey k = SipKey::from_bytes(kPaperKey);
    // n -> openssl mac -macopt hexkey:000102030405060708090a0b0c0d0e0f -macopt size:8 SIPHASH
    const std::vector<std::pair<size_t, std::string>> vectors = {
        {0, "310E0EDD47DB6F72"},  {1, "FD67DC93C539F874"},  {7, "37D1018BF50002AB"},
        {8, "6224939A79F5F593"},  {9, "B0E4A90BDF82009E"},  {15, "E545BE4961CA29A1"},
        {16, "DB9BC2577FCC2A3F"}, {63, "724506EB4C328A95"}, {64, "D8CA02850BC4D2AC"},
    };
    for (const auto& [n, want] : vectors) {
        INFO("length " << n);
        CHECK(le_hex(siphash24(k, counting(n))) == want);
    }
}

TEST_CASE("siphash: another key and a text message", "[siphash]") {
    const std::array<uint8_t, 16> key = {0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
                                         0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00};
    const std::string msg = "braid syn cookie";
    const auto* p = reinterpret_cast<const uint8_t*>(msg.data());
    CHECK(le_hex(siphash24(SipKey::from_bytes(key), {p, msg.size()})) == "7FE0259F66888879");
}

TEST_CASE("siphash: every key and message bit matters", "[siphash]") {
    const SipKey k = SipKey::from_bytes(kPaperKey);
    const auto m = counting(15);
    const uint64_t base = siphash24(k, m);
    for (int bit = 0; bit < 64; ++bit) {
        CHECK(siphash24({k.k0 ^ (1ULL << bit), k.k1}, m) != base);
        CHECK(siphash24({k.k0, k.k1 ^ (1ULL << bit)}, m) != base);
    }
    for (size_t i = 0; i < m.size() * 8; ++i) {
        auto flipped = m;
        flipped[i / 8] ^= static_cast<uint8_t>(1u << (i % 8));
        CHECK(siphash24(k, flipped) != base);
    }
    // The length byte separates messages that differ only in trailing zeros.
    CHECK(siphash24(k, std::vector<uint8_t>(3, 0)) != siphash24(k, std::vector<uint8_t>(4, 0)));
}
