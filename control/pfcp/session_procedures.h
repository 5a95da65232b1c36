// braid's PFCP session procedures (TS 29.244 §6.3 and §7.5): Session Establishment,
// Modification and Deletion requests from the SMF, and the Session Report Requests braid sends.
//
// Read first: TS 29.244 §5.2 (rules), §5.5.3 (F-TEID allocation), §6.3, §7.5, §7.6 (errors);
// spec/n4-gtpu-mams.md §1.4, §1.5, §1.7, §1.11. Wire codecs: ies.h, ies_session.h.
//
// A request is decoded completely, translated into a whole new dataplane::SessionSpec (for a
// modification: a copy of the session's current spec with the changes applied) and handed to the
// session action functions once; a rejection installs nothing and changes nothing (§6.3.3.3).
// The action functions sit behind SessionActions so that the procedures run without DPDK:
// AppSessionActions forwards to dataplane::App, MemorySessionActions is an in-memory stand-in
// for tests and the fuzz target.
//
// Implemented:
//   §6.3.2 Establishment: Create PDR/FAR/QER/URR/BAR; F-TEID CHOOSE and CHOOSE ID (§5.5.3), UE IP
//          address CHV4 / IPv6 /64 prefix CHV6 from configured pools chosen by Network Instance
//          (§5.21, one allocation per session and family, released with the session); Created
//          PDR for what braid allocated.
//   §6.3.3 Modification: Remove/Create/Update of every rule kind, Update Forwarding Parameters
//          with PFCPSMReq-Flags SNDEM, Query URR and QAURR (Usage Reports in the response),
//          CP F-SEID change; Updated PDR when an updated PDI asked for CHOOSE.
//   §6.3.4 Deletion: the final Usage Reports in the response.
//   §6.3.5 Report: Session Report Requests for usage reports (USAR), GTP-U Error Indications
//          (ERIR) and downlink data notification (DLDR), one per session per poll(); a response
//          with Cause 65 deletes the session locally; Update BAR in the response is applied.
//   §5.20  Multi-Access Rules: Create/Update/Remove MAR, MAR ID and Multipath Applicable
//          Indication in PDRs; values and consistency checked (steering functionality/mode,
//          weights summing to 100, priorities per mode, referenced FARs/URRs), stored in the
//          SessionSpec (dataplane::Mar). The datapath does not steer per packet yet: a PDR
//          without a FAR ID of its own forwards through its MAR's primary access FAR.
//          Redundant steering (REDSM) and MPQUIC: Cause 76.
//   §7.6   Cause 66/67/68/69 + Offending IE at every level, 65 with header SEID 0, 73 + Failed
//          Rule ID, never a crash; counters by cause.
// Not implemented (rejected or ignored as noted): Traffic Endpoints, SRR, Transport Level
// Marking and Forwarding Policy (in Forwarding or Duplicating Parameters), Redirect, Header
// Enrichment, predefined rules, Application ID (Cause 81), volume/time quotas, event thresholds
// and the other reporting triggers (accepted, not acted on), GBR, IPv6 N3 F-TEIDs (Cause 71), PSUCC
// partial acceptance, Session Set procedures, SMF sets (a session belongs to the Node ID that
// established it).
//
// Cause choices where the spec leaves room (spec/n4-gtpu-mams.md §1.5):
//   SMF-chosen F-TEID (CH=0) whose TEID another session uses, or TEID 0: 71 Invalid F-TEID
//   allocation option (§5.5.1: the UP function allocates F-TEIDs); with PFCPSEReq-Flags RESTI
//   (restoration, where CP-chosen F-TEIDs are legitimate) 86 instead. SMF-chosen UE IP address of
//   another session: 73 (86 with RESTI). TEID range exhausted: 75. UE IP pool exhausted: 79; no
//   pool of the family: 76. A rule braid cannot install (unknown rule referenced, unsupported
//   interface or header, bad SDF filter, duplicate rule ID): 73 + Failed Rule ID. FORW without
//   Forwarding Parameters, or towards Access without Outer Header Creation, VOLTH/TIMTH/PERIO
//   without their threshold or period: 67 + Offending IE.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "control/metrics.h"
#include "control/pfcp/header.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/ies_session.h"
#include "control/pfcp/session_handler.h"
#include "control/pfcp/types.h"
#include "control/pfcp/ue_ip_pool.h"
#include "dataplane/app.h"
#include "dataplane/session.h"
#include "dataplane/usage.h"

namespace braid::pfcp {

// ---- the seam to the dataplane -----------------------------------------------------------------

// The session action functions the procedures use (control core only). Each call is all or
// nothing.
class SessionActions {
public:
    virtual ~SessionActions() = default;
    virtual std::optional<dataplane::SpecError> create(const dataplane::SessionSpec& spec) = 0;
    virtual std::optional<dataplane::SpecError> modify(
        const dataplane::SessionSpec& spec, const dataplane::ModifyFlags& flags,
        std::vector<dataplane::UsageReport>* reports) = 0;
    // The final usage reports, or nullopt when there is no such session.
    virtual std::optional<std::vector<dataplane::UsageReport>> remove(uint64_t seid) = 0;
    // The session's current spec (null: no such session). Valid until the next change.
    virtual const dataplane::SessionSpec* spec(uint64_t seid) const = 0;
    // Reports raised since the last call.
    virtual std::vector<dataplane::SessionReport> take_reports() = 0;
    // The session whose PDRs use this UL TEID / UE IPv4 address (host order), if any.
    virtual std::optional<uint64_t> teid_owner(uint32_t teid) const = 0;
    virtual std::optional<uint64_t> ue_ipv4_owner(uint32_t ue_ipv4) const = 0;
    // The session whose PDRs use the UE IPv6 /64 that `prefix` (network order) falls in.
    virtual std::optional<uint64_t> ue_ipv6_owner(const Ipv6Address& prefix) const = 0;
    // Wall-clock Unix milliseconds of a dataplane report time (UsageReport start_ms/end_ms).
    virtual int64_t unix_ms(uint64_t dataplane_ms) const = 0;
};

// The real thing: dataplane::App's session action functions. Report times are the App's
// control_tick() clock, which main.cc feeds with std::chrono::steady_clock milliseconds.
class AppSessionActions final : public SessionActions {
public:
    explicit AppSessionActions(dataplane::App& app) : app_(app) {}
    std::optional<dataplane::SpecError> create(const dataplane::SessionSpec& spec) override;
    std::optional<dataplane::SpecError> modify(
        const dataplane::SessionSpec& spec, const dataplane::ModifyFlags& flags,
        std::vector<dataplane::UsageReport>* reports) override;
    std::optional<std::vector<dataplane::UsageReport>> remove(uint64_t seid) override;
    const dataplane::SessionSpec* spec(uint64_t seid) const override;
    std::vector<dataplane::SessionReport> take_reports() override;
    std::optional<uint64_t> teid_owner(uint32_t teid) const override;
    std::optional<uint64_t> ue_ipv4_owner(uint32_t ue_ipv4) const override;
    std::optional<uint64_t> ue_ipv6_owner(const Ipv6Address& prefix) const override;
    int64_t unix_ms(uint64_t dataplane_ms) const override;

private:
    dataplane::App& app_;
};

// An in-memory session store with the same contract, for unit tests and the fuzz target. It
// checks what the procedures cannot see (SEID, TEID and UE IP uniqueness, references) and
// produces usage reports from volumes a test sets; `fail_next` makes the next create/modify fail.
class MemorySessionActions final : public SessionActions {
public:
    std::optional<dataplane::SpecError> create(const dataplane::SessionSpec& spec) override;
    std::optional<dataplane::SpecError> modify(
        const dataplane::SessionSpec& spec, const dataplane::ModifyFlags& flags,
        std::vector<dataplane::UsageReport>* reports) override;
    std::optional<std::vector<dataplane::UsageReport>> remove(uint64_t seid) override;
    const dataplane::SessionSpec* spec(uint64_t seid) const override;
    std::vector<dataplane::SessionReport> take_reports() override;
    std::optional<uint64_t> teid_owner(uint32_t teid) const override;
    std::optional<uint64_t> ue_ipv4_owner(uint32_t ue_ipv4) const override;
    std::optional<uint64_t> ue_ipv6_owner(const Ipv6Address& prefix) const override;
    int64_t unix_ms(uint64_t dataplane_ms) const override {
        return unix_offset_ms + static_cast<int64_t>(dataplane_ms);
    }

    // Test controls.
    uint64_t now_ms = 0;                            // report times
    int64_t unix_offset_ms = 1'700'000'000'000;     // unix_ms() = offset + dataplane ms
    std::optional<dataplane::SpecError> fail_next;  // returned once by create/modify
    std::map<uint64_t, dataplane::SessionSpec> sessions;
    std::vector<dataplane::SessionReport> pending_reports;  // take_reports() drains
    std::vector<dataplane::ModifyFlags> modify_calls;       // flags of each accepted modify
    void set_usage(uint64_t seid, uint32_t urr_id, dataplane::UsageTotals t) {
        usage_[{seid, urr_id}] = t;
    }

private:
    struct Measurement {
        uint32_t sequence = 0;
        uint64_t start_ms = 0;
    };
    dataplane::UsageReport report(uint64_t seid, uint32_t urr_id, dataplane::UsageTrigger t);
    std::map<std::pair<uint64_t, uint32_t>, dataplane::UsageTotals> usage_;
    std::map<std::pair<uint64_t, uint32_t>, Measurement> measurements_;
};

// ---- configuration ----------------------------------------------------------------------------

// The MPTCP proxy (RFC 8803 transport converter) whose resources braid reports in ATSSS Control
// Parameters (§5.20.2.3, spec §1.13). Its datapath is issue 7: until it lands, main.cc never
// enables this and braid does not claim MPTCP; the allocation is exercised by unit tests.
struct MptcpProxyConfig {
    bool enabled = false;
    std::optional<Ipv4Address> ipv4;  // the proxy address(es) UEs connect to
    std::optional<Ipv6Address> ipv6;
    uint16_t port = 0;
    // The UE's link-specific multipath addresses, per access (IPv4 addresses / IPv6 /64s).
    std::vector<UeIpPoolConfig> tgpp_pools;
    std::vector<UeIpPoolConfig> non_tgpp_pools;
};

struct SessionProceduresConfig {
    NodeId node_id;  // braid's Node ID (Establishment Response); the association's
    // Addresses of the UP F-SEID; unset: the Node ID's address (an FQDN Node ID needs one).
    std::optional<Ipv4Address> n4_ipv4;
    std::optional<Ipv6Address> n4_ipv6;
    uint32_t n3_ipv4 = 0;     // host order: the address of F-TEIDs braid allocates; 0: no CHOOSE
    uint32_t teid_first = 1;  // TEIDs braid allocates, inclusive range (0 is never allocated)
    uint32_t teid_last = 0xffffffff;
    // UE address pools for CHV4/CHV6 (§5.21); none of a family: CHV4/CHV6 -> Cause 76.
    std::vector<UeIpPoolConfig> ue_ip_pools;
    MptcpProxyConfig mptcp_proxy;
    uint64_t first_seid = 1;  // braid allocates UP SEIDs upwards from here
};

// Why `cfg` cannot be used (null: it can).
std::optional<std::string> check(const SessionProceduresConfig& cfg);

// ---- counters, declared as data -----------------------------------------------------------------

// X(name, "help")
#define BRAID_PFCP_SESSION_EVENTS(X)                                                           \
    X(established, "Sessions established (Session Establishment Request accepted)")            \
    X(modified, "Session Modification Requests accepted")                                      \
    X(deleted, "Sessions deleted by a Session Deletion Request")                               \
    X(deleted_with_peer, "Sessions deleted because their CP peer's association ended")         \
    X(deleted_by_report_response,                                                              \
      "Sessions deleted locally: a Session Report Response said Session context not found")    \
    X(teids_allocated, "F-TEIDs braid allocated for CHOOSE")                                   \
    X(ue_addresses_allocated, "UE addresses (IPv4) and /64 prefixes (IPv6) braid allocated")   \
    X(atsss_mptcp_provided, "MPTCP Parameters (proxy + link-specific addresses) provided")     \
    X(atsss_mptcp_not_provided,                                                                \
      "TCI requested but no MPTCP proxy is enabled or its link-specific pools are exhausted")  \
    X(atsss_ll_not_provided, "LLI requested: braid does not provide ATSSS-LL (not claimed)")   \
    X(atsss_pmf_not_provided, "PMFI requested: braid does not provide a PMF (not claimed)")    \
    X(usage_reports_sent, "Usage Report IEs sent (responses and Session Report Requests)")     \
    X(report_requests_sent, "Session Report Requests handed to the server")                    \
    X(report_send_failures, "Session Report Requests not sent: the peer has no association")   \
    X(report_timeouts, "Session Report Requests unanswered after every retransmission")        \
    X(report_responses_malformed, "Session Report Responses without a usable Cause")           \
    X(report_responses_rejected, "Session Report Responses with a rejection Cause")            \
    X(reports_unowned, "Dataplane reports for sessions not established over PFCP (dropped)")   \
    X(unexpected_messages, "Session messages other than the requests a UPF handles (dropped)") \
    X(encode_failures, "Bug: a message braid built did not encode (answered with Cause 77)")

enum class SessionEvent : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_PFCP_SESSION_EVENTS(BRAID_X)
#undef BRAID_X
        count
};

struct SessionCounterInfo {
    std::string_view name;
    std::string_view help;
};
extern const std::array<SessionCounterInfo, static_cast<size_t>(SessionEvent::count)>
    session_event_table;

// "mandatory_ie_missing", ...: the Cause as a metric label (spare values: "spare_acceptance",
// "spare_rejection").
std::string_view cause_label(Cause c);

// Written on the control core, read by the metrics exporter thread: relaxed atomics, each
// counter independent.
class SessionCounter {
public:
    void inc(uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

struct SessionCounters {
    std::array<SessionCounter, static_cast<size_t>(SessionEvent::count)> events;
    std::array<SessionCounter, 256> rejections_by_cause;        // responses braid sent, by Cause
    std::array<SessionCounter, 256> report_responses_by_cause;  // Session Report Responses
    SessionCounter sessions;                                    // gauge: sessions held
    std::vector<SessionCounter> ue_pool_used;  // gauge per configured UE IP pool (config order)

    uint64_t event(SessionEvent e) const { return events[static_cast<size_t>(e)].get(); }
    uint64_t rejected(Cause c) const { return rejections_by_cause[static_cast<uint8_t>(c)].get(); }
};

// ---- the procedures -----------------------------------------------------------------------------

class SessionProcedures final : public SessionHandler {
public:
    // `sender` may be null until set_request_sender() (the server that implements it usually
    // starts after the handler exists). `actions` must outlive this object.
    SessionProcedures(SessionProceduresConfig cfg, SessionActions& actions,
                      RequestSender* sender = nullptr);
    ~SessionProcedures() override;
    SessionProcedures(const SessionProcedures&) = delete;
    SessionProcedures& operator=(const SessionProcedures&) = delete;

    void set_request_sender(RequestSender* sender) { sender_ = sender; }

    // SessionHandler.
    std::optional<std::vector<uint8_t>> handle_session_message(const Message& msg,
                                                               const PeerRef& peer) override;
    size_t drop_peer_sessions(const NodeId& peer) override;

    // Drains the dataplane's reports and sends one Session Report Request per session. Call
    // every ~100 ms on the control core.
    void poll(uint64_t now_ms);

    // What braid keeps per PFCP session besides the dataplane spec.
    struct UrrParameters {  // the URR as the SMF set it (the dataplane keeps thresholds only)
        uint8_t method = 0;
        uint32_t triggers = 0;
        std::optional<uint64_t> volume_threshold;  // octets (TOVOL, else ULVOL + DLVOL)
        std::optional<uint32_t> time_threshold;    // seconds
        std::optional<uint32_t> measurement_period;
        bool operator==(const UrrParameters&) const = default;
    };
    struct Session {
        uint64_t seid = 0;  // braid's (UP) SEID
        FSeid cp_f_seid;
        NodeId peer;  // the CP node that established it (Session Report Requests go there)
        std::map<uint32_t, UrrParameters> urrs;
        // What braid told the SMF in MPTCP Parameters (the proxy of issue 7 serves these).
        std::optional<MptcpParameters> mptcp;
        bool operator==(const Session&) const = default;
    };
    const Session* session(uint64_t seid) const;
    size_t session_count() const { return sessions_.size(); }
    const SessionCounters& counters() const { return counters_; }
    const SessionProceduresConfig& config() const { return cfg_; }
    const UeIpPools& ue_ip_pools() const { return ue_pools_; }

    struct Impl;

private:
    SessionProceduresConfig cfg_;
    SessionActions& actions_;
    RequestSender* sender_ = nullptr;
    std::map<uint64_t, Session> sessions_;
    UeIpPools ue_pools_;         // what sessions hold is released wherever a session is forgotten
    UeIpPools tgpp_link_pools_;  // link-specific multipath addresses, 3GPP access
    UeIpPools non_tgpp_link_pools_;  // ... non-3GPP access
    SessionCounters counters_;
    uint64_t next_seid_ = 1;
    uint32_t next_teid_ = 1;
    std::shared_ptr<bool> alive_;  // report callbacks outliving this object do nothing
};

// /metrics families for the session counters (braid_pfcp_session_*). `procs` must outlive the
// exporter.
void add_collectors(metrics::Exporter& exporter, const SessionProcedures& procs);

}  // namespace braid::pfcp
