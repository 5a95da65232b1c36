// Usage reporting (TS 29.244 §5.2.2): the control core sums the workers' per-URR counters, checks
// each URR's triggers — volume threshold, time threshold, periodic — and produces reports for
// the SMF. Sans-I/O: time is injected, reports are returned. The PFCP Session Report Request
// carries them (control/pfcp); the CLI and metrics show them.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "dataplane/session.h"

namespace braid::dataplane {

// The sum of the first `workers` slices.
UsageTotals sum(const UrrUsage& u, unsigned workers);

// TS 29.244 §8.2.41 Usage Report Trigger, the ones braid raises.
enum class UsageTrigger : uint8_t {
    volume_threshold,  // VOLTH
    time_threshold,    // TIMTH
    periodic,          // PERIO
    query,             // IMMER (Query URR, QAURR)
    termination,       // TERMR (session deleted / URR removed)
};
std::string_view to_string(UsageTrigger t);

struct UsageReport {
    uint64_t seid = 0;
    uint32_t urr_id = 0;
    uint32_t sequence = 0;  // UR-SEQN, per URR, from 0
    UsageTrigger trigger = UsageTrigger::periodic;
    uint64_t start_ms = 0;    // start of the measurement this report closes
    uint64_t end_ms = 0;      // time of the report
    UsageTotals volume;       // since start_ms
    uint32_t duration_s = 0;  // seconds with traffic since start_ms (rounded down)
};

class UsageMonitor {
public:
    explicit UsageMonitor(unsigned workers) : workers_(workers) {}

    // Check every URR of `rules` at `now_ms`; reports for the triggers that fired. A URR seen for
    // the first time starts its measurement now. A URR whose counters did not move since its
    // last evaluation, whose trigger settings are the same and whose next time-based trigger
    // (time threshold, periodic) is not due yet cannot fire: it is skipped without a write.
    void poll(const SessionRules& rules, uint64_t now_ms, std::vector<UsageReport>& out);
    // Reports for `urr_ids` (all URRs if empty) of the session now, with `trigger` (query or
    // termination); a new measurement starts for each.
    void report_now(const SessionRules& rules, const std::vector<uint32_t>& urr_ids,
                    UsageTrigger trigger, uint64_t now_ms, std::vector<UsageReport>& out);

    // What the current measurement of a URR has counted so far.
    std::optional<UsageTotals> current(const SessionRules& rules, uint32_t urr_id) const;

    // URRs poll() evaluated fully and URRs it skipped (the cheap check), since construction.
    struct Stats {
        uint64_t evaluated = 0, skipped = 0;
    };
    const Stats& stats() const { return stats_; }

private:
    // The URR's monitor state lives in its usage block (UrrMonitor in session.h): no map, no
    // lookup, and it goes away with the URR (a session deleted, a URR removed).
    UrrMonitor& state(const CompiledUrr& u, uint64_t now_ms) const;
    static UsageReport close(uint64_t seid, const CompiledUrr& u, UrrMonitor& s,
                             const UsageTotals& total, UsageTrigger t, uint64_t now_ms);

    unsigned workers_;
    Stats stats_;
};

}  // namespace braid::dataplane
