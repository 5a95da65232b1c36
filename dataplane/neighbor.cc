#include "dataplane/neighbor.h"

#include <arpa/inet.h>

#include <bit>

namespace braid::dataplane {

std::string_view to_string(NeighborState s) {
    switch (s) {
        case NeighborState::incomplete:
            return "incomplete";
        case NeighborState::reachable:
            return "reachable";
        case NeighborState::stale:
            return "stale";
        case NeighborState::failed:
            return "failed";
    }
    return "?";
}

namespace {

size_t slot_hash(const NeighborKey& key) {
    uint64_t k = (uint64_t{key.port_index} << 32) | key.ipv4;
    if (key.v6) {
        // The interface identifier (low 64 bits) is what varies between neighbors on a link.
        uint64_t iid = 0;
        for (size_t i = 8; i < 16; ++i) {
            iid = iid << 8 | key.ipv6[i];
        }
        k ^= iid ^ (uint64_t{1} << 48);
    }
    k *= 0x9E3779B97F4A7C15ull;  // Fibonacci hashing: spreads consecutive addresses
    return static_cast<size_t>(k >> 20);
}

bool usable(NeighborState s) {
    return s == NeighborState::reachable || s == NeighborState::stale;
}

}  // namespace

std::string address_text(const NeighborKey& key) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (key.v6) {
        inet_ntop(AF_INET6, key.ipv6.data(), buf, sizeof(buf));
    } else {
        const uint32_t be = htonl(key.ipv4);
        inet_ntop(AF_INET, &be, buf, sizeof(buf));
    }
    return buf;
}

NeighborSnapshot::NeighborSnapshot(const std::vector<Neighbor>& all, uint64_t generation)
    : generation_(generation) {
    size_t n = 0;
    for (const auto& e : all) {
        n += usable(e.state) || e.state == NeighborState::failed ? 1 : 0;
    }
    // Load factor <= 0.5 keeps probe sequences short.
    size_t cap = std::bit_ceil(std::max<size_t>(8, n * 2));
    slots_.resize(cap);
    mask_ = cap - 1;
    for (const auto& e : all) {
        const bool is_failed = e.state == NeighborState::failed;
        if (!usable(e.state) && !is_failed) {
            continue;
        }
        size_t i = slot_hash(e.key) & mask_;
        while (slots_[i].used) {
            i = (i + 1) & mask_;
        }
        slots_[i] = Slot{e.key, true, is_failed, e.mac};
        count_ += is_failed ? 0 : 1;
    }
}

const NeighborSnapshot::Slot* NeighborSnapshot::find(const NeighborKey& key) const {
    for (size_t i = slot_hash(key) & mask_, probes = 0; probes <= mask_;
         i = (i + 1) & mask_, ++probes) {
        const Slot& s = slots_[i];
        if (!s.used) {
            return nullptr;
        }
        if (s.key == key) {
            return &s;
        }
    }
    return nullptr;
}

std::optional<MacAddr> NeighborSnapshot::lookup(const NeighborKey& key) const {
    const Slot* s = find(key);
    if (s == nullptr || s->failed) {
        return std::nullopt;
    }
    return s->mac;
}

bool NeighborSnapshot::failed(const NeighborKey& key) const {
    const Slot* s = find(key);
    return s != nullptr && s->failed;
}

NeighborTable::Request NeighborTable::request_for(const NeighborKey& key) {
    ++stats_.requests_sent;
    stats_.solicitations_sent += key.v6 ? 1 : 0;
    return Request{key.port_index, key.ipv4, key.v6, key.ipv6};
}

std::optional<NeighborTable::Request> NeighborTable::want(const NeighborKey& key, uint64_t now_ms,
                                                          bool pinned) {
    if (auto it = entries_.find(key); it != entries_.end()) {
        it->second.pinned = it->second.pinned || pinned;
        return std::nullopt;
    }
    if (entries_.size() >= limits_.max_entries) {
        ++stats_.table_full;
        return std::nullopt;
    }
    Neighbor n;
    n.key = key;
    n.pinned = pinned;
    n.state = NeighborState::incomplete;
    n.retries = 1;
    n.requests_sent = 1;
    n.updated_ms = now_ms;
    n.next_action_ms = now_ms + limits_.retry_ms;
    entries_.emplace(key, n);
    return request_for(key);
}

void NeighborTable::learn(const NeighborKey& key, const MacAddr& mac, bool addressed_to_us,
                          uint64_t now_ms) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        if (!addressed_to_us) {
            ++stats_.ignored_unsolicited;
            return;
        }
        if (entries_.size() >= limits_.max_entries) {
            ++stats_.table_full;
            return;
        }
        it = entries_.emplace(key, Neighbor{}).first;
        it->second.key = key;
        ++stats_.learned;
    } else {
        ++stats_.updated;
    }
    Neighbor& n = it->second;
    if (n.state != NeighborState::reachable || n.mac != mac) {
        dirty_ = true;
    }
    n.mac = mac;
    n.state = NeighborState::reachable;
    n.retries = 0;
    n.updated_ms = now_ms;
    n.next_action_ms = now_ms + limits_.reachable_ms;
}

std::vector<NeighborTable::Request> NeighborTable::tick(uint64_t now_ms) {
    std::vector<Request> out;
    for (auto it = entries_.begin(); it != entries_.end();) {
        Neighbor& n = it->second;
        if (now_ms < n.next_action_ms) {
            ++it;
            continue;
        }
        switch (n.state) {
            case NeighborState::reachable:
                // Lifetime over: keep forwarding with the old MAC while we re-confirm it.
                n.state = NeighborState::stale;
                n.retries = 0;
                [[fallthrough]];
            case NeighborState::stale:
            case NeighborState::incomplete:
                if (n.retries >= limits_.max_retries) {
                    if (!n.pinned && n.state == NeighborState::stale) {
                        // An unpinned neighbor that stopped answering is forgotten.
                        dirty_ = true;
                        it = entries_.erase(it);
                        continue;
                    }
                    // Workers see failed entries too: what they hold for it is dropped.
                    dirty_ = true;
                    n.state = NeighborState::failed;
                    n.updated_ms = now_ms;
                    n.next_action_ms = now_ms + limits_.failed_retry_ms;
                    ++stats_.resolution_failures;
                    break;
                }
                ++n.retries;
                ++n.requests_sent;
                n.next_action_ms = now_ms + limits_.retry_ms;
                out.push_back(request_for(n.key));
                break;
            case NeighborState::failed:
                dirty_ = true;  // leaves the snapshot: new packets are held again
                if (!n.pinned) {
                    it = entries_.erase(it);
                    continue;
                }
                n.state = NeighborState::incomplete;
                n.retries = 1;
                ++n.requests_sent;
                n.next_action_ms = now_ms + limits_.retry_ms;
                out.push_back(request_for(n.key));
                break;
        }
        ++it;
    }
    return out;
}

bool NeighborTable::remove(const NeighborKey& key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        return false;
    }
    dirty_ = dirty_ || usable(it->second.state) || it->second.state == NeighborState::failed;
    entries_.erase(it);
    return true;
}

std::unique_ptr<NeighborSnapshot> NeighborTable::snapshot() const {
    return std::make_unique<NeighborSnapshot>(entries(), ++generation_);
}

std::vector<Neighbor> NeighborTable::entries() const {
    std::vector<Neighbor> v;
    v.reserve(entries_.size());
    for (const auto& [k, n] : entries_) {
        v.push_back(n);
    }
    return v;
}

}  // namespace braid::dataplane
