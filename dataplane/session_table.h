// Sessions shared lock-free between the control core (the only writer) and the workers
// (DESIGN.md §4): rte_hash with lock-free readers keyed by UL TEID, by UE address (IPv4, IPv6
// /64) and by link-specific multipath address (issue 7), each entry pointing at the session's
// stable `SessionHandle`, which holds the current immutable `SessionRules` snapshot. A change
// compiles a new snapshot and publishes it with one atomic pointer store; what a change replaced or
// removed is freed after an rte_rcu_qsbr grace period.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dataplane/session.h"

struct rte_hash;
struct rte_rcu_qsbr;

namespace braid::dataplane {

struct SessionHandle {
    uint64_t seid = 0;
    // Release on publish, acquire in workers: a reader that sees the pointer sees the snapshot.
    std::atomic<const SessionRules*> rules{nullptr};
};

class SessionTable {
public:
    // `rcu` is the workers' QSBR variable (App::rcu()); the table never registers readers.
    static std::unique_ptr<SessionTable> create(const std::string& name, uint32_t max_sessions,
                                                rte_rcu_qsbr* rcu, std::string* err);
    ~SessionTable();
    SessionTable(const SessionTable&) = delete;
    SessionTable& operator=(const SessionTable&) = delete;

    // --- control core -------------------------------------------------------------------
    // The session action functions: all or nothing, one publication per accepted call.
    std::optional<SpecError> create_session(const SessionSpec& spec);
    std::optional<SpecError> modify_session(const SessionSpec& spec);  // replaces every rule
    bool delete_session(uint64_t seid);
    // Free what was retired once no worker can still see it, oldest first, at most `budget`
    // entries (a retired snapshot or a hash key slot): a burst of modifications must not make
    // one control tick free all of them at once. `wait` blocks for the grace period
    // (shutdown, tests). Returns how many were freed.
    size_t reclaim(bool wait = false, size_t budget = SIZE_MAX);

    // How many workers share the table: a new session gets the one owning the fewest sessions
    // as its owner (SessionRules::owner), which modifications keep. Default 1.
    void set_workers(unsigned n);
    // Sessions owned by each worker.
    const std::vector<uint32_t>& owned() const { return owned_; }

    size_t size() const { return sessions_.size(); }
    size_t retired() const { return retired_.size(); }
    const SessionRules* by_seid(uint64_t seid) const;
    // The spec the session's current snapshot was compiled from (PFCP modifications start
    // from it).
    const SessionSpec* spec(uint64_t seid) const;
    std::vector<uint64_t> seids() const;
    // Calls f(const SessionRules&) for every session's current snapshot, in SEID order, without
    // the copy and the per-SEID lookups of seids() + by_seid(): the usage poll walks every
    // session each 100 ms. `f` must not create or delete sessions.
    template <typename F>
    void for_each_rules(F&& f) const {
        for (const auto& [seid, e] : sessions_) {
            f(*e.handle->rules.load(std::memory_order_relaxed));
        }
    }
    // One step of a pass over every session, in a flat array (not the SEID map): visits sessions
    // from where the previous step stopped until `budget` is spent; `f(const SessionRules&)`
    // returns what a visit cost (e.g. the session's URRs; at least 1 is charged, so the pass
    // always moves on). Returns true when the pass reached the end; the next step starts a new
    // one. Each session present for a whole pass is visited exactly once in it: deleting a
    // session keeps the visited ones before the cursor and the others after it; a session
    // created during a pass is visited at its end. `f` must not create or delete sessions.
    //
    // The visits are cache-cold (a pass over 100,000 sessions touches megabytes), so the walk
    // prefetches ahead: the snapshot `walk_ahead` sessions ahead, and `ahead(rules, stage)`
    // lets the caller prefetch what it will read through a snapshot already in cache: stage 1
    // for the session 2/3 of that distance ahead, stage 0 for the one 1/3 ahead.
    template <typename F, typename A>
    bool walk_step(size_t budget, F&& f, A&& ahead) {
        const size_t n = walk_.size();
        for (size_t spent = 0; walk_cursor_ < n && spent < budget;) {
            const size_t i = walk_cursor_++;
            if (i + walk_ahead < n) {
                __builtin_prefetch(walk_[i + walk_ahead].rules);
            }
            if (i + walk_ahead * 2 / 3 < n) {
                ahead(*walk_[i + walk_ahead * 2 / 3].rules, 1u);
            }
            if (i + walk_ahead / 3 < n) {
                ahead(*walk_[i + walk_ahead / 3].rules, 0u);
            }
            spent += std::max<size_t>(f(*walk_[i].rules), 1);
        }
        if (walk_cursor_ < n) {
            return false;
        }
        walk_cursor_ = 0;
        return true;
    }
    template <typename F>
    bool walk_step(size_t budget, F&& f) {
        return walk_step(budget, std::forward<F>(f), [](const SessionRules&, unsigned) {});
    }
    // Where the pass in progress is (sessions visited in it so far); for tests.
    size_t walk_position() const { return walk_cursor_; }

    // --- workers (lock-free readers; call between two quiescent-state reports) ----------
    const SessionRules* by_teid(uint32_t teid) const;
    const SessionRules* by_ue_ipv4(uint32_t ue_ipv4) const;
    // By the /64 prefix of an IPv6 address (16 octets, network order).
    const SessionRules* by_ue_ipv6(const uint8_t* addr) const;
    // By a link-specific multipath address (issue 7; SessionRules::link_access says which
    // access): an IPv4 address (host order), or the /64 of an IPv6 address (16 octets).
    const SessionRules* by_link_ipv4(uint32_t addr) const;
    const SessionRules* by_link_ipv6(const uint8_t* addr) const;
    // Both steps: the session whose link-specific address `addr` is (16 octets, network
    // order; IPv4 in the first 4) and, in `access`, which access that address is. nullptr: none.
    const SessionRules* by_link_address(uint8_t family, const uint8_t* addr,
                                        LinkAccess& access) const;

private:
    SessionTable() = default;

    struct Keys {
        std::set<uint32_t> teids;
        std::set<uint32_t> ue_ips;
        std::set<uint64_t> ue_ip6s;    // /64 prefixes as loaded from memory
        std::set<uint32_t> link_ips;   // link-specific addresses (issue 7), host order
        std::set<uint64_t> link_ip6s;  // ... IPv6 /64s as loaded from memory
    };
    struct Entry {
        std::unique_ptr<SessionHandle> handle;
        Keys keys;
        SessionSpec spec;
        size_t walk_index = 0;  // in walk_
    };
    struct WalkSlot {
        const SessionRules* rules;  // the current snapshot, kept up to date by every publish
        Entry* entry;               // map nodes do not move
    };
    static constexpr size_t walk_ahead = 12;
    struct Retired {
        uint64_t token;
        const SessionRules* rules = nullptr;
        SessionHandle* handle = nullptr;
        rte_hash* hash = nullptr;  // key slot to free
        int32_t position = -1;
    };

    std::optional<SpecError> check_keys(const SessionSpec& spec, const Entry* self, Keys& keys);
    bool update_keys(Entry& e, const Keys& keys);
    bool add_all_keys(const Entry& e, const Keys& keys);
    void retire_missing(const Keys& have, const Keys& keep);
    void retire_key(rte_hash* h, const void* key);
    void walk_remove(Entry& e);
    void walk_move(size_t to, size_t from);
    static const SessionRules* lookup(const rte_hash* h, const void* key);

    rte_hash* by_teid_ = nullptr;
    rte_hash* by_ue_ip_ = nullptr;
    rte_hash* by_ue_ip6_ = nullptr;
    rte_hash* by_link_ip_ = nullptr;
    rte_hash* by_link_ip6_ = nullptr;
    rte_rcu_qsbr* rcu_ = nullptr;
    uint32_t max_sessions_ = 0;
    uint64_t generation_ = 0;
    std::vector<uint32_t> owned_ = std::vector<uint32_t>(1, 0);  // sessions per owner worker
    std::map<uint64_t, Entry> sessions_;
    // Every session once, in no particular order, for passes that must not walk the map (the
    // usage poll, App::poll_usage): [0, walk_cursor_) visited in the pass in progress.
    std::vector<WalkSlot> walk_;
    size_t walk_cursor_ = 0;
    // Oldest first (tokens increase); freed from the front, so a deque, not a vector.
    std::deque<Retired> retired_;
};

}  // namespace braid::dataplane
