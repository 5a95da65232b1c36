// Downlink buffering for FARs with apply action BUFF (TS 29.244 §5.2.3, §5.9): the control core
// keeps the packets workers hand it, per session, in arrival order, bounded per session (the
// BAR's Suggested Buffering Packets Count, else the configured default) and in total. When a
// bound is hit the oldest packet of that session is dropped and counted. Released packets go
// back through pdr_dl, so they meet the session's rules as they are at release time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

struct rte_mbuf;

namespace braid::dataplane {

class PacketBuffer {
public:
    struct Stats {
        uint64_t buffered = 0;        // packets accepted
        uint64_t dropped_oldest = 0;  // evicted by a newer packet (per-session or total bound)
        uint64_t released = 0;        // handed back for forwarding
        uint64_t discarded = 0;       // session gone or buffering no longer wanted
    };
    // `free_fn` frees an mbuf (rte_pktmbuf_free; tests count instead).
    using FreeFn = void (*)(rte_mbuf*);

    PacketBuffer(uint32_t max_total, FreeFn free_fn) : max_total_(max_total), free_(free_fn) {}
    ~PacketBuffer();
    PacketBuffer(const PacketBuffer&) = delete;
    PacketBuffer& operator=(const PacketBuffer&) = delete;

    // Keep `m` for `seid`, at most `per_session` packets for it. Returns true if this is the
    // session's first buffered packet (the moment to notify the CP when the FAR asks for it).
    bool push(uint64_t seid, rte_mbuf* m, uint32_t per_session, uint64_t generation);
    // The packets of `seid`, oldest first; the caller owns them.
    std::vector<rte_mbuf*> release(uint64_t seid);
    // Free the packets of `seid`.
    void discard(uint64_t seid);
    void discard_all();

    // Sessions with packets, with the session generation seen when the first was buffered.
    std::vector<std::pair<uint64_t, uint64_t>> sessions() const;
    size_t packets(uint64_t seid) const;
    size_t total() const { return total_; }
    const Stats& stats() const { return stats_; }

private:
    struct Queue {
        std::deque<rte_mbuf*> pkts;
        uint64_t generation = 0;
    };
    void drop_oldest(Queue& q);

    uint32_t max_total_;
    FreeFn free_;
    std::map<uint64_t, Queue> queues_;
    size_t total_ = 0;
    Stats stats_;
};

}  // namespace braid::dataplane
