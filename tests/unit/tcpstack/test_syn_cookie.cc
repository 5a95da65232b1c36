// SYN cookies (RFC 4987 §3.6): round trip, binding to the connection and the client ISN, the
// 64 s slots (current and previous accepted), MSS table rounding, TSval option bits, forgery.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <random>
#include <set>

#include "tcpstack/syn_cookie.h"

using namespace braid::tcp;

namespace {

constexpr std::array<uint8_t, 16> kSecret = {0x42, 0x13, 0x37, 0x00, 0xde, 0xad, 0xbe, 0xef,
                                             0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
constexpr uint64_t kSlot = 64'000'000;       // 64 s in µs
constexpr uint64_t kT0 = 1000 * kSlot;       // start of some slot
constexpr uint32_t kClientIsn = 0x8badf00d;  // SEQ of the SYN

CookieTuple v4_tuple() {
    CookieTuple t{};
    t.family = 4;
    t.local = {198, 18, 0, 1};
    t.remote = {198, 18, 0, 2};
    t.local_port = 80;
    t.remote_port = 40000;
    return t;
}

CookieTuple v6_tuple() {
    CookieTuple t{};
    t.family = 6;
    t.local = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    t.remote = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    t.local_port = 443;
    t.remote_port = 51000;
    return t;
}

constexpr SynCookieOptions kOpts{1460, 7, true, true};

}  // namespace

TEST_CASE("syn cookie: RFC 4987 3.6 round trip rebuilds the MSS", "[syncookie]") {
    const SynCookies sc(kSecret);
    for (const CookieTuple& t : {v4_tuple(), v6_tuple()}) {
        const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0 + 5'000'000);
        const auto got = sc.check(t, kClientIsn, isn, kT0 + 6'000'000);
        REQUIRE(got);
        CHECK(got->mss == 1460);
        // Without the timestamp bits the rest is lost (RFC 4987 §3.6).
        CHECK(got->wscale == 15);
        CHECK_FALSE(got->sack_ok);
        CHECK_FALSE(got->ts_ok);
    }
}

TEST_CASE("syn cookie: the ISN depends on the tuple, the client ISN and the secret",
          "[syncookie]") {
    const SynCookies sc(kSecret);
    const CookieTuple t = v4_tuple();
    const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0);
    CHECK(sc.make_isn(t, kClientIsn, kOpts, kT0) == isn);  // deterministic
    CHECK(sc.make_isn(t, kClientIsn + 1, kOpts, kT0) != isn);
    std::array<uint8_t, 16> other_secret = kSecret;
    other_secret[15] ^= 1;
    CHECK(SynCookies(other_secret).make_isn(t, kClientIsn, kOpts, kT0) != isn);
    CHECK_FALSE(SynCookies(other_secret).check(t, kClientIsn, isn, kT0));
}

TEST_CASE("syn cookie: wrong tuple rejected", "[syncookie]") {
    const SynCookies sc(kSecret);
    const CookieTuple t = v4_tuple();
    const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0);
    REQUIRE(sc.check(t, kClientIsn, isn, kT0));

    CookieTuple u = t;
    u.remote_port++;
    CHECK_FALSE(sc.check(u, kClientIsn, isn, kT0));
    u = t;
    u.local_port++;
    CHECK_FALSE(sc.check(u, kClientIsn, isn, kT0));
    u = t;
    u.remote[3] = 3;
    CHECK_FALSE(sc.check(u, kClientIsn, isn, kT0));
    u = t;
    u.local[3] = 9;
    CHECK_FALSE(sc.check(u, kClientIsn, isn, kT0));
    u = t;
    std::swap(u.local, u.remote);  // the reverse direction is another connection
    std::swap(u.local_port, u.remote_port);
    CHECK_FALSE(sc.check(u, kClientIsn, isn, kT0));
    u = t;
    u.family = 6;  // same leading bytes, other family
    CHECK_FALSE(sc.check(u, kClientIsn, isn, kT0));

    // For IPv4 the unused address bytes do not take part.
    u = t;
    u.remote[10] = 0xaa;
    CHECK(sc.check(u, kClientIsn, isn, kT0));
}

TEST_CASE("syn cookie: wrong client ISN rejected", "[syncookie]") {
    const SynCookies sc(kSecret);
    const CookieTuple t = v6_tuple();
    const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0);
    CHECK(sc.check(t, kClientIsn, isn, kT0));
    CHECK_FALSE(sc.check(t, kClientIsn + 1, isn, kT0));
    CHECK_FALSE(sc.check(t, kClientIsn - 1, isn, kT0));
    CHECK_FALSE(sc.check(t, kClientIsn ^ 0x80000000u, isn, kT0));
}

TEST_CASE("syn cookie: current and previous 64 s slot accepted, older expired", "[syncookie]") {
    const SynCookies sc(kSecret);
    const CookieTuple t = v4_tuple();
    SECTION("made at the start of a slot") {
        const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0);
        CHECK(sc.check(t, kClientIsn, isn, kT0 + kSlot - 1));         // same slot, 63.99 s
        CHECK(sc.check(t, kClientIsn, isn, kT0 + 2 * kSlot - 1));     // previous slot, 127.99 s
        CHECK_FALSE(sc.check(t, kClientIsn, isn, kT0 + 2 * kSlot));   // two slots old: expired
        CHECK_FALSE(sc.check(t, kClientIsn, isn, kT0 + 32 * kSlot));  // same t mod 32: expired
        CHECK_FALSE(sc.check(t, kClientIsn, isn, kT0 + 33 * kSlot));
    }
    SECTION("made at the end of a slot, acked one second later") {
        const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0 + kSlot - 500'000);
        CHECK(sc.check(t, kClientIsn, isn, kT0 + kSlot + 500'000));
    }
    SECTION("a cookie from the future (clock went back) is not accepted") {
        const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0 + kSlot);
        CHECK_FALSE(sc.check(t, kClientIsn, isn, kT0));
    }
    SECTION("the first slots after boot") {
        const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, 0);
        CHECK(sc.check(t, kClientIsn, isn, 0));
        CHECK(sc.check(t, kClientIsn, isn, kSlot));
        CHECK_FALSE(sc.check(t, kClientIsn, isn, 2 * kSlot));
    }
}

TEST_CASE("syn cookie: every MSS rounds down to a table entry <= the peer's MSS", "[syncookie]") {
    const SynCookies sc(kSecret);
    const CookieTuple t = v4_tuple();
    // Table as documented in syn_cookie.h.
    CHECK(kCookieMssTable == std::array<uint16_t, 8>{88, 536, 1220, 1360, 1400, 1440, 1460, 8960});
    CHECK(std::is_sorted(kCookieMssTable.begin(), kCookieMssTable.end()));
    for (uint32_t mss = 88; mss <= 65535; ++mss) {
        SynCookieOptions o = kOpts;
        o.mss = static_cast<uint16_t>(mss);
        const uint32_t cisn = kClientIsn + mss;  // vary the MAC input too
        const auto got = sc.check(t, cisn, sc.make_isn(t, cisn, o, kT0), kT0 + 1);
        if (!got) {
            FAIL("cookie for mss " << mss << " rejected");
        }
        // The largest entry that does not exceed the peer's MSS.
        const auto it = std::upper_bound(kCookieMssTable.begin(), kCookieMssTable.end(), mss);
        if (got->mss != *(it - 1) || got->mss > mss) {
            FAIL("mss " << mss << " encoded as " << got->mss);
        }
    }
    // Spot checks, computed by hand.
    CHECK(kCookieMssTable[SynCookies::mss_index(1459)] == 1440);
    CHECK(kCookieMssTable[SynCookies::mss_index(1460)] == 1460);
    CHECK(kCookieMssTable[SynCookies::mss_index(1399)] == 1360);
    CHECK(kCookieMssTable[SynCookies::mss_index(9000)] == 8960);
    CHECK(kCookieMssTable[SynCookies::mss_index(535)] == 88);
    // Below Linux's TCP_MIN_MSS there is nothing smaller to encode: documented floor 88.
    CHECK(kCookieMssTable[SynCookies::mss_index(40)] == 88);
}

TEST_CASE("syn cookie: tampered bits rejected", "[syncookie]") {
    const SynCookies sc(kSecret);
    const CookieTuple t = v4_tuple();
    const uint32_t isn = sc.make_isn(t, kClientIsn, kOpts, kT0);
    SECTION("each single bit flip") {
        for (int bit = 0; bit < 32; ++bit) {
            INFO("bit " << bit);
            CHECK_FALSE(sc.check(t, kClientIsn, isn ^ (1u << bit), kT0));
        }
    }
    SECTION("10^5 random ACK numbers: none accepted") {
        // A random guess passes with probability 2/32 * 2^-24 (slot bits, then the 24-bit MAC):
        // 4e-4 expected acceptances in 10^5 tries.
        std::mt19937 rng(12345);
        int accepted = 0;
        for (int i = 0; i < 100'000; ++i) {
            const uint32_t guess = rng();
            if (guess != isn && sc.check(t, kClientIsn, guess, kT0 + 1)) {
                ++accepted;
            }
        }
        CHECK(accepted == 0);
    }
    SECTION("the MSS index is authenticated, not only masked") {
        // Any other top byte (slot bits or MSS index) with the original MAC bits fails.
        for (uint32_t top = 0; top < 256; ++top) {
            const uint32_t forged = (top << 24) | (isn & 0x00ffffff);
            if (forged != isn) {
                INFO("top byte " << top);
                CHECK_FALSE(sc.check(t, kClientIsn, forged, kT0));
            }
        }
    }
}

TEST_CASE("syn cookie: the ISN does not show the clock", "[syncookie]") {
    // The slot and MSS bits are masked per connection: over many connections made in the same
    // slot the top byte takes many values.
    const SynCookies sc(kSecret);
    std::set<uint32_t> tops;
    CookieTuple t = v4_tuple();
    for (uint16_t port = 1000; port < 1256; ++port) {
        t.remote_port = port;
        tops.insert(sc.make_isn(t, kClientIsn, kOpts, kT0) >> 24);
    }
    CHECK(tops.size() > 100);  // 256 draws from 256 values give ~162 distinct
}

TEST_CASE("syn cookie: wscale and SACK ride in TSval and come back in TSecr", "[syncookie]") {
    const SynCookies sc(kSecret);
    SECTION("round trip of every wscale with and without SACK") {
        for (uint8_t ws = 0; ws <= 15; ++ws) {
            for (bool sack : {false, true}) {
                const SynCookieOptions o{1460, ws, sack, true};
                const uint32_t now_ts = 0x12345678;
                const uint32_t ts = sc.encode_tsval(now_ts, o);
                CHECK(ts <= now_ts);
                CHECK(now_ts - ts < 32);
                const SynCookieOptions base{1440, 15, false, false};
                const SynCookieOptions got = sc.decode_tsecr(ts, base);
                CHECK(got.mss == 1440);  // from the cookie, untouched
                CHECK(got.wscale == ws);
                CHECK(got.sack_ok == sack);
                CHECK(got.ts_ok);
            }
        }
    }
    SECTION("a TSval never runs ahead of the clock, also near zero") {
        const SynCookieOptions o{1460, 14, true, true};
        for (uint32_t now_ts : {0u, 1u, 31u, 32u, 33u, 0xffffffffu}) {
            const uint32_t ts = sc.encode_tsval(now_ts, o);
            INFO("now " << now_ts << " ts " << ts);
            CHECK(uint32_t(now_ts - ts) < 32);  // at most 31 ticks in the past, modulo 2^32
            CHECK((ts & 0x1f) == (14u | 0x10u));
        }
    }
}

TEST_CASE("syn cookie: arbitrary input never crashes check()", "[syncookie]") {
    const SynCookies sc(kSecret);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20'000; ++i) {
        CookieTuple t{};
        t.family = static_cast<uint8_t>(rng());
        for (auto& b : t.local) {
            b = static_cast<uint8_t>(rng());
        }
        for (auto& b : t.remote) {
            b = static_cast<uint8_t>(rng());
        }
        t.local_port = static_cast<uint16_t>(rng());
        t.remote_port = static_cast<uint16_t>(rng());
        const auto cisn = static_cast<uint32_t>(rng());
        const uint64_t now = rng();
        const auto got = sc.check(t, cisn, static_cast<uint32_t>(rng()), now);
        CHECK_FALSE(got);
        // A genuine cookie for the same odd input still validates, also at extreme times.
        const SynCookieOptions o{static_cast<uint16_t>(rng()), 15, false, false};
        const auto ok = sc.check(t, cisn, sc.make_isn(t, cisn, o, now), now);
        REQUIRE(ok);
        CHECK(ok->mss <= std::max<uint16_t>(o.mss, 88));
    }
}
