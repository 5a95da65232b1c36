#include "dataplane/usage.h"

#include <algorithm>

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

namespace {

// The earliest time a time-based trigger of `u` can fire with the state as it is: the next
// period, or the time threshold counted from the first packet of the measurement (without
// traffic it cannot start: the counters must move first, which ends the skipping).
uint64_t next_due_ms(const UrrMonitor& s, const Urr& u) {
    uint64_t due = UINT64_MAX;
    if (s.next_period_ms != 0) {
        due = s.next_period_ms;
    }
    if (u.time_threshold_s != 0 && s.traffic_since_ms != 0) {
        due = std::min<uint64_t>(due, s.traffic_since_ms + u.time_threshold_s * 1000ull);
    }
    return due;
}

bool same_triggers(const UrrMonitor& s, const Urr& u) {
    return s.volume_threshold_bytes == u.volume_threshold_bytes &&
           s.time_threshold_s == u.time_threshold_s &&
           s.measurement_period_s == u.measurement_period_s;
}

}  // namespace

UrrMonitor& UsageMonitor::state(const CompiledUrr& u, uint64_t now_ms) const {
    UrrMonitor& s = u.usage.shared();
    if (!s.started) {
        // Counting may have started before the first poll (the URR's counters are shared with
        // earlier versions of the session only under the same ID, so this is the URR's start).
        s.started = true;
        s.start_ms = now_ms;
        s.next_period_ms =
            u.urr.measurement_period_s != 0 ? now_ms + u.urr.measurement_period_s * 1000ull : 0;
    }
    return s;
}

UsageReport UsageMonitor::close(uint64_t seid, const CompiledUrr& u, UrrMonitor& s,
                                const UsageTotals& total, UsageTrigger t, uint64_t now_ms) {
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
    s.stale = true;  // a new measurement: the next poll evaluates it fully
    return r;
}

void UsageMonitor::poll(const SessionRules& rules, uint64_t now_ms, std::vector<UsageReport>& out) {
    for (const CompiledUrr& u : rules.urrs) {
        if (!u.usage) {
            continue;  // not compiled by compile(): nothing counts it
        }
        const UsageTotals total = sum(u.usage, workers_);
        UrrMonitor& s = u.usage.shared();
        // The cheap check. Nothing moved and no time-based trigger is due: the full evaluation
        // below would find the same delta (a volume threshold it did not fire on last time),
        // the same first-traffic time and a period not yet over, and change nothing.
        if (s.started && !s.stale && total == s.seen && now_ms < s.due_ms &&
            same_triggers(s, u.urr)) {
            ++stats_.skipped;
            continue;
        }
        ++stats_.evaluated;
        state(u, now_ms);
        const UsageTotals delta = total - s.baseline;
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
            out.push_back(close(rules.seid, u, s, total, *fired, now_ms));
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
        s.seen = total;
        s.volume_threshold_bytes = u.urr.volume_threshold_bytes;
        s.time_threshold_s = u.urr.time_threshold_s;
        s.measurement_period_s = u.urr.measurement_period_s;
        s.due_ms = next_due_ms(s, u.urr);
        // After a report the new measurement is already evaluated here at `now_ms` (delta 0).
        s.stale = false;
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
        if (wanted && u.usage) {
            UrrMonitor& s = state(u, now_ms);
            out.push_back(close(rules.seid, u, s, sum(u.usage, workers_), trigger, now_ms));
        }
    }
}

std::optional<UsageTotals> UsageMonitor::current(const SessionRules& rules, uint32_t urr_id) const {
    for (const CompiledUrr& u : rules.urrs) {
        if (u.urr.id == urr_id) {
            if (!u.usage) {
                return UsageTotals{};
            }
            const UsageTotals total = sum(u.usage, workers_);
            const UrrMonitor& s = u.usage.shared();
            return s.started ? total - s.baseline : total;
        }
    }
    return std::nullopt;
}

}  // namespace braid::dataplane
