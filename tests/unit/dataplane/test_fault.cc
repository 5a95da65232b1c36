// The fault-injection stage's sans-I/O core (dataplane/fault.h): exact sequences for a seed,
// rates over many packets, the delay line's order and release times, reorder depth, duplicates
// as distinct frames, corruption past the Ethernet header, no mbuf leaks.
#include "dataplane/fault.h"

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "tests/unit/eal_fixture.h"

using namespace braid;
using dataplane::FaultInjector;
using dataplane::FaultRng;
using dataplane::FaultSpec;

namespace {

constexpr uint16_t frame_len = 64;

// A pool per test; the destructor checks that every mbuf came back.
class Pool {
public:
    Pool() {
        test::eal_once();
        static int n = 0;
        pool_ = rte_pktmbuf_pool_create(("fault" + std::to_string(n++)).c_str(), 4095, 0, 0,
                                        RTE_MBUF_DEFAULT_BUF_SIZE, 0);
        REQUIRE(pool_ != nullptr);
    }
    ~Pool() {
        CHECK(rte_mempool_in_use_count(pool_) == 0);
        rte_mempool_free(pool_);
    }
    // A frame whose bytes 14.. carry `id` (4 octets) and then a fixed pattern.
    rte_mbuf* frame(uint32_t id) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool_);
        REQUIRE(m != nullptr);
        auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, frame_len));
        REQUIRE(d != nullptr);
        for (uint16_t i = 0; i < frame_len; ++i) {
            d[i] = static_cast<uint8_t>(i);
        }
        std::memcpy(d + 14, &id, sizeof(id));
        return m;
    }
    unsigned in_use() const { return rte_mempool_in_use_count(pool_); }

private:
    rte_mempool* pool_ = nullptr;
};

uint32_t id_of(rte_mbuf* m) {
    uint32_t id;
    std::memcpy(&id, rte_pktmbuf_mtod_offset(m, uint8_t*, 14), sizeof(id));
    return id;
}

// Runs packets through an injector and collects what came out, freeing everything.
struct Harness {
    FaultInjector inj;
    std::vector<uint32_t> passed;   // ids in output order
    std::vector<uint32_t> dropped;  // ids
    std::vector<uint64_t> pass_time;

    explicit Harness(const FaultSpec& s) { inj.configure(s); }

    void take(rte_mbuf** pass, uint32_t n_pass, rte_mbuf** drop, uint32_t n_drop, uint64_t now) {
        for (uint32_t i = 0; i < n_pass; ++i) {
            passed.push_back(id_of(pass[i]));
            pass_time.push_back(now);
            rte_pktmbuf_free(pass[i]);
        }
        for (uint32_t i = 0; i < n_drop; ++i) {
            dropped.push_back(id_of(drop[i]));
            rte_pktmbuf_free(drop[i]);
        }
    }
    void process(std::vector<rte_mbuf*> pkts, uint64_t now) {
        std::vector<rte_mbuf*> pass(FaultInjector::pass_room(uint32_t(pkts.size())));
        std::vector<rte_mbuf*> drop(pkts.size());
        FaultInjector::Out out{pass.data(), 0, uint32_t(pass.size()), drop.data(), 0};
        inj.process(pkts.data(), uint32_t(pkts.size()), now, out);
        take(pass.data(), out.n_pass, drop.data(), out.n_drop, now);
    }
    void release(uint64_t now) {
        rte_mbuf* pass[64];
        FaultInjector::Out out{pass, 0, 64, nullptr, 0};
        do {
            out.n_pass = 0;
            inj.release(now, out);
            take(pass, out.n_pass, nullptr, 0, now);
        } while (out.n_pass == 64);
    }
};

FaultSpec spec_with(std::initializer_list<std::pair<const char*, const char*>> kv) {
    FaultSpec s;
    for (const auto& [k, v] : kv) {
        const auto why = dataplane::set_fault_key(s, k, v);
        INFO(k << "=" << v << ": " << why.value_or(""));
        REQUIRE_FALSE(why);
    }
    return s;
}

}  // namespace

TEST_CASE("fault rng: xoshiro256** seeded by splitmix64 gives the reference sequence", "[fault]") {
    // Reference values from an independent implementation of the published algorithms.
    FaultRng r7(7);
    CHECK(r7.next() == 0xb358faf74ef9765aULL);
    CHECK(r7.next() == 0x475c3d964f482cd2ULL);
    CHECK(r7.next() == 0xd6f1d349952c7996ULL);
    CHECK(r7.next() == 0xfb2938731e807240ULL);
    FaultRng r1(1);
    CHECK(r1.next() == 0xb3f2af6d0fc710c5ULL);
    r1.reseed(7);
    CHECK(r1.next() == 0xb358faf74ef9765aULL);
}

TEST_CASE("fault: drop 30% with seed 7 drops exactly the packets the sequence says", "[fault]") {
    Pool pool;
    Harness h(spec_with({{"drop", "30"}, {"seed", "7"}}));
    std::vector<rte_mbuf*> in;
    for (uint32_t i = 0; i < 16; ++i) {
        in.push_back(pool.frame(i));
    }
    h.process(in, 0);
    CHECK(h.dropped == std::vector<uint32_t>{3, 4, 7, 12, 13, 14});
    CHECK(h.passed == std::vector<uint32_t>{0, 1, 2, 5, 6, 8, 9, 10, 11, 15});
    CHECK(h.inj.counters.seen.get() == 16);
    CHECK(h.inj.counters.dropped.get() == 6);
}

TEST_CASE("fault: the same seed and input give the same output; another seed does not", "[fault]") {
    Pool pool;
    const auto run = [&](const char* seed) {
        Harness h(spec_with({{"drop", "10"},
                             {"duplicate", "10"},
                             {"reorder", "10"},
                             {"delay_us", "100"},
                             {"jitter_us", "80"},
                             {"seed", seed}}));
        for (uint32_t burst = 0; burst < 50; ++burst) {
            std::vector<rte_mbuf*> in;
            for (uint32_t i = 0; i < 16; ++i) {
                in.push_back(pool.frame(burst * 16 + i));
            }
            h.process(in, burst * 10);
            h.release(burst * 10 + 5);
        }
        h.release(1'000'000);
        CHECK(h.inj.held() == 0);
        return std::make_pair(h.passed, h.dropped);
    };
    const auto a = run("42");
    const auto b = run("42");
    const auto c = run("43");
    CHECK(a == b);
    CHECK(a != c);
    CHECK(a.first.size() + a.second.size() > 800);  // duplicates add packets
}

TEST_CASE("fault: rates over 100k packets are within tolerance of the spec", "[fault]") {
    Pool pool;
    Harness h(spec_with({{"drop", "2.5"}, {"duplicate", "5"}, {"corrupt", "1"}, {"seed", "9"}}));
    for (uint32_t i = 0; i < 100'000; ++i) {
        h.process({pool.frame(i)}, i);
    }
    const double n = 100'000;
    // Binomial standard deviation: 2.5 % of 100k → ~49; 5 % of the survivors → ~67.
    CHECK(std::abs(double(h.inj.counters.dropped.get()) - 0.025 * n) < 300);
    CHECK(std::abs(double(h.inj.counters.duplicated.get()) - 0.05 * 0.975 * n) < 400);
    CHECK(std::abs(double(h.inj.counters.corrupted.get()) - 0.01 * 0.975 * n) < 200);
    CHECK(h.passed.size() == 100'000 - h.dropped.size() + h.inj.counters.duplicated.get());
    CHECK(pool.in_use() == 0);
}

TEST_CASE("fault: the delay line releases packets at their time, in order", "[fault]") {
    Pool pool;
    SECTION("a fixed delay keeps arrival order and releases exactly at arrival + delay") {
        Harness h(spec_with({{"delay_us", "1000"}}));
        h.process({pool.frame(0), pool.frame(1)}, 100);
        h.process({pool.frame(2)}, 150);
        CHECK(h.passed.empty());
        CHECK(h.inj.counters.delayed.get() == 3);
        h.release(1099);
        CHECK(h.passed.empty());
        h.release(1100);
        CHECK(h.passed == std::vector<uint32_t>{0, 1});
        h.release(1149);
        CHECK(h.passed.size() == 2);
        h.release(1150);
        CHECK(h.passed == std::vector<uint32_t>{0, 1, 2});
        CHECK_FALSE(h.inj.holding());
    }
    SECTION("jitter spreads release times over [delay - jitter, delay + jitter]") {
        Harness h(spec_with({{"delay_us", "1000"}, {"jitter_us", "500"}, {"seed", "3"}}));
        std::vector<rte_mbuf*> in;
        for (uint32_t i = 0; i < 200; ++i) {
            in.push_back(pool.frame(i));
        }
        h.process(in, 0);
        for (uint64_t t = 0; t <= 1500; ++t) {
            h.release(t);
        }
        REQUIRE(h.passed.size() == 200);
        CHECK(*std::min_element(h.pass_time.begin(), h.pass_time.end()) >= 500);
        CHECK(*std::max_element(h.pass_time.begin(), h.pass_time.end()) <= 1500);
        CHECK_FALSE(std::is_sorted(h.passed.begin(), h.passed.end()));  // jitter reorders
    }
    SECTION("a full delay line passes packets at once and counts them") {
        Harness h(spec_with({{"delay_us", "1000000"}}));
        for (uint32_t i = 0; i < FaultInjector::delay_capacity + 10; ++i) {
            h.process({pool.frame(i)}, 0);
        }
        CHECK(h.inj.counters.delay_full.get() == 10);
        CHECK(h.passed.size() == 10);
        CHECK(h.inj.held() == FaultInjector::delay_capacity);
        h.inj.discard_all();  // frees what is held
        CHECK(pool.in_use() == 0);
    }
    SECTION("a new spec lets every held packet go at the next release, in order") {
        Harness h(spec_with({{"delay_us", "1000000"}}));
        h.process({pool.frame(0), pool.frame(1), pool.frame(2)}, 0);
        h.inj.configure(FaultSpec{});
        CHECK_FALSE(h.inj.enabled());
        CHECK(h.inj.holding());
        h.release(1);
        CHECK(h.passed == std::vector<uint32_t>{0, 1, 2});
        CHECK_FALSE(h.inj.holding());
    }
}

TEST_CASE("fault: a reordered packet leaves right after reorder_gap later packets", "[fault]") {
    Pool pool;
    Harness h(spec_with({{"reorder", "10"}, {"reorder_gap", "3"}, {"seed", "11"}}));
    constexpr uint32_t n = 2000;
    for (uint32_t i = 0; i < n; ++i) {
        h.process({pool.frame(i)}, i);  // 1 µs apart: the 10 ms timeout never fires here
    }
    h.release(n + 20'000);  // the tail ones go on timeout
    REQUIRE(h.passed.size() == n);
    std::vector<uint32_t> pos(n);
    for (uint32_t k = 0; k < n; ++k) {
        pos[h.passed[k]] = k;
    }
    uint32_t overtaken = 0;
    for (uint32_t id = 0; id + 40 < n; ++id) {
        // How many packets that arrived later left earlier: 0, or exactly the gap.
        uint32_t later_before = 0;
        for (uint32_t other = id + 1; other < n; ++other) {
            later_before += pos[other] < pos[id] ? 1 : 0;
        }
        INFO("packet " << id);
        CHECK((later_before == 0 || later_before == 3));
        overtaken += later_before == 3 ? 1 : 0;
    }
    const uint64_t reordered = h.inj.counters.reordered.get();
    CHECK(reordered > 150);
    CHECK(reordered < 250);
    CHECK(overtaken <= reordered);
    CHECK(overtaken + 10 >= reordered);  // all but the tail's
}

TEST_CASE("fault: a reordered packet is released on timeout when no traffic follows", "[fault]") {
    Pool pool;
    Harness h(spec_with({{"reorder", "100"}, {"reorder_timeout_us", "500"}}));
    h.process({pool.frame(0)}, 1000);
    CHECK(h.passed.empty());
    h.release(1499);
    CHECK(h.passed.empty());
    h.release(1500);
    CHECK(h.passed == std::vector<uint32_t>{0});
}

TEST_CASE("fault: a duplicate is a distinct mbuf with the same bytes", "[fault]") {
    Pool pool;
    FaultInjector inj;
    inj.configure(spec_with({{"duplicate", "100"}}));
    rte_mbuf* in[4] = {pool.frame(0), pool.frame(1), pool.frame(2), pool.frame(3)};
    rte_mbuf* pass[FaultInjector::pass_room(4)];
    rte_mbuf* drop[4];
    FaultInjector::Out out{pass, 0, FaultInjector::pass_room(4), drop, 0};
    inj.process(in, 4, 0, out);
    REQUIRE(out.n_pass == 8);
    for (uint32_t i = 0; i < 4; ++i) {
        rte_mbuf* a = pass[2 * i];
        rte_mbuf* b = pass[2 * i + 1];
        CHECK(a == in[i]);
        CHECK(b != a);
        CHECK(rte_mbuf_refcnt_read(a) == 1);  // a copy, not a clone sharing the data
        CHECK(rte_pktmbuf_mtod(b, uint8_t*) != rte_pktmbuf_mtod(a, uint8_t*));
        REQUIRE(b->pkt_len == a->pkt_len);
        CHECK(std::memcmp(rte_pktmbuf_mtod(a, uint8_t*), rte_pktmbuf_mtod(b, uint8_t*),
                          a->pkt_len) == 0);
    }
    CHECK(inj.counters.duplicated.get() == 4);
    CHECK(pool.in_use() == 8);
    rte_pktmbuf_free_bulk(pass, out.n_pass);
}

TEST_CASE("fault: corruption flips one byte past the Ethernet header", "[fault]") {
    Pool pool;
    FaultInjector inj;
    inj.configure(spec_with({{"corrupt", "100"}, {"seed", "5"}}));
    for (uint32_t i = 0; i < 200; ++i) {
        rte_mbuf* m = pool.frame(i);
        std::vector<uint8_t> before(rte_pktmbuf_mtod(m, uint8_t*),
                                    rte_pktmbuf_mtod(m, uint8_t*) + frame_len);
        rte_mbuf* pass[FaultInjector::pass_room(1)];
        rte_mbuf* drop[1];
        FaultInjector::Out out{pass, 0, FaultInjector::pass_room(1), drop, 0};
        inj.process(&m, 1, 0, out);
        REQUIRE(out.n_pass == 1);
        const uint8_t* after = rte_pktmbuf_mtod(m, uint8_t*);
        unsigned changed = 0;
        for (unsigned k = 0; k < frame_len; ++k) {
            if (after[k] != before[k]) {
                ++changed;
                CHECK(k >= 14);
            }
        }
        CHECK(changed == 1);
        rte_pktmbuf_free(m);
    }
    CHECK(inj.counters.corrupted.get() == 200);
}

TEST_CASE("fault: an off spec passes every packet untouched, in order", "[fault]") {
    Pool pool;
    Harness h(spec_with({{"seed", "99"}, {"reorder_gap", "5"}}));
    CHECK_FALSE(h.inj.enabled());
    h.process({pool.frame(0), pool.frame(1), pool.frame(2)}, 0);
    CHECK(h.passed == std::vector<uint32_t>{0, 1, 2});
}

TEST_CASE("fault keys: percentages, integers and clear errors", "[fault]") {
    FaultSpec s;
    CHECK_FALSE(dataplane::set_fault_key(s, "drop", "1.25"));
    CHECK(s.drop_ppm == 12'500);
    CHECK_FALSE(dataplane::set_fault_key(s, "duplicate", "100"));
    CHECK(s.duplicate_ppm == 1'000'000);
    CHECK_FALSE(dataplane::set_fault_key(s, "corrupt", "0.0001"));
    CHECK(s.corrupt_ppm == 1);
    CHECK(dataplane::fault_key_text(s, "drop") == "1.25");
    CHECK(dataplane::fault_key_text(s, "duplicate") == "100.0");
    CHECK_FALSE(dataplane::set_fault_key(s, "delay_us", "25000"));
    CHECK(s.delay_us == 25'000);
    CHECK_FALSE(dataplane::set_fault_key(s, "seed", "18446744073709551615"));
    CHECK(s.seed == UINT64_MAX);

    const FaultSpec before = s;
    for (auto [k, v] : std::initializer_list<std::pair<const char*, const char*>>{
             {"drop", "100.5"},
             {"drop", "-1"},
             {"drop", "1.23456"},
             {"drop", "1."},
             {"drop", "abc"},
             {"drop", ""},
             {"reorder_gap", "0"},
             {"reorder_gap", "65"},
             {"delay_us", "10000001"},
             {"delay_us", "1.5"},
             {"delay_us", "007"},
             {"seed", "18446744073709551616"},
         }) {
        INFO(k << " " << v);
        CHECK(dataplane::set_fault_key(s, k, v));
    }
    CHECK(s == before);
    const auto unknown = dataplane::set_fault_key(s, "loss", "1");
    REQUIRE(unknown);
    CHECK(unknown->find("unknown key 'loss'") != std::string::npos);
    CHECK(dataplane::describe(FaultSpec{}) == "off");
    CHECK(dataplane::describe(spec_with({{"drop", "1"}, {"seed", "7"}})) == "drop 1.0 seed 7");
}
