#include "dataplane/session_table.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>
#include <cstring>

namespace braid::dataplane {

namespace {

rte_hash* make_hash(const std::string& name, uint32_t entries, uint32_t key_len) {
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = entries;
    p.key_len = key_len;
    p.hash_func = rte_jhash;
    p.socket_id = SOCKET_ID_ANY;
    // Lock-free readers; key slots are freed by us after a grace period, never on delete.
    p.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_NO_FREE_ON_DEL;
    return rte_hash_create(&p);
}

}  // namespace

std::unique_ptr<SessionTable> SessionTable::create(const std::string& name, uint32_t max_sessions,
                                                   rte_rcu_qsbr* rcu, std::string* err) {
    std::unique_ptr<SessionTable> t(new SessionTable());
    t->rcu_ = rcu;
    t->max_sessions_ = max_sessions;
    // Sessions may own several TEIDs / UE addresses (one per access for ATSSS): room for 2 each.
    // rte_hash needs at least one full bucket set; the session limit is enforced by us.
    const uint32_t entries = std::max<uint32_t>(64, max_sessions * 2);
    t->by_teid_ = make_hash(name + "_teid", entries, sizeof(uint32_t));
    t->by_ue_ip_ = make_hash(name + "_ueip", entries, sizeof(uint32_t));
    t->by_ue_ip6_ = make_hash(name + "_ueip6", entries, sizeof(uint64_t));
    // Link-specific addresses: one per access and family for the sessions that use the proxy.
    t->by_link_ip_ = make_hash(name + "_lnk", entries, sizeof(uint32_t));
    t->by_link_ip6_ = make_hash(name + "_lnk6", entries, sizeof(uint64_t));
    if (t->by_teid_ == nullptr || t->by_ue_ip_ == nullptr || t->by_ue_ip6_ == nullptr ||
        t->by_link_ip_ == nullptr || t->by_link_ip6_ == nullptr) {
        *err = "cannot create the session tables: " + std::string(rte_strerror(rte_errno));
        return nullptr;
    }
    return t;
}

SessionTable::~SessionTable() {
    for (auto& [seid, e] : sessions_) {
        delete e.handle->rules.load(std::memory_order_relaxed);
    }
    sessions_.clear();
    reclaim(true);
    rte_hash_free(by_teid_);
    rte_hash_free(by_ue_ip_);
    rte_hash_free(by_ue_ip6_);
    rte_hash_free(by_link_ip_);
    rte_hash_free(by_link_ip6_);
}

const SessionRules* SessionTable::lookup(const rte_hash* h, const void* key) {
    void* data = nullptr;
    if (rte_hash_lookup_data(h, key, &data) < 0) {
        return nullptr;
    }
    return static_cast<const SessionHandle*>(data)->rules.load(std::memory_order_acquire);
}

const SessionRules* SessionTable::by_teid(uint32_t teid) const {
    return lookup(by_teid_, &teid);
}
const SessionRules* SessionTable::by_ue_ipv4(uint32_t ip) const {
    return lookup(by_ue_ip_, &ip);
}
const SessionRules* SessionTable::by_ue_ipv6(const uint8_t* addr) const {
    uint64_t prefix;
    std::memcpy(&prefix, addr, sizeof(prefix));
    return lookup(by_ue_ip6_, &prefix);
}

const SessionRules* SessionTable::by_link_ipv4(uint32_t ip) const {
    return lookup(by_link_ip_, &ip);
}
const SessionRules* SessionTable::by_link_ipv6(const uint8_t* addr) const {
    uint64_t prefix;
    std::memcpy(&prefix, addr, sizeof(prefix));
    return lookup(by_link_ip6_, &prefix);
}

const SessionRules* SessionTable::by_link_address(uint8_t family, const uint8_t* addr,
                                                  LinkAccess& access) const {
    const SessionRules* rules = nullptr;
    if (family == 4) {
        uint32_t be;
        std::memcpy(&be, addr, 4);
        rules = by_link_ipv4(rte_be_to_cpu_32(be));
    } else if (family == 6) {
        rules = by_link_ipv6(addr);
    }
    if (rules == nullptr) {
        return nullptr;
    }
    const auto a = rules->link_access(family, addr);
    if (!a) {
        return nullptr;  // a snapshot published in between without it
    }
    access = *a;
    return rules;
}

const SessionSpec* SessionTable::spec(uint64_t seid) const {
    auto it = sessions_.find(seid);
    return it == sessions_.end() ? nullptr : &it->second.spec;
}

const SessionRules* SessionTable::by_seid(uint64_t seid) const {
    auto it = sessions_.find(seid);
    return it == sessions_.end() ? nullptr
                                 : it->second.handle->rules.load(std::memory_order_relaxed);
}

std::vector<uint64_t> SessionTable::seids() const {
    std::vector<uint64_t> v;
    for (const auto& [seid, e] : sessions_) {
        v.push_back(seid);
    }
    return v;
}

std::optional<SpecError> SessionTable::check_keys(const SessionSpec& spec, const Entry* self,
                                                  Keys& keys) {
    for (const Pdr& p : spec.pdrs) {
        if (p.local_teid) {
            keys.teids.insert(*p.local_teid);
        }
        if (p.ue_ipv4) {
            keys.ue_ips.insert(*p.ue_ipv4);
        }
        if (p.ue_ipv6) {
            uint64_t prefix;
            std::memcpy(&prefix, p.ue_ipv6->addr.data(), sizeof(prefix));
            keys.ue_ip6s.insert(prefix);
        }
    }
    for (const LinkAddress& l : spec.link_addresses) {
        if (l.prefix.family == 4) {
            uint32_t be;
            std::memcpy(&be, l.prefix.addr.data(), 4);
            keys.link_ips.insert(rte_be_to_cpu_32(be));
        } else {
            uint64_t prefix;
            std::memcpy(&prefix, l.prefix.addr.data(), sizeof(prefix));
            keys.link_ip6s.insert(prefix);
        }
    }
    auto taken = [&](rte_hash* h, const void* key) {
        void* data = nullptr;
        return rte_hash_lookup_data(h, key, &data) >= 0 &&
               (self == nullptr || data != self->handle.get());
    };
    for (uint32_t t : keys.teids) {
        if (taken(by_teid_, &t)) {
            return SpecError{SpecError::Kind::teid_in_use, "teid " + std::to_string(t),
                             "the TEID belongs to another session"};
        }
    }
    for (uint32_t ip : keys.ue_ips) {
        if (taken(by_ue_ip_, &ip)) {
            return SpecError{SpecError::Kind::ue_ip_in_use, "ue-ip " + std::to_string(ip),
                             "the UE IP address belongs to another session"};
        }
    }
    for (uint64_t prefix : keys.ue_ip6s) {
        if (taken(by_ue_ip6_, &prefix)) {
            return SpecError{SpecError::Kind::ue_ip_in_use, "ue-ipv6",
                             "the UE IPv6 /64 prefix belongs to another session"};
        }
    }
    // A downlink packet's address must name one session one way: a link-specific address is
    // nobody's UE address and no other session's link-specific address (and the reverse).
    auto any = [](rte_hash* h, const void* key) {
        void* data = nullptr;
        return rte_hash_lookup_data(h, key, &data) >= 0;
    };
    for (uint32_t ip : keys.link_ips) {
        if (taken(by_link_ip_, &ip) || any(by_ue_ip_, &ip)) {
            return SpecError{SpecError::Kind::link_address_in_use, "link " + std::to_string(ip),
                             "the link-specific address is another session's or a UE address"};
        }
    }
    for (uint64_t prefix : keys.link_ip6s) {
        if (taken(by_link_ip6_, &prefix) || any(by_ue_ip6_, &prefix)) {
            return SpecError{SpecError::Kind::link_address_in_use, "link ipv6",
                             "the link-specific /64 is another session's or a UE prefix"};
        }
    }
    for (uint32_t ip : keys.ue_ips) {
        if (any(by_link_ip_, &ip)) {
            return SpecError{SpecError::Kind::ue_ip_in_use, "ue-ip " + std::to_string(ip),
                             "the UE IP address is a link-specific address"};
        }
    }
    for (uint64_t prefix : keys.ue_ip6s) {
        if (any(by_link_ip6_, &prefix)) {
            return SpecError{SpecError::Kind::ue_ip_in_use, "ue-ipv6",
                             "the UE IPv6 /64 prefix is a link-specific prefix"};
        }
    }
    return std::nullopt;
}

void SessionTable::retire_key(rte_hash* h, const void* key) {
    int32_t pos = rte_hash_del_key(h, key);
    if (pos >= 0) {
        retired_.push_back({rte_rcu_qsbr_start(rcu_), nullptr, nullptr, h, pos});
    }
}

namespace {

// Add the keys of `want` that `have` lacks; false if the table is full.
template <typename K>
bool add_keys(rte_hash* h, const std::set<K>& have, const std::set<K>& want, void* data) {
    for (const K& k : want) {
        if (!have.count(k) && rte_hash_add_key_data(h, &k, data) < 0) {
            return false;
        }
    }
    return true;
}

}  // namespace

bool SessionTable::add_all_keys(const Entry& e, const Keys& keys) {
    void* h = e.handle.get();
    return add_keys(by_teid_, e.keys.teids, keys.teids, h) &&
           add_keys(by_ue_ip_, e.keys.ue_ips, keys.ue_ips, h) &&
           add_keys(by_ue_ip6_, e.keys.ue_ip6s, keys.ue_ip6s, h) &&
           add_keys(by_link_ip_, e.keys.link_ips, keys.link_ips, h) &&
           add_keys(by_link_ip6_, e.keys.link_ip6s, keys.link_ip6s, h);
}

// Retire the keys of `have` that `keep` lacks.
void SessionTable::retire_missing(const Keys& have, const Keys& keep) {
    auto retire = [this](rte_hash* h, const auto& from, const auto& kept) {
        for (const auto& k : from) {
            if (!kept.count(k)) {
                retire_key(h, &k);
            }
        }
    };
    retire(by_teid_, have.teids, keep.teids);
    retire(by_ue_ip_, have.ue_ips, keep.ue_ips);
    retire(by_ue_ip6_, have.ue_ip6s, keep.ue_ip6s);
    retire(by_link_ip_, have.link_ips, keep.link_ips);
    retire(by_link_ip6_, have.link_ip6s, keep.link_ip6s);
}

bool SessionTable::update_keys(Entry& e, const Keys& keys) {
    // Add the new keys first (a reader may briefly find the session under both old and new
    // keys, never under neither), then retire the ones that went away.
    if (!add_all_keys(e, keys)) {
        return false;
    }
    retire_missing(e.keys, keys);
    e.keys = keys;
    return true;
}

std::optional<SpecError> SessionTable::create_session(const SessionSpec& spec) {
    if (sessions_.count(spec.seid) != 0) {
        return SpecError{SpecError::Kind::duplicate_id, "session " + std::to_string(spec.seid),
                         "a session with this SEID exists"};
    }
    if (sessions_.size() >= max_sessions_) {
        return SpecError{SpecError::Kind::too_many_rules, "session",
                         "the session table is full (" + std::to_string(max_sessions_) + ")"};
    }
    CompileResult c = compile(spec, nullptr, static_cast<unsigned>(owned_.size()));
    if (c.error) {
        return c.error;
    }
    Keys keys;
    if (auto err = check_keys(spec, nullptr, keys)) {
        return err;
    }
    Entry e;
    e.handle = std::make_unique<SessionHandle>();
    e.handle->seid = spec.seid;
    e.spec = spec;
    c.rules->generation = ++generation_;
    // The least-loaded worker owns the new session (ties: the lowest index).
    const auto least = std::min_element(owned_.begin(), owned_.end());
    c.rules->owner = static_cast<uint16_t>(least - owned_.begin());
    const uint16_t owner = c.rules->owner;
    e.handle->rules.store(c.rules.release(), std::memory_order_release);
    if (!update_keys(e, keys)) {
        // Roll back: nothing of this session may stay visible.
        update_keys(e, {});
        retired_.push_back(
            {rte_rcu_qsbr_start(rcu_), e.handle->rules.load(), e.handle.release(), nullptr, -1});
        return SpecError{SpecError::Kind::too_many_rules, "session",
                         "the TEID or UE IP table is full"};
    }
    ++owned_[owner];
    const SessionRules* rules = e.handle->rules.load(std::memory_order_relaxed);
    Entry& placed = sessions_.emplace(spec.seid, std::move(e)).first->second;
    placed.walk_index = walk_.size();
    walk_.push_back({rules, &placed});
    return std::nullopt;
}

std::optional<SpecError> SessionTable::modify_session(const SessionSpec& spec) {
    auto it = sessions_.find(spec.seid);
    if (it == sessions_.end()) {
        return SpecError{SpecError::Kind::dangling_ref, "session " + std::to_string(spec.seid),
                         "no session with this SEID"};
    }
    Entry& e = it->second;
    const SessionRules* old = e.handle->rules.load(std::memory_order_relaxed);
    // Usage counters and meters carry over by rule ID.
    CompileResult c = compile(spec, old, static_cast<unsigned>(owned_.size()));
    if (c.error) {
        return c.error;
    }
    Keys keys;
    if (auto err = check_keys(spec, &e, keys)) {
        return err;
    }
    // Add the new keys before publishing, so that a failure leaves the session as it was.
    if (!add_all_keys(e, keys)) {
        // Undo what was added: the keys in `keys` the entry did not have.
        retire_missing(keys, e.keys);
        return SpecError{SpecError::Kind::too_many_rules, "session",
                         "the TEID or UE IP table is full"};
    }
    c.rules->generation = ++generation_;
    c.rules->owner = old->owner;
    // Publish the snapshot, then retire the keys that went away (update_keys finds the new
    // ones present).
    walk_[e.walk_index].rules = c.rules.get();
    e.handle->rules.store(c.rules.release(), std::memory_order_release);
    retired_.push_back({rte_rcu_qsbr_start(rcu_), old, nullptr, nullptr, -1});
    update_keys(e, keys);
    e.spec = spec;
    return std::nullopt;
}

bool SessionTable::delete_session(uint64_t seid) {
    auto it = sessions_.find(seid);
    if (it == sessions_.end()) {
        return false;
    }
    Entry& e = it->second;
    const uint16_t owner = e.handle->rules.load(std::memory_order_relaxed)->owner;
    if (owner < owned_.size() && owned_[owner] > 0) {
        --owned_[owner];
    }
    update_keys(e, {});
    walk_remove(e);
    retired_.push_back({rte_rcu_qsbr_start(rcu_), e.handle->rules.load(std::memory_order_relaxed),
                        e.handle.release(), nullptr, -1});
    sessions_.erase(it);
    return true;
}

void SessionTable::walk_move(size_t to, size_t from) {
    if (to != from) {
        walk_[to] = walk_[from];
        walk_[to].entry->walk_index = to;
    }
}

void SessionTable::walk_remove(Entry& e) {
    // Keep [0, cursor) the sessions visited in this pass and [cursor, end) the others, so that
    // every session is still visited once: a hole among the visited ones is filled by the last
    // visited one and the cursor steps back onto the hole it leaves; a hole among the others is
    // filled by the last session.
    size_t hole = e.walk_index;
    if (hole < walk_cursor_) {
        walk_move(hole, walk_cursor_ - 1);
        hole = --walk_cursor_;
    }
    walk_move(hole, walk_.size() - 1);
    walk_.pop_back();
}

void SessionTable::set_workers(unsigned n) {
    // Sessions that exist already keep their owner; they are counted against it.
    owned_.assign(std::max(n, 1u), 0);
    for (const auto& [seid, e] : sessions_) {
        const uint16_t owner = e.handle->rules.load(std::memory_order_relaxed)->owner;
        if (owner < owned_.size()) {
            ++owned_[owner];
        }
    }
}

size_t SessionTable::reclaim(bool wait, size_t budget) {
    // Tokens were taken in order (rte_rcu_qsbr_start increases), so the first grace period not
    // yet over ends the scan. Freed from the front of a deque: erasing from the front of a
    // vector was quadratic (100,000 modifications retire 100,000 snapshots).
    size_t freed = 0;
    while (!retired_.empty() && freed < budget) {
        const Retired& r = retired_.front();
        if (rte_rcu_qsbr_check(rcu_, r.token, wait) != 1) {
            break;
        }
        delete r.rules;
        delete r.handle;
        if (r.hash != nullptr) {
            rte_hash_free_key_with_position(r.hash, r.position);
        }
        retired_.pop_front();
        ++freed;
    }
    return freed;
}

}  // namespace braid::dataplane
