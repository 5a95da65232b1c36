// Neighbor table (IPv4 → MAC per port): owned by the control core, read by workers.
//
// The control core keeps the mutable `NeighborTable` (sans-I/O: time is injected, outgoing ARP
// requests are returned as actions) and, after every change, compiles an immutable
// `NeighborSnapshot` that it publishes by pointer swap (DESIGN.md §4). Workers only ever read a
// snapshot; they report what they learn from ARP traffic through their W2M ring.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace braid::dataplane {

using MacAddr = std::array<uint8_t, 6>;

enum class NeighborState : uint8_t {
    incomplete,  // resolution in progress: requests sent, no answer yet
    reachable,   // answered within `reachable_ms`
    stale,       // lifetime passed: still used, being re-confirmed
    failed,      // no answer after `max_retries`: retried every `failed_retry_ms`
};

std::string_view to_string(NeighborState s);

struct NeighborKey {
    uint16_t port_index = 0;
    uint32_t ipv4 = 0;  // host byte order
    auto operator<=>(const NeighborKey&) const = default;
};

struct Neighbor {
    NeighborKey key;
    MacAddr mac{};
    NeighborState state = NeighborState::incomplete;
    bool pinned = false;      // configured next hop: never evicted
    uint32_t retries = 0;     // requests sent in the current resolution round
    uint64_t updated_ms = 0;  // last state change or confirmation
    uint64_t next_action_ms = 0;
    uint64_t requests_sent = 0;
};

// Immutable, open-addressed, read by workers without locks. Holds the usable neighbors and the
// failed ones (so that a worker drops what it held for those at once).
class NeighborSnapshot {
public:
    explicit NeighborSnapshot(const std::vector<Neighbor>& entries, uint64_t generation = 0);
    // MAC for (port, ip) if the neighbor is reachable or stale.
    std::optional<MacAddr> lookup(uint16_t port_index, uint32_t ipv4_host) const;
    // True if resolving (port, ip) failed (no answer after max_retries).
    bool failed(uint16_t port_index, uint32_t ipv4_host) const;
    size_t size() const { return count_; }
    // Increases with every snapshot the table builds: a worker compares it to the last one it saw.
    uint64_t generation() const { return generation_; }

private:
    struct Slot {
        uint32_t ipv4 = 0;
        uint16_t port_index = 0;
        bool used = false;
        bool failed = false;
        MacAddr mac{};
    };
    const Slot* find(uint16_t port_index, uint32_t ipv4) const;

    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t count_ = 0;
    uint64_t generation_ = 0;
};

class NeighborTable {
public:
    struct Limits {
        uint32_t max_entries = 1024;
        uint64_t reachable_ms = 300'000;
        uint64_t retry_ms = 1000;
        uint32_t max_retries = 3;
        uint64_t failed_retry_ms = 10'000;
    };
    struct Request {  // an ARP request the caller must send now
        uint16_t port_index;
        uint32_t target_ipv4;  // host order
        bool operator==(const Request&) const = default;
    };
    struct Stats {
        uint64_t requests_sent = 0;
        uint64_t learned = 0;
        uint64_t updated = 0;
        uint64_t ignored_unsolicited = 0;
        uint64_t table_full = 0;
        uint64_t resolution_failures = 0;
    };

    explicit NeighborTable(Limits limits) : limits_(limits) {}

    // Start resolving a next hop (pinned entries are kept forever). Returns the request to send
    // now, if any. Idempotent for an existing entry.
    std::optional<Request> want(uint16_t port_index, uint32_t ipv4, uint64_t now_ms,
                                bool pinned = false);

    // ARP seen from `ipv4` with `mac`. `addressed_to_us` is true for requests whose target is
    // one of braid's addresses and for replies (RFC 826: merge the sender into the table when we
    // are the target; otherwise only refresh an entry we already have).
    void learn(uint16_t port_index, uint32_t ipv4, const MacAddr& mac, bool addressed_to_us,
               uint64_t now_ms);

    // Advance time: retries, expiries. Returns the requests to send now.
    std::vector<Request> tick(uint64_t now_ms);

    bool remove(uint16_t port_index, uint32_t ipv4);

    // True once after every change that alters what workers may see.
    bool take_dirty() {
        bool d = dirty_;
        dirty_ = false;
        return d;
    }
    std::unique_ptr<NeighborSnapshot> snapshot() const;

    std::vector<Neighbor> entries() const;
    const Stats& stats() const { return stats_; }
    const Limits& limits() const { return limits_; }

private:
    Limits limits_;
    std::map<NeighborKey, Neighbor> entries_;
    Stats stats_;
    bool dirty_ = false;
    mutable uint64_t generation_ = 0;
};

}  // namespace braid::dataplane
