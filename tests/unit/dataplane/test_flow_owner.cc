// The flow-owner table: 5-tuple → owner worker, lock-free readers, RCU-deferred key reuse.
#include <arpa/inet.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "dataplane/flow_owner.h"
#include "tests/unit/eal_fixture.h"

using namespace braid::dataplane;

namespace {

struct Rcu {
    rte_rcu_qsbr* v = nullptr;
    explicit Rcu(unsigned readers = 1) {
        braid::test::eal_once();
        size_t sz = rte_rcu_qsbr_get_memsize(readers);
        v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("flow_rcu", sz, RTE_CACHE_LINE_SIZE));
        REQUIRE(v != nullptr);
        REQUIRE(rte_rcu_qsbr_init(v, readers) == 0);
        for (unsigned r = 0; r < readers; ++r) {
            REQUIRE(rte_rcu_qsbr_thread_register(v, r) == 0);
        }
    }
    ~Rcu() { rte_free(v); }
};

std::unique_ptr<FlowOwnerTable> table(Rcu& rcu, uint32_t capacity = 1024) {
    static int n = 0;
    std::string err;
    auto t = FlowOwnerTable::create("flows_t" + std::to_string(n++), capacity, rcu.v, &err);
    INFO(err);
    REQUIRE(t != nullptr);
    return t;
}

const uint8_t ue6[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
const uint8_t dn6[16] = {0x20, 0x01, 0x0d, 0xb8, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

}  // namespace

TEST_CASE("flow key: v4 and v6 keys are distinct, zero-padded and printable", "[flow_owner]") {
    const FlowKey a = FlowKey::v4(0xC6136401, 0xC6130002, 40000, 80, 6);
    CHECK(a.family == 4);
    CHECK(a.to_string() == "tcp 198.19.100.1:40000 -> 198.19.0.2:80");
    CHECK(a.reversed().to_string() == "tcp 198.19.0.2:80 -> 198.19.100.1:40000");
    CHECK(a.reversed().reversed() == a);
    for (size_t i = 4; i < 16; ++i) {
        CHECK(a.src[i] == 0);
        CHECK(a.dst[i] == 0);
    }
    const FlowKey b = FlowKey::v6(ue6, dn6, 40000, 53, 17);
    CHECK(b.to_string() == "udp [2001:db8:100:1::1]:40000 -> [2001:db8:600::2]:53");
    CHECK_FALSE(a == b);
    CHECK(FlowKey::v4(1, 2, 3, 4, 132).to_string() == "proto 132 0.0.0.1:3 -> 0.0.0.2:4");
}

TEST_CASE("flow owner: insert, look up, erase", "[flow_owner]") {
    Rcu rcu;
    auto t = table(rcu);
    const FlowKey a = FlowKey::v4(0xC6136401, 0xC6130002, 40000, 80, 6);
    const FlowKey b = FlowKey::v6(ue6, dn6, 40000, 53, 17);
    CHECK_FALSE(t->owner(a));
    CHECK(t->insert(a, 3) == FlowOwnerTable::Insert::inserted);
    CHECK(t->insert(b, 0) == FlowOwnerTable::Insert::inserted);
    CHECK(t->owner(a) == std::optional<uint16_t>(3));
    CHECK(t->owner(b) == std::optional<uint16_t>(0));  // worker 0 is a value, not "absent"
    CHECK(t->size() == 2);
    // The reverse direction and a different port are other flows.
    CHECK_FALSE(t->owner(a.reversed()));
    CHECK_FALSE(t->owner(FlowKey::v4(0xC6136401, 0xC6130002, 40001, 80, 6)));
    CHECK_FALSE(t->owner(FlowKey::v4(0xC6136401, 0xC6130002, 40000, 80, 17)));
    // Ownership does not move while the flow lives.
    CHECK(t->insert(a, 5) == FlowOwnerTable::Insert::exists);
    CHECK(t->owner(a) == std::optional<uint16_t>(3));
    auto all = t->entries(10);
    CHECK(all.size() == 2);
    CHECK(t->entries(1).size() == 1);
    CHECK(t->erase(a));
    CHECK_FALSE(t->erase(a));
    CHECK_FALSE(t->owner(a));
    CHECK(t->owner(b) == std::optional<uint16_t>(0));
    CHECK(t->size() == 1);
    CHECK(t->insert(a, 1) == FlowOwnerTable::Insert::inserted);
    CHECK(t->owner(a) == std::optional<uint16_t>(1));
}

TEST_CASE("flow owner: a full table refuses; erasing makes room again", "[flow_owner]") {
    Rcu rcu;
    auto t = table(rcu, 64);
    uint32_t n = 0;
    while (t->insert(FlowKey::v4(0xC6120000 + n, 0xC6130002, 1000, 80, 6), 1) ==
           FlowOwnerTable::Insert::inserted) {
        ++n;
        REQUIRE(n < 10000);
    }
    CHECK(n >= 32);  // cuckoo buckets may fill before every slot is used
    CHECK(t->size() == n);
    const FlowKey extra = FlowKey::v4(0xC6121000, 0xC6130002, 1000, 80, 6);
    CHECK(t->insert(extra, 1) == FlowOwnerTable::Insert::full);
    CHECK_FALSE(t->owner(extra));
    // Erase everything (key slots go to the RCU defer queue); once the reader reported a
    // quiescent state the table takes as many flows as before.
    for (uint32_t i = 0; i < n; ++i) {
        REQUIRE(t->erase(FlowKey::v4(0xC6120000 + i, 0xC6130002, 1000, 80, 6)));
    }
    CHECK(t->size() == 0);
    rte_rcu_qsbr_thread_online(rcu.v, 0);
    rte_rcu_qsbr_quiescent(rcu.v, 0);
    for (uint32_t i = 0; i < n; ++i) {
        REQUIRE(t->insert(FlowKey::v4(0xC6122000 + i, 0xC6130002, 1000, 80, 6), 2) ==
                FlowOwnerTable::Insert::inserted);
    }
    rte_rcu_qsbr_thread_offline(rcu.v, 0);
    CHECK(t->owner(FlowKey::v4(0xC6122000, 0xC6130002, 1000, 80, 6)) == std::optional<uint16_t>(2));
}

TEST_CASE("flow owner: readers never see a wrong owner while a writer adds and erases",
          "[flow_owner]") {
    Rcu rcu(2);  // reader thread 1 reports quiescence after each sweep, like a worker loop
    auto t = table(rcu, 4096);
    // Flow i is always owned by worker i % 7; the reader checks every answer it gets.
    auto key = [](uint32_t i) { return FlowKey::v4(0xC6120000 + i, 0xC6130002, 1000, 80, 6); };
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> wrong{0}, found{0};
    std::thread reader([&] {
        rte_rcu_qsbr_thread_online(rcu.v, 1);
        while (!stop.load(std::memory_order_acquire)) {
            for (uint32_t i = 0; i < 512; ++i) {
                if (auto o = t->owner(key(i))) {
                    found.fetch_add(1, std::memory_order_relaxed);
                    if (*o != i % 7) {
                        wrong.fetch_add(1, std::memory_order_relaxed);
                    }
                }
            }
            rte_rcu_qsbr_quiescent(rcu.v, 1);
        }
        rte_rcu_qsbr_thread_offline(rcu.v, 1);
    });
    // Erased slots wait for the reader's next quiescent report: a writer that outruns it finds
    // the table full for a moment and retries (a worker would count the refusal instead).
    uint64_t refused = 0, failures = 0;
    for (int round = 0; round < 50; ++round) {
        for (uint32_t i = 0; i < 512; ++i) {
            FlowOwnerTable::Insert r;
            int tries = 0;
            while ((r = t->insert(key(i), static_cast<uint16_t>(i % 7))) ==
                       FlowOwnerTable::Insert::full &&
                   ++tries < 100000) {
                ++refused;
                std::this_thread::yield();
            }
            failures += r != FlowOwnerTable::Insert::inserted;
        }
        for (uint32_t i = 0; i < 512; ++i) {
            failures += !t->erase(key(i));
        }
    }
    stop.store(true, std::memory_order_release);
    reader.join();
    INFO("inserts refused for a moment: " << refused);
    CHECK(failures == 0);
    CHECK(found.load() > 0);
    CHECK(wrong.load() == 0);
    CHECK(t->size() == 0);
}
