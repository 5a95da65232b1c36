// The fault-injection stage (issue 5): drop, duplicate, reorder, delay and corrupt packets of one
// port role and direction, deterministically for a seed, in the spirit of smoltcp's
// FaultInjector. Sans-I/O: a burst of mbufs and the time go in, the packets to pass on and the
// packets to drop come out; nothing here touches a port, a ring or the clock.
//
// Per packet, in this order (each draw only when its probability is non-zero):
//   1. drop       → Out::drop (the node sends them to `drop`, reason fault_injected)
//   2. corrupt    → one byte at a uniform offset in [14, data_len) of the first segment, XORed
//                   with a uniform non-zero value: the Ethernet header (MACs, type) stays intact
//                   so the frame reaches the stage whose length or checksum check must catch it;
//                   frames of 14 bytes or less are left alone (not counted)
//   3. duplicate  → a deep copy (rte_pktmbuf_copy from the packet's own pool, metadata included)
//                   that goes through steps 4-5 like the original; no mbuf: counted, no copy
//   4. reorder    → held until `reorder_gap` later packets of this injector have passed (or
//                   `reorder_timeout_us`); held packets skip the delay line
//   5. delay      → the delay line: a min-heap on (release time, arrival number), so equal times
//                   leave in arrival order and jitter reorders like a real link. When it is full
//                   the packet PASSES at once (counted in delay_full): the stage never turns a
//                   delay setting into loss the test did not ask for.
//   6. pass       → Out::pass
//
// Packets are never lost inside: each one is in Out::pass, in Out::drop or held, and
// discard_all() frees what is held (shutdown, tests).
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <atomic>
#include <cstdint>

#include "dataplane/counter.h"
#include "dataplane/fault_spec.h"

namespace braid::dataplane {

// xoshiro256** seeded through splitmix64 (both public-domain algorithms by Vigna / Blackman):
// fast, 256 bits of state, and the same stream for the same seed on every machine.
class FaultRng {
public:
    explicit FaultRng(uint64_t seed = 1) { reseed(seed); }
    void reseed(uint64_t seed);
    uint64_t next();
    // True with probability ppm / 1e6.
    bool chance(uint32_t ppm) { return ppm != 0 && next() % fault_ppm_max < ppm; }
    // Uniform in [0, n) for n > 0 (modulo bias < n / 2^64: irrelevant here).
    uint64_t below(uint64_t n) { return next() % n; }

private:
    std::array<uint64_t, 4> s_{};
};

struct FaultCounters {
    Counter seen;              // packets given to process() (duplicates not included)
    Counter dropped;           // put in Out::drop
    Counter duplicated;        // copies made
    Counter duplicate_failed;  // no mbuf for the copy
    Counter delayed;           // put on the delay line
    Counter reordered;         // held for reordering
    Counter corrupted;         // one byte flipped
    Counter delay_full;        // passed at once: the delay line was full
};

class FaultInjector {
public:
    static constexpr uint32_t delay_capacity = 1024;
    static constexpr uint32_t reorder_capacity = 32;
    // Room process() may need in Out::pass for a burst of n: every packet duplicated, plus every
    // reorder-held packet whose gap closes.
    static constexpr uint32_t pass_room(uint32_t n) { return 2 * n + reorder_capacity; }

    struct Out {
        rte_mbuf** pass;
        uint32_t n_pass;
        uint32_t pass_cap;
        rte_mbuf** drop;  // room for the burst size
        uint32_t n_drop;
    };

    // A new spec (reseeds the PRNG). Held packets are not dropped: the next release() lets all
    // of them go, in the order they would have left.
    void configure(const FaultSpec& spec);
    const FaultSpec& spec() const { return spec_; }
    bool enabled() const { return enabled_; }
    // Packets are held (delay line or reorder slots): release() has work to do.
    bool holding() const { return n_delay_ + n_reorder_ != 0; }
    uint32_t held() const { return n_delay_ + n_reorder_; }

    // Runs the `n` packets through the steps above. `out.pass_cap - out.n_pass` must be at least
    // pass_room(n); `out.drop` must have room for n more.
    void process(rte_mbuf* const* pkts, uint32_t n, uint64_t now_us, Out& out);
    // Appends held packets that are due at `now_us` (all of them after configure()) to
    // `out.pass`, at most up to its capacity; the rest stay for the next call.
    void release(uint64_t now_us, Out& out);
    // Frees every held packet (shutdown).
    void discard_all();

    FaultCounters counters;

private:
    struct Delayed {
        uint64_t release_us;
        uint64_t order;  // arrival number: FIFO among equal release times
        rte_mbuf* m;
    };
    struct Reordered {
        rte_mbuf* m;
        uint64_t deadline_us;
        uint16_t remaining;  // packets still to pass before this one
    };

    void emit(rte_mbuf* m, Out& out);
    void after_pass(uint64_t now_us, Out& out, bool flush);
    void corrupt(rte_mbuf* m);
    bool heap_push(const Delayed& d);
    Delayed heap_pop();

    FaultSpec spec_{};
    bool enabled_ = false;
    bool flush_ = false;  // configure() ran while packets were held
    FaultRng rng_;
    uint64_t arrivals_ = 0;
    uint32_t n_delay_ = 0;
    uint32_t n_reorder_ = 0;
    std::array<Delayed, delay_capacity> delay_{};
    std::array<Reordered, reorder_capacity> reorder_{};
};

// A worker's injectors, one per (port role, direction), and how it learns about new specs.
//
// The control core owns the FaultPlan objects (App::set_fault_plan). It publishes one by storing
// its pointer in `published`, then bumping `generation` (release). The worker, in its RX nodes,
// sees `generation` differ from what it adopted, loads the pointer (acquire), copies the four specs
// into its injectors and records the generation: a generation rather than the pointer, so that a
// new plan allocated at a freed plan's address is still noticed. The worker never keeps the plan
// past that copy, so the control core frees the previous plan after one RCU grace period
// (workers report quiescence every loop). "Free when off": the RX node's only cost is
// `attention()`, two loads of this worker's own cache line and one predictable branch.
struct alignas(64) FaultWorker {
    std::atomic<const FaultPlan*> published{nullptr};  // written by the control core
    std::atomic<uint64_t> generation{0};               // written by the control core
    uint64_t adopted_generation = 0;                   // this worker only
    bool active = false;  // some injector is enabled or holds packets (this worker only)
    std::array<FaultInjector, 4> injectors;  // FaultPlan::index(role, direction)

    bool attention() const {
        return active || generation.load(std::memory_order_relaxed) != adopted_generation;
    }
    // Adopt a newly published plan, if any; recompute `active`.
    void refresh();
    FaultInjector& at(uint8_t role, FaultDirection dir) {
        return injectors[FaultPlan::index(role, dir)];
    }
    const FaultInjector& at(uint8_t role, FaultDirection dir) const {
        return injectors[FaultPlan::index(role, dir)];
    }
    void discard_all();
};

}  // namespace braid::dataplane
