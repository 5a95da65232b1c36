// mptcp/data_seq.h: 64-bit serial arithmetic and the RFC 8684 §3.3.1 extension of 32-bit DSN /
// DATA_ACK fields against a reference.
#include <catch2/catch.hpp>

#include <cstdint>

#include "mptcp/data_seq.h"

using namespace braid::mptcp;

TEST_CASE("DataSeq compares serially across the 2^64 wrap") {
    DataSeq a(0xfffffffffffffff0ull);
    DataSeq b = a + 0x20;
    CHECK(b.raw() == 0x10);
    CHECK(a < b);
    CHECK(b > a);
    CHECK(b - a == 0x20);
    CHECK(a - b == -0x20);
    CHECK(dseq_span(a, b) == 0x20);
    CHECK(dseq_span(b, a) == 0);
    CHECK(dseq_in(DataSeq(0), a, b));
    CHECK_FALSE(dseq_in(b, a, b));
    CHECK(dseq_max(a, b) == b);
    CHECK(dseq_min(a, b) == a);
    CHECK(DataSeq(7) <= DataSeq(7));
    CHECK(b.low32() == 0x10);
}

TEST_CASE("RFC 8684 3.3.1: a 32-bit value extends to the 64-bit value nearest the reference") {
    SECTION("same epoch") {
        CHECK(extend32(0x1234, DataSeq(0x500000000ull)).raw() == 0x500001234ull);
        CHECK(extend32(0x80001000u, DataSeq(0x580000000ull)).raw() == 0x580001000ull);
    }
    SECTION("just past the 2^32 boundary of the reference: next epoch") {
        DataSeq ref(0x5fffffff0ull);
        CHECK(extend32(0x10, ref).raw() == 0x600000010ull);
    }
    SECTION("just before the boundary while the reference is past it: previous epoch") {
        // An old retransmission or a reordered segment carrying a DSN from before the wrap.
        DataSeq ref(0x600000010ull);
        CHECK(extend32(0xfffffff0u, ref).raw() == 0x5fffffff0ull);
    }
    SECTION("the reference itself and its 2^31 neighbourhood") {
        DataSeq ref(0x3'0000'0000ull + 0x4000'0000ull);
        CHECK(extend32(ref.low32(), ref) == ref);
        CHECK(extend32(ref.low32() + 0x7fffffffu, ref) == ref + 0x7fffffffu);
        // 2^31 ahead is ambiguous; the rule resolves it backwards (int32 -2^31).
        CHECK(extend32(ref.low32() + 0x80000000u, ref) == ref - 0x80000000u);
    }
    SECTION("wrap of the whole 64-bit space") {
        DataSeq ref(0xffffffff'fffffff0ull);
        CHECK(extend32(0x5, ref).raw() == 0x5);
        CHECK(extend32(0x5, ref) > ref);
    }
    SECTION("64-bit forms are needed once a span reaches 2^31") {
        CHECK_FALSE(needs_dsn64(0x7fffffff));
        CHECK(needs_dsn64(0x80000000));
    }
}
