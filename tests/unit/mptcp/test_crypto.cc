// mptcp/crypto: SHA-256/HMAC through IPsec-MB, key -> token/IDSN, MP_JOIN and ADD_ADDR HMACs,
// the DSS checksum (flat and over mbuf chains) and key generation, against the published and
// derived vectors of spec tcp-mptcp-convert.md §4.1/§4.2.
#include <rte_mbuf.h>
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "mptcp/crypto.h"
#include "tests/unit/hex.h"

using namespace braid::mptcp;
using namespace braid::mptcp::crypto;
using braid::test::Bytes;
using braid::test::hex;

namespace {

const Sha256& sha() {
    static Sha256 s;
    return s;
}

Bytes bytes_of(const Digest& d) {
    return Bytes(d.begin(), d.end());
}

uint64_t be64_ascii(std::string_view s) {
    uint64_t v = 0;
    for (char c : s.substr(0, 8)) {
        v = v << 8 | static_cast<uint8_t>(c);
    }
    return v;
}
uint32_t be32_ascii(std::string_view s) {
    uint32_t v = 0;
    for (char c : s.substr(0, 4)) {
        v = v << 8 | static_cast<uint8_t>(c);
    }
    return v;
}

}  // namespace

TEST_CASE("IPsec-MB SHA-256 and RFC 2104 HMAC-SHA256 match the standard vectors") {
    REQUIRE(sha().ok());
    std::string_view abc = "abc";
    CHECK(bytes_of(sha().hash({reinterpret_cast<const uint8_t*>(abc.data()), abc.size()})) ==
          hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    CHECK(bytes_of(sha().hash({})) ==
          hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));

    // RFC 4231 test case 1 (20-byte key) and 6 (131-byte key: hashed first).
    Bytes k1(20, 0x0b);
    std::string_view m1 = "Hi There";
    CHECK(bytes_of(sha().hmac(k1, {reinterpret_cast<const uint8_t*>(m1.data()), m1.size()})) ==
          hex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"));
    Bytes k6(131, 0xaa);
    std::string_view m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK(bytes_of(sha().hmac(k6, {reinterpret_cast<const uint8_t*>(m6.data()), m6.size()})) ==
          hex("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"));
    // A message longer than the stack buffer takes the heap path and still hashes all of it.
    Bytes long_msg(200, 0x61);
    Bytes shorter(199, 0x61);
    CHECK(sha().hmac(k1, long_msg) != sha().hmac(k1, shorter));
}

TEST_CASE("Linux crypto_test.c vectors through join_hmac (key = local||remote, msg = nonces)") {
    struct V {
        std::string_view key, msg, hmac;
    };
    const V vs[] = {
        {"0b0b0b0b0b0b0b0b", "48692054",
         "8385e24fb4235ac37556b6b886db106284a1da671699f46db1f235ec622dcafa"},
        {"aaaaaaaaaaaaaaaa", "dddddddd",
         "2c5e219164ff1dca1c4a92318d847bb6b9d44492984e1eb71aff9022f71046e9"},
        {"0102030405060708", "cdcdcdcd",
         "e73b9ba9969969cefb04aa0d6df18ec2fcc075b6f23b4d8c4da736a5dbbc6e7d"},
    };
    for (const V& v : vs) {
        Digest d = join_hmac(sha(), be64_ascii(v.key), be64_ascii(v.key.substr(8)),
                             be32_ascii(v.msg), be32_ascii(v.msg.substr(4)));
        CHECK(bytes_of(d) == hex(v.hmac));
    }
}

TEST_CASE("RFC 8684 3.1: key -> token (top 32 bits) and IDSN (low 64 bits), spec 4.2") {
    CHECK(key_material(sha(), 0x0000000000000002ull) ==
          KeyMaterial{0x2, 0xcd04a475u, 0x886540e5dce77f70ull});
    CHECK(key_material(sha(), 0x0102030405060708ull) ==
          KeyMaterial{0x0102030405060708ull, 0x66840ddau, 0xf5a101d3d29d6f72ull});
    CHECK(key_material(sha(), 0xaaaaaaaaaaaaaaaaull) ==
          KeyMaterial{0xaaaaaaaaaaaaaaaaull, 0x6893a08cu, 0xb180bbc974c9d497ull});
}

TEST_CASE("RFC 8684 3.2: MP_JOIN HMAC-A (third ACK) and HMAC-B (SYN/ACK), spec 4.2") {
    const uint64_t key_a = 0x0102030405060708ull, key_b = 0x1112131415161718ull;
    const uint32_t r_a = 0xa1a2a3a4u, r_b = 0xb1b2b3b4u;
    CHECK(bytes_of(join_hmac(sha(), key_a, key_b, r_a, r_b)) ==
          hex("53037f2899475529844115fd07e665d23d3554fb8dde7551287562b1aa8e53de"));
    CHECK(bytes_of(join_hmac(sha(), key_b, key_a, r_b, r_a)) ==
          hex("864b40428762fd06fa24bb3c5ea12c1bbf6546e7aace88911139aa8f77f90286"));
    // What rides in the options: B (the listener, braid) sends the leftmost 64 bits ...
    CHECK(join_synack_hmac(sha(), key_b, key_a, r_b, r_a) == 0x864b40428762fd06ull);
    // ... and checks A's leftmost 160 bits with the roles swapped.
    auto a = join_ack_hmac(sha(), key_a, key_b, r_a, r_b);
    CHECK(Bytes(a.begin(), a.end()) == hex("53037f2899475529844115fd07e665d23d3554fb"));
    // Swapping either pair changes the result (the order is part of the check).
    CHECK(join_synack_hmac(sha(), key_a, key_b, r_b, r_a) != 0x864b40428762fd06ull);
    CHECK(join_synack_hmac(sha(), key_b, key_a, r_a, r_b) != 0x864b40428762fd06ull);
}

TEST_CASE("RFC 8684 3.4.1: ADD_ADDR HMAC, rightmost 64 bits, port zero when absent, spec 4.2") {
    const uint64_t key_a = 0x0102030405060708ull, key_b = 0x1112131415161718ull;
    wire::IpAddress addr;
    addr.bytes[0] = 198, addr.bytes[1] = 51, addr.bytes[2] = 100, addr.bytes[3] = 2;
    CHECK(add_addr_hmac(sha(), key_a, key_b, 1, addr, std::nullopt) == 0xc0e38f4d4b944417ull);
    CHECK(add_addr_hmac(sha(), key_a, key_b, 1, addr, 8080) == 0x6a8bbf8c35b9efabull);
    // Explicit port 0 equals no port (the message is the same), the keys' order matters.
    CHECK(add_addr_hmac(sha(), key_a, key_b, 1, addr, 0) == 0xc0e38f4d4b944417ull);
    CHECK(add_addr_hmac(sha(), key_b, key_a, 1, addr, std::nullopt) != 0xc0e38f4d4b944417ull);
    // IPv6 uses all 16 bytes: changing the last one changes the HMAC.
    wire::IpAddress v6;
    v6.v6 = true;
    auto b6 = hex("20010db8000000000000000000000001");
    std::copy(b6.begin(), b6.end(), v6.bytes.begin());
    uint64_t h6 = add_addr_hmac(sha(), key_a, key_b, 2, v6, std::nullopt);
    v6.bytes[15] = 2;
    CHECK(add_addr_hmac(sha(), key_a, key_b, 2, v6, std::nullopt) != h6);
}

TEST_CASE("RFC 8684 3.3.1: DSS checksum over pseudo-header and payload, spec 4.2 vector") {
    Bytes abcd = {'a', 'b', 'c', 'd'};
    DssChecksum c(0x1122334455667788ull, 1, 4);
    c.add(abcd);
    CHECK(c.value() == 0x29df);
    CHECK(c.verify(0x29df));
    CHECK_FALSE(c.verify(0x29de));
    CHECK_FALSE(c.verify(0));

    SECTION("pieces split at odd offsets sum the same") {
        DssChecksum p(0x1122334455667788ull, 1, 4);
        p.add(std::span<const uint8_t>(abcd).subspan(0, 1));
        p.add(std::span<const uint8_t>(abcd).subspan(1, 0));
        p.add(std::span<const uint8_t>(abcd).subspan(1, 2));
        p.add(std::span<const uint8_t>(abcd).subspan(3, 1));
        CHECK(p.value() == 0x29df);
    }
    SECTION("a changed payload byte or pseudo-header field fails the check") {
        Bytes bad = {'a', 'b', 'c', 'e'};
        DssChecksum p(0x1122334455667788ull, 1, 4);
        p.add(bad);
        CHECK_FALSE(p.verify(0x29df));
        DssChecksum q(0x1122334455667789ull, 1, 4);
        q.add(abcd);
        CHECK_FALSE(q.verify(0x29df));
    }
    SECTION("odd-length payload is padded with one zero byte") {
        Bytes abc = {'a', 'b', 'c'};
        Bytes abc0 = {'a', 'b', 'c', 0};
        DssChecksum p(5, 2, 3), q(5, 2, 3);
        p.add(abc);
        q.add(abc0);
        CHECK(p.value() == q.value());
        CHECK(p.verify(p.value()));
    }
    SECTION("DATA_FIN alone: pseudo-header only") {
        DssChecksum p(0x1122334455667788ull, 0, 1);
        uint16_t v = p.value();
        CHECK(p.verify(v));
        // By hand: 1122+3344+5566+7788+0+0+1 = 0x1_1155 -> 0x1156 -> ~ = 0xeea9.
        CHECK(v == 0xeea9);
    }
}

TEST_CASE("DSS checksum over an mbuf chain equals the flat one, offsets across segments") {
    // Hand-built mbufs over static buffers: the checksum reads buf_addr/data_off/data_len/next
    // only, so no EAL or mempool is needed.
    Bytes payload(301);
    for (size_t i = 0; i < payload.size(); ++i) {
        payload[i] = static_cast<uint8_t>(i * 37 + 11);
    }
    const size_t cut[] = {0, 7, 128, 301};  // segments of 7, 121, 173 bytes
    std::array<std::array<uint8_t, 512>, 3> bufs{};
    std::array<rte_mbuf, 3> m{};
    for (size_t i = 0; i < 3; ++i) {
        std::memset(&m[i], 0, sizeof(rte_mbuf));
        m[i].buf_addr = bufs[i].data();
        m[i].buf_len = static_cast<uint16_t>(bufs[i].size());
        m[i].data_off = 64;
        m[i].data_len = static_cast<uint16_t>(cut[i + 1] - cut[i]);
        std::memcpy(bufs[i].data() + 64, payload.data() + cut[i], m[i].data_len);
        m[i].next = i < 2 ? &m[i + 1] : nullptr;
    }
    m[0].pkt_len = static_cast<uint32_t>(payload.size());
    m[0].nb_segs = 3;

    for (uint32_t off : {0u, 1u, 6u, 7u, 8u, 127u, 128u, 200u}) {
        for (uint32_t len : {0u, 1u, 2u, 3u, 100u, 173u}) {
            if (off + len > payload.size()) {
                continue;
            }
            DssChecksum flat(0xdeadbeef00000001ull, 77, static_cast<uint16_t>(len));
            flat.add(std::span<const uint8_t>(payload).subspan(off, len));
            DssChecksum chain(0xdeadbeef00000001ull, 77, static_cast<uint16_t>(len));
            REQUIRE(chain.add(&m[0], off, len));
            CHECK(chain.value() == flat.value());
        }
    }
    DssChecksum whole(1, 1, 301);
    REQUIRE(whole.add(&m[0], 0, 301));
    CHECK(whole.verify(whole.value()));

    SECTION("a range past the chain is refused and adds nothing") {
        DssChecksum c(1, 1, 2);
        uint16_t before = c.value();
        CHECK_FALSE(c.add(&m[0], 300, 2));
        CHECK_FALSE(c.add(&m[0], 302, 0));
        CHECK(c.value() == before);
        // pkt_len claims more than the segments hold: the walk catches it.
        m[0].pkt_len = 400;
        CHECK_FALSE(c.add(&m[0], 250, 100));
        CHECK(c.value() == before);
        CHECK_FALSE(c.add(nullptr, 0, 0));
    }
}

TEST_CASE("RFC 8684 3.1: key generation never yields a token in use") {
    std::vector<uint64_t> draws = {0x2, 0x0102030405060708ull, 0xaaaaaaaaaaaaaaaaull};
    size_t next = 0;
    auto rng = [&] { return draws[next++ % draws.size()]; };

    SECTION("first key's token free: taken") {
        auto k = generate_key(sha(), rng, [](uint32_t) { return false; });
        REQUIRE(k);
        CHECK(k->key == 0x2);
        CHECK(k->token == 0xcd04a475u);
        CHECK(k->idsn == 0x886540e5dce77f70ull);
    }
    SECTION("colliding tokens are skipped") {
        auto in_use = [](uint32_t t) { return t == 0xcd04a475u || t == 0x66840ddau; };
        auto k = generate_key(sha(), rng, in_use);
        REQUIRE(k);
        CHECK(k->key == 0xaaaaaaaaaaaaaaaaull);
        CHECK(k->token == 0x6893a08cu);
        CHECK(next == 3);
    }
    SECTION("every draw collides: gives up after the attempt budget") {
        auto k = generate_key(
            sha(), rng, [](uint32_t) { return true; }, 5);
        CHECK_FALSE(k);
        CHECK(next == 5);
    }
}
