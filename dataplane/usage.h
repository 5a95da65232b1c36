// Usage reporting (TS 29.244 §5.2.2): the control core sums the workers' per-URR counters, checks
// each URR's triggers — volume threshold, time threshold, periodic — and produces reports for
// the SMF. Sans-I/O: time is injected, reports are returned. The PFCP Session Report Request
// carries them (control/pfcp); the CLI and metrics show them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/session.h"

namespace braid::dataplane {

struct UsageTotals {
    uint64_t packets_ul = 0, bytes_ul = 0, packets_dl = 0, bytes_dl = 0;
    uint64_t bytes() const { return bytes_ul + bytes_dl; }
    uint64_t packets() const { return packets_ul + packets_dl; }
    UsageTotals operator-(const UsageTotals& o) const {
        return {packets_ul - o.packets_ul, bytes_ul - o.bytes_ul, packets_dl - o.packets_dl,
                bytes_dl - o.bytes_dl};
    }
    bool operator==(const UsageTotals&) const = default;
};

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
    // the first time starts its measurement now.
    void poll(const SessionRules& rules, uint64_t now_ms, std::vector<UsageReport>& out);
    // Reports for `urr_ids` (all URRs if empty) of the session now, with `trigger` (query or
    // termination); a new measurement starts for each.
    void report_now(const SessionRules& rules, const std::vector<uint32_t>& urr_ids,
                    UsageTrigger trigger, uint64_t now_ms, std::vector<UsageReport>& out);
    // Forget a session (after its final reports) or the URRs it no longer has.
    void forget(uint64_t seid);
    void forget_missing(const SessionRules& rules);

    // What the current measurement of a URR has counted so far.
    std::optional<UsageTotals> current(const SessionRules& rules, uint32_t urr_id) const;

private:
    struct State {
        UsageTotals baseline;           // totals at the last report
        uint64_t start_ms = 0;          // start of the current measurement
        uint64_t traffic_since_ms = 0;  // first time traffic was seen in this measurement (0: none)
        uint64_t next_period_ms = 0;
        uint32_t sequence = 0;
    };
    State& state(uint64_t seid, const CompiledUrr& u, uint64_t now_ms);
    UsageReport close(uint64_t seid, const CompiledUrr& u, State& s, UsageTrigger t,
                      uint64_t now_ms);

    unsigned workers_;
    std::map<std::pair<uint64_t, uint32_t>, State> states_;
};

}  // namespace braid::dataplane
