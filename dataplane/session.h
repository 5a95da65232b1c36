// The N4 rule model of one PFCP session (TS 29.244 §5.2, §7.5.2) and the immutable snapshot the
// workers read. The control core validates a `SessionSpec` and compiles it into `SessionRules`;
// `SessionTable` (session_table.h) publishes it. Wire encodings live in control/pfcp/; this is
// the meaning.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rte_meter.h>

#include "dataplane/counter.h"
#include "dataplane/sdf.h"
#include "mptcp/scheduler.h"

namespace braid::dataplane {

// TS 29.244 §8.2.2 Source Interface / §8.2.24 Destination Interface.
enum class Interface : uint8_t { access = 0, core = 1, sgi_lan = 2, cp_function = 3 };

// TS 29.244 §8.2.26 Apply Action, the bits braid acts on.
struct ApplyAction {
    bool drop = false;
    bool forward = false;
    bool buffer = false;
    bool notify_cp = false;  // NOCP, only with buffer
    bool duplicate = false;
    bool operator==(const ApplyAction&) const = default;
};

// GTP-U/UDP/IPv4 outer header creation (TS 29.244 §8.2.56, description 0x0100).
struct OuterHeaderCreation {
    uint32_t teid = 0;
    uint32_t peer_ipv4 = 0;  // host order
    bool operator==(const OuterHeaderCreation&) const = default;
};

// The two accesses of an MA PDU session (TS 23.501 §5.32): 3GPP and non-3GPP.
enum class LinkAccess : uint8_t { tgpp = 0, non_tgpp = 1 };
inline constexpr size_t link_access_count = 2;
std::string_view to_string(LinkAccess a);

struct Pdr {
    uint16_t id = 0;
    uint32_t precedence = 0;  // lower value = matched first
    Interface source = Interface::access;
    std::optional<uint32_t> local_teid;    // PDI Local F-TEID (UL)
    std::optional<uint32_t> ue_ipv4;       // PDI UE IP address (host order)
    std::optional<sdf::Prefix> ue_ipv6;    // PDI UE IP address, IPv6 (a /64 prefix or longer)
    std::optional<uint8_t> qfi;            // PDI QFI
    std::vector<sdf::Filter> sdf_filters;  // PDI SDF Filters: any one matching is enough
    std::string network_instance;          // PDI Network Instance (informational in braid)
    bool remove_outer_header = false;      // OHR GTP-U/UDP/IPv4
    uint32_t far_id = 0;
    std::vector<uint32_t> qer_ids;
    std::vector<uint32_t> urr_ids;
    // ATSSS (TS 29.244 §5.20): the PDR's Multi-Access Rule. Without a FAR ID of its own, far_id
    // is the MAR's primary access FAR (see Mar), kept up to date by the PFCP procedures.
    std::optional<uint16_t> mar_id;
    bool far_from_mar = false;
    uint8_t multipath_applicable = 0;  // Multipath Applicable Indication: 0x01 MTAI, 0x02 MQAI
    // The access an uplink PDR's tunnel belongs to (PDI Source Interface Type: N3 3GPP Access,
    // N3 (un)trusted non-3GPP access); unknown when the CP does not say. A T-PDU from a
    // link-specific address of the other access is dropped (link_addr_wrong_access).
    std::optional<LinkAccess> access;
};

// TS 29.244 §5.2.3 / §7.5.2.3-3 Duplicating Parameters: a copy of each packet of a FAR with
// Apply Action DUPL goes to `outer_header` (GTP-U/UDP/IPv4, the only way braid sends copies),
// out of the N6 port when `destination` is the core or SGi/N6-LAN, else out of the N3 port.
struct Duplicate {
    Interface destination = Interface::access;
    bool li_function = false;  // Destination Interface LI Function (shown as such)
    OuterHeaderCreation outer_header;
    bool operator==(const Duplicate&) const = default;
};
inline constexpr size_t max_duplicates = 4;  // per FAR; more are refused by the PFCP handler

struct Far {
    uint32_t id = 0;
    ApplyAction action;
    Interface destination = Interface::core;
    std::optional<OuterHeaderCreation> outer_header;
    std::vector<Duplicate> duplicates;  // when action.duplicate
    std::optional<uint32_t> bar_id;     // buffering parameters when the action is buffer
    std::string network_instance;
};

// TS 29.244 §7.5.2.6 Create BAR: how many packets to buffer for a session.
struct Bar {
    uint32_t id = 0;
    uint32_t buffering_packets = 0;  // Suggested Buffering Packets Count; 0: braid's default
};

struct Qer {
    uint32_t id = 0;
    bool gate_ul_open = true;
    bool gate_dl_open = true;
    uint64_t mbr_ul_kbps = 0;  // 0: no limit
    uint64_t mbr_dl_kbps = 0;
    std::optional<uint8_t> qfi;  // written into the DL PDU Session Container
};

// TS 29.244 §7.5.2.4 Create URR: what is measured and when it is reported. Volume and duration
// are always measured; the triggers decide reports (0: trigger off).
struct Urr {
    uint32_t id = 0;
    bool measure_volume = true;
    bool measure_duration = false;
    uint64_t volume_threshold_bytes = 0;  // total (UL + DL) octets since the last report
    uint32_t time_threshold_s = 0;        // seconds of traffic since the last report
    uint32_t measurement_period_s = 0;    // periodic report
};

// TS 29.244 §5.20, §7.5.2.8 Create MAR: how an MA PDU session's downlink traffic is steered
// between the 3GPP and the non-3GPP access. Values are the PFCP code points (spec §1.12).
// Stored for ATSSS steering and the MPTCP proxy's scheduler (issue 7); today the datapath does
// not split traffic: a PDR with this MAR forwards through the primary access's FAR only.
struct MarAccess {
    uint32_t far_id = 0;
    std::optional<uint8_t> weight;    // % of the traffic (Load Balancing)
    std::optional<uint8_t> priority;  // 0 Active 1 Standby 2 No Standby 3 High 4 Low 5/6 Redundant
    std::vector<uint32_t> urr_ids;    // per-access usage
    bool operator==(const MarAccess&) const = default;
};

struct Mar {
    uint16_t id = 0;
    uint8_t steering_functionality = 0;  // 0 ATSSS-LL, 1 MPTCP
    uint8_t steering_mode = 0;  // 0 Active-Standby 1 Smallest Delay 2 Load Balancing 3 Priority
    std::optional<MarAccess> tgpp;
    std::optional<MarAccess> non_tgpp;
    std::optional<uint16_t> rtt_threshold_ms;  // Thresholds
    std::optional<uint8_t> plr_threshold;      // Thresholds, %
    uint8_t steering_mode_indicator = 0;       // 0x01 ALBI, 0x02 UEAI
    bool operator==(const Mar&) const = default;
    bool is_mptcp() const { return steering_functionality == 1; }  // TS 29.244 §8.2.163

    // The access that carries the traffic when only one does: Active (Active-Standby), High
    // (Priority-based), the larger weight (Load Balancing), else 3GPP when present.
    const MarAccess* primary() const;
};

// --- link-specific multipath addresses (issue 7; branch linkaddr) ----------------------------
// TS 23.501 §5.32.6.2.1: the UE of an MA PDU session with the MPTCP functionality gets one
// link-specific multipath address per access (per family), which it uses only for the MPTCP
// subflows of that access toward the proxy; the session's UE IP address stays what N6 sees
// (address-preserving mode). braid allocates them (MPTCP Parameters in ATSSS Control
// Parameters) or a static session lists them.
struct LinkAddress {
    LinkAccess access = LinkAccess::tgpp;
    // An IPv4 /32, or an IPv6 /64 (the UE forms its address in it, like its PDU session's
    // prefix): what the downlink lookup and the uplink check compare.
    sdf::Prefix prefix;
    bool operator==(const LinkAddress&) const = default;
};

struct SessionSpec {
    uint64_t seid = 0;  // braid's (UP) SEID
    std::vector<Pdr> pdrs;
    std::vector<Far> fars;
    std::vector<Qer> qers;
    std::vector<Urr> urrs;
    std::vector<Bar> bars;
    std::vector<Mar> mars;
    // The UE may use the MPTCP proxy (RFC 8803 converter, issue 7): braid provided MPTCP
    // parameters, or a static session says so. A MAR whose steering functionality is MPTCP
    // implies it too (see compile()).
    bool mptcp = false;
    // The UE's link-specific multipath addresses (issue 7): at most one per access and family,
    // only with `mptcp`.
    std::vector<LinkAddress> link_addresses;
};

// Why a spec was refused; `rule` names the offending rule ("pdr 3", "far 7").
struct SpecError {
    enum class Kind : uint8_t {
        duplicate_id,      // two rules of one kind with the same id
        dangling_ref,      // a PDR names a FAR/QER/URR that does not exist
        missing_match,     // a PDR with neither Local F-TEID nor UE IP address
        bad_filter,        // an SDF filter the classifier cannot take
        bad_action,        // apply action is not exactly one of drop/forward/buffer
        missing_outer,     // forward to access without outer header creation
        teid_in_use,       // the UL TEID belongs to another session
        ue_ip_in_use,      // the UE IP address belongs to another session
        two_ue_addresses,  // PDRs of one session name different UE addresses of one family
        too_many_rules,
        bad_link_address,     // a link-specific address that is malformed, doubled or not MPTCP
        link_address_in_use,  // the link-specific address belongs to another session
    };
    Kind kind;
    std::string rule;
    std::string message;
};

inline constexpr unsigned max_session_workers = 32;  // == max_workers (app.h)

// What a PerWorker block holds besides the slices when nothing is shared (QER meters).
struct NoShared {};

// One slice per worker, in one zeroed allocation sized by the number of workers the session
// table was configured with (SessionTable::set_workers), not by max_session_workers: with one
// worker a session's URR and QER state is 1/32 of what a fixed array would take, and an
// establishment's cost was dominated by allocating and zeroing those arrays. Shared between
// the snapshots of one session (it lives outside them) and carried over by rule ID. `Shared`
// is one more object in the same block, before the slices, for the control core's own state
// of the rule (a URR's monitor state: UrrMonitor); NoShared takes no room.
template <class Slice, class Shared = NoShared>
class PerWorker {
public:
    PerWorker() = default;
    explicit PerWorker(unsigned workers) {
        // One allocation: a reference count, then the slices, value-initialised (zero).
        void* mem =
            ::operator new (slices_offset + sizeof(Slice) * workers, std::align_val_t{align});
        block_ = new (mem) Header{1, workers, Shared()};
        Slice* first = slices();
        for (unsigned w = 0; w < workers; ++w) {
            new (first + w) Slice();
        }
    }
    PerWorker(const PerWorker& o) noexcept : block_(o.block_) {
        if (block_ != nullptr) {
            block_->refs.fetch_add(1, std::memory_order_relaxed);
        }
    }
    PerWorker(PerWorker&& o) noexcept : block_(std::exchange(o.block_, nullptr)) {}
    PerWorker& operator=(PerWorker o) noexcept {
        std::swap(block_, o.block_);
        return *this;
    }
    ~PerWorker() { release(); }

    unsigned size() const { return block_ != nullptr ? block_->size : 0; }
    explicit operator bool() const { return block_ != nullptr; }
    // Worker `w`'s slice; nullptr for a worker beyond the size (a worker count raised after the
    // session was created), which the pipelines then skip instead of writing out of bounds.
    Slice* at(unsigned w) const { return w < size() ? slices() + w : nullptr; }
    Slice& operator[](unsigned w) const { return slices()[w]; }
    const Slice* data() const { return block_ != nullptr ? slices() : nullptr; }  // identity
    // The block's shared object (only when the block exists). Mutable through a const
    // snapshot like the slices: it is state beside the snapshot, not part of it.
    Shared& shared() const { return block_->shared; }

private:
    // Counted by the control core (snapshots are built and freed there), atomic for safety.
    // Workers read `size`; a Shared that the control core writes is aligned by its own type
    // (UrrMonitor: a cache line) so that its writes do not invalidate that line.
    struct Header {
        std::atomic<uint32_t> refs;
        uint32_t size;
        [[no_unique_address]] Shared shared;
    };
    static constexpr size_t align = std::max(alignof(Header), alignof(Slice));
    static constexpr size_t slices_offset = (sizeof(Header) + align - 1) / align * align;

    Slice* slices() const {
        return std::launder(
            reinterpret_cast<Slice*>(reinterpret_cast<char*>(block_) + slices_offset));
    }
    void release() {
        if (block_ != nullptr && block_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
            for (unsigned w = 0; w < block_->size; ++w) {
                slices()[w].~Slice();
            }
            block_->~Header();
            ::operator delete (block_, std::align_val_t{align});
        }
        block_ = nullptr;
    }

    Header* block_ = nullptr;
};

// Usage totals of one URR (or a difference of two): packets and octets per direction.
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

// The usage monitor's state of one URR (UsageMonitor, usage.h): the measurement in progress and
// when a time-based trigger falls due. The control core alone reads and writes it. It lives in
// the URR's usage block (outside the immutable snapshot, like the counters), so it survives a
// modification with the URR ID, dies with the URR, and the poll reaches it from the compiled
// URR without a lookup. On cache lines of its own: workers never touch them.
struct alignas(64) UrrMonitor {
    UsageTotals baseline;           // totals at the last report
    UsageTotals seen;               // totals at the last full evaluation (the skip check)
    uint64_t start_ms = 0;          // start of the current measurement
    uint64_t traffic_since_ms = 0;  // first time traffic was seen in this measurement (0: none)
    uint64_t next_period_ms = 0;
    uint64_t due_ms = 0;  // the earliest time a time-based trigger can fire (UINT64_MAX: never)
    // The URR's trigger settings at the last full evaluation: a modification that changes them
    // under the same ID makes the next poll evaluate fully.
    uint64_t volume_threshold_bytes = 0;
    uint32_t time_threshold_s = 0;
    uint32_t measurement_period_s = 0;
    uint32_t sequence = 0;  // UR-SEQN of the next report
    bool started = false;   // the measurement started (first poll or report)
    bool stale = true;      // evaluate fully on the next poll (first poll, after a report)
};

// Usage of one URR: one slice per worker (single writer each), summed by the control core.
// Lives outside the snapshot and is carried from version to version by URR ID, so a
// modification never loses what was counted. The block also holds the URR's monitor state
// (UrrMonitor), written by the control core only.
struct alignas(64) UsageSlice {
    Counter packets_ul, bytes_ul, packets_dl, bytes_dl;
    Counter first_tsc, last_tsc;  // first and last packet seen by this worker (0: none)
};
using UrrUsage = PerWorker<UsageSlice, UrrMonitor>;

// MBR policing state of one QER for one worker and direction: an srTCM (RFC 2697) whose bucket
// this worker alone refills. `profile` is the snapshot's profile the bucket was configured with;
// a new snapshot (new profile address) reconfigures it on the next packet.
struct alignas(64) MeterSlice {
    rte_meter_srtcm meter;
    const rte_meter_srtcm_profile* profile = nullptr;
};
// Both directions in one allocation: the uplink slice of worker w at 2w, the downlink at 2w + 1.
class QerMeters {
public:
    QerMeters() = default;
    explicit QerMeters(unsigned workers) : slices_(2 * workers) {}
    unsigned workers() const { return slices_.size() / 2; }
    explicit operator bool() const { return static_cast<bool>(slices_); }
    MeterSlice* at(unsigned worker, bool uplink) const {
        return slices_.at(2 * worker + (uplink ? 0 : 1));
    }

private:
    PerWorker<MeterSlice> slices_;
};

// One PDR as workers use it: its FAR, QERs and URRs resolved to indices into SessionRules.
struct CompiledPdr {
    uint16_t id;
    uint32_t precedence;
    Interface source;
    std::optional<uint32_t> local_teid;
    std::optional<uint32_t> ue_ipv4;
    std::optional<sdf::Prefix> ue_ipv6;
    std::optional<uint8_t> qfi;
    bool remove_outer_header;
    uint16_t far_index;
    std::vector<uint16_t> qer_indices;
    std::vector<uint16_t> urr_indices;
    size_t sdf_filters;
    // A QER of this PDR polices an MBR in the PDR's direction (UL for source access, DL
    // otherwise): its packets are metered on the session's owner worker only (DESIGN.md §5).
    bool metered = false;
    // Link-specific addresses (issue 7): the FAR a downlink packet to the link-specific address
    // of each access leaves by (LinkAccess order): the PDR's MAR FAR of that access, else the
    // PDR's own FAR (a session with one access).
    std::array<uint16_t, link_access_count> link_far_index{};
    std::optional<LinkAccess> access;  // Pdr::access
};

struct CompiledQer {
    Qer qer;
    bool limit_ul = false, limit_dl = false;
    rte_meter_srtcm_profile ul_profile{}, dl_profile{};
    QerMeters meters;  // survives modifications with the QER ID
};

struct CompiledUrr {
    Urr urr;
    UrrUsage usage;  // survives modifications with the URR ID
};

// The immutable snapshot of a session that workers read. Never modified after publication.
struct SessionRules {
    uint64_t seid = 0;
    uint64_t generation = 0;        // bumped by every accepted change
    uint16_t owner = 0;             // the worker that meters the session's MBRs (kept on modify)
    std::vector<CompiledPdr> pdrs;  // sorted by precedence, then id
    std::vector<Far> fars;
    std::vector<CompiledQer> qers;
    std::vector<CompiledUrr> urrs;
    std::vector<Bar> bars;
    sdf::UeAddresses ue;
    bool mptcp = false;                       // SessionSpec::mptcp: the UE may use the MPTCP proxy
    std::unique_ptr<sdf::Classifier> uplink;  // PDRs with source interface access
    std::unique_ptr<sdf::Classifier> downlink4;  // the others, for IPv4 packets to the UE
    std::unique_ptr<sdf::Classifier> downlink6;  // ... for IPv6 packets

    // --- MPTCP proxy steering (issue 7: MAR → scheduler) ---------------------------------
    // The scheduler of the session's proxied connections, compiled from the session's MPTCP
    // MAR (see mptcp_mar()): a proxied connection gets it when it is created, and a new
    // snapshot with a different one is applied to the live connections by their worker
    // (mptcp::convert::Proxy::check_sessions). Unset: no MPTCP MAR, the proxy's default.
    std::optional<mptcp::SchedulerConfig> scheduler;
    uint16_t scheduler_mar = 0;  // the MAR ID it was compiled from (0: none)

    // --- link-specific multipath addresses (issue 7; branch linkaddr) -------------------------
    std::vector<LinkAddress> link;  // SessionSpec::link_addresses
    // The access whose link-specific address `addr` (16 octets, network order; IPv4 in the
    // first 4) is, if it is one of this session's. No allocation; a few comparisons.
    std::optional<LinkAccess> link_access(uint8_t family, const uint8_t* addr) const;
    // `key` with its UE-side address replaced by the session's UE address of the same family
    // (when there is one): a subflow from a link-specific address stands for the UE in PDR
    // matching, so that filters naming the UE's address ("assigned") match its traffic.
    sdf::PacketKey as_ue(const sdf::PacketKey& key) const;

    // The highest-precedence PDR matching an uplink G-PDU to `teid` whose inner packet has
    // `key` (nullptr: no inner key, e.g. a non-IP payload) and QFI `qfi`.
    const CompiledPdr* match_uplink(uint32_t teid, std::optional<uint8_t> qfi,
                                    const sdf::PacketKey* key) const;
    // The highest-precedence PDR matching a downlink packet with `key`.
    const CompiledPdr* match_downlink(const sdf::PacketKey& key) const;
};

inline constexpr size_t max_rules_per_kind = 1024;

// Validate and compile. On error nothing is produced.
struct CompileResult {
    std::unique_ptr<SessionRules> rules;
    std::optional<SpecError> error;
};
// `previous`: the session's current snapshot, whose URR usage and QER meters carry over by ID.
// `workers`: how many per-worker slices a new URR or QER gets (the workers that forward).
CompileResult compile(const SessionSpec& spec, const SessionRules* previous = nullptr,
                      unsigned workers = max_session_workers);

// The MAR whose steering functionality is MPTCP that steers a session's proxied connections:
// the MAR of the highest-precedence downlink PDR (lowest precedence value, then lowest PDR ID)
// that names an MPTCP MAR; when no PDR names one, the MPTCP MAR with the lowest MAR ID. One per
// session, not per connection: TS 29.244 §5.20.1 has the SMF put all MPTCP traffic of an MA
// PDU session under one DL PDR (traffic not subject to MPTCP gets its own PDR with an ATSSS-LL
// MAR), so a session with several MPTCP MARs is an unusual one and gets a deterministic choice.
// nullptr: the session has no MPTCP MAR.
const Mar* mptcp_mar(const SessionSpec& spec);

// A MAR as the proxy's scheduler (mptcp/scheduler.h): Steering Mode 0..4 → active_standby,
// smallest_delay, load_balancing, priority_based, redundant (the same order); an access is
// present when the MAR has its forwarding information; Weight → weight (Load Balancing: an
// access without one gets 0, as TS 29.244 §8.2.165 says, 50/50 when neither has one);
// Priority 0..6 → AccessPriority (an access without one takes the complement of the other's:
// Active↔Standby, High↔Low, Primary↔Secondary; neither: 3GPP Active/High/Primary); the RTT
// of Thresholds → rtt_threshold_ms, its PLR → plr_threshold_percent (the endpoint estimates
// each subflow's loss rate: mptcp::LossEstimate).
mptcp::SchedulerConfig mar_scheduler(const Mar& mar);

// srTCM parameters policing at `kbps` (kbit/s, as in the MBR IE): committed and excess burst
// sized for `burst_ms` of traffic, at least two full-size frames.
rte_meter_srtcm_params meter_params(uint64_t kbps, uint32_t burst_ms = 100);

// The common session of a UE with one access: one uplink PDR (G-PDUs to `ul_teid`, outer header
// removed, forwarded to the core: PDR 1 / FAR 1) and one downlink PDR (packets to `ue_ipv4`,
// GTP-U toward `gnb_ipv4` with `dl_teid`: PDR 2 / FAR 2). Used by `session add` and tests.
SessionSpec simple_session(uint64_t seid, uint32_t ul_teid, uint32_t ue_ipv4, uint32_t gnb_ipv4,
                           uint32_t dl_teid);

std::string_view to_string(SpecError::Kind k);
std::string_view to_string(Interface i);

}  // namespace braid::dataplane
