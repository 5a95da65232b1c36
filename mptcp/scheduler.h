// Packet schedulers for the data braid sends on an MPTCP connection (issue 6 item 5): which
// subflow carries the next new bytes. They are the ATSSS steering modes of the PFCP MAR
// (TS 23.501 §5.32.8, TS 29.244 §8.2.163–8.2.164; spec n4-gtpu-mams.md §1.10 Steering Mode,
// Weight, Priority, Thresholds), applied to subflows by the access each one runs over:
//
//   active_standby  everything on the Active access; the Standby one only while the active one
//                   has no usable subflow or is past the RTT or PLR threshold; No Standby:
//                   never.
//   smallest_delay  the usable subflow with the smallest smoothed RTT that has congestion-window
//                   room (then the others, by RTT): braid's default.
//   load_balancing  bytes split by the accesses' weights (percent): the next bytes go to the
//                   access furthest below its share; an access with no usable subflow gets
//                   none and the other takes everything.
//   priority_based  the High access while it has congestion-window room; Low takes the
//                   overflow, or everything when High has no usable subflow.
//   redundant       new bytes on the Primary access; every byte also on the Secondary one
//                   (a copy with the same DSNs: whichever arrives first is delivered).
//
// Sans-I/O and pure: the endpoint describes its subflows, the scheduler orders them. The peer's
// backup flag (RFC 8684 §3.2, MP_PRIO) is honoured on top of every mode: a backup subflow
// carries new data only when no other usable one exists. A subflow whose access is unknown
// (not an ATSSS session, or an address outside the link-specific ones) is used after the
// subflows of known accesses, by RTT.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace braid::mptcp {

// Subflows one decision covers: the endpoint never has more live subflows than its Receiver
// has indexes (static_assert in endpoint.cc), so every list below fits without allocating.
inline constexpr size_t max_scheduled_subflows = 8;

// A list of at most N elements in place: scheduling runs for every chunk sent, on the packet
// path, and must not allocate. Callers stay within N by the invariant above.
template <class T, size_t N>
class FixedList {
public:
    void push_back(const T& v) { items_[n_++] = v; }
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    void clear() { n_ = 0; }
    T& operator[](size_t i) { return items_[i]; }
    const T& operator[](size_t i) const { return items_[i]; }
    T& front() { return items_[0]; }
    T* begin() { return items_.data(); }
    T* end() { return items_.data() + n_; }
    const T* begin() const { return items_.data(); }
    const T* end() const { return items_.data() + n_; }

private:
    std::array<T, N> items_{};
    size_t n_ = 0;
};

// clang-format off
#define BRAID_MPTCP_SCHEDULERS(X)                                                        \
    X(active_standby, "Active access only; Standby when it fails or passes a threshold") \
    X(smallest_delay, "lowest smoothed RTT with congestion-window room (default)")       \
    X(load_balancing, "bytes split between the accesses by weight (percent)")            \
    X(priority_based, "High access first; Low takes its overflow")                       \
    X(redundant,      "Primary access, every byte copied on the Secondary")
// clang-format on

// Values as the PFCP Steering Mode IE (172): 0..4 in this order.
enum class SchedulerMode : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_MPTCP_SCHEDULERS(BRAID_X)
#undef BRAID_X
        count
};
std::string_view to_string(SchedulerMode m);
std::optional<SchedulerMode> scheduler_mode(std::string_view name);

enum class Access : uint8_t { tgpp, non_tgpp, unknown };
std::string_view to_string(Access a);

// The PFCP Priority IE (174) values a steering mode uses for an access.
enum class AccessPriority : uint8_t {
    active = 0,
    standby = 1,
    no_standby = 2,
    high = 3,
    low = 4,
    primary = 5,
    secondary = 6,
};

struct AccessPolicy {
    bool present = true;  // the MAR has forwarding information for this access
    uint8_t weight = 50;  // load_balancing: percent
    AccessPriority priority = AccessPriority::active;
    bool operator==(const AccessPolicy&) const = default;
};

struct SchedulerConfig {
    SchedulerMode mode = SchedulerMode::smallest_delay;
    // Indexed by Access::tgpp / Access::non_tgpp. Defaults: 3GPP active/high/primary, non-3GPP
    // standby/low/secondary, 50/50.
    std::array<AccessPolicy, 2> access{
        AccessPolicy{true, 50, AccessPriority::active},
        AccessPolicy{true, 50, AccessPriority::standby},
    };
    std::optional<uint32_t> rtt_threshold_ms;  // Thresholds IE (288), RTT
    // Thresholds IE (288), PLR: percent 0..100; a subflow whose estimated loss rate is above it
    // is past the threshold like one above the RTT threshold (SubflowView::loss_ppm).
    std::optional<uint8_t> plr_threshold_percent;
    bool operator==(const SchedulerConfig&) const = default;
};

// One subflow as the scheduler sees it.
struct SubflowView {
    uint32_t slot = 0;  // the caller's name for it (returned in Pick)
    Access access = Access::unknown;
    bool usable = false;  // established, not stalled, not being reset
    bool backup = false;  // the peer's B flag / MP_PRIO
    bool room = false;    // congestion-window room (less queued than cwnd)
    uint32_t srtt_us = 0;
    // Estimated packet loss rate, parts per million (the endpoint's retransmitted / sent
    // segments, see LossEstimate): compared with SchedulerConfig::plr_threshold_percent.
    uint32_t loss_ppm = 0;
};

// Why a subflow is past the thresholds (RTT checked first), or none.
enum class ThresholdReason : uint8_t { none, rtt, plr };
ThresholdReason past_threshold(const SchedulerConfig& cfg, const SubflowView& s);

// What load balancing splits: new bytes sent per access (tgpp, non_tgpp) while both accesses
// had a usable subflow (the endpoint adds a chunk's bytes when the decision was `balanced`), so
// a late second subflow does not first get a burst to "catch up" on bytes sent without it.
using BalanceBytes = std::array<uint64_t, 2>;

struct Pick {
    uint32_t slot = 0;
    bool copies_only = false;  // redundant: carries copies of what the primary sent, no new data
};

// Counted by the endpoint per decision that is not the plain first choice.
struct Decision {
    FixedList<Pick, max_scheduled_subflows> order;  // try in this order; empty: nothing may send
    bool failover = false;                          // active_standby used the Standby access
    // active_standby left a usable Active access for being past a threshold: the reason of its
    // best subflow (none: the Active access had no usable subflow).
    ThresholdReason failover_reason = ThresholdReason::none;
    bool overflow = false;   // priority_based let the Low access take new data
    bool redundant = false;  // redundant: the order includes a copy subflow
    bool balanced = false;   // load_balancing chose between two accesses (count the bytes)
};

// A subflow's packet loss rate for the PLR threshold (TS 29.244 Thresholds IE): retransmitted
// over sent data segments, each an exponentially weighted sum of the per-sample counts the
// endpoint takes every stall_check_us (weight 1/8: the last ~8 samples, ~0.4 s, dominate).
// Sums of segments rather than an average of per-sample ratios, so that a busy interval counts
// more than one with a segment or two. Below loss_min_segments per sample (weighted) the ratio
// is taken over that many: a subflow that sends (almost) nothing has its estimate decay to 0,
// so one left for the standby because of its losses is tried again after ~1-2 s (nothing
// else would measure it) — and left again if it still loses.
inline constexpr uint32_t loss_min_segments = 4;

class LossEstimate {
public:
    // The engine's running totals for the subflow (ConnInfo::data_segments, retransmits).
    void sample(uint32_t segments_total, uint32_t retransmits_total);
    uint32_t ppm() const;

private:
    bool primed_ = false;
    uint32_t last_segments_ = 0, last_retransmits_ = 0;
    uint64_t segments_ = 0, retransmits_ = 0;  // weighted sums, scaled by 256
};

Decision schedule(const SchedulerConfig& cfg, std::span<const SubflowView> subflows,
                  const BalanceBytes& balance = {});

}  // namespace braid::mptcp
