// The flow-owner table (DESIGN.md §4, §5): which worker owns a transport flow, so that a packet
// of the flow arriving on another worker (RSS on N3 sees only the outer gNB↔UPF header) can be
// handed to the owner. rte_hash with lock-free readers; the worker that creates a flow adds it
// (multi-writer add) and the owner erases it. The value is the worker index itself, not a
// pointer, so a reader never dereferences anything a writer frees; key slots of erased flows are
// reused only after an rte_rcu_qsbr grace period (the hash's integrated defer queue), so a
// reader comparing a key never sees it overwritten under it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

struct rte_hash;
struct rte_rcu_qsbr;

namespace braid::dataplane {

// A 5-tuple, IPv4 or IPv6, as seen from one side: addresses in network order, ports in host
// order. Build it with v4() / v6() so that unused octets are zero (the hash compares all 40).
// 8-byte aligned wherever it is stored (e.g. after a 4-byte key in a map node): rte_hash_crc
// reads keys 8 octets at a time.
struct alignas(8) FlowKey {
    uint8_t family = 0;  // 4 or 6
    uint8_t proto = 0;   // IP protocol (6 TCP, 17 UDP, ...)
    uint16_t src_port = 0;
    uint16_t dst_port = 0;
    uint16_t pad = 0;
    std::array<uint8_t, 16> src{};
    std::array<uint8_t, 16> dst{};

    // `src` and `dst` in host order.
    static FlowKey v4(uint32_t src, uint32_t dst, uint16_t src_port, uint16_t dst_port,
                      uint8_t proto);
    // 16 octets each, network order.
    static FlowKey v6(const uint8_t* src, const uint8_t* dst, uint16_t src_port, uint16_t dst_port,
                      uint8_t proto);
    // The same flow seen from the other side.
    FlowKey reversed() const;
    std::string to_string() const;  // "tcp 198.18.0.1:1000 -> 198.19.0.1:80"
    bool operator==(const FlowKey&) const = default;
};
static_assert(sizeof(FlowKey) == 40);

// An rte_hash the workers share (the flow-owner and MPTCP token tables): lock-free readers,
// workers adding concurrently (the writers serialise among themselves, never against readers),
// erased key slots reused only after an rte_rcu_qsbr grace period (the hash's defer queue).
// nullptr on failure, with *err naming `what`.
rte_hash* create_shared_hash(const std::string& name, uint32_t capacity, uint32_t key_len,
                             rte_rcu_qsbr* rcu, const std::string& what, std::string* err);

class FlowOwnerTable {
public:
    // `rcu`: the workers' QSBR variable (App::rcu()); erased key slots wait for a grace period.
    static std::unique_ptr<FlowOwnerTable> create(const std::string& name, uint32_t capacity,
                                                  rte_rcu_qsbr* rcu, std::string* err);
    ~FlowOwnerTable();
    FlowOwnerTable(const FlowOwnerTable&) = delete;
    FlowOwnerTable& operator=(const FlowOwnerTable&) = delete;

    enum class Insert : uint8_t { inserted, exists, full };
    // Any worker (the one creating the flow). An existing flow keeps its owner: ownership never
    // moves while the flow lives (`exists`). Two workers creating one flow at the same instant
    // is not expected (a flow's first packet arrives on one worker); the last add would win.
    Insert insert(const FlowKey& key, uint16_t worker);
    // The owner, when the flow ends. False if the flow is not in the table.
    bool erase(const FlowKey& key);

    // Lock-free readers (any worker, between two quiescent-state reports).
    std::optional<uint16_t> owner(const FlowKey& key) const;

    // Control core: how many flows, and the first `max` of them (iteration order of the hash).
    uint32_t size() const { return live_.load(std::memory_order_relaxed); }
    uint32_t capacity() const { return capacity_; }
    std::vector<std::pair<FlowKey, uint16_t>> entries(size_t max) const;

private:
    FlowOwnerTable() = default;
    rte_hash* hash_ = nullptr;
    uint32_t capacity_ = 0;
    // Flows in the table. rte_hash_count() would also count erased keys whose slots still wait
    // for their grace period. Written once per flow added or erased (relaxed: a statistic).
    std::atomic<uint32_t> live_{0};
};

}  // namespace braid::dataplane
