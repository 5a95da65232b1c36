#include "dataplane/session_table.h"

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_rcu_qsbr.h>

#include <algorithm>

namespace braid::dataplane {

namespace {

rte_hash* make_hash(const std::string& name, uint32_t entries) {
    rte_hash_parameters p{};
    p.name = name.c_str();
    p.entries = entries;
    p.key_len = sizeof(uint32_t);
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
    t->by_teid_ = make_hash(name + "_teid", entries);
    t->by_ue_ip_ = make_hash(name + "_ueip", entries);
    if (t->by_teid_ == nullptr || t->by_ue_ip_ == nullptr) {
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
}

const SessionRules* SessionTable::lookup(const rte_hash* h, uint32_t key) {
    void* data = nullptr;
    if (rte_hash_lookup_data(h, &key, &data) < 0) {
        return nullptr;
    }
    return static_cast<const SessionHandle*>(data)->rules.load(std::memory_order_acquire);
}

const SessionRules* SessionTable::by_teid(uint32_t teid) const {
    return lookup(by_teid_, teid);
}
const SessionRules* SessionTable::by_ue_ipv4(uint32_t ip) const {
    return lookup(by_ue_ip_, ip);
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
                                                  std::set<uint32_t>& teids,
                                                  std::set<uint32_t>& ue_ips) {
    for (const Pdr& p : spec.pdrs) {
        if (p.local_teid) {
            teids.insert(*p.local_teid);
        }
        if (p.ue_ipv4) {
            ue_ips.insert(*p.ue_ipv4);
        }
    }
    for (uint32_t t : teids) {
        void* data = nullptr;
        if (rte_hash_lookup_data(by_teid_, &t, &data) >= 0 &&
            (self == nullptr || data != self->handle.get())) {
            return SpecError{SpecError::Kind::teid_in_use, "teid " + std::to_string(t),
                             "the TEID belongs to another session"};
        }
    }
    for (uint32_t ip : ue_ips) {
        void* data = nullptr;
        if (rte_hash_lookup_data(by_ue_ip_, &ip, &data) >= 0 &&
            (self == nullptr || data != self->handle.get())) {
            return SpecError{SpecError::Kind::ue_ip_in_use, "ue-ip " + std::to_string(ip),
                             "the UE IP address belongs to another session"};
        }
    }
    return std::nullopt;
}

void SessionTable::retire_key(rte_hash* h, uint32_t key) {
    int32_t pos = rte_hash_del_key(h, &key);
    if (pos >= 0) {
        retired_.push_back({rte_rcu_qsbr_start(rcu_), nullptr, nullptr, h, pos});
    }
}

bool SessionTable::update_keys(Entry& e, const std::set<uint32_t>& teids,
                               const std::set<uint32_t>& ue_ips) {
    // Add the new keys first (a reader may briefly find the session under both old and new
    // keys, never under neither), then retire the ones that went away.
    for (uint32_t t : teids) {
        if (!e.teids.count(t) && rte_hash_add_key_data(by_teid_, &t, e.handle.get()) < 0) {
            return false;
        }
    }
    for (uint32_t ip : ue_ips) {
        if (!e.ue_ips.count(ip) && rte_hash_add_key_data(by_ue_ip_, &ip, e.handle.get()) < 0) {
            return false;
        }
    }
    for (uint32_t t : e.teids) {
        if (!teids.count(t)) {
            retire_key(by_teid_, t);
        }
    }
    for (uint32_t ip : e.ue_ips) {
        if (!ue_ips.count(ip)) {
            retire_key(by_ue_ip_, ip);
        }
    }
    e.teids = teids;
    e.ue_ips = ue_ips;
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
    CompileResult c = compile(spec);
    if (c.error) {
        return c.error;
    }
    std::set<uint32_t> teids, ue_ips;
    if (auto err = check_keys(spec, nullptr, teids, ue_ips)) {
        return err;
    }
    Entry e;
    e.handle = std::make_unique<SessionHandle>();
    e.handle->seid = spec.seid;
    c.rules->generation = ++generation_;
    e.handle->rules.store(c.rules.release(), std::memory_order_release);
    if (!update_keys(e, teids, ue_ips)) {
        // Roll back: nothing of this session may stay visible.
        update_keys(e, {}, {});
        retired_.push_back(
            {rte_rcu_qsbr_start(rcu_), e.handle->rules.load(), e.handle.release(), nullptr, -1});
        return SpecError{SpecError::Kind::too_many_rules, "session",
                         "the TEID or UE IP table is full"};
    }
    sessions_.emplace(spec.seid, std::move(e));
    return std::nullopt;
}

std::optional<SpecError> SessionTable::modify_session(const SessionSpec& spec) {
    auto it = sessions_.find(spec.seid);
    if (it == sessions_.end()) {
        return SpecError{SpecError::Kind::dangling_ref, "session " + std::to_string(spec.seid),
                         "no session with this SEID"};
    }
    Entry& e = it->second;
    CompileResult c = compile(spec);
    if (c.error) {
        return c.error;
    }
    std::set<uint32_t> teids, ue_ips;
    if (auto err = check_keys(spec, &e, teids, ue_ips)) {
        return err;
    }
    const SessionRules* old = e.handle->rules.load(std::memory_order_relaxed);
    c.rules->usage = old->usage;  // usage counters survive modifications
    c.rules->generation = ++generation_;
    // Publish the snapshot first, so that new keys lead to new rules.
    e.handle->rules.store(c.rules.release(), std::memory_order_release);
    retired_.push_back({rte_rcu_qsbr_start(rcu_), old, nullptr, nullptr, -1});
    if (!update_keys(e, teids, ue_ips)) {
        return SpecError{SpecError::Kind::too_many_rules, "session",
                         "the TEID or UE IP table is full"};
    }
    return std::nullopt;
}

bool SessionTable::delete_session(uint64_t seid) {
    auto it = sessions_.find(seid);
    if (it == sessions_.end()) {
        return false;
    }
    Entry& e = it->second;
    update_keys(e, {}, {});
    retired_.push_back({rte_rcu_qsbr_start(rcu_), e.handle->rules.load(std::memory_order_relaxed),
                        e.handle.release(), nullptr, -1});
    sessions_.erase(it);
    return true;
}

void SessionTable::reclaim(bool wait) {
    for (auto it = retired_.begin(); it != retired_.end();) {
        if (rte_rcu_qsbr_check(rcu_, it->token, wait) != 1) {
            ++it;
            continue;
        }
        delete it->rules;
        delete it->handle;
        if (it->hash != nullptr) {
            rte_hash_free_key_with_position(it->hash, it->position);
        }
        it = retired_.erase(it);
    }
}

}  // namespace braid::dataplane
