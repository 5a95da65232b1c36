#include "dataplane/neighbor_hold.h"

namespace braid::dataplane {

NeighborHold::NeighborHold(Limits limits) : limits_(limits) {
    if (!enabled()) {
        return;
    }
    limits_.per_neighbor = std::min(limits_.per_neighbor, limits_.total);
    slots_.resize(limits_.total);
    // Every queue holds at least one packet, so there are never more queues than slots.
    queues_.resize(limits_.total);
    for (uint32_t i = 0; i < limits_.total; ++i) {
        slots_[i].next = i + 1 < limits_.total ? i + 1 : none;
    }
    free_head_ = 0;
}

size_t NeighborHold::held_for(const NeighborKey& key) const {
    for (size_t q = 0; q < n_active_; ++q) {
        if (queues_[q].key == key) {
            return queues_[q].count;
        }
    }
    return 0;
}

size_t NeighborHold::oldest_queue() const {
    size_t best = 0;
    for (size_t q = 1; q < n_active_; ++q) {
        if (slots_[queues_[q].head].seq < slots_[queues_[best].head].seq) {
            best = q;
        }
    }
    return best;
}

void NeighborHold::remove_queue(size_t q) {
    // Swap-remove: the order of the queues does not matter, only the order within one.
    queues_[q] = queues_[n_active_ - 1];
    --n_active_;
}

rte_mbuf* NeighborHold::pop(size_t q) {
    Queue& queue = queues_[q];
    const uint32_t i = queue.head;
    Slot& s = slots_[i];
    rte_mbuf* pkt = s.pkt;
    queue.head = s.next;
    if (--queue.count == 0) {
        queue.tail = none;
    }
    s = Slot{};
    s.next = free_head_;
    free_head_ = i;
    --used_;
    if (queue.count == 0) {
        remove_queue(q);
    }
    return pkt;
}

NeighborHold::HoldResult NeighborHold::hold(const NeighborKey& key, rte_mbuf* pkt,
                                            uint64_t now_ms) {
    HoldResult r;
    if (!enabled()) {
        return r;
    }
    size_t q = 0;
    while (q < n_active_ && !(queues_[q].key == key)) {
        ++q;
    }
    if (q < n_active_ && queues_[q].count >= limits_.per_neighbor) {
        r.dropped = pop(q);  // this next hop's oldest
        ++stats_.dropped_full;
    } else if (used_ >= limits_.total) {
        const size_t victim = oldest_queue();
        const bool moves = victim != q && n_active_ - 1 == q && queues_[victim].count == 1;
        r.dropped = pop(victim);
        ++stats_.dropped_full;
        if (moves) {
            q = victim;  // swap-remove moved our queue into the victim's place
        }
    }
    if (q >= n_active_ || !(queues_[q].key == key)) {
        q = n_active_++;
        queues_[q] = Queue{key, none, none, 0};
        r.new_neighbor = true;
    }
    const uint32_t i = free_head_;
    Slot& s = slots_[i];
    free_head_ = s.next;
    s = Slot{pkt, now_ms, seq_++, none};
    Queue& queue = queues_[q];
    if (queue.tail == none) {
        queue.head = i;
    } else {
        slots_[queue.tail].next = i;
    }
    queue.tail = i;
    ++queue.count;
    ++used_;
    ++stats_.held;
    r.held = true;
    return r;
}

}  // namespace braid::dataplane
