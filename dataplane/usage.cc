#include "dataplane/usage.h"

namespace braid::dataplane {

UsageTotals sum(const UrrUsage& u, unsigned workers) {
    UsageTotals t;
    for (unsigned w = 0; w < workers && w < u.size(); ++w) {
        const UsageSlice& s = u[w];
        t.packets_ul += s.packets_ul.get();
        t.bytes_ul += s.bytes_ul.get();
        t.packets_dl += s.packets_dl.get();
        t.bytes_dl += s.bytes_dl.get();
    }
    return t;
}

std::string_view to_string(UsageTrigger t) {
    switch (t) {
        case UsageTrigger::volume_threshold:
            return "volume_threshold";
        case UsageTrigger::time_threshold:
            return "time_threshold";
        case UsageTrigger::periodic:
            return "periodic";
        case UsageTrigger::query:
            return "query";
        case UsageTrigger::termination:
            return "termination";
    }
    return "?";
}

UsageMonitor::State& UsageMonitor::state(uint64_t seid, const CompiledUrr& u, uint64_t now_ms) {
    auto [it, fresh] = states_.try_emplace({seid, u.urr.id});
    State& s = it->second;
    if (fresh) {
        // Counting may have started before the first poll (the URR's counters are shared with
        // earlier versions of the session only under the same ID, so this is the URR's start).
        s.start_ms = now_ms;
        s.next_period_ms =
            u.urr.measurement_period_s != 0 ? now_ms + u.urr.measurement_period_s * 1000ull : 0;
    }
    return s;
}

UsageReport UsageMonitor::close(uint64_t seid, const CompiledUrr& u, State& s, UsageTrigger t,
                                uint64_t now_ms) {
    const UsageTotals total = sum(u.usage, workers_);
    UsageReport r;
    r.seid = seid;
    r.urr_id = u.urr.id;
    r.sequence = s.sequence++;
    r.trigger = t;
    r.start_ms = s.start_ms;
    r.end_ms = now_ms;
    r.volume = total - s.baseline;
    r.duration_s =
        s.traffic_since_ms != 0 ? static_cast<uint32_t>((now_ms - s.traffic_since_ms) / 1000) : 0;
    s.baseline = total;
    s.start_ms = now_ms;
    s.traffic_since_ms = 0;
    return r;
}

void UsageMonitor::poll(const SessionRules& rules, uint64_t now_ms, std::vector<UsageReport>& out) {
    for (const CompiledUrr& u : rules.urrs) {
        State& s = state(rules.seid, u, now_ms);
        const UsageTotals delta = sum(u.usage, workers_) - s.baseline;
        if (s.traffic_since_ms == 0 && delta.packets() != 0) {
            s.traffic_since_ms = now_ms;
        }
        std::optional<UsageTrigger> fired;
        if (u.urr.volume_threshold_bytes != 0 && delta.bytes() >= u.urr.volume_threshold_bytes) {
            fired = UsageTrigger::volume_threshold;
        } else if (u.urr.time_threshold_s != 0 && s.traffic_since_ms != 0 &&
                   now_ms - s.traffic_since_ms >= u.urr.time_threshold_s * 1000ull) {
            fired = UsageTrigger::time_threshold;
        } else if (s.next_period_ms != 0 && now_ms >= s.next_period_ms) {
            fired = UsageTrigger::periodic;
        }
        if (fired) {
            out.push_back(close(rules.seid, u, s, *fired, now_ms));
        }
        // The period runs on from its own schedule, not from the last report of any kind.
        if (u.urr.measurement_period_s != 0) {
            const uint64_t period = u.urr.measurement_period_s * 1000ull;
            if (s.next_period_ms == 0) {
                s.next_period_ms = now_ms + period;
            }
            while (s.next_period_ms <= now_ms) {
                s.next_period_ms += period;
            }
        } else {
            s.next_period_ms = 0;
        }
    }
}

void UsageMonitor::report_now(const SessionRules& rules, const std::vector<uint32_t>& urr_ids,
                              UsageTrigger trigger, uint64_t now_ms,
                              std::vector<UsageReport>& out) {
    for (const CompiledUrr& u : rules.urrs) {
        bool wanted = urr_ids.empty();
        for (uint32_t id : urr_ids) {
            wanted = wanted || id == u.urr.id;
        }
        if (wanted) {
            State& s = state(rules.seid, u, now_ms);
            out.push_back(close(rules.seid, u, s, trigger, now_ms));
        }
    }
}

void UsageMonitor::forget(uint64_t seid) {
    states_.erase(states_.lower_bound({seid, 0}), states_.upper_bound({seid, UINT32_MAX}));
}

void UsageMonitor::forget_missing(const SessionRules& rules) {
    auto it = states_.lower_bound({rules.seid, 0});
    while (it != states_.end() && it->first.first == rules.seid) {
        bool present = false;
        for (const CompiledUrr& u : rules.urrs) {
            present = present || u.urr.id == it->first.second;
        }
        it = present ? std::next(it) : states_.erase(it);
    }
}

std::optional<UsageTotals> UsageMonitor::current(const SessionRules& rules, uint32_t urr_id) const {
    for (const CompiledUrr& u : rules.urrs) {
        if (u.urr.id == urr_id) {
            auto it = states_.find({rules.seid, urr_id});
            const UsageTotals total = sum(u.usage, workers_);
            return it == states_.end() ? total : total - it->second.baseline;
        }
    }
    return std::nullopt;
}

}  // namespace braid::dataplane
