// Session model compilation and the lock-free session table (publish, modify, delete, RCU).
#include <arpa/inet.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "dataplane/session_table.h"
#include "tests/unit/eal_fixture.h"

using namespace braid::dataplane;

namespace {

constexpr uint32_t ue_ip = 0xC6136401;  // 198.19.100.1
constexpr uint32_t ul_teid = 0x1001;

SessionSpec basic(uint64_t seid = 1, uint32_t teid = ul_teid, uint32_t ue = ue_ip) {
    SessionSpec s = simple_session(seid, teid, ue, 0xC6120002, 0x2002);
    for (Pdr& p : s.pdrs) {
        p.urr_ids = {1};
    }
    s.urrs = {Urr{1, true, false, 0, 0, 0}};
    return s;
}

// A UDP packet key between the UE and a remote host (host-order addresses).
sdf::PacketKey v4_key(uint32_t ue, uint32_t remote) {
    sdf::PacketKey k;
    k.family = 4;
    const uint32_t ue_be = htonl(ue), remote_be = htonl(remote);
    std::memcpy(k.ue.data(), &ue_be, 4);
    std::memcpy(k.remote.data(), &remote_be, 4);
    k.proto = 17;
    k.has_ports = true;
    k.ue_port = 40000;
    k.remote_port = 53;
    return k;
}

struct Rcu {
    rte_rcu_qsbr* v = nullptr;
    Rcu() {
        braid::test::eal_once();
        size_t sz = rte_rcu_qsbr_get_memsize(1);
        v = static_cast<rte_rcu_qsbr*>(rte_zmalloc("test_rcu", sz, RTE_CACHE_LINE_SIZE));
        REQUIRE(v != nullptr);
        REQUIRE(rte_rcu_qsbr_init(v, 1) == 0);
        REQUIRE(rte_rcu_qsbr_thread_register(v, 0) == 0);
    }
    ~Rcu() { rte_free(v); }
};

std::unique_ptr<SessionTable> table(Rcu& rcu, uint32_t max = 64) {
    static int n = 0;
    std::string err;
    auto t = SessionTable::create("sess" + std::to_string(n++), max, rcu.v, &err);
    INFO(err);
    REQUIRE(t != nullptr);
    return t;
}

}  // namespace

TEST_CASE("compile: PDRs are ordered by precedence (TS 29.244 §5.2.1)", "[session]") {
    SessionSpec s = basic();
    s.pdrs[0].precedence = 300;
    Pdr hi = s.pdrs[0];
    hi.id = 9;
    hi.precedence = 10;
    hi.qfi = 5;
    s.pdrs.push_back(hi);
    auto c = compile(s);
    REQUIRE(c.rules);
    CHECK(c.rules->pdrs.front().id == 9);
    // QFI-specific PDR wins for its QFI, the wider one matches the rest.
    sdf::PacketKey ul = v4_key(ue_ip, 0xC6130002);
    CHECK(c.rules->match_uplink(ul_teid, 5, &ul)->id == 9);
    CHECK(c.rules->match_uplink(ul_teid, 7, &ul)->id == 1);
    CHECK(c.rules->match_uplink(ul_teid, std::nullopt, nullptr)->id == 1);
    CHECK(c.rules->match_uplink(0x9999, 5, &ul) == nullptr);
    CHECK(c.rules->match_downlink(ul)->id == 2);
}

TEST_CASE("compile: refuses what a worker could not act on", "[session]") {
    SECTION("dangling FAR reference") {
        SessionSpec s = basic();
        s.pdrs[0].far_id = 77;
        auto c = compile(s);
        REQUIRE(c.error);
        CHECK(c.error->kind == SpecError::Kind::dangling_ref);
        CHECK(c.error->rule == "pdr 1");
    }
    SECTION("dangling URR reference") {
        SessionSpec s = basic();
        s.pdrs[1].urr_ids = {1, 5};
        CHECK(compile(s).error->kind == SpecError::Kind::dangling_ref);
    }
    SECTION("duplicate FAR id") {
        SessionSpec s = basic();
        s.fars[1].id = 1;
        auto c = compile(s);
        CHECK(c.error->kind == SpecError::Kind::duplicate_id);
        CHECK(c.error->rule == "far 1");
    }
    SECTION("apply action with both drop and forward (§8.2.26)") {
        SessionSpec s = basic();
        s.fars[0].action.drop = true;
        CHECK(compile(s).error->kind == SpecError::Kind::bad_action);
    }
    SECTION("notify-cp without buffer") {
        SessionSpec s = basic();
        s.fars[0].action.notify_cp = true;
        CHECK(compile(s).error->kind == SpecError::Kind::bad_action);
    }
    SECTION("forward to access without outer header creation") {
        SessionSpec s = basic();
        s.fars[1].outer_header.reset();
        CHECK(compile(s).error->kind == SpecError::Kind::missing_outer);
    }
    SECTION("PDR that matches nothing") {
        SessionSpec s = basic();
        s.pdrs[0].local_teid.reset();
        CHECK(compile(s).error->kind == SpecError::Kind::missing_match);
    }
}

// ---- MAR → the MPTCP proxy's scheduler (issue 7) ------------------------------------------

namespace {

Mar mptcp_mar_with(uint16_t id, uint8_t mode, std::optional<MarAccess> tgpp,
                   std::optional<MarAccess> non) {
    Mar m;
    m.id = id;
    m.steering_functionality = 1;
    m.steering_mode = mode;
    m.tgpp = std::move(tgpp);
    m.non_tgpp = std::move(non);
    return m;
}
MarAccess afai(uint32_t far, std::optional<uint8_t> weight, std::optional<uint8_t> prio) {
    MarAccess a;
    a.far_id = far;
    a.weight = weight;
    a.priority = prio;
    return a;
}

using braid::mptcp::AccessPriority;
using braid::mptcp::SchedulerMode;
constexpr size_t g3 = 0, n3 = 1;  // SchedulerConfig::access indexes

}  // namespace

TEST_CASE("mar scheduler: each steering mode and its per-access parameters", "[session][mar]") {
    SECTION("Active-Standby, non-3GPP active, RTT threshold") {
        Mar m = mptcp_mar_with(1, 0, afai(2, {}, 1), afai(3, {}, 0));
        m.rtt_threshold_ms = 120;
        m.plr_threshold = 5;
        const auto c = mar_scheduler(m);
        CHECK(c.mode == SchedulerMode::active_standby);
        CHECK(c.access[g3].present);
        CHECK(c.access[g3].priority == AccessPriority::standby);
        CHECK(c.access[n3].priority == AccessPriority::active);
        REQUIRE(c.rtt_threshold_ms);
        CHECK(*c.rtt_threshold_ms == 120);
        REQUIRE(c.plr_threshold_percent);
        CHECK(*c.plr_threshold_percent == 5);
    }
    SECTION("Active-Standby, only the active access has a Priority: the other is Standby") {
        const auto c = mar_scheduler(mptcp_mar_with(1, 0, afai(2, {}, {}), afai(3, {}, 0)));
        CHECK(c.access[n3].priority == AccessPriority::active);
        CHECK(c.access[g3].priority == AccessPriority::standby);
        CHECK_FALSE(c.rtt_threshold_ms);
        CHECK_FALSE(c.plr_threshold_percent);
    }
    SECTION("Active-Standby, No Standby: the standby access is never used") {
        const auto c = mar_scheduler(mptcp_mar_with(1, 0, afai(2, {}, 0), afai(3, {}, 2)));
        CHECK(c.access[g3].priority == AccessPriority::active);
        CHECK(c.access[n3].priority == AccessPriority::no_standby);
    }
    SECTION("Active-Standby with only the 3GPP AFAI: non-3GPP absent") {
        const auto c = mar_scheduler(mptcp_mar_with(1, 0, afai(2, {}, 0), std::nullopt));
        CHECK(c.access[g3].present);
        CHECK_FALSE(c.access[n3].present);
    }
    SECTION("Smallest Delay") {
        const auto c = mar_scheduler(mptcp_mar_with(1, 1, afai(2, {}, {}), afai(3, {}, {})));
        CHECK(c.mode == SchedulerMode::smallest_delay);
        CHECK(c.access[g3].present);
        CHECK(c.access[n3].present);
    }
    SECTION("Load Balancing: the weights; one missing counts as 0; none: 50/50") {
        auto c = mar_scheduler(mptcp_mar_with(1, 2, afai(2, 30, {}), afai(3, 70, {})));
        CHECK(c.mode == SchedulerMode::load_balancing);
        CHECK(c.access[g3].weight == 30);
        CHECK(c.access[n3].weight == 70);
        c = mar_scheduler(mptcp_mar_with(1, 2, afai(2, 100, {}), afai(3, {}, {})));
        CHECK(c.access[g3].weight == 100);
        CHECK(c.access[n3].weight == 0);
        c = mar_scheduler(mptcp_mar_with(1, 2, afai(2, {}, {}), afai(3, {}, {})));
        CHECK(c.access[g3].weight == 50);
        CHECK(c.access[n3].weight == 50);
    }
    SECTION("Priority-based: High and Low, defaults 3GPP High") {
        auto c = mar_scheduler(mptcp_mar_with(1, 3, afai(2, {}, 4), afai(3, {}, 3)));
        CHECK(c.mode == SchedulerMode::priority_based);
        CHECK(c.access[g3].priority == AccessPriority::low);
        CHECK(c.access[n3].priority == AccessPriority::high);
        c = mar_scheduler(mptcp_mar_with(1, 3, afai(2, {}, {}), afai(3, {}, {})));
        CHECK(c.access[g3].priority == AccessPriority::high);
        CHECK(c.access[n3].priority == AccessPriority::low);
    }
    SECTION("Redundant: Primary and Secondary") {
        const auto c = mar_scheduler(mptcp_mar_with(1, 4, afai(2, {}, 6), afai(3, {}, {})));
        CHECK(c.mode == SchedulerMode::redundant);
        CHECK(c.access[g3].priority == AccessPriority::secondary);
        CHECK(c.access[n3].priority == AccessPriority::primary);
    }
    SECTION("an unknown steering mode falls back to Smallest Delay") {
        const auto c = mar_scheduler(mptcp_mar_with(1, 9, afai(2, {}, {}), afai(3, {}, {})));
        CHECK(c.mode == SchedulerMode::smallest_delay);
    }
}

TEST_CASE("mar scheduler: compile picks the MPTCP MAR of the first DL PDR", "[session][mar]") {
    SessionSpec s = basic();
    CHECK_FALSE(compile(s).rules->scheduler.has_value());  // no MAR: the proxy's default
    Far n3iwf;                                             // the non-3GPP access's DL FAR
    n3iwf.id = 3;
    n3iwf.action.forward = true;
    n3iwf.destination = Interface::access;
    n3iwf.outer_header = OuterHeaderCreation{0x3003, 0xC6120003};
    s.fars.push_back(n3iwf);
    Mar ll = mptcp_mar_with(5, 0, afai(2, {}, 0), afai(3, {}, 1));
    ll.steering_functionality = 0;  // ATSSS-LL: never the proxy's
    s.mars = {ll, mptcp_mar_with(7, 2, afai(2, 80, {}), afai(3, 20, {})),
              mptcp_mar_with(6, 3, afai(2, {}, 3), afai(3, {}, 4))};
    SECTION("no PDR names a MAR: the lowest MPTCP MAR ID") {
        auto c = compile(s);
        REQUIRE(c.rules);
        REQUIRE(c.rules->scheduler);
        CHECK(c.rules->scheduler_mar == 6);
        CHECK(c.rules->scheduler->mode == SchedulerMode::priority_based);
        CHECK(c.rules->mptcp);
    }
    SECTION("the highest-precedence DL PDR with an MPTCP MAR") {
        Pdr dl2 = s.pdrs[1];
        dl2.id = 3;
        dl2.precedence = s.pdrs[1].precedence + 10;
        dl2.mar_id = 6;
        s.pdrs[1].mar_id = 7;
        s.pdrs.push_back(dl2);
        auto c = compile(s);
        REQUIRE(c.rules);
        CHECK(c.rules->scheduler_mar == 7);
        REQUIRE(c.rules->scheduler);
        CHECK(*c.rules->scheduler == mar_scheduler(s.mars[1]));
        CHECK(c.rules->scheduler->access[g3].weight == 80);
        // The DL PDR of MAR 7 loses precedence: MAR 6's PDR comes first.
        s.pdrs[1].precedence += 100;
        CHECK(compile(s).rules->scheduler_mar == 6);
    }
    SECTION("only an ATSSS-LL MAR: no scheduler, no MPTCP") {
        s.mars = {ll};
        auto c = compile(s);
        REQUIRE(c.rules);
        CHECK_FALSE(c.rules->scheduler);
        CHECK_FALSE(c.rules->mptcp);
    }
}

TEST_CASE("table: a created session is found by TEID and by UE address", "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(basic()));
    const SessionRules* a = t->by_teid(ul_teid);
    const SessionRules* b = t->by_ue_ipv4(ue_ip);
    REQUIRE(a != nullptr);
    CHECK(a == b);
    CHECK(a->seid == 1);
    CHECK(t->by_teid(0x4242) == nullptr);
    CHECK(t->size() == 1);
}

TEST_CASE("table: a session's per-worker URR slices follow set_workers", "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    const SessionSpec s = basic(1);
    REQUIRE_FALSE(t->create_session(s));
    CHECK(t->by_seid(1)->urrs[0].usage.size() == 1);  // the default: one worker
    t->set_workers(4);
    REQUIRE_FALSE(t->create_session(basic(2, ul_teid + 1, ue_ip + 1)));
    CHECK(t->by_seid(2)->urrs[0].usage.size() == 4);
    // Modifying the older session keeps its counters (the slices the workers wrote).
    const UsageSlice* before = t->by_seid(1)->urrs[0].usage.data();
    REQUIRE_FALSE(t->modify_session(s));
    CHECK(t->by_seid(1)->urrs[0].usage.data() == before);
}

TEST_CASE("table: a budgeted walk resumes where it stopped and charges what f returns",
          "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    for (uint64_t seid = 1; seid <= 5; ++seid) {
        const uint32_t n = static_cast<uint32_t>(seid);
        REQUIRE_FALSE(t->create_session(basic(seid, ul_teid + n, ue_ip + n)));
    }
    std::vector<uint64_t> seen;
    const auto visit = [&](size_t cost) {
        return [&seen, cost](const SessionRules& r) {
            seen.push_back(r.seid);
            return cost;
        };
    };
    // Cost 2 per session, budget 3: two sessions (2, then 4 >= 3 stops).
    CHECK_FALSE(t->walk_step(3, visit(2)));
    CHECK(seen.size() == 2);
    CHECK(t->walk_position() == 2);
    // A cost of 0 is charged as 1: the walk still ends.
    CHECK_FALSE(t->walk_step(2, visit(0)));
    CHECK(seen.size() == 4);
    CHECK(t->walk_step(100, visit(1)));  // the end of the pass
    REQUIRE(seen.size() == 5);
    CHECK(t->walk_position() == 0);
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<uint64_t>{1, 2, 3, 4, 5});
    // The next step starts a new pass.
    seen.clear();
    CHECK(t->walk_step(100, visit(1)));
    CHECK(seen.size() == 5);
}

TEST_CASE("table: sessions deleted or created during a pass: the others are visited exactly once",
          "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    for (uint64_t seid = 1; seid <= 40; ++seid) {
        const uint32_t n = static_cast<uint32_t>(seid);
        REQUIRE_FALSE(t->create_session(basic(seid, ul_teid + n, ue_ip + n)));
    }
    std::vector<int> visits(64, 0);
    const auto visit = [&](const SessionRules& r) {
        ++visits[r.seid];
        return size_t{1};
    };
    // Several steps, each followed by deletions before and after the cursor (the visited and the
    // not yet visited parts of the pass) and a creation.
    std::vector<uint64_t> deleted;
    uint64_t next_seid = 41;
    bool done = false;
    for (int step = 0; !done; ++step) {
        REQUIRE(step < 100);
        done = t->walk_step(3, visit);
        if (done) {
            break;
        }
        // The first visited session still present, and the last session not yet visited.
        for (uint64_t seid = 1; seid < 64; ++seid) {
            if (visits[seid] == 1 && t->by_seid(seid) != nullptr) {
                REQUIRE(t->delete_session(seid));
                deleted.push_back(seid);
                break;
            }
        }
        for (uint64_t seid = 63; seid >= 1; --seid) {
            if (visits[seid] == 0 && t->by_seid(seid) != nullptr) {
                REQUIRE(t->delete_session(seid));
                deleted.push_back(seid);
                break;
            }
        }
        if (next_seid < 48) {
            const uint32_t n = static_cast<uint32_t>(next_seid);
            REQUIRE_FALSE(t->create_session(basic(next_seid, ul_teid + n, ue_ip + n)));
            ++next_seid;
        }
    }
    for (uint64_t seid = 1; seid < next_seid; ++seid) {
        const bool gone = std::find(deleted.begin(), deleted.end(), seid) != deleted.end();
        INFO("seid " << seid);
        if (gone) {
            CHECK(visits[seid] <= 1);  // deleted before or after its visit
        } else {
            CHECK(visits[seid] == 1);  // present at the end: visited once, created ones too
        }
    }
    CHECK(t->size() == next_seid - 1 - deleted.size());
    // The walk still knows every session: a new pass visits each remaining one once.
    std::fill(visits.begin(), visits.end(), 0);
    REQUIRE(t->walk_step(1000, visit));
    size_t total = 0;
    for (uint64_t seid = 1; seid < 64; ++seid) {
        CHECK(visits[seid] == (t->by_seid(seid) != nullptr ? 1 : 0));
        total += static_cast<size_t>(visits[seid]);
    }
    CHECK(total == t->size());
}

TEST_CASE("table: reclaim frees at most its budget per call, oldest first", "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(basic()));
    // Ten modifications retire ten snapshots (the keys stay: same TEID and UE address).
    for (uint32_t i = 0; i < 10; ++i) {
        SessionSpec s = basic();
        s.fars[1].outer_header->teid = 0x5000 + i;
        REQUIRE_FALSE(t->modify_session(s));
    }
    REQUIRE(t->retired() == 10);
    CHECK(t->reclaim(false, 4) == 4);
    CHECK(t->retired() == 6);
    CHECK(t->reclaim(false, 0) == 0);
    CHECK(t->retired() == 6);
    // A reader online that has not reported: nothing more is freed, whatever the budget.
    rte_rcu_qsbr_thread_online(rcu.v, 0);
    REQUIRE_FALSE(t->modify_session(basic()));
    CHECK(t->reclaim(false, 100) == 6);  // the six retired before the reader came online
    CHECK(t->retired() == 1);
    rte_rcu_qsbr_quiescent(rcu.v, 0);
    CHECK(t->reclaim(false, 100) == 1);
    CHECK(t->retired() == 0);
    rte_rcu_qsbr_thread_offline(rcu.v, 0);
}

TEST_CASE("table: keys of another session are refused and nothing changes", "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(basic(1)));
    auto err = t->create_session(basic(2, ul_teid, ue_ip + 1));
    REQUIRE(err);
    CHECK(err->kind == SpecError::Kind::teid_in_use);
    err = t->create_session(basic(2, ul_teid + 1, ue_ip));
    REQUIRE(err);
    CHECK(err->kind == SpecError::Kind::ue_ip_in_use);
    CHECK(t->size() == 1);
    CHECK(t->by_teid(ul_teid + 1) == nullptr);
    CHECK(t->create_session(basic(1, 5, 6))->kind == SpecError::Kind::duplicate_id);
}

TEST_CASE("table: modify publishes a new snapshot once; old one lives until a grace period",
          "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(basic()));
    const SessionRules* before = t->by_teid(ul_teid);
    // A reader is online and has not reported quiescence: nothing may be freed.
    rte_rcu_qsbr_thread_online(rcu.v, 0);
    SessionSpec s = basic(1, ul_teid + 1, ue_ip);  // new UL TEID
    REQUIRE_FALSE(t->modify_session(s));
    const SessionRules* after = t->by_teid(ul_teid + 1);
    REQUIRE(after != nullptr);
    CHECK(after != before);
    CHECK(after->generation > before->generation);
    CHECK(t->by_teid(ul_teid) == nullptr);  // the old TEID is gone for new lookups
    CHECK(t->by_ue_ipv4(ue_ip) == after);
    t->reclaim();
    CHECK(t->retired() == 2);  // old snapshot + the old TEID's key slot
    CHECK(before->seid == 1);  // still readable: the reader may hold it
    rte_rcu_qsbr_quiescent(rcu.v, 0);
    t->reclaim();
    CHECK(t->retired() == 0);
    rte_rcu_qsbr_thread_offline(rcu.v, 0);
}

TEST_CASE("table: a refused modification leaves the session exactly as it was", "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(basic()));
    const SessionRules* before = t->by_teid(ul_teid);
    SessionSpec bad = basic();
    bad.pdrs[0].far_id = 99;
    REQUIRE(t->modify_session(bad));
    CHECK(t->by_teid(ul_teid) == before);
    CHECK(t->retired() == 0);
    CHECK(t->modify_session(basic(42))->kind == SpecError::Kind::dangling_ref);
}

TEST_CASE("table: delete removes every key and frees after the grace period", "[session]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(basic()));
    CHECK(t->delete_session(1));
    CHECK_FALSE(t->delete_session(1));
    CHECK(t->by_teid(ul_teid) == nullptr);
    CHECK(t->by_ue_ipv4(ue_ip) == nullptr);
    t->reclaim();
    CHECK(t->retired() == 0);  // no reader online
    // The freed key slots are reusable.
    REQUIRE_FALSE(t->create_session(basic(2)));
    CHECK(t->by_teid(ul_teid)->seid == 2);
}

TEST_CASE("table: full table refuses with a clear error", "[session]") {
    Rcu rcu;
    auto t = table(rcu, 2);
    REQUIRE_FALSE(t->create_session(basic(1, 1, 1)));
    REQUIRE_FALSE(t->create_session(basic(2, 2, 2)));
    auto err = t->create_session(basic(3, 3, 3));
    REQUIRE(err);
    CHECK(err->message.find("full") != std::string::npos);
}

// --- link-specific multipath addresses (issue 7) ---------------------------------------------

namespace {

constexpr uint32_t link_3gpp = 0xC613D201;   // 198.19.210.1
constexpr uint32_t link_n3gpp = 0xC613DC01;  // 198.19.220.1

sdf::Prefix v4_prefix(uint32_t host_order) {
    sdf::Prefix p{4, {}, 32};
    const uint32_t be = htonl(host_order);
    std::memcpy(p.addr.data(), &be, 4);
    return p;
}

sdf::Prefix v6_prefix(uint8_t last_of_64, uint8_t host) {
    sdf::Prefix p{6, {0x20, 0x01, 0x0d, 0xb8, 0, 0x30, 0, last_of_64}, 64};
    p.addr[15] = host;  // an interface identifier: the /64 is what counts
    return p;
}

// An MA PDU session: UL PDRs per access TEID, one DL PDR with a MAR whose FARs are the 3GPP
// access (FAR 2, to the gNB) and the non-3GPP access (FAR 3, to the N3IWF); link-specific
// addresses of both accesses.
SessionSpec ma_session(uint64_t seid = 7) {
    SessionSpec s = basic(seid);
    s.mptcp = true;
    Pdr ul2 = s.pdrs[0];
    ul2.id = 3;
    ul2.local_teid = 0x1002;
    s.pdrs.push_back(ul2);
    s.pdrs[1].mar_id = 1;
    s.pdrs[1].far_from_mar = true;
    Far n3iwf = s.fars[1];
    n3iwf.id = 3;
    n3iwf.outer_header = OuterHeaderCreation{0x3003, 0xC6120003};
    s.fars.push_back(n3iwf);
    Mar m;
    m.id = 1;
    m.steering_functionality = 1;  // MPTCP
    m.steering_mode = 1;           // Smallest Delay
    m.tgpp = MarAccess{2, {}, {}, {}};
    m.non_tgpp = MarAccess{3, {}, {}, {}};
    s.mars = {m};
    s.link_addresses = {{LinkAccess::tgpp, v4_prefix(link_3gpp)},
                        {LinkAccess::non_tgpp, v4_prefix(link_n3gpp)}};
    return s;
}

}  // namespace

TEST_CASE("link addresses: compiled with the FAR of each access", "[session][link]") {
    const SessionSpec s = ma_session();
    CompileResult c = compile(s);
    INFO((c.error ? c.error->message : ""));
    REQUIRE(c.rules);
    const SessionRules& r = *c.rules;
    REQUIRE(r.link.size() == 2);
    const auto a3 = v4_prefix(link_3gpp), an = v4_prefix(link_n3gpp), ue = v4_prefix(ue_ip);
    CHECK(r.link_access(4, a3.addr.data()) == LinkAccess::tgpp);
    CHECK(r.link_access(4, an.addr.data()) == LinkAccess::non_tgpp);
    CHECK_FALSE(r.link_access(4, ue.addr.data()));
    CHECK_FALSE(r.link_access(6, a3.addr.data()));
    // The DL PDR (id 2) leaves by FAR 2 or FAR 3 for the link addresses, by its own FAR
    // (the MAR's primary, here 3GPP) for the UE address.
    const auto dl = std::find_if(r.pdrs.begin(), r.pdrs.end(), [](auto& p) { return p.id == 2; });
    REQUIRE(dl != r.pdrs.end());
    CHECK(r.fars[dl->link_far_index[0]].id == 2);
    CHECK(r.fars[dl->link_far_index[1]].id == 3);
    // A PDR without a MAR: both link addresses use its own FAR.
    const auto ul = std::find_if(r.pdrs.begin(), r.pdrs.end(), [](auto& p) { return p.id == 1; });
    CHECK(r.fars[ul->link_far_index[0]].id == 1);
    CHECK(r.fars[ul->link_far_index[1]].id == 1);
}

TEST_CASE("link addresses: a subflow from one matches as the UE", "[session][link]") {
    SessionSpec s = ma_session();
    // Filters that name the UE's address ("assigned") must match the subflows' traffic.
    sdf::Filter f;
    f.flow = std::get<sdf::FlowDescription>(
        sdf::parse_flow_description("permit out 6 from any to assigned"));
    s.pdrs[1].sdf_filters = {f};
    CompileResult c = compile(s);
    REQUIRE(c.rules);
    sdf::PacketKey k = v4_key(link_n3gpp, 0xC6123201);
    k.proto = 6;
    CHECK(c.rules->match_downlink(k) == nullptr);  // the address as such: not the UE's
    const sdf::PacketKey as = c.rules->as_ue(k);
    uint32_t ue_be;
    std::memcpy(&ue_be, as.ue.data(), 4);
    CHECK(ntohl(ue_be) == ue_ip);
    CHECK(as.remote == k.remote);
    CHECK(as.ue_port == k.ue_port);
    const CompiledPdr* pdr = c.rules->match_downlink(as);
    REQUIRE(pdr != nullptr);
    CHECK(pdr->id == 2);
    // IPv6: the session's /64 and the subflow's interface identifier.
    SessionSpec s6 = ma_session();
    s6.pdrs[1].ue_ipv4.reset();
    s6.pdrs[1].ue_ipv6 = v6_prefix(1, 0);
    s6.link_addresses = {{LinkAccess::tgpp, v6_prefix(2, 9)}};
    CompileResult c6 = compile(s6);
    REQUIRE(c6.rules);
    REQUIRE(c6.rules->link.size() == 1);
    CHECK(c6.rules->link[0].prefix.addr[15] == 0);  // kept as its /64
    sdf::PacketKey k6;
    k6.family = 6;
    k6.ue = v6_prefix(2, 0x42).addr;
    CHECK(c6.rules->link_access(6, k6.ue.data()) == LinkAccess::tgpp);
    const sdf::PacketKey as6 = c6.rules->as_ue(k6);
    CHECK(as6.ue[7] == 1);      // the UE's /64
    CHECK(as6.ue[15] == 0x42);  // the subflow's interface identifier
}

TEST_CASE("link addresses: what compile refuses", "[session][link]") {
    auto kind = [](const SessionSpec& s) {
        CompileResult c = compile(s);
        REQUIRE(c.error);
        INFO(c.error->message);
        CHECK(c.error->kind == SpecError::Kind::bad_link_address);
        return c.error->message;
    };
    SECTION("a session that may not use the proxy") {
        SessionSpec s = ma_session();
        s.mptcp = false;
        s.mars[0].steering_functionality = 0;  // ATSSS-LL
        CHECK(kind(s).find("MPTCP") != std::string::npos);
    }
    SECTION("two of one family for one access") {
        SessionSpec s = ma_session();
        s.link_addresses[1].access = LinkAccess::tgpp;
        kind(s);
    }
    SECTION("one address for both accesses") {
        SessionSpec s = ma_session();
        s.link_addresses[1].prefix = s.link_addresses[0].prefix;
        kind(s);
    }
    SECTION("not a /32 or a /64") {
        SessionSpec s = ma_session();
        s.link_addresses[0].prefix.len = 24;
        kind(s);
        s = ma_session();
        s.link_addresses[0].prefix = v6_prefix(3, 0);
        s.link_addresses[0].prefix.len = 48;
        kind(s);
        s = ma_session();
        s.link_addresses[0].prefix.family = 0;
        kind(s);
    }
    SECTION("the UE's own address") {
        SessionSpec s = ma_session();
        s.link_addresses[0].prefix = v4_prefix(ue_ip);
        CHECK(kind(s).find("UE address") != std::string::npos);
    }
    SECTION("a MAR with the MPTCP steering functionality implies mptcp") {
        SessionSpec s = ma_session();
        s.mptcp = false;
        CHECK(compile(s).rules);
    }
}

TEST_CASE("link addresses: published, looked up and retired with the session", "[session][link]") {
    Rcu rcu;
    auto t = table(rcu);
    REQUIRE_FALSE(t->create_session(ma_session(7)));
    const auto a3 = v4_prefix(link_3gpp), an = v4_prefix(link_n3gpp);
    LinkAccess access{};
    const SessionRules* r = t->by_link_address(4, an.addr.data(), access);
    REQUIRE(r != nullptr);
    CHECK(r->seid == 7);
    CHECK(access == LinkAccess::non_tgpp);
    CHECK(t->by_link_address(4, a3.addr.data(), access) == r);
    CHECK(access == LinkAccess::tgpp);
    CHECK(t->by_link_ipv4(link_3gpp) == r);
    // The UE address is not a link address, a link address is not a UE address.
    CHECK(t->by_link_ipv4(ue_ip) == nullptr);
    CHECK(t->by_ue_ipv4(link_3gpp) == nullptr);

    SECTION("another session may not take them, nor use one as its UE address") {
        SessionSpec other = ma_session(8);
        other.pdrs[0].local_teid = 0x2001;
        other.pdrs[2].local_teid = 0x2002;
        other.pdrs[1].ue_ipv4 = 0xC6136402;
        auto err = t->create_session(other);
        REQUIRE(err);
        CHECK(err->kind == SpecError::Kind::link_address_in_use);
        SessionSpec plain = basic(9, 0x3001, link_n3gpp);
        err = t->create_session(plain);
        REQUIRE(err);
        CHECK(err->kind == SpecError::Kind::ue_ip_in_use);
        // ... nor a link address that is another session's UE address.
        REQUIRE_FALSE(t->create_session(basic(10, 0x4001, 0xC6136409)));
        other.link_addresses[0].prefix = v4_prefix(0xC6136409);
        err = t->create_session(other);
        REQUIRE(err);
        CHECK(err->kind == SpecError::Kind::link_address_in_use);
        CHECK(t->size() == 2);
    }
    SECTION("a modification that keeps them keeps the lookup; one that drops one retires it") {
        SessionSpec s = *t->spec(7);
        s.urrs[0].volume_threshold_bytes = 1000;
        REQUIRE_FALSE(t->modify_session(s));
        const SessionRules* r2 = t->by_link_address(4, an.addr.data(), access);
        REQUIRE(r2 != nullptr);
        CHECK(r2 != r);  // the new snapshot
        CHECK(r2->generation > r->generation);
        s.link_addresses.pop_back();
        REQUIRE_FALSE(t->modify_session(s));
        CHECK(t->by_link_address(4, an.addr.data(), access) == nullptr);
        CHECK(t->by_link_address(4, a3.addr.data(), access) != nullptr);
        t->reclaim(true);
        // The retired address is free for another session now.
        SessionSpec other = ma_session(8);
        other.pdrs[0].local_teid = 0x2001;
        other.pdrs[2].local_teid = 0x2002;
        other.pdrs[1].ue_ipv4 = 0xC6136402;
        other.link_addresses = {{LinkAccess::non_tgpp, v4_prefix(link_n3gpp)}};
        CHECK_FALSE(t->create_session(other));
    }
    SECTION("deleted with the session") {
        REQUIRE(t->delete_session(7));
        CHECK(t->by_link_address(4, an.addr.data(), access) == nullptr);
        CHECK(t->by_link_ipv4(link_3gpp) == nullptr);
        t->reclaim(true);
        REQUIRE_FALSE(t->create_session(ma_session(8)));
        CHECK(t->by_link_ipv4(link_3gpp) != nullptr);
    }
    SECTION("IPv6: found by the /64") {
        SessionSpec s6 = ma_session(11);
        s6.pdrs[0].local_teid = 0x5001;
        s6.pdrs[2].local_teid = 0x5002;
        s6.pdrs[1].ue_ipv4 = 0xC6136403;
        s6.link_addresses = {{LinkAccess::non_tgpp, v6_prefix(5, 0)}};
        REQUIRE_FALSE(t->create_session(s6));
        const auto any = v6_prefix(5, 0x77);
        const SessionRules* r6 = t->by_link_address(6, any.addr.data(), access);
        REQUIRE(r6 != nullptr);
        CHECK(r6->seid == 11);
        CHECK(access == LinkAccess::non_tgpp);
        CHECK(t->by_link_address(6, v6_prefix(6, 0).addr.data(), access) == nullptr);
    }
}
