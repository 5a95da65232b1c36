#include "control/pfcp/ue_ip_pool.h"

#include <arpa/inet.h>

#include <algorithm>
#include <utility>

namespace braid::pfcp {

namespace {

// The pool's prefix as an integer: IPv4 as 32 bits, IPv6 as its upper 64 bits (braid hands out
// /64s, so the lower half is always 0).
uint64_t prefix_bits(const UeIpPoolConfig& p) {
    uint64_t v = 0;
    const int octets = p.family == 4 ? 4 : 8;
    for (int i = 0; i < octets; ++i) {
        v = v << 8 | p.prefix[i];
    }
    return v;
}

int width(uint8_t family) {
    return family == 4 ? 32 : 64;
}

// The mask of the top `len` bits of a `w`-bit value (w = 32 or 64).
uint64_t top_mask(int w, int len) {
    const uint64_t all = w == 64 ? ~uint64_t{0} : (uint64_t{1} << w) - 1;
    const int host = w - len;
    const uint64_t host_mask = host <= 0    ? 0
                               : host >= 64 ? ~uint64_t{0}
                                            : (uint64_t{1} << host) - 1;
    return all & ~host_mask;
}

}  // namespace

std::string prefix_text(const UeIpPoolConfig& pool) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(pool.family == 4 ? AF_INET : AF_INET6, pool.prefix.data(), buf, sizeof(buf));
    return std::string(buf) + "/" + std::to_string(pool.length);
}

std::string to_string(const UeIpPoolConfig& pool) {
    std::string s = prefix_text(pool);
    if (!pool.network_instance.empty()) {
        s += " (network instance " + pool.network_instance + ")";
    }
    return s;
}

std::optional<std::string> check(const std::vector<UeIpPoolConfig>& pools) {
    for (size_t i = 0; i < pools.size(); ++i) {
        const UeIpPoolConfig& p = pools[i];
        const std::string at = "UE IP pool " + std::to_string(i) + ": ";
        if (p.family != 4 && p.family != 6) {
            return at + "the family must be 4 or 6";
        }
        // Below /8 a pool would be a mistake rather than a plan (and IPv6 beyond /64 cannot
        // delegate a /64).
        if (p.length < 8 || p.length > width(p.family)) {
            return at + (p.family == 4 ? "an IPv4 pool must be /8 to /32"
                                       : "an IPv6 pool must be /8 to /64 (a /64 per session)");
        }
        if ((prefix_bits(p) & ~top_mask(width(p.family), p.length)) != 0) {
            return at + to_string(p) + " has host bits set";
        }
        if (p.family == 6) {
            for (int o = 8; o < 16; ++o) {
                if (p.prefix[o] != 0) {
                    return at + to_string(p) + " has host bits set";
                }
            }
        }
        for (size_t j = 0; j < i; ++j) {
            const UeIpPoolConfig& q = pools[j];
            if (q.family != p.family) {
                continue;
            }
            const uint64_t m = top_mask(width(p.family), std::min(p.length, q.length));
            if ((prefix_bits(p) & m) == (prefix_bits(q) & m)) {
                return at + to_string(p) + " overlaps UE IP pool " + std::to_string(j) + " (" +
                       to_string(q) + ")";
            }
        }
    }
    return std::nullopt;
}

uint64_t UeIpPools::capacity(const UeIpPoolConfig& c) {
    const int host_bits = width(c.family) - c.length;
    const uint64_t size = host_bits >= 64 ? ~uint64_t{0} : uint64_t{1} << host_bits;
    // Below /31 the network and broadcast addresses are not handed out.
    return c.family == 4 && c.length < 31 ? size - 2 : size;
}

UeIpPools::UeIpPools(std::vector<UeIpPoolConfig> pools) {
    for (UeIpPoolConfig& c : pools) {
        Pool p;
        p.first = c.family == 4 && c.length < 31 ? 1 : 0;
        p.count = capacity(c);
        p.cursor = p.first;
        p.cfg = std::move(c);
        pools_.push_back(std::move(p));
    }
}

bool UeIpPools::serves(uint8_t family) const {
    return std::any_of(pools_.begin(), pools_.end(),
                       [&](const Pool& p) { return p.cfg.family == family; });
}

UeIpPools::Address UeIpPools::address_at(const Pool& p, uint64_t offset) const {
    Address a{};
    const uint64_t v = prefix_bits(p.cfg) + offset;
    const int octets = p.cfg.family == 4 ? 4 : 8;
    for (int i = 0; i < octets; ++i) {
        a[octets - 1 - i] = static_cast<uint8_t>(v >> (8 * i));
    }
    return a;
}

std::optional<UeIpPools::Candidate> UeIpPools::allocate_in(size_t index, const InUse& in_use) {
    Pool& p = pools_[index];
    // Bounded work per request: a pool this fragmented is treated as exhausted.
    const uint64_t attempts = std::min<uint64_t>(p.count, 1u << 20);
    for (uint64_t i = 0; i < attempts; ++i) {
        if (p.cursor < p.first || p.cursor - p.first >= p.count) {
            p.cursor = p.first;
        }
        const uint64_t offset = p.cursor++;
        if (p.held.count(offset) != 0) {
            continue;
        }
        const Address a = address_at(p, offset);
        if (in_use && in_use(p.cfg.family, a)) {
            continue;
        }
        return Candidate{index, p.cfg.family, a};
    }
    return std::nullopt;
}

std::variant<UeIpPools::Candidate, UeIpPools::Failure> UeIpPools::allocate(
    uint8_t family, std::string_view network_instance, const InUse& in_use) {
    bool found = false;
    // Pools of this network instance; only when there are none, the pools without one.
    for (bool exact : {true, false}) {
        for (size_t i = 0; i < pools_.size(); ++i) {
            const UeIpPoolConfig& c = pools_[i].cfg;
            if (c.family != family ||
                (exact ? (c.network_instance.empty() || c.network_instance != network_instance)
                       : !c.network_instance.empty())) {
                continue;
            }
            found = true;
            if (auto cand = allocate_in(i, in_use)) {
                return *cand;
            }
        }
        if (found) {
            break;
        }
    }
    return found ? Failure::exhausted : Failure::no_pool;
}

void UeIpPools::commit(uint64_t seid, const Candidate& c) {
    Pool& p = pools_.at(c.pool);
    const uint64_t base = prefix_bits(p.cfg);
    uint64_t v = 0;
    const int octets = p.cfg.family == 4 ? 4 : 8;
    for (int i = 0; i < octets; ++i) {
        v = v << 8 | c.address[i];
    }
    const uint64_t offset = v - base;
    if (p.held.insert(offset).second) {
        by_session_[seid].emplace_back(c.pool, offset);
        ++allocations_;
    }
}

std::optional<UeIpPools::Candidate> UeIpPools::held(uint64_t seid, uint8_t family) const {
    auto it = by_session_.find(seid);
    if (it == by_session_.end()) {
        return std::nullopt;
    }
    for (const auto& [pool, offset] : it->second) {
        if (pools_[pool].cfg.family == family) {
            return Candidate{pool, family, address_at(pools_[pool], offset)};
        }
    }
    return std::nullopt;
}

size_t UeIpPools::release(uint64_t seid) {
    auto it = by_session_.find(seid);
    if (it == by_session_.end()) {
        return 0;
    }
    const size_t n = it->second.size();
    for (const auto& [pool, offset] : it->second) {
        pools_[pool].held.erase(offset);
    }
    by_session_.erase(it);
    return n;
}

std::vector<UeIpPools::Stats> UeIpPools::stats() const {
    std::vector<Stats> out;
    for (const Pool& p : pools_) {
        out.push_back(
            {to_string(p.cfg), p.cfg.network_instance, p.cfg.family, p.count, p.held.size()});
    }
    return out;
}

}  // namespace braid::pfcp
