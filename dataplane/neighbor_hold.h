// Packets waiting for their next hop's link-layer address (RFC 1122 §2.3.2.2, RFC 4861 §7.2.2):
// one per worker, touched by that worker only.
//
// A packet whose next hop is not in the neighbor snapshot is held here instead of being dropped,
// at most `per_neighbor` packets per next hop and `total` in all. When a bound is hit the oldest
// packet (of that next hop, or of all next hops for the total bound) is dropped and counted as
// neighbor_queue_full. The worker polls the queue when a new snapshot is published and every
// millisecond: packets of a next hop that resolved leave in arrival order, those of a next hop
// that failed are dropped (neighbor_resolution_failed), and a packet held longer than
// `timeout_ms` is dropped (neighbor_hold_timeout). Storage is allocated once, at construction:
// holding never allocates and never grows.
//
// Sans-I/O: packets are opaque pointers, time is injected, drops and releases are callbacks.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/neighbor.h"
#include "pipelines/drop_reasons.h"

struct rte_mbuf;

namespace braid::dataplane {

class NeighborHold {
public:
    struct Limits {
        uint32_t per_neighbor = 16;  // 0 disables holding (a miss is a drop, as before)
        uint32_t total = 256;
        uint64_t timeout_ms = 3000;
    };
    struct Stats {
        uint64_t held = 0;
        uint64_t released = 0;
        uint64_t dropped_full = 0;     // neighbor_queue_full
        uint64_t dropped_failed = 0;   // neighbor_resolution_failed
        uint64_t dropped_timeout = 0;  // neighbor_hold_timeout
        uint64_t discarded = 0;        // freed at shutdown
    };
    // What the snapshot says about a next hop.
    struct Resolution {
        enum class State : uint8_t { pending, resolved, failed };
        State state = State::pending;
        MacAddr mac{};
    };
    struct HoldResult {
        bool held = false;            // false: holding is disabled; the caller still owns `pkt`
        bool new_neighbor = false;    // the first packet held for this next hop: ask for it
        rte_mbuf* dropped = nullptr;  // evicted to make room (neighbor_queue_full)
    };

    explicit NeighborHold(Limits limits);

    bool enabled() const { return limits_.per_neighbor > 0 && limits_.total > 0; }
    bool empty() const { return used_ == 0; }
    size_t size() const { return used_; }
    size_t neighbors() const { return n_active_; }
    size_t held_for(const NeighborKey& key) const;
    const Stats& stats() const { return stats_; }
    const Limits& limits() const { return limits_; }

    HoldResult hold(const NeighborKey& key, rte_mbuf* pkt, uint64_t now_ms);

    // `resolve(key) -> Resolution`; `emit(pkt, key, mac)` for released packets, oldest first
    // per next hop; `drop(pkt, reason)` for the others. The callbacks must not call back in.
    template <class Resolve, class Emit, class Drop>
    void poll(uint64_t now_ms, Resolve&& resolve, Emit&& emit, Drop&& drop);

    // Give every packet to `drop` (shutdown); counted as discarded.
    template <class Drop>
    void clear(Drop&& drop);

private:
    static constexpr uint32_t none = UINT32_MAX;
    struct Slot {
        rte_mbuf* pkt = nullptr;
        uint64_t at_ms = 0;
        uint64_t seq = 0;  // arrival order over all next hops
        uint32_t next = none;
    };
    struct Queue {
        NeighborKey key;
        uint32_t head = none;
        uint32_t tail = none;
        uint32_t count = 0;
    };

    rte_mbuf* pop(size_t queue_index);  // the oldest packet of a queue; removes an empty queue
    void remove_queue(size_t queue_index);
    size_t oldest_queue() const;

    Limits limits_;
    std::vector<Slot> slots_;
    std::vector<Queue> queues_;  // [0, n_active_) in use
    size_t n_active_ = 0;
    uint32_t free_head_ = none;
    size_t used_ = 0;
    uint64_t seq_ = 0;
    Stats stats_;
};

template <class Resolve, class Emit, class Drop>
void NeighborHold::poll(uint64_t now_ms, Resolve&& resolve, Emit&& emit, Drop&& drop) {
    for (size_t q = 0; q < n_active_;) {
        const NeighborKey key = queues_[q].key;
        const Resolution r = resolve(key);
        const uint32_t before = queues_[q].count;  // > 0: empty queues are removed
        if (r.state == Resolution::State::resolved) {
            for (uint32_t i = 0; i < before; ++i) {
                ++stats_.released;
                emit(pop(q), key, r.mac);
            }
            continue;  // pop removed the queue: index q now holds another one
        }
        if (r.state == Resolution::State::failed) {
            for (uint32_t i = 0; i < before; ++i) {
                ++stats_.dropped_failed;
                drop(pop(q), pipelines::DropReason::neighbor_resolution_failed);
            }
            continue;
        }
        // Pending: the oldest packets may have waited too long.
        bool removed = false;
        while (queues_[q].head != none &&
               now_ms - slots_[queues_[q].head].at_ms >= limits_.timeout_ms) {
            const bool was_last = queues_[q].count == 1;
            ++stats_.dropped_timeout;
            drop(pop(q), pipelines::DropReason::neighbor_hold_timeout);
            if (was_last) {
                removed = true;
                break;
            }
        }
        if (!removed) {
            ++q;
        }
    }
}

template <class Drop>
void NeighborHold::clear(Drop&& drop) {
    while (n_active_ > 0) {
        ++stats_.discarded;
        drop(pop(0));
    }
}

}  // namespace braid::dataplane
