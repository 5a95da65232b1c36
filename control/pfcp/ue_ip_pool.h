// UE IP address pools for the UP function's own allocation (TS 29.244 §5.21; spec/n4-gtpu-mams.md
// §1.10 UE IP Address): a PDI UE IP Address with CHV4 gets one IPv4 address, one with CHV6 one
// IPv6 /64 prefix (braid's IPv6 UE routes are /64s, so it delegates exactly a /64 per session).
// One allocation per session per family: every PDR of the session asking for that family gets
// the same address (§5.21.1).
//
// Sans I/O and without DPDK: the procedures ask `allocate()` for a candidate (nothing recorded),
// install the session, and only then `commit()` it. A rejected establishment therefore never
// holds an address; `release()` frees a session's addresses when it goes. Addresses an SMF chose
// itself (CHV4 not set) are not recorded here: the `in_use` callback lets the caller skip them.
//
// Pools are chosen by Network Instance (PDI): a pool with that network instance first, else a
// pool without one. Several pools may serve the same network instance and family: they are
// tried in configuration order.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace braid::pfcp {

struct UeIpPoolConfig {
    std::string network_instance;      // empty: serves any network instance without its own pool
    uint8_t family = 4;                // 4 or 6
    std::array<uint8_t, 16> prefix{};  // network order; IPv4 in the first 4 octets; host bits 0
    uint8_t length = 0;                // IPv4: 8..32; IPv6: 8..64 (a /64 per session is handed out)
    bool operator==(const UeIpPoolConfig&) const = default;
};

// Why `pools` cannot be used (null: they can): bad family or length, host bits set, overlaps.
std::optional<std::string> check(const std::vector<UeIpPoolConfig>& pools);

// "198.20.0.0/16", "2001:db8:100::/40" (+ " (network instance internet)" when set).
std::string to_string(const UeIpPoolConfig& pool);
// "198.20.0.0/16" only.
std::string prefix_text(const UeIpPoolConfig& pool);

class UeIpPools {
public:
    // An IPv4 address (first 4 octets) or the first 8 octets of an IPv6 /64 (rest 0).
    using Address = std::array<uint8_t, 16>;
    // True when `a` must not be handed out (another session uses it).
    using InUse = std::function<bool(uint8_t family, const Address& a)>;

    UeIpPools() = default;
    explicit UeIpPools(std::vector<UeIpPoolConfig> pools);  // check() them first

    // What a pool can hand out: IPv4 addresses (without network and broadcast below /31) or
    // IPv6 /64 prefixes.
    static uint64_t capacity(const UeIpPoolConfig& pool);

    bool empty() const { return pools_.empty(); }
    bool serves(uint8_t family) const;  // some pool of this family exists

    struct Candidate {
        size_t pool = 0;
        uint8_t family = 4;
        Address address{};
    };
    enum class Failure : uint8_t {
        no_pool,    // no pool of this family for this network instance
        exhausted,  // every address of every matching pool is held or in use
    };
    // A free address of `family` for `network_instance`; nothing is recorded until commit().
    std::variant<Candidate, Failure> allocate(uint8_t family, std::string_view network_instance,
                                              const InUse& in_use);
    void commit(uint64_t seid, const Candidate& c);
    // What `seid` holds for `family`, if anything.
    std::optional<Candidate> held(uint64_t seid, uint8_t family) const;
    // Frees everything `seid` holds; returns how many addresses.
    size_t release(uint64_t seid);

    struct Stats {
        std::string name;  // to_string(config)
        std::string network_instance;
        uint8_t family = 4;
        uint64_t size = 0;  // addresses (IPv4) or /64 prefixes (IPv6) that can be handed out
        uint64_t used = 0;  // held by sessions
    };
    std::vector<Stats> stats() const;
    size_t pool_count() const { return pools_.size(); }
    uint64_t used(size_t pool) const { return pools_.at(pool).held.size(); }
    uint64_t allocations() const { return allocations_; }  // commits since start

private:
    struct Pool {
        UeIpPoolConfig cfg;
        uint64_t first = 0;       // offset of the first usable address/prefix
        uint64_t count = 0;       // usable addresses/prefixes
        uint64_t cursor = 0;      // next offset to try (round robin: a freed address rests a while)
        std::set<uint64_t> held;  // offsets
    };
    Address address_at(const Pool& p, uint64_t offset) const;
    std::optional<Candidate> allocate_in(size_t index, const InUse& in_use);

    std::vector<Pool> pools_;
    std::map<uint64_t, std::vector<std::pair<size_t, uint64_t>>> by_session_;  // pool, offset
    uint64_t allocations_ = 0;
};

}  // namespace braid::pfcp
