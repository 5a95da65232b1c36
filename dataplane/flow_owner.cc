#include "dataplane/flow_owner.h"

#include <arpa/inet.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>

#include <cstring>

namespace braid::dataplane {

FlowKey FlowKey::v4(uint32_t src, uint32_t dst, uint16_t src_port, uint16_t dst_port,
                    uint8_t proto) {
    FlowKey k;
    k.family = 4;
    k.proto = proto;
    k.src_port = src_port;
    k.dst_port = dst_port;
    const uint32_t s = htonl(src), d = htonl(dst);
    std::memcpy(k.src.data(), &s, 4);
    std::memcpy(k.dst.data(), &d, 4);
    return k;
}

FlowKey FlowKey::v6(const uint8_t* src, const uint8_t* dst, uint16_t src_port, uint16_t dst_port,
                    uint8_t proto) {
    FlowKey k;
    k.family = 6;
    k.proto = proto;
    k.src_port = src_port;
    k.dst_port = dst_port;
    std::memcpy(k.src.data(), src, 16);
    std::memcpy(k.dst.data(), dst, 16);
    return k;
}

FlowKey FlowKey::reversed() const {
    FlowKey k = *this;
    std::swap(k.src, k.dst);
    std::swap(k.src_port, k.dst_port);
    return k;
}

std::string FlowKey::to_string() const {
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    const int af = family == 6 ? AF_INET6 : AF_INET;
    inet_ntop(af, src.data(), s, sizeof(s));
    inet_ntop(af, dst.data(), d, sizeof(d));
    const char* p = proto == 6 ? "tcp" : proto == 17 ? "udp" : nullptr;
    std::string out = p != nullptr ? p : "proto " + std::to_string(proto);
    auto endpoint = [&](const char* a, uint16_t port) {
        return family == 6 ? "[" + std::string(a) + "]:" + std::to_string(port)
                           : std::string(a) + ":" + std::to_string(port);
    };
    return out + " " + endpoint(s, src_port) + " -> " + endpoint(d, dst_port);
}

rte_hash* create_shared_hash(const std::string& name, uint32_t capacity, uint32_t key_len,
                             rte_rcu_qsbr* rcu, const std::string& what, std::string* err) {
    rte_hash_parameters prm{};
    prm.name = name.c_str();
    prm.entries = capacity;
    prm.key_len = key_len;
    prm.hash_func = rte_hash_crc;
    prm.socket_id = SOCKET_ID_ANY;
    prm.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD;
    rte_hash* h = rte_hash_create(&prm);
    if (h == nullptr) {
        *err = "cannot create the " + what + " " + name + ": " + rte_strerror(rte_errno);
        return nullptr;
    }
    rte_hash_rcu_config rc{};
    rc.v = rcu;
    rc.mode = RTE_HASH_QSBR_MODE_DQ;
    if (rte_hash_rcu_qsbr_add(h, &rc) != 0) {
        *err = "cannot attach RCU to the " + what + ": " + std::string(rte_strerror(rte_errno));
        rte_hash_free(h);
        return nullptr;
    }
    return h;
}

std::unique_ptr<FlowOwnerTable> FlowOwnerTable::create(const std::string& name, uint32_t capacity,
                                                       rte_rcu_qsbr* rcu, std::string* err) {
    std::unique_ptr<FlowOwnerTable> t(new FlowOwnerTable());
    t->hash_ = create_shared_hash(name, capacity, sizeof(FlowKey), rcu, "flow-owner table", err);
    if (t->hash_ == nullptr) {
        return nullptr;
    }
    t->capacity_ = capacity;
    return t;
}

FlowOwnerTable::~FlowOwnerTable() {
    rte_hash_free(hash_);
}

FlowOwnerTable::Insert FlowOwnerTable::insert(const FlowKey& key, uint16_t worker) {
    if (owner(key)) {
        return Insert::exists;
    }
    // The worker index is the data: no pointer, nothing to reclaim.
    void* data = reinterpret_cast<void*>(static_cast<uintptr_t>(worker));
    if (rte_hash_add_key_data(hash_, &key, data) != 0) {
        return Insert::full;  // no key slot, or no bucket room on either cuckoo path
    }
    live_.fetch_add(1, std::memory_order_relaxed);
    return Insert::inserted;
}

bool FlowOwnerTable::erase(const FlowKey& key) {
    if (rte_hash_del_key(hash_, &key) < 0) {
        return false;
    }
    live_.fetch_sub(1, std::memory_order_relaxed);
    return true;
}

std::optional<uint16_t> FlowOwnerTable::owner(const FlowKey& key) const {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, &key, &data) < 0) {
        return std::nullopt;
    }
    return static_cast<uint16_t>(reinterpret_cast<uintptr_t>(data));
}

std::vector<std::pair<FlowKey, uint16_t>> FlowOwnerTable::entries(size_t max) const {
    std::vector<std::pair<FlowKey, uint16_t>> out;
    const void* key = nullptr;
    void* data = nullptr;
    uint32_t next = 0;
    while (out.size() < max && rte_hash_iterate(hash_, &key, &data, &next) >= 0) {
        FlowKey k;
        std::memcpy(&k, key, sizeof(k));
        out.emplace_back(k, static_cast<uint16_t>(reinterpret_cast<uintptr_t>(data)));
    }
    return out;
}

}  // namespace braid::dataplane
