// The IEs of the PFCP session messages (TS 29.244 §7.5, §8.2; spec/n4-gtpu-mams.md §1.7, §1.10,
// §1.11): the grouped rule IEs (Create/Update/Remove PDR, FAR, QER, URR, BAR), what a UPF sends
// back (Created PDR, Usage Report, Error Indication Report, Downlink Data Report, Failed Rule ID)
// and the leaf IEs only these use. Built on ies.h's leaf types.
//
// Leaf IEs follow ies.h's contract (parse(value) / encode(Writer) / ==). A grouped IE has
//   static Result<T, Rejection> decode(const IeView& ie);  // members in any order
//   void encode(Writer& w) const;                           // members in table order
// decode() reports what a rejection needs (§7.6): a missing mandatory member -> 66 + the
// member's type; a member too short -> 68; a member with a bad value or a repeated non-list
// member -> 69. Unknown and vendor-specific members are skipped. Members braid does not act on
// are not kept (the procedures decide what an absent feature means).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "control/pfcp/ie.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/message.h"
#include "control/pfcp/result.h"
#include "control/pfcp/types.h"

namespace braid::pfcp {

// IE types the procedures use that types.h does not list (Table 8.1.2-1).
inline constexpr IeType ie_downlink_data_notification_delay = static_cast<IeType>(46);
inline constexpr IeType ie_suggested_buffering_packets_count = static_cast<IeType>(140);

// ---- leaf IEs --------------------------------------------------------------------------------

using BarId = UintIe<IeType::bar_id, uint8_t>;
using UrSeqn = UintIe<IeType::ur_seqn, uint32_t>;
using DurationMeasurement = UintIe<IeType::duration_measurement, uint32_t>;  // seconds
using StartTime = UintIe<IeType::start_time, uint32_t>;  // NTP seconds (RecoveryTimeStamp)
using EndTime = UintIe<IeType::end_time, uint32_t>;      // NTP seconds
using QueryUrrReference = UintIe<IeType::query_urr_reference, uint32_t>;
using SuggestedBufferingPacketsCount = UintIe<ie_suggested_buffering_packets_count, uint8_t>;

// One octet of flags; extra octets are ignored (extendable), spare bits kept as received.
template <IeType T>
struct FlagsIe {
    static constexpr IeType type = T;
    uint8_t flags = 0;

    bool has(uint8_t f) const { return (flags & f) != 0; }
    static Result<FlagsIe, IeError> parse(std::span<const uint8_t> v) {
        if (v.empty()) {
            return Unexpected{IeError::invalid_length(T)};
        }
        return FlagsIe{v[0]};
    }
    void encode(Writer& w) const { w.add(T, std::span(&flags, 1)); }
    bool operator==(const FlagsIe&) const = default;
};

// Report Type (39): which reports a Session Report Request carries.
struct ReportTypeBits {
    static constexpr uint8_t dldr = 0x01, usar = 0x02, erir = 0x04, upir = 0x08, tmir = 0x10,
                             sesr = 0x20, uisr = 0x40;
};
using ReportType = FlagsIe<IeType::report_type>;

// PFCPSMReq-Flags (49).
struct PfcpSmReqBits {
    static constexpr uint8_t drobu = 0x01, sndem = 0x02, qaurr = 0x04, sumpc = 0x08, rumuc = 0x10,
                             deteid = 0x20, hrsbom = 0x40;
};
using PfcpSmReqFlags = FlagsIe<IeType::pfcpsmreq_flags>;

// PFCPSEReq-Flags (186).
struct PfcpSeReqBits {
    static constexpr uint8_t resti = 0x01, sumpc = 0x02, hrsbom = 0x04, epri = 0x08;
};
using PfcpSeReqFlags = FlagsIe<IeType::pfcpsereq_flags>;

// PFCPSRRsp-Flags (50): 0x01 DROBU (drop the buffered packets).
using PfcpSrRspFlags = FlagsIe<IeType::pfcpsrrsp_flags>;

// Usage Report Trigger (63): octet 5 in bits 0-7, octet 6 in 8-15, octet 7 in 16-23.
struct UsageReportTrigger {
    static constexpr IeType type = IeType::usage_report_trigger;
    static constexpr uint32_t perio = 0x000001, volth = 0x000002, timth = 0x000004,
                              quhti = 0x000008, start = 0x000010, stopt = 0x000020,
                              droth = 0x000040, immer = 0x000080, volqu = 0x000100,
                              timqu = 0x000200, liusa = 0x000400, termr = 0x000800,
                              monit = 0x001000, envcl = 0x002000, macar = 0x004000,
                              eveth = 0x008000, evequ = 0x010000, tebur = 0x020000,
                              ipmjl = 0x040000, quvti = 0x080000, emrre = 0x100000,
                              upint = 0x200000;
    uint32_t flags = 0;

    static Result<UsageReportTrigger, IeError> parse(std::span<const uint8_t> v);  // >= 2
    void encode(Writer& w) const;  // 2 octets, 3 when octet 7 has a bit set
    bool operator==(const UsageReportTrigger&) const = default;
};

// Volume Measurement (66): octets and packets, each present if flagged.
struct VolumeMeasurement {
    static constexpr IeType type = IeType::volume_measurement;
    std::optional<uint64_t> total_octets;      // TOVOL 0x01
    std::optional<uint64_t> uplink_octets;     // ULVOL 0x02
    std::optional<uint64_t> downlink_octets;   // DLVOL 0x04
    std::optional<uint64_t> total_packets;     // TONOP 0x08
    std::optional<uint64_t> uplink_packets;    // ULNOP 0x10
    std::optional<uint64_t> downlink_packets;  // DLNOP 0x20

    static Result<VolumeMeasurement, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const VolumeMeasurement&) const = default;
};

// Failed Rule ID (114): which rule a Cause 73 (or another rule-level rejection) is about.
struct FailedRuleId {
    static constexpr IeType type = IeType::failed_rule_id;
    enum class RuleType : uint8_t { pdr = 0, far = 1, qer = 2, urr = 3, bar = 4, mar = 5, srr = 6 };
    RuleType rule_type = RuleType::pdr;
    uint32_t id = 0;  // PDR/MAR: 16 bits; BAR/SRR: 8 bits; FAR/QER/URR: 32 bits

    static Result<FailedRuleId, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;  // an id too wide for its rule type fails the Writer
    bool operator==(const FailedRuleId&) const = default;
};

// ---- Multi-Access Rule leaf IEs (§8.2.146-8.2.150, §8.2.170-171; spec §1.12) ----------------

// An IE whose value is octet 5's low nibble (Steering Functionality, Steering Mode, Priority).
// The upper nibble is spare: ignored on receipt, 0 when sent.
template <IeType T>
struct NibbleIe {
    static constexpr IeType type = T;
    uint8_t value = 0;

    static Result<NibbleIe, IeError> parse(std::span<const uint8_t> v) {
        if (v.empty()) {
            return Unexpected{IeError::invalid_length(T)};
        }
        return NibbleIe{static_cast<uint8_t>(v[0] & 0x0f)};
    }
    void encode(Writer& w) const {
        const uint8_t b = value & 0x0f;
        w.add(T, std::span(&b, 1));
    }
    bool operator==(const NibbleIe&) const = default;
};

using MarId = UintIe<IeType::mar_id, uint16_t>;
using Weight = UintIe<IeType::weight, uint8_t>;  // 0..100 % (checked by the procedures)

// Steering Functionality (171): values the procedures know.
struct SteeringFunctionalityValue {
    static constexpr uint8_t atsss_ll = 0, mptcp = 1, mpquic_udp = 2, mpquic_ip = 3, mpquic_e = 4;
};
using SteeringFunctionality = NibbleIe<IeType::steering_functionality>;

// Steering Mode (172).
struct SteeringModeValue {
    static constexpr uint8_t active_standby = 0, smallest_delay = 1, load_balancing = 2,
                             priority_based = 3, redundant = 4;
};
using SteeringMode = NibbleIe<IeType::steering_mode>;

// Priority (174): Active-Standby 0/1/2, Priority-based 3/4, Redundant 5/6.
struct PriorityValue {
    static constexpr uint8_t active = 0, standby = 1, no_standby = 2, high = 3, low = 4,
                             primary = 5, secondary = 6;
};
using Priority = NibbleIe<IeType::priority>;

// Steering Mode Indicator (289): 0x01 ALBI, 0x02 UEAI (never both).
struct SteeringModeIndicatorBits {
    static constexpr uint8_t albi = 0x01, ueai = 0x02;
};
using SteeringModeIndicator = FlagsIe<IeType::steering_mode_indicator>;

// Multipath Applicable Indication (265, R16/R17 "MPTCP Applicable Indication"): 0x01 MTAI,
// 0x02 MQAI.
struct MultipathApplicableBits {
    static constexpr uint8_t mtai = 0x01, mqai = 0x02;
};
using MultipathApplicableIndication = FlagsIe<IeType::multipath_applicable_indication>;

// Thresholds (288): o5 flags 0x01 RTT, 0x02 PLR; RTT uint16 ms if RTT; PLR 1 octet % if PLR.
struct Thresholds {
    static constexpr IeType type = IeType::thresholds;
    std::optional<uint16_t> rtt_ms;
    std::optional<uint8_t> packet_loss_rate;  // %

    static Result<Thresholds, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const Thresholds&) const = default;
};

// ---- ATSSS control IEs (§8.2.163-8.2.167, spec §1.12-1.13) ------------------------------------

// MPTCP Control Information (222): 0x01 TCI (transport converter requested).
using MptcpControlInformation = FlagsIe<IeType::mptcp_control_information>;
// ATSSS-LL Control Information (223): 0x01 LLI.
using AtsssLlControlInformation = FlagsIe<IeType::atsss_ll_control_information>;
// PMF Control Information (224): 0x01 PMFI, 0x02 DRTTI, 0x04 PQPM; the QFI list that may follow
// is not kept (braid provides no PMF).
using PmfControlInformation = FlagsIe<IeType::pmf_control_information>;

// MPTCP Address Information (228): proxy type (1 = transport converter), port, addresses.
struct MptcpAddressInformation {
    static constexpr IeType type = IeType::mptcp_address_information;
    static constexpr uint8_t transport_converter = 1;
    uint8_t proxy_type = transport_converter;
    uint16_t port = 0;
    std::optional<Ipv4Address> ipv4;  // 0x01 V4
    std::optional<Ipv6Address> ipv6;  // 0x02 V6

    static Result<MptcpAddressInformation, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const MptcpAddressInformation&) const = default;
};

// Link-Specific Multipath IP Address (229, R16/R17 "UE Link-Specific IP Address").
struct LinkSpecificMultipathIpAddress {
    static constexpr IeType type = IeType::link_specific_multipath_ip_address;
    std::optional<Ipv4Address> tgpp_ipv4;      // 0x01 V4
    std::optional<Ipv6Address> tgpp_ipv6;      // 0x02 V6
    std::optional<Ipv4Address> non_tgpp_ipv4;  // 0x04 NV4
    std::optional<Ipv6Address> non_tgpp_ipv6;  // 0x08 NV6

    static Result<LinkSpecificMultipathIpAddress, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const LinkSpecificMultipathIpAddress&) const = default;
};

// ---- grouped IEs -----------------------------------------------------------------------------

// PDI (2). Application ID and the members braid does not implement are skipped, except that
// application_id is kept so the procedures can refuse it (Cause 81).
struct Pdi {
    static constexpr IeType type = IeType::pdi;
    SourceInterface source_interface;   // M
    std::optional<FTeid> local_f_teid;  // O
    std::optional<NetworkInstance> network_instance;
    std::vector<UeIpAddress> ue_ip_addresses;                // O, list (IP6PL)
    std::vector<SdfFilter> sdf_filters;                      // O, list
    std::optional<std::string> application_id;               // O, octets
    std::vector<Qfi> qfis;                                   // O, list
    std::optional<TgppInterfaceType> source_interface_type;  // C: the access of an MA session

    static Result<Pdi, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const Pdi&) const = default;
};

struct CreatePdr {
    static constexpr IeType type = IeType::create_pdr;
    PdrId pdr_id;           // M
    Precedence precedence;  // M
    Pdi pdi;                // M
    std::optional<OuterHeaderRemoval> outer_header_removal;
    std::optional<FarId> far_id;
    std::vector<UrrId> urr_ids;
    std::vector<QerId> qer_ids;
    std::optional<MarId> mar_id;  // C: DL PDR of an MA PDU session
    std::optional<MultipathApplicableIndication> multipath_applicable;  // C: MTAI/MQAI

    static Result<CreatePdr, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const CreatePdr&) const = default;
};

// Update PDR (9): a present PDI replaces the old one entirely; present URR/QER ID lists replace
// the old lists.
struct UpdatePdr {
    static constexpr IeType type = IeType::update_pdr;
    PdrId pdr_id;  // M
    std::optional<OuterHeaderRemoval> outer_header_removal;
    std::optional<Precedence> precedence;
    std::optional<Pdi> pdi;
    std::optional<FarId> far_id;
    std::vector<UrrId> urr_ids;
    std::vector<QerId> qer_ids;
    std::optional<MarId> mar_id;

    static Result<UpdatePdr, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdatePdr&) const = default;
};

struct ForwardingParameters {
    static constexpr IeType type = IeType::forwarding_parameters;
    DestinationInterface destination_interface;  // M
    std::optional<NetworkInstance> network_instance;
    std::optional<OuterHeaderCreation> outer_header_creation;

    static Result<ForwardingParameters, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const ForwardingParameters&) const = default;
};

// Update Forwarding Parameters (11): every member conditional; PFCPSMReq-Flags carries SNDEM.
struct UpdateForwardingParameters {
    static constexpr IeType type = IeType::update_forwarding_parameters;
    std::optional<DestinationInterface> destination_interface;
    std::optional<NetworkInstance> network_instance;
    std::optional<OuterHeaderCreation> outer_header_creation;
    std::optional<PfcpSmReqFlags> flags;

    static Result<UpdateForwardingParameters, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdateForwardingParameters&) const = default;
};

// Duplicating Parameters (5, §7.5.2.3-3): where copies of a FAR's packets go when its Apply
// Action has DUPL (one IE per destination). Transport Level Marking and Forwarding Policy are
// skipped like any IE braid does not act on.
struct DuplicatingParameters {
    static constexpr IeType type = IeType::duplicating_parameters;
    DestinationInterface destination_interface;  // M
    std::optional<OuterHeaderCreation> outer_header_creation;

    static Result<DuplicatingParameters, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const DuplicatingParameters&) const = default;
};

// Update Duplicating Parameters (105, §7.5.4.3-3): every member conditional.
struct UpdateDuplicatingParameters {
    static constexpr IeType type = IeType::update_duplicating_parameters;
    std::optional<DestinationInterface> destination_interface;
    std::optional<OuterHeaderCreation> outer_header_creation;

    static Result<UpdateDuplicatingParameters, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdateDuplicatingParameters&) const = default;
};

struct CreateFar {
    static constexpr IeType type = IeType::create_far;
    FarId far_id;                                               // M
    ApplyAction apply_action;                                   // M
    std::optional<ForwardingParameters> forwarding_parameters;  // C: FORW
    std::vector<DuplicatingParameters> duplicating_parameters;  // C: DUPL, one per destination
    std::optional<BarId> bar_id;

    static Result<CreateFar, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const CreateFar&) const = default;
};

// Update FAR (10). A (complete) Forwarding Parameters IE inside Update FAR is accepted too, as
// some SMFs send one: it is read as an Update Forwarding Parameters with every member present.
struct UpdateFar {
    static constexpr IeType type = IeType::update_far;
    FarId far_id;  // M
    std::optional<ApplyAction> apply_action;
    std::optional<UpdateForwardingParameters> update_forwarding_parameters;
    std::vector<UpdateDuplicatingParameters> update_duplicating_parameters;
    std::optional<BarId> bar_id;

    static Result<UpdateFar, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdateFar&) const = default;
};

struct CreateQer {
    static constexpr IeType type = IeType::create_qer;
    QerId qer_id;            // M
    GateStatus gate_status;  // M
    std::optional<Mbr> mbr;
    std::optional<Gbr> gbr;  // decoded, not enforced
    std::optional<Qfi> qfi;

    static Result<CreateQer, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const CreateQer&) const = default;
};

struct UpdateQer {
    static constexpr IeType type = IeType::update_qer;
    QerId qer_id;  // M
    std::optional<GateStatus> gate_status;
    std::optional<Mbr> mbr;
    std::optional<Gbr> gbr;
    std::optional<Qfi> qfi;

    static Result<UpdateQer, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdateQer&) const = default;
};

struct CreateUrr {
    static constexpr IeType type = IeType::create_urr;
    UrrId urr_id;                                         // M
    MeasurementMethod measurement_method;                 // M
    ReportingTriggers reporting_triggers;                 // M
    std::optional<MeasurementPeriod> measurement_period;  // C: PERIO
    std::optional<VolumeThreshold> volume_threshold;      // C: VOLTH
    std::optional<TimeThreshold> time_threshold;          // C: TIMTH

    static Result<CreateUrr, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const CreateUrr&) const = default;
};

struct UpdateUrr {
    static constexpr IeType type = IeType::update_urr;
    UrrId urr_id;  // M
    std::optional<MeasurementMethod> measurement_method;
    std::optional<ReportingTriggers> reporting_triggers;
    std::optional<MeasurementPeriod> measurement_period;
    std::optional<VolumeThreshold> volume_threshold;
    std::optional<TimeThreshold> time_threshold;

    static Result<UpdateUrr, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdateUrr&) const = default;
};

// Create BAR (85), Update BAR in a Modification Request (86) and in a Report Response (12).
// Downlink Data Notification Delay and DL Buffering Duration are not kept.
template <IeType T>
struct BarIe {
    static constexpr IeType type = T;
    BarId bar_id;  // M
    std::optional<SuggestedBufferingPacketsCount> suggested_buffering_packets_count;

    static Result<BarIe, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const BarIe&) const = default;
};
using CreateBar = BarIe<IeType::create_bar>;
using UpdateBar = BarIe<IeType::update_bar_session_modification_request>;
using UpdateBarReport = BarIe<IeType::update_bar_session_report_response>;

// A grouped IE whose only (mandatory) member is a rule ID: Remove PDR/FAR/QER/URR/BAR, Query URR.
template <IeType T, typename Id>
struct RuleIdIe {
    static constexpr IeType type = T;
    Id id;

    static Result<RuleIdIe, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const RuleIdIe&) const = default;
};
using RemovePdr = RuleIdIe<IeType::remove_pdr, PdrId>;
using RemoveFar = RuleIdIe<IeType::remove_far, FarId>;
using RemoveQer = RuleIdIe<IeType::remove_qer, QerId>;
using RemoveUrr = RuleIdIe<IeType::remove_urr, UrrId>;
using RemoveBar = RuleIdIe<IeType::remove_bar, BarId>;
using QueryUrr = RuleIdIe<IeType::query_urr, UrrId>;

// 3GPP / Non-3GPP Access Forwarding Action Information (166/167) and their Update forms
// (175/176, where FAR ID is conditional too). One access of a Multi-Access Rule.
template <IeType T, bool Update>
struct AccessForwardingIe {
    static constexpr IeType type = T;
    std::optional<FarId> far_id;  // M in 166/167 (decode() rejects its absence), C in 175/176
    std::optional<Weight> weight;
    std::optional<Priority> priority;
    std::vector<UrrId> urr_ids;

    static Result<AccessForwardingIe, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const AccessForwardingIe&) const = default;
};
using TgppAccessForwarding =
    AccessForwardingIe<IeType::tgpp_access_forwarding_action_information, false>;
using NonTgppAccessForwarding =
    AccessForwardingIe<IeType::non_tgpp_access_forwarding_action_information, false>;
using UpdateTgppAccessForwarding =
    AccessForwardingIe<IeType::update_tgpp_access_forwarding_action_information, true>;
using UpdateNonTgppAccessForwarding =
    AccessForwardingIe<IeType::update_non_tgpp_access_forwarding_action_information, true>;

// Create MAR (165). Transport Mode (MPQUIC only) is not kept.
struct CreateMar {
    static constexpr IeType type = IeType::create_mar;
    MarId mar_id;                                                  // M
    SteeringFunctionality steering_functionality;                  // M
    SteeringMode steering_mode;                                    // M
    std::optional<TgppAccessForwarding> tgpp;                      // C
    std::optional<NonTgppAccessForwarding> non_tgpp;               // C
    std::optional<Thresholds> thresholds;                          // C
    std::optional<SteeringModeIndicator> steering_mode_indicator;  // C

    static Result<CreateMar, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const CreateMar&) const = default;
};

// Update MAR (169): an AFAI (166/167) adds an access, an Update AFAI (175/176) changes one.
struct UpdateMar {
    static constexpr IeType type = IeType::update_mar;
    MarId mar_id;  // M
    std::optional<SteeringFunctionality> steering_functionality;
    std::optional<SteeringMode> steering_mode;
    std::optional<UpdateTgppAccessForwarding> update_tgpp;
    std::optional<UpdateNonTgppAccessForwarding> update_non_tgpp;
    std::optional<TgppAccessForwarding> tgpp;
    std::optional<NonTgppAccessForwarding> non_tgpp;
    std::optional<Thresholds> thresholds;
    std::optional<SteeringModeIndicator> steering_mode_indicator;

    static Result<UpdateMar, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UpdateMar&) const = default;
};

using RemoveMar = RuleIdIe<IeType::remove_mar, MarId>;

// Provide ATSSS Control Information (220): what the SMF asks the UPF to provide for ATSSS.
struct ProvideAtsssControlInformation {
    static constexpr IeType type = IeType::provide_atsss_control_information;
    std::optional<MptcpControlInformation> mptcp;
    std::optional<AtsssLlControlInformation> atsss_ll;
    std::optional<PmfControlInformation> pmf;

    static Result<ProvideAtsssControlInformation, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const ProvideAtsssControlInformation&) const = default;
};

// MPTCP Parameters (225): both members mandatory.
struct MptcpParameters {
    static constexpr IeType type = IeType::mptcp_parameters;
    MptcpAddressInformation address;      // M
    LinkSpecificMultipathIpAddress link;  // M

    static Result<MptcpParameters, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const MptcpParameters&) const = default;
};

// ATSSS Control Parameters (221): braid only ever fills MPTCP Parameters (ATSSS-LL and PMF are
// not provided).
struct AtsssControlParameters {
    static constexpr IeType type = IeType::atsss_control_parameters;
    std::optional<MptcpParameters> mptcp;

    static Result<AtsssControlParameters, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const AtsssControlParameters&) const = default;
};

// Created PDR (8) and Updated PDR (256): what the UP function allocated for a PDR.// Created PDR
// (8) and Updated PDR (256): what the UP function allocated for a PDR.// Created PDR (8) and
// Updated PDR (256): what the UP function allocated for a PDR.
template <IeType T>
struct AllocatedPdrIe {
    static constexpr IeType type = T;
    PdrId pdr_id;                              // M
    std::optional<FTeid> local_f_teid;         // C: CH was set
    std::optional<UeIpAddress> ue_ip_address;  // C: CHV4/CHV6 was set

    static Result<AllocatedPdrIe, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const AllocatedPdrIe&) const = default;
};
using CreatedPdr = AllocatedPdrIe<IeType::created_pdr>;
using UpdatedPdr = AllocatedPdrIe<IeType::updated_pdr>;

// Usage Report in a Modification Response (78), Deletion Response (79), Report Request (80).
template <IeType T>
struct UsageReportIe {
    static constexpr IeType type = T;
    UrrId urr_id;                // M
    UrSeqn ur_seqn;              // M
    UsageReportTrigger trigger;  // M
    std::optional<StartTime> start_time;
    std::optional<EndTime> end_time;
    std::optional<VolumeMeasurement> volume_measurement;
    std::optional<DurationMeasurement> duration_measurement;
    std::optional<QueryUrrReference> query_urr_reference;  // 78, 80 only

    static Result<UsageReportIe, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const UsageReportIe&) const = default;
};
using UsageReportModification = UsageReportIe<IeType::usage_report_session_modification_response>;
using UsageReportDeletion = UsageReportIe<IeType::usage_report_session_deletion_response>;
using UsageReportReport = UsageReportIe<IeType::usage_report_session_report_request>;

// Error Indication Report (99): one Remote F-TEID per GTP-U Error Indication (list, >= 1).
struct ErrorIndicationReport {
    static constexpr IeType type = IeType::error_indication_report;
    std::vector<FTeid> remote_f_teids;

    static Result<ErrorIndicationReport, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const ErrorIndicationReport&) const = default;
};

// Downlink Data Report (83): the PDRs that received downlink data (list, >= 1).
struct DownlinkDataReport {
    static constexpr IeType type = IeType::downlink_data_report;
    std::vector<PdrId> pdr_ids;

    static Result<DownlinkDataReport, Rejection> decode(const IeView& ie);
    void encode(Writer& w) const;
    bool operator==(const DownlinkDataReport&) const = default;
};

// ---- message-level helpers (any IE list: a message body or a grouped IE's members) ----------

namespace detail {
// One IE as T: grouped types decode(), leaf types parse() their value.
template <typename T>
Result<T, Rejection> read_ie(const IeView& ie) {
    if constexpr (requires { T::decode(ie); }) {
        return T::decode(ie);
    } else {
        auto r = T::parse(ie.value());
        if (!r) {
            return Unexpected{Rejection{cause_for(r.error()), T::type}};
        }
        return std::move(r).value();
    }
}
}  // namespace detail

// The IE of type T::type: none -> nullopt; more than one -> 69 + T::type (§7.6 would allow using
// the first, but a repeated rule member is ambiguous); a decode/parse fault -> its Rejection.
template <typename T>
Result<std::optional<T>, Rejection> decode_optional(const IeList& ies) {
    std::optional<T> out;
    for (IeView ie : ies) {
        if (ie.is_vendor_specific() || ie.type() != T::type) {
            continue;
        }
        if (out) {
            return Unexpected{Rejection{Cause::mandatory_ie_incorrect, T::type}};
        }
        auto r = detail::read_ie<T>(ie);
        if (!r) {
            return Unexpected{r.error()};
        }
        out = std::move(r).value();
    }
    return out;
}

// As decode_optional, and absent -> 66 Mandatory IE missing + T::type.
template <typename T>
Result<T, Rejection> decode_mandatory(const IeList& ies) {
    auto r = decode_optional<T>(ies);
    if (!r) {
        return Unexpected{r.error()};
    }
    if (!r->has_value()) {
        return Unexpected{Rejection{Cause::mandatory_ie_missing, T::type}};
    }
    return std::move(**r);
}

// Every IE of type T::type, in order.
template <typename T>
Result<std::vector<T>, Rejection> decode_list(const IeList& ies) {
    std::vector<T> out;
    for (IeView ie : ies) {
        if (ie.is_vendor_specific() || ie.type() != T::type) {
            continue;
        }
        auto r = detail::read_ie<T>(ie);
        if (!r) {
            return Unexpected{r.error()};
        }
        out.push_back(std::move(r).value());
    }
    return out;
}

}  // namespace braid::pfcp
