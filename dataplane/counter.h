// Single-writer counters: one worker writes, the control core and the exporter read.
//
// A relaxed load + store pair compiles to plain loads and stores on x86 (no lock prefix), so the
// packet path pays nothing for the cross-thread visibility; readers may see a value a few
// increments old, which is all a statistic needs. Never share one Counter between two writers.
#pragma once

#include <atomic>
#include <cstdint>

namespace braid::dataplane {

class Counter {
public:
    void add(uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    // The writer records a value (a timestamp) rather than a count.
    void set(uint64_t v) { v_.store(v, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }
    // Only from the writer, or while the writer is stopped.
    void reset() { v_.store(0, std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

}  // namespace braid::dataplane
