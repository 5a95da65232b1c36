#include "mptcp/scheduler.h"

#include <algorithm>

namespace braid::mptcp {

std::string_view to_string(SchedulerMode m) {
    switch (m) {
#define BRAID_X(name, help)   \
    case SchedulerMode::name: \
        return #name;
        BRAID_MPTCP_SCHEDULERS(BRAID_X)
#undef BRAID_X
        case SchedulerMode::count:
            break;
    }
    return "?";
}

std::optional<SchedulerMode> scheduler_mode(std::string_view name) {
#define BRAID_X(n, help)         \
    if (name == #n) {            \
        return SchedulerMode::n; \
    }
    BRAID_MPTCP_SCHEDULERS(BRAID_X)
#undef BRAID_X
    return std::nullopt;
}

std::string_view to_string(Access a) {
    switch (a) {
        case Access::tgpp:
            return "3gpp";
        case Access::non_tgpp:
            return "non-3gpp";
        case Access::unknown:
            break;
    }
    return "unknown";
}

void LossEstimate::sample(uint32_t segments_total, uint32_t retransmits_total) {
    if (!primed_) {
        primed_ = true;
        last_segments_ = segments_total;
        last_retransmits_ = retransmits_total;
        return;
    }
    // Unsigned differences: the totals may wrap. SYN retransmissions count in the engine's
    // retransmits but not in its data segments: never more lost than sent.
    const uint64_t sent = segments_total - last_segments_;
    const uint64_t lost = std::min<uint64_t>(retransmits_total - last_retransmits_, sent);
    last_segments_ = segments_total;
    last_retransmits_ = retransmits_total;
    // x - ceil(x / 8): the sums decay to 0 (a floor would leave a remainder for ever).
    segments_ = segments_ - ((segments_ + 7) >> 3) + (sent << 5);  // + (sent * 256) / 8
    retransmits_ = retransmits_ - ((retransmits_ + 7) >> 3) + (lost << 5);
}

uint32_t LossEstimate::ppm() const {
    const uint64_t base = std::max<uint64_t>(segments_, uint64_t{loss_min_segments} << 8);
    return static_cast<uint32_t>(std::min<uint64_t>(retransmits_ * 1'000'000 / base, 1'000'000));
}

ThresholdReason past_threshold(const SchedulerConfig& cfg, const SubflowView& s) {
    if (cfg.rtt_threshold_ms && s.srtt_us > uint64_t{*cfg.rtt_threshold_ms} * 1000) {
        return ThresholdReason::rtt;
    }
    if (cfg.plr_threshold_percent && s.loss_ppm > uint32_t{*cfg.plr_threshold_percent} * 10'000) {
        return ThresholdReason::plr;
    }
    return ThresholdReason::none;
}

namespace {

using Views = FixedList<const SubflowView*, max_scheduled_subflows>;

// Subflows with room first, then by smoothed RTT (0 = not measured yet: as good as any).
void by_delay(Views& v, const SchedulerConfig& cfg) {
    auto past = [&cfg](const SubflowView* s) {
        return past_threshold(cfg, *s) != ThresholdReason::none;
    };
    std::stable_sort(v.begin(), v.end(), [&past](const SubflowView* a, const SubflowView* b) {
        if (past(a) != past(b)) {
            return !past(a);
        }
        if (a->room != b->room) {
            return a->room;
        }
        return a->srtt_us < b->srtt_us;
    });
}

bool any_within_threshold(const Views& v, const SchedulerConfig& cfg) {
    return std::any_of(v.begin(), v.end(), [&cfg](const SubflowView* s) {
        return past_threshold(cfg, *s) == ThresholdReason::none;
    });
}

bool any_room(const Views& v) {
    return std::any_of(v.begin(), v.end(), [](const SubflowView* s) { return s->room; });
}

void append(Decision& d, const Views& v, bool copies_only = false) {
    for (const SubflowView* s : v) {
        d.order.push_back(Pick{s->slot, copies_only});
    }
}

// The access whose policy has priority `p` (present in the MAR), if any.
std::optional<Access> access_with(const SchedulerConfig& cfg, AccessPriority p) {
    for (Access a : {Access::tgpp, Access::non_tgpp}) {
        const AccessPolicy& ap = cfg.access[static_cast<size_t>(a)];
        if (ap.present && ap.priority == p) {
            return a;
        }
    }
    return std::nullopt;
}

Access other(Access a) {
    return a == Access::tgpp ? Access::non_tgpp : Access::tgpp;
}

}  // namespace

Decision schedule(const SchedulerConfig& cfg, std::span<const SubflowView> subflows,
                  const BalanceBytes& balance) {
    // §3.2 / §3.3.8: backup subflows only when no regular one is usable.
    bool any_regular = false;
    for (const SubflowView& s : subflows) {
        any_regular = any_regular || (s.usable && !s.backup);
    }
    std::array<Views, 3> by_access;  // tgpp, non_tgpp, unknown
    for (const SubflowView& s : subflows) {
        if (s.usable && !(s.backup && any_regular)) {
            by_access[static_cast<size_t>(s.access)].push_back(&s);
        }
    }
    for (Views& v : by_access) {
        by_delay(v, cfg);
    }
    auto of = [&by_access](Access a) -> Views& { return by_access[static_cast<size_t>(a)]; };
    Views& unknown = of(Access::unknown);

    Decision d;
    switch (cfg.mode) {
        case SchedulerMode::active_standby: {
            Access act = access_with(cfg, AccessPriority::active).value_or(Access::tgpp);
            std::optional<Access> stb = access_with(cfg, AccessPriority::standby);
            if (stb == act) {
                stb.reset();
            }
            const bool act_present = cfg.access[static_cast<size_t>(act)].present;
            Views none;
            Views& a = act_present ? of(act) : none;
            Views& s = stb ? of(*stb) : none;
            // Failover: the active access has no usable subflow, or it is past the RTT or PLR
            // threshold while the standby one is within them.
            bool fail = a.empty() || (!any_within_threshold(a, cfg) && !s.empty() &&
                                      any_within_threshold(s, cfg));
            if (!fail) {
                append(d, a);
            } else if (!s.empty()) {
                append(d, s);
                d.failover = true;
                if (!a.empty()) {
                    d.failover_reason = past_threshold(cfg, *a.front());
                }
            }
            break;
        }
        case SchedulerMode::smallest_delay: {
            Views all = of(Access::tgpp);
            for (const SubflowView* s : of(Access::non_tgpp)) {
                all.push_back(s);
            }
            by_delay(all, cfg);
            append(d, all);
            break;
        }
        case SchedulerMode::load_balancing: {
            // The access furthest below its share of the bytes both carried while both could:
            // bytes[a] / w[a] smallest (compared as bytes[a] * w[b] < bytes[b] * w[a]). Only
            // accesses with a usable subflow and a weight; ones with congestion-window room
            // first.
            struct Cand {
                Access a;
                uint64_t bytes;
                uint64_t weight;
                bool room;
            };
            FixedList<Cand, 2> c;
            for (Access a : {Access::tgpp, Access::non_tgpp}) {
                const AccessPolicy& ap = cfg.access[static_cast<size_t>(a)];
                if (!ap.present || ap.weight == 0 || of(a).empty()) {
                    continue;
                }
                c.push_back({a, balance[static_cast<size_t>(a)], ap.weight, any_room(of(a))});
            }
            const bool some_room =
                std::any_of(c.begin(), c.end(), [](const Cand& x) { return x.room; });
            const Cand* best = nullptr;
            for (const Cand& x : c) {
                if (some_room && !x.room) {
                    continue;
                }
                if (best == nullptr || x.bytes * best->weight < best->bytes * x.weight) {
                    best = &x;
                }
            }
            if (best != nullptr) {
                append(d, of(best->a));
                d.balanced = c.size() == 2;
            }
            break;
        }
        case SchedulerMode::priority_based: {
            Access high = access_with(cfg, AccessPriority::high).value_or(Access::tgpp);
            Views& h = of(high);
            Views& l =
                cfg.access[static_cast<size_t>(other(high))].present ? of(other(high)) : unknown;
            if (!h.empty() && (any_room(h) || l.empty())) {
                append(d, h);
            } else if (!l.empty()) {
                // Overflow (High is congested) or High has no usable subflow: Low first, High
                // still takes what Low cannot.
                append(d, l);
                append(d, h);
                d.overflow = true;
            }
            break;
        }
        case SchedulerMode::redundant: {
            Access prim = access_with(cfg, AccessPriority::primary).value_or(Access::tgpp);
            Views p = of(prim);
            Views s =
                cfg.access[static_cast<size_t>(other(prim))].present ? of(other(prim)) : Views{};
            if (p.empty() && s.empty() && !unknown.empty()) {
                // No access information: the fastest subflow is the primary, the rest copy.
                p.push_back(unknown.front());
                s.clear();
                for (size_t i = 1; i < unknown.size(); ++i) {
                    s.push_back(unknown[i]);
                }
                unknown.clear();
            }
            if (p.empty()) {
                append(d, s);  // the primary access is gone: the secondary carries everything
            } else {
                // Copies first, so the secondary keeps up before the primary sends more.
                append(d, s, true);
                append(d, p);
                d.redundant = !s.empty();
            }
            break;
        }
        case SchedulerMode::count:
            break;
    }
    if (d.order.empty() || cfg.mode == SchedulerMode::smallest_delay) {
        // Subflows of no known access: after the others (or alone when the mode found none).
        append(d, unknown);
    }
    return d;
}

}  // namespace braid::mptcp
