// The engine's fast-path building blocks: the word-at-a-time checksum (against a byte-by-byte
// RFC 1071 reference, every length and alignment, and over mbuf chains with odd pieces) and
// RingQueue (the allocation-free FIFO behind the send and receive queues).
#include <catch2/catch.hpp>

#include <rte_mbuf.h>

#include <algorithm>
#include <deque>
#include <random>
#include <vector>

#include "tcpstack/mbuf_util.h"
#include "tcpstack/ring_queue.h"
#include "tcpstack/wire/tcp.h"
#include "tests/unit/tcpstack/harness.h"
#include "tests/unit/tcpstack/tcp_env.h"

using namespace braid::tcp;
using braid::test::tcp_env;

namespace {

// RFC 1071 reference: big-endian 16-bit words, odd byte padded, end-around carry.
uint16_t reference_sum(const uint8_t* p, size_t n) {
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        s += uint32_t(p[i]) << 8 | p[i + 1];
    }
    if (n & 1) {
        s += uint32_t(p[n - 1]) << 8;
    }
    while (s >> 16) {
        s = (s & 0xffff) + (s >> 16);
    }
    return static_cast<uint16_t>(s);
}

}  // namespace

TEST_CASE("RFC 1071: partial_sum equals the byte-wise sum for every length and alignment") {
    std::mt19937 g(7);
    std::vector<uint8_t> buf(300);
    for (auto& b : buf) {
        b = static_cast<uint8_t>(g());
    }
    std::fill(buf.begin() + 200, buf.end(), 0xff);  // carries: runs of 0xffff words
    for (size_t off = 0; off < 8; ++off) {
        for (size_t n = 0; n + off <= buf.size(); ++n) {
            const uint16_t want = reference_sum(buf.data() + off, n);
            const uint16_t got = wire::partial_sum({buf.data() + off, n});
            // 0x0000 and 0xffff are the two zeros of one's complement arithmetic.
            if (want != got) {
                REQUIRE(((want == 0 && got == 0xffff) || (want == 0xffff && got == 0)));
            }
        }
    }
}

TEST_CASE("RFC 9293 3.1: TCP checksum over an mbuf chain with odd pieces equals the flat one") {
    std::mt19937 g(11);
    const std::array<uint8_t, 4> src{198, 18, 0, 2}, dst{198, 18, 0, 1};
    for (int round = 0; round < 50; ++round) {
        std::vector<uint8_t> seg(20 + 12 + (g() % 3000));
        for (auto& b : seg) {
            b = static_cast<uint8_t>(g());
        }
        seg[16] = seg[17] = 0;
        // Payload in pieces of 1..700 bytes (odd ones shift the word alignment).
        rte_mbuf* head = nullptr;
        size_t off = 32;
        while (off < seg.size()) {
            const size_t n = std::min<size_t>(1 + g() % 700, seg.size() - off);
            rte_mbuf* m = rte_pktmbuf_alloc(tcp_env().data);
            REQUIRE(m != nullptr);
            std::memcpy(rte_pktmbuf_append(m, static_cast<uint16_t>(n)), seg.data() + off, n);
            if (head == nullptr) {
                head = m;
            } else {
                REQUIRE(rte_pktmbuf_chain(head, m) == 0);
            }
            off += n;
        }
        const uint16_t flat = wire::checksum_ipv4(src, dst, seg);
        const uint16_t chained = mbuf_tcp_checksum_ipv4(src, dst, {seg.data(), size_t{32}}, head);
        CHECK(flat == chained);
        // Written into the header, the segment verifies to 0; a flipped payload bit does not.
        seg[16] = static_cast<uint8_t>(chained >> 8);
        seg[17] = static_cast<uint8_t>(chained);
        CHECK(mbuf_tcp_checksum_ipv4(src, dst, {seg.data(), size_t{32}}, head) == 0);
        if (head != nullptr) {
            rte_pktmbuf_mtod(head, uint8_t*)[0] ^= 0x10;
            CHECK(mbuf_tcp_checksum_ipv4(src, dst, {seg.data(), size_t{32}}, head) != 0);
        }
        rte_pktmbuf_free(head);
    }
}

TEST_CASE("RingQueue: FIFO order across growth and wrap-around, like std::deque") {
    RingQueue<int> q;
    std::deque<int> ref;
    CHECK(q.empty());
    std::mt19937 g(3);
    int next = 0;
    for (int step = 0; step < 20000; ++step) {
        if (ref.empty() || g() % 3 != 0) {
            q.push_back(next);
            ref.push_back(next);
            ++next;
        } else {
            REQUIRE(q.front() == ref.front());
            q.pop_front();
            ref.pop_front();
        }
        REQUIRE(q.size() == ref.size());
        if (!ref.empty()) {
            REQUIRE(q.back() == ref.back());
            const size_t i = g() % ref.size();
            REQUIRE(q[i] == ref[i]);
        }
    }
    CHECK(std::equal(q.begin(), q.end(), ref.begin(), ref.end()));
    // Random-access iterators: a binary search over the (sorted) contents works.
    auto it = std::lower_bound(q.begin(), q.end(), ref[ref.size() / 2]);
    CHECK(*it == ref[ref.size() / 2]);
    q.clear();
    CHECK(q.empty());
    q.push_back(5);
    CHECK(q.front() == 5);
}

TEST_CASE("Engine tuple table: thousands of tuples inserted and removed in random order") {
    // Drives the open-addressing table through growth and backward-shift deletions via the
    // API: connect() refuses a tuple in use, accepts it again once its connection is gone,
    // and every live connection keeps its own state.
    using namespace braid::test;
    Harness h;
    std::vector<std::pair<ConnId, uint16_t>> live;
    for (uint16_t port = 1000; port < 4000; ++port) {
        ConnectOptions co;
        co.tuple = FourTuple{kLocal, kRemote, port, 80};
        auto c = h.eng.connect(co, h.now);
        REQUIRE(c);
        live.emplace_back(*c, port);
    }
    h.out.clear();
    std::mt19937 g(5);
    std::shuffle(live.begin(), live.end(), g);
    std::vector<uint16_t> freed;
    for (size_t i = 0; i < live.size() / 2; ++i) {
        h.eng.abort(live[i].first, h.now);
        freed.push_back(live[i].second);
    }
    live.erase(live.begin(), live.begin() + static_cast<std::ptrdiff_t>(live.size() / 2));
    h.out.clear();
    CHECK(h.eng.connection_count() == live.size());
    for (auto [id, port] : live) {
        ConnectOptions co;
        co.tuple = FourTuple{kLocal, kRemote, port, 80};
        REQUIRE_FALSE(h.eng.connect(co, h.now));  // still in use
        REQUIRE(h.eng.state(id) == State::syn_sent);
    }
    for (uint16_t port : freed) {
        ConnectOptions co;
        co.tuple = FourTuple{kLocal, kRemote, port, 80};
        REQUIRE(h.eng.connect(co, h.now));  // the tuple is free again
    }
    h.out.clear();
    // Demux: a SYN/ACK to one surviving tuple with a wrong ACK draws a RST from that connection
    // (RFC 9293 §3.10.7.3) and leaves the others alone.
    const auto [id, port] = live.front();
    In in;
    in.flags = flag::syn | flag::ack;
    in.seq = 1000;
    in.ack = 12345;  // not ISS+1
    in.t = FourTuple{kLocal, kRemote, port, 80};
    h.inject(in);
    Out o = h.expect();
    CHECK(o.h.has(flag::rst));
    CHECK(o.t.local_port == port);
    CHECK(h.eng.state(id) == State::syn_sent);
    // Answered by the connection, not as a segment for no connection (§3.10.7.1).
    CHECK(h.counter(Counter::rst_sent_no_listener) == 0);
}

TEST_CASE("Engine timer heap: next_timer follows the earliest connection as deadlines move") {
    // Three SYN-SENT connections opened 100 ms apart: their SYN RTOs (1 s initial) are the only
    // deadlines. next_timer() names the earliest; aborting it moves to the next one; on_timer()
    // at a deadline retransmits exactly the connection that was due.
    using namespace braid::test;
    Harness h;
    std::vector<ConnId> ids;
    const uint64_t t0 = h.now;
    for (uint16_t i = 0; i < 3; ++i) {
        ConnectOptions co;
        co.tuple = FourTuple{kLocal, kRemote, static_cast<uint16_t>(5000 + i), 80};
        auto c = h.eng.connect(co, h.now);
        REQUIRE(c);
        ids.push_back(*c);
        h.now += 100'000;
    }
    h.out.clear();
    CHECK(h.eng.next_timer() == t0 + 1'000'000);
    h.eng.abort(ids[0], h.now);
    h.out.clear();
    CHECK(h.eng.next_timer() == t0 + 1'100'000);
    h.now = t0 + 1'100'000;
    h.eng.on_timer(h.now);
    Out o = h.expect();  // the retransmitted SYN of the second connection only
    CHECK(o.h.has(flag::syn));
    CHECK(o.t.local_port == 5001);
    h.expect_none();
    // Its backed-off RTO (2 s) is now later than the third connection's first one.
    CHECK(h.eng.next_timer() == t0 + 1'200'000);
    h.now = t0 + 1'200'000;
    h.eng.on_timer(h.now);
    CHECK(h.expect().t.local_port == 5002);
    h.expect_none();
    CHECK(h.eng.next_timer() == t0 + 1'100'000 + 2'000'000);
}
