// mptcp/receiver and mptcp/sender: the connection-level data path over N subflows, scripted
// (RFC 8684 §3.3): mappings, reassembly across subflows, duplicates, the shared window,
// DATA_FIN, checksums, 32-bit wrap, reinjection on another subflow, DATA_ACK processing.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mptcp/crypto.h"
#include "mptcp/receiver.h"
#include "mptcp/sender.h"

using namespace braid::mptcp;
using wire::DssMapping;

namespace {

std::span<const uint8_t> B(std::string_view s) {
    return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string read_all(Receiver& r) {
    std::string out(r.readable(), '\0');
    size_t n = r.read({reinterpret_cast<uint8_t*>(out.data()), out.size()});
    out.resize(n);
    return out;
}

DssMapping map64(DataSeq dsn, uint32_t ssn, uint16_t len) {
    return DssMapping{dsn.raw(), true, ssn, len, std::nullopt};
}

DssMapping map32(DataSeq dsn, uint32_t ssn, uint16_t len) {
    return DssMapping{dsn.low32(), false, ssn, len, std::nullopt};
}

DssMapping map_csum(DataSeq dsn, uint32_t ssn, uint16_t len, std::string_view payload) {
    crypto::DssChecksum c(dsn.raw(), ssn, len);
    c.add(B(payload));
    return DssMapping{dsn.raw(), true, ssn, len, c.value()};
}

const DataSeq D0(0x1122334455660001ull);  // peer IDSN + 1

}  // namespace

TEST_CASE("Receiver: two subflows in order, then out of order across subflows") {
    Counters c;
    Receiver r(D0, 1000, false, c);
    SECTION("in order") {
        REQUIRE(r.on_mapping(0, map64(D0, 1, 5), false).error == RxError::none);
        CHECK(r.on_data(0, 1, B("hello")).accepted == 5);
        REQUIRE(r.on_mapping(1, map64(D0 + 5, 1, 5), false).error == RxError::none);
        CHECK(r.on_data(1, 1, B("world")).accepted == 5);
        CHECK(r.data_ack() == D0 + 10);
        CHECK(read_all(r) == "helloworld");
    }
    SECTION("subflow 1 first: held out of order, not Data-ACKed until the hole fills") {
        r.on_mapping(1, map64(D0 + 5, 1, 5), false);
        CHECK(r.on_data(1, 1, B("world")).accepted == 5);
        CHECK(r.readable() == 0);
        CHECK(r.data_ack() == D0);
        CHECK(r.buffered() == 5);
        // Out-of-order data sits inside the window; the right edge does not move (§3.3.4).
        CHECK(r.window() == 1000);
        r.on_mapping(0, map64(D0, 1, 5), false);
        r.on_data(0, 1, B("hello"));
        CHECK(r.data_ack() == D0 + 10);
        CHECK(read_all(r) == "helloworld");
    }
    CHECK(c[Counter::rx_bytes] == 10);
}

TEST_CASE("Receiver: one mapping over several segments, and a segment over two mappings") {
    Counters c;
    Receiver r(D0, 1000, false, c);
    r.on_mapping(0, map64(D0, 1, 10), false);
    r.on_data(0, 1, B("abc"));
    r.on_data(0, 4, B("defg"));
    // The next mapping announced before the segment that straddles both.
    r.on_mapping(0, map64(D0 + 10, 11, 4), false);
    CHECK(r.on_data(0, 8, B("hijKLMN")).accepted == 7);
    CHECK(read_all(r) == "abcdefghijKLMN");
    // A retransmitted subflow segment (already consumed) is trimmed, not counted again.
    CHECK(r.on_data(0, 5, B("efg")).accepted == 0);
    CHECK(r.data_ack() == D0 + 14);
}

TEST_CASE("Receiver: the same DSNs re-sent on another subflow are duplicates; first copy wins") {
    Counters c;
    Receiver r(D0, 1000, false, c);
    r.on_mapping(0, map64(D0 + 5, 1, 5), false);
    r.on_data(0, 1, B("FGHIJ"));  // out of order, held
    // Subflow 1 re-sends DSN 3..12 (overlapping the held range) with different bytes.
    r.on_mapping(1, map64(D0 + 3, 1, 10), false);
    RxResult x = r.on_data(1, 1, B("defghijklm"));
    CHECK(x.accepted == 5);   // 3,4 and 10,11,12
    CHECK(x.duplicate == 5);  // 5..9 already held
    r.on_mapping(0, map64(D0, 6, 3), false);
    r.on_data(0, 6, B("abc"));
    CHECK(read_all(r) == "abcdeFGHIJklm");
    // After delivery, the same range again is all duplicate.
    r.on_mapping(1, map64(D0, 11, 4), false);
    CHECK(r.on_data(1, 11, B("xxxx")).duplicate == 4);
    CHECK(c[Counter::rx_duplicate_bytes] == 9);
}

TEST_CASE("Receiver: 32-bit DSNs across the 2^32 wrap extend to 64 bits") {
    Counters c;
    const DataSeq first(0x00000001fffffff8ull);
    Receiver r(first, 1 << 20, false, c);
    r.on_mapping(0, map32(first, 1, 16), false);
    r.on_data(0, 1, B("0123456789abcdef"));
    CHECK(r.data_ack() == DataSeq(0x0000000200000008ull));
    // Low 32 bits 0x00000008: the next epoch, not 2^32 back.
    r.on_mapping(1, map32(DataSeq(0x0000000200000008ull), 1, 4), false);
    CHECK(r.on_data(1, 1, B("WXYZ")).accepted == 4);
    CHECK(r.data_ack() == DataSeq(0x000000020000000cull));
    // A reordered old mapping from before the wrap (0xfffffffc) is a duplicate, not new data.
    r.on_mapping(2, map32(DataSeq(0x00000001fffffffcull), 1, 4), false);
    CHECK(r.on_data(2, 1, B("4567")).duplicate == 4);
    CHECK(read_all(r) == "0123456789abcdefWXYZ");
}

TEST_CASE("Receiver: connection-level window shared by subflows; beyond it is dropped") {
    Counters c;
    Receiver r(D0, 10, false, c);
    CHECK(r.window() == 10);
    r.on_mapping(0, map64(D0, 1, 6), false);
    r.on_data(0, 1, B("abcdef"));
    CHECK(r.window() == 4);
    // Subflow 1 maps 8 bytes from DSN 6: only 4 fit.
    r.on_mapping(1, map64(D0 + 6, 1, 8), false);
    RxResult x = r.on_data(1, 1, B("ghijklmn"));
    CHECK(x.accepted == 4);
    CHECK(x.beyond_window == 4);
    CHECK(r.data_ack() == D0 + 10);
    CHECK(r.window() == 0);
    // A mapping entirely past the edge: nothing stored, nothing acked.
    r.on_mapping(0, map64(D0 + 20, 7, 2), false);
    CHECK(r.on_data(0, 7, B("zz")).beyond_window == 2);
    CHECK(r.data_ack() == D0 + 10);
    CHECK(c[Counter::rx_beyond_window_bytes] == 6);
    // Reading opens the window; the right edge never moved left meanwhile.
    CHECK(read_all(r) == "abcdefghij");
    CHECK(r.window() == 10);
    CHECK(r.data_ack() + r.window() == D0 + 20);
}

TEST_CASE("Receiver: mapping rules: changed, identical repeat, old, unmapped data") {
    Counters c;
    Receiver r(D0, 100, false, c);
    REQUIRE(r.on_mapping(0, map64(D0, 1, 10), false).error == RxError::none);
    SECTION("the same mapping again is tolerated") {
        CHECK(r.on_mapping(0, map64(D0, 1, 10), false).error == RxError::none);
        r.on_data(0, 1, B("0123456789"));
        CHECK(r.data_ack() == D0 + 10);
    }
    SECTION("a contradicting mapping is an error (a mapping MUST NOT change)") {
        CHECK(r.on_mapping(0, map64(D0 + 1, 1, 10), false).error == RxError::mapping_changed);
        CHECK(r.on_mapping(0, map64(D0 + 100, 5, 2), false).error == RxError::mapping_changed);
        CHECK(c[Counter::rx_mapping_changed] == 2);
    }
    SECTION("a mapping for consumed bytes is ignored") {
        r.on_data(0, 1, B("0123456789"));
        CHECK(r.on_mapping(0, map64(D0, 1, 10), false).error == RxError::none);
        CHECK(c[Counter::rx_mapping_old] == 1);
    }
    SECTION("unmapped bytes are dropped; a window's worth breaks the subflow") {
        r.on_data(0, 1, B("0123456789"));
        RxResult x = r.on_data(0, 11, B("unmapped!!"));
        CHECK(x.unmapped == 10);
        CHECK(x.error == RxError::none);
        std::string big(90, 'x');
        CHECK(r.on_data(0, 21, B(big)).error == RxError::unmapped_overflow);
        CHECK(r.data_ack() == D0 + 10);
    }
    SECTION("bad subflow id and too many pending mappings") {
        CHECK(r.on_mapping(max_subflows, map64(D0, 1, 1), false).error == RxError::bad_subflow);
        CHECK(r.on_data(max_subflows, 1, B("x")).error == RxError::bad_subflow);
        RxError last = RxError::none;
        for (uint32_t i = 1; i <= max_pending_mappings + 1; ++i) {
            last = r.on_mapping(1, map64(D0 + 10 * i, 10 * i, 10), false).error;
        }
        CHECK(last == RxError::mapping_table_full);
    }
}

TEST_CASE("Receiver: DATA_FIN counted in the data-level length, ordering across subflows") {
    Counters c;
    SECTION("spec 2.5 example: DSN 80, DLL 11, F -> data 80..89, DATA_FIN 90, ack 91") {
        Receiver r(DataSeq(80), 100, false, c);
        r.on_mapping(0, map64(DataSeq(80), 1, 11), true);
        r.on_data(0, 1, B("0123456789"));
        CHECK(r.fin_received());
        CHECK(r.data_ack() == DataSeq(91));
        // Data past the DATA_FIN is dropped.
        r.on_mapping(1, map64(DataSeq(88), 1, 4), false);
        RxResult x = r.on_data(1, 1, B("89ab"));
        CHECK(x.duplicate == 2);
        CHECK(x.beyond_window == 2);
    }
    SECTION("DATA_FIN alone on subflow 1 before the data on subflow 0 fills the hole") {
        Receiver r(DataSeq(80), 100, false, c);
        r.on_mapping(1, DssMapping{90, true, 0, 1, std::nullopt}, true);
        CHECK_FALSE(r.fin_received());
        CHECK(r.data_ack() == DataSeq(80));
        r.on_mapping(0, map64(DataSeq(80), 1, 10), false);
        r.on_data(0, 1, B("0123456789"));
        CHECK(r.fin_received());
        CHECK(r.data_ack() == DataSeq(91));
        CHECK(c[Counter::rx_data_fin] == 1);
    }
}

TEST_CASE("Receiver: DSS checksums: verified per mapping, failure names the DSN") {
    Counters c;
    Receiver r(D0, 100, true, c);
    SECTION("a mapping over two segments is delivered when complete and verified") {
        r.on_mapping(0, map_csum(D0, 1, 8, "abcdefgh"), false);
        CHECK(r.on_data(0, 1, B("abc")).accepted == 0);
        CHECK(r.data_ack() == D0);
        CHECK(r.on_data(0, 4, B("defgh")).accepted == 8);
        CHECK(read_all(r) == "abcdefgh");
    }
    SECTION("a changed byte fails: MP_FAIL DSN = mapping start, data not Data-ACKed") {
        r.on_mapping(0, map_csum(D0, 1, 8, "abcdefgh"), false);
        RxResult x = r.on_data(0, 1, B("abcdXfgh"));
        CHECK(x.error == RxError::checksum_failed);
        CHECK(x.failed_dsn == D0);
        CHECK(r.data_ack() == D0);
        CHECK(c[Counter::rx_checksum_failed] == 1);
    }
    SECTION("DATA_FIN alone: checksum over the pseudo-header") {
        crypto::DssChecksum fin(D0.raw(), 0, 1);
        CHECK(r.on_mapping(0, DssMapping{D0.raw(), true, 0, 1, fin.value()}, true).error ==
              RxError::none);
        CHECK(r.fin_received());
        CHECK(r.on_mapping(1, DssMapping{D0.raw(), true, 0, 1, 0x1234}, true).error ==
              RxError::checksum_failed);
    }
    SECTION("checksum presence must match the negotiation") {
        CHECK(r.on_mapping(0, map64(D0, 1, 4), false).error == RxError::checksum_missing);
        Receiver plain(D0, 100, false, c);
        CHECK(plain.on_mapping(0, map_csum(D0, 1, 4, "abcd"), false).error ==
              RxError::checksum_unexpected);
    }
}

TEST_CASE("Receiver: infinite mapping maps the rest of the subflow 1:1 (fallback, §3.7)") {
    Counters c;
    Receiver r(D0, 1000, false, c);
    r.on_mapping(0, map64(D0, 1, 0), false);
    r.on_data(0, 1, B("plain "));
    r.on_data(0, 7, B("tcp now"));
    CHECK(read_all(r) == "plain tcp now");
    CHECK(r.data_ack() == D0 + 13);
}

TEST_CASE("Receiver: a checksum failure falls back to an infinite mapping when allowed (§3.7)") {
    Counters c;
    Receiver r(D0, 1000, true, c);
    SECTION("allowed, contiguous: the failed bytes and the rest of the segment are delivered") {
        r.allow_fallback(true);
        REQUIRE(r.on_mapping(0, map_csum(D0, 1, 4, "abcd"), false).error == RxError::none);
        REQUIRE(r.on_mapping(0, map_csum(D0 + 4, 5, 4, "efgh"), false).error == RxError::none);
        // A middlebox rewrote the first mapping's bytes; the segment goes on past it.
        RxResult x = r.on_data(0, 1, B("abXdefgh+"));
        CHECK(x.error == RxError::checksum_failed);
        CHECK(x.fell_back);
        CHECK(x.failed_dsn == D0);
        CHECK(r.fallen_back());
        CHECK(read_all(r) == "abXdefgh+");
        // From now on: no checksums, mappings ignored, the subflow maps 1:1.
        CHECK(r.on_mapping(0, map64(D0 + 100, 10, 5), false).error == RxError::none);
        CHECK(r.on_data(0, 10, B("tail")).accepted == 4);
        CHECK(read_all(r) == "tail");
        CHECK(r.data_ack() == D0 + 13);
        r.fin_after_fallback();
        CHECK(r.fin_received());
        CHECK(r.data_ack() == D0 + 14);
    }
    SECTION("not allowed (a join happened): the failure stops the data as before") {
        r.allow_fallback(false);
        r.on_mapping(0, map_csum(D0, 1, 4, "abcd"), false);
        RxResult x = r.on_data(0, 1, B("abXd"));
        CHECK(x.error == RxError::checksum_failed);
        CHECK_FALSE(x.fell_back);
        CHECK_FALSE(r.fallen_back());
        CHECK(r.readable() == 0);
    }
    SECTION("fall_back() on the peer's MP_FAIL: from the next byte, a partial mapping delivered") {
        r.on_mapping(0, map_csum(D0, 1, 8, "abcdefgh"), false);
        r.on_data(0, 1, B("abc"));
        CHECK(r.readable() == 0);  // held until verified
        CHECK(r.fall_back(0));
        CHECK(read_all(r) == "abc");
        r.on_data(0, 4, B("defgh and more"));
        CHECK(read_all(r) == "defgh and more");
    }
    SECTION("fall_back() refused with data held beyond a hole (non-contiguous)") {
        Receiver p(D0, 1000, false, c);
        p.on_mapping(0, map64(D0 + 10, 1, 4), false);
        p.on_data(0, 1, B("late"));
        CHECK_FALSE(p.fall_back(0));
        CHECK_FALSE(p.fallen_back());
    }
}

TEST_CASE("Sender: DSNs per subflow, window limit, DATA_ACK frees the queue") {
    Counters c;
    const DataSeq S0(0x5000);
    Sender s(S0, 100, 8, false, c);
    CHECK(s.write(B("0123456789ABCDEF")) == 16);
    auto a = s.next(0, 1, 4);
    REQUIRE(a);
    CHECK(a->mapping.dsn == S0.raw());
    CHECK(a->mapping.ssn == 1);
    CHECK(a->mapping.data_len == 4);
    CHECK(std::string(a->bytes.begin(), a->bytes.end()) == "0123");
    auto b = s.next(1, 1, 100);
    REQUIRE(b);
    CHECK(b->mapping.dsn == (S0 + 4).raw());
    CHECK(b->bytes.size() == 4);  // the window (8 before any DATA_ACK) limits it
    CHECK_FALSE(s.next(0, 5, 100));
    CHECK(s.in_flight() == 8);

    CHECK(s.on_data_ack((S0 + 4).raw(), true, 8) == AckStatus::advanced);
    CHECK(s.snd_una() == S0 + 4);
    CHECK(s.buffered() == 12);
    CHECK(s.window_edge() == S0 + 12);
    auto d = s.next(0, 5, 100);
    REQUIRE(d);
    CHECK(d->mapping.dsn == (S0 + 8).raw());
    CHECK(d->bytes.size() == 4);

    SECTION("old and beyond-sent DATA_ACKs are ignored") {
        CHECK(s.on_data_ack((S0 + 2).raw(), true, 100) == AckStatus::old);
        CHECK(s.on_data_ack((S0 + 13).raw(), true, 100) == AckStatus::beyond_sent);
        CHECK(s.snd_una() == S0 + 4);
        CHECK(c[Counter::tx_data_ack_old] == 1);
        CHECK(c[Counter::tx_data_ack_beyond_sent] == 1);
    }
    SECTION("the right edge never moves left") {
        CHECK(s.on_data_ack((S0 + 4).raw(), true, 2) == AckStatus::duplicate);
        CHECK(s.window_edge() == S0 + 12);
    }
}

TEST_CASE("Sender: 32-bit DATA_ACKs across the 2^32 wrap") {
    Counters c;
    const DataSeq S0(0x00000007fffffff0ull);
    Sender s(S0, 1000, 1000, false, c);
    std::string data(64, 'x');
    s.write(B(data));
    REQUIRE(s.next(0, 1, 64));
    CHECK(s.on_data_ack((S0 + 0x20).low32(), false, 1000) == AckStatus::advanced);
    CHECK(s.snd_una() == DataSeq(0x0000000800000010ull));
    CHECK(s.on_data_ack((S0 + 0x40).low32(), false, 1000) == AckStatus::advanced);
    CHECK(s.snd_una() == S0 + 0x40);
    CHECK(s.buffered() == 0);
}

TEST_CASE("Sender: data of a stalled subflow is re-sent on another with its DSNs") {
    Counters c;
    const DataSeq S0(1000);
    Sender s(S0, 100, 100, false, c);
    s.write(B("abcdefghijkl"));
    auto a = s.next(0, 1, 8);  // subflow 0: DSN 1000..1007
    auto b = s.next(1, 1, 4);  // subflow 1: DSN 1008..1011
    REQUIRE(a);
    REQUIRE(b);
    s.on_data_ack(1002, true, 100);  // 2 bytes of subflow 0's data arrived
    s.reinject(0);
    CHECK_FALSE(s.next(0, 9, 100));  // nothing for the stalled one (no new data either)
    auto r1 = s.next(1, 5, 3);
    REQUIRE(r1);
    CHECK(r1->reinjected);
    CHECK(r1->mapping.dsn == 1002);
    CHECK(r1->mapping.ssn == 5);
    CHECK(std::string(r1->bytes.begin(), r1->bytes.end()) == "cde");
    // The receiver acknowledges part of it meanwhile: only the rest is re-sent.
    s.on_data_ack(1006, true, 100);
    auto r2 = s.next(1, 8, 100);
    REQUIRE(r2);
    CHECK(r2->mapping.dsn == 1006);
    CHECK(std::string(r2->bytes.begin(), r2->bytes.end()) == "gh");
    CHECK_FALSE(s.next(1, 10, 100));
    CHECK(c[Counter::tx_reinjected_bytes] == 5);
}

TEST_CASE("Sender: retransmit_unacked offers what is not Data-ACKed to every subflow again") {
    Counters c;
    const DataSeq S0(2000);
    Sender s(S0, 100, 100, false, c);
    s.write(B("abcdefgh"));
    auto a = s.next(0, 1, 8);
    REQUIRE(a);
    s.on_data_ack(2003, true, 100);  // the first 3 bytes arrived at the data level
    CHECK_FALSE(s.next(0, 9, 100));  // nothing new
    s.retransmit_unacked();
    // The subflow that carried it takes it again (one subflow: nothing else could).
    auto r1 = s.next(0, 9, 2);
    REQUIRE(r1);
    CHECK(r1->reinjected);
    CHECK(r1->mapping.dsn == 2003);
    CHECK(r1->mapping.ssn == 9);
    CHECK(std::string(r1->bytes.begin(), r1->bytes.end()) == "de");
    auto r2 = s.next(0, 11, 100);
    REQUIRE(r2);
    CHECK(r2->mapping.dsn == 2005);
    CHECK(std::string(r2->bytes.begin(), r2->bytes.end()) == "fgh");
    CHECK_FALSE(s.next(0, 14, 100));
    CHECK(c[Counter::tx_reinjected_bytes] == 5);
    // Everything Data-ACKed: nothing to offer.
    s.on_data_ack(2008, true, 100);
    s.retransmit_unacked();
    CHECK_FALSE(s.next(1, 1, 100));
}

TEST_CASE("Sender: DATA_FIN with the last bytes, alone, and acknowledged") {
    Counters c;
    const DataSeq S0(80);
    SECTION("with the last bytes: DLL counts it (spec 2.5: DSN 80, DLL 11)") {
        Sender s(S0, 100, 100, false, c);
        s.write(B("0123456789"));
        s.shutdown();
        CHECK(s.write(B("late")) == 0);
        auto a = s.next(0, 1, 100);
        REQUIRE(a);
        CHECK(a->data_fin);
        CHECK(a->mapping.data_len == 11);
        CHECK(a->bytes.size() == 10);
        CHECK(s.fin_sent());
        CHECK(s.on_data_ack(90, true, 100) == AckStatus::advanced);
        CHECK_FALSE(s.fin_acked());
        CHECK(s.on_data_ack(91, true, 100) == AckStatus::advanced);
        CHECK(s.fin_acked());
        CHECK(s.snd_una() == DataSeq(91));
    }
    SECTION("alone after the data went out: SSN 0, DLL 1") {
        Sender s(S0, 100, 100, false, c);
        s.write(B("0123456789"));
        REQUIRE(s.next(0, 1, 100));
        s.shutdown();
        auto f = s.next(1, 1, 100);
        REQUIRE(f);
        CHECK(f->data_fin);
        CHECK(f->mapping.dsn == 90);
        CHECK(f->mapping.ssn == 0);
        CHECK(f->mapping.data_len == 1);
        CHECK(f->bytes.empty());
        CHECK(c[Counter::tx_data_fin] == 1);
        // Subflow 1 stalls: the DATA_FIN is re-sent on subflow 0.
        s.on_data_ack(90, true, 100);
        s.reinject(1);
        auto again = s.next(0, 11, 100);
        REQUIRE(again);
        CHECK(again->data_fin);
        CHECK(again->mapping.dsn == 90);
    }
}

TEST_CASE("Sender to Receiver over two subflows with checksums, a stall and the 32-bit wrap") {
    // A scripted transfer: chunks alternate between subflows, subflow 1 loses everything after
    // its first chunk and is reinjected on subflow 0; DATA_ACKs go back as 32-bit values.
    Counters tc, rc;
    const DataSeq S0(0x00000003ffffff00ull);
    Sender s(S0, 4096, 1024, true, tc);
    Receiver r(S0, 1024, true, rc);
    std::string data;
    for (int i = 0; i < 3000; ++i) {
        data.push_back(static_cast<char>('A' + i % 26));
    }
    size_t written = 0;
    uint32_t ssn[2] = {1, 1};
    bool sf1_dead = false;
    std::string got;
    for (int round = 0; round < 200 && !r.fin_received(); ++round) {
        written += s.write(B(std::string_view(data).substr(written)));
        if (written == data.size()) {
            s.shutdown();
        }
        for (SubflowId sf : {SubflowId{0}, SubflowId{1}}) {
            if (sf == 1 && sf1_dead) {
                continue;
            }
            auto ch = s.next(sf, ssn[sf], 100);
            if (!ch) {
                continue;
            }
            uint32_t at = ssn[sf];
            ssn[sf] += static_cast<uint32_t>(ch->bytes.size());
            if (sf == 1 && round > 0) {
                sf1_dead = true;  // lost with the subflow
                s.reinject(1);
                r.remove_subflow(1);
                continue;
            }
            REQUIRE(r.on_mapping(sf, ch->mapping, ch->data_fin).error == RxError::none);
            if (!ch->bytes.empty()) {
                RxResult x = r.on_data(sf, at, ch->bytes);
                REQUIRE(x.error == RxError::none);
            }
        }
        std::string part(r.readable(), '\0');
        r.read({reinterpret_cast<uint8_t*>(part.data()), part.size()});
        got += part;
        s.on_data_ack(r.data_ack().low32(), false, r.window());
    }
    CHECK(r.fin_received());
    CHECK(got == data);
    CHECK(s.fin_acked());
    CHECK(s.buffered() == 0);
    CHECK(tc[Counter::tx_reinjected_bytes] > 0);
    CHECK(rc[Counter::rx_checksum_failed] == 0);
}

TEST_CASE("Receiver: absurd DSNs from the peer are dropped, a DATA_FIN past the window ignored") {
    Counters c;
    Receiver r(D0, 100, false, c);
    // 2^62 ahead: all beyond the window (found by fuzz_mptcp_data: offsets must not overflow).
    r.on_mapping(0, map64(D0 + (uint64_t{1} << 62), 1, 4), false);
    CHECK(r.on_data(0, 1, B("abcd")).beyond_window == 4);
    // 2^62 behind: all duplicate.
    r.on_mapping(1, map64(D0 - (uint64_t{1} << 62), 1, 4), false);
    CHECK(r.on_data(1, 1, B("abcd")).duplicate == 4);
    CHECK(r.data_ack() == D0);
    // A DATA_FIN far past the window does not fix the end of the stream.
    r.on_mapping(2, DssMapping{(D0 + 5000).raw(), true, 0, 1, std::nullopt}, true);
    CHECK_FALSE(r.fin_received());
    r.on_mapping(3, map64(D0, 1, 3), true);
    r.on_data(3, 1, B("xy"));
    CHECK(r.fin_received());
    CHECK(r.data_ack() == D0 + 3);
    CHECK(read_all(r) == "xy");
}
