// Neighbor table (IPv4 or IPv6 address → MAC per port): owned by the control core, read by
// workers.
//
// The control core keeps the mutable `NeighborTable` (sans-I/O: time is injected, outgoing ARP
// requests and IPv6 Neighbor Solicitations are returned as actions) and, after every change,
// compiles an immutable `NeighborSnapshot` that it publishes by pointer swap (DESIGN.md §4).
// Workers only ever read a snapshot; they report what they learn from ARP and Neighbor Discovery
// traffic through their W2M ring. Both families follow the same state machine: RFC 826 / RFC
// 1122 §2.3.2 for IPv4, RFC 4861 §7.2-§7.3 for IPv6 (MAX_MULTICAST_SOLICIT = 3 solicitations
// RETRANS_TIMER = 1 s apart are `max_retries` and `retry_ms`; a stale entry is re-confirmed by
// solicitations too, braid has no separate DELAY/PROBE unicast phase).
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

using Ipv6Addr = std::array<uint8_t, 16>;  // network byte order

// A next hop: an IPv4 address (`v6` false, `ipv6` all zero) or an IPv6 address (`v6` true,
// `ipv4` 0) on a port.
struct NeighborKey {
    uint16_t port_index = 0;
    uint32_t ipv4 = 0;  // host byte order
    bool v6 = false;
    Ipv6Addr ipv6{};

    static NeighborKey of_ipv4(uint16_t port_index, uint32_t ipv4_host) {
        return {port_index, ipv4_host, false, {}};
    }
    static NeighborKey of_ipv6(uint16_t port_index, const Ipv6Addr& addr) {
        return {port_index, 0, true, addr};
    }
    auto operator<=>(const NeighborKey&) const = default;
};

// "198.18.0.1" or "2001:db8::1" (RFC 5952 text).
std::string address_text(const NeighborKey& key);

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
    // MAC for the next hop if the neighbor is reachable or stale.
    std::optional<MacAddr> lookup(const NeighborKey& key) const;
    std::optional<MacAddr> lookup(uint16_t port_index, uint32_t ipv4_host) const {
        return lookup(NeighborKey::of_ipv4(port_index, ipv4_host));
    }
    // True if resolving the next hop failed (no answer after max_retries).
    bool failed(const NeighborKey& key) const;
    bool failed(uint16_t port_index, uint32_t ipv4_host) const {
        return failed(NeighborKey::of_ipv4(port_index, ipv4_host));
    }
    size_t size() const { return count_; }
    // Increases with every snapshot the table builds: a worker compares it to the last one it saw.
    uint64_t generation() const { return generation_; }

private:
    struct Slot {
        NeighborKey key;
        bool used = false;
        bool failed = false;
        MacAddr mac{};
    };
    const Slot* find(const NeighborKey& key) const;

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
    // An ARP request (IPv4) or a multicast Neighbor Solicitation (IPv6) the caller must send now.
    struct Request {
        uint16_t port_index = 0;
        uint32_t target_ipv4 = 0;  // host order
        bool v6 = false;
        Ipv6Addr target_ipv6{};
        NeighborKey key() const { return {port_index, target_ipv4, v6, target_ipv6}; }
        bool operator==(const Request&) const = default;
    };
    struct Stats {
        uint64_t requests_sent = 0;       // both families
        uint64_t solicitations_sent = 0;  // of which IPv6 Neighbor Solicitations
        uint64_t learned = 0;
        uint64_t updated = 0;
        uint64_t ignored_unsolicited = 0;
        uint64_t table_full = 0;
        uint64_t resolution_failures = 0;
    };

    explicit NeighborTable(Limits limits) : limits_(limits) {}

    // Start resolving a next hop (pinned entries are kept forever). Returns the request to send
    // now, if any. Idempotent for an existing entry.
    std::optional<Request> want(const NeighborKey& key, uint64_t now_ms, bool pinned = false);
    std::optional<Request> want(uint16_t port_index, uint32_t ipv4, uint64_t now_ms,
                                bool pinned = false) {
        return want(NeighborKey::of_ipv4(port_index, ipv4), now_ms, pinned);
    }

    // ARP seen from `ipv4` with `mac`. `addressed_to_us` is true for requests whose target is
    // one of braid's addresses and for replies (RFC 826: merge the sender into the table when we
    // are the target; otherwise only refresh an entry we already have). IPv6: a Neighbor
    // Solicitation for one of braid's addresses with a source link-layer address option is
    // addressed to us (RFC 4861 §7.2.3); an advertisement is not (§7.2.5: with no entry, it is
    // silently discarded), it updates an entry we have.
    void learn(const NeighborKey& key, const MacAddr& mac, bool addressed_to_us, uint64_t now_ms);
    void learn(uint16_t port_index, uint32_t ipv4, const MacAddr& mac, bool addressed_to_us,
               uint64_t now_ms) {
        learn(NeighborKey::of_ipv4(port_index, ipv4), mac, addressed_to_us, now_ms);
    }

    // Advance time: retries, expiries. Returns the requests to send now.
    std::vector<Request> tick(uint64_t now_ms);

    bool remove(const NeighborKey& key);
    bool remove(uint16_t port_index, uint32_t ipv4) {
        return remove(NeighborKey::of_ipv4(port_index, ipv4));
    }

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
    Request request_for(const NeighborKey& key);  // counts it

    Limits limits_;
    std::map<NeighborKey, Neighbor> entries_;
    Stats stats_;
    bool dirty_ = false;
    mutable uint64_t generation_ = 0;
};

}  // namespace braid::dataplane
