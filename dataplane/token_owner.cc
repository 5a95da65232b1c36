#include "dataplane/token_owner.h"

#include <rte_hash.h>

#include <netinet/in.h>

#include "dataplane/flow_owner.h"
#include "mptcp/wire/options.h"
#include "tcpstack/wire/tcp.h"

namespace braid::dataplane {

std::unique_ptr<TokenOwnerTable> TokenOwnerTable::create(const std::string& name, uint32_t capacity,
                                                         rte_rcu_qsbr* rcu, std::string* err) {
    std::unique_ptr<TokenOwnerTable> t(new TokenOwnerTable());
    t->hash_ = create_shared_hash(name, capacity, sizeof(uint32_t), rcu, "MPTCP token table", err);
    if (t->hash_ == nullptr) {
        return nullptr;
    }
    return t;
}

TokenOwnerTable::~TokenOwnerTable() {
    rte_hash_free(hash_);
}

bool TokenOwnerTable::insert(uint32_t token, uint16_t worker) {
    if (owner(token)) {
        return false;
    }
    void* data = reinterpret_cast<void*>(static_cast<uintptr_t>(worker));
    if (rte_hash_add_key_data(hash_, &token, data) != 0) {
        return false;
    }
    live_.fetch_add(1, std::memory_order_relaxed);
    return true;
}

bool TokenOwnerTable::erase(uint32_t token) {
    if (rte_hash_del_key(hash_, &token) < 0) {
        return false;
    }
    live_.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

std::optional<uint16_t> TokenOwnerTable::owner(uint32_t token) const {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &token, &data) < 0) {
        return std::nullopt;
    }
    return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(data));
}

SharedTokenTable::~SharedTokenTable() {
    // A worker's connections die with its TcpHost: their tokens must not stay held.
    for (const auto& [token, conn] : local_) {
        global_.erase(token);
    }
}

bool SharedTokenTable::insert(uint32_t token, tcp::ConnId c) {
    if (!global_.insert(token, worker_)) {
        return false;
    }
    local_.emplace(token, c);
    return true;
}

std::optional<tcp::ConnId> SharedTokenTable::find(uint32_t token) const {
    auto it = local_.find(token);
    if (it == local_.end()) {
        return std::nullopt;
    }
    return it->second;
}

void SharedTokenTable::erase(uint32_t token) {
    // Only what this worker inserted: another worker's token is not ours to free.
    if (local_.erase(token) != 0) {
        global_.erase(token);
    }
}

std::optional<uint32_t> join_syn_token(std::span<const uint8_t> ip) {
    if (ip.empty()) {
        return std::nullopt;
    }
    std::span<const uint8_t> seg;
    if (ip[0] >> 4 == 4) {
        if (ip.size() < 20 || ip[9] != IPPROTO_TCP) {
            return std::nullopt;
        }
        const size_t ihl = (ip[0] & 0x0f) * 4u;
        const size_t total = size_t{ip[2]} << 8 | ip[3];
        if (ihl < 20 || total < ihl || total > ip.size()) {
            return std::nullopt;
        }
        seg = ip.subspan(ihl, total - ihl);
    } else if (ip[0] >> 4 == 6) {
        if (ip.size() < 40 || ip[6] != IPPROTO_TCP) {
            return std::nullopt;
        }
        const size_t payload = size_t{ip[4]} << 8 | ip[5];
        if (payload > ip.size() - 40) {
            return std::nullopt;
        }
        seg = ip.subspan(40, payload);
    } else {
        return std::nullopt;
    }
    const auto parsed = tcp::wire::parse_segment(seg);
    if (!parsed.segment || !parsed.segment->header.has(tcp::wire::flag::syn) ||
        parsed.segment->header.has(tcp::wire::flag::ack)) {
        return std::nullopt;
    }
    const auto opts = tcp::wire::parse_options(parsed.segment->options);
    if (opts.error) {
        return std::nullopt;
    }
    for (uint8_t i = 0; i < opts.options.mptcp_count; ++i) {
        const auto o = mptcp::wire::parse(opts.options.mptcp[i]);
        if (o.option) {
            if (const auto* j = std::get_if<mptcp::wire::MpJoinSyn>(&*o.option)) {
                return j->token;
            }
        }
    }
    return std::nullopt;
}

}  // namespace braid::dataplane
