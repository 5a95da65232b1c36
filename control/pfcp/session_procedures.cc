#include "control/pfcp/session_procedures.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <type_traits>
#include <variant>

#include "control/log.h"
#include "control/pfcp/message.h"
#include "dataplane/sdf.h"
#include "dataplane/session_table.h"

namespace braid::pfcp {

namespace dp = braid::dataplane;

// ---- counters, labels ---------------------------------------------------------------------------

const std::array<SessionCounterInfo, static_cast<size_t>(SessionEvent::count)> session_event_table =
    {{
#define BRAID_X(name, help) {#name, help},
        BRAID_PFCP_SESSION_EVENTS(BRAID_X)
#undef BRAID_X
    }};

std::string_view cause_label(Cause c) {
    switch (c) {
#define BRAID_X(name, value, text) \
    case Cause::name:              \
        return #name;
        BRAID_PFCP_CAUSES(BRAID_X)
#undef BRAID_X
    }
    return is_acceptance(c) ? "spare_acceptance" : "spare_rejection";
}

std::optional<std::string> check(const SessionProceduresConfig& cfg) {
    if (cfg.node_id.kind == NodeId::Kind::fqdn && !cfg.n4_ipv4 && !cfg.n4_ipv6) {
        return "an FQDN Node ID needs an N4 address for the UP F-SEID";
    }
    if (cfg.teid_first == 0 || cfg.teid_first > cfg.teid_last) {
        return "the TEID range must be non-empty and must not include 0";
    }
    if (auto why = check(cfg.ue_ip_pools)) {
        return why;
    }
    const MptcpProxyConfig& mp = cfg.mptcp_proxy;
    if (mp.enabled) {
        if (!mp.ipv4 && !mp.ipv6) {
            return "the MPTCP proxy needs an IPv4 or IPv6 address";
        }
        if (mp.port == 0) {
            return "the MPTCP proxy needs a port";
        }
        if (mp.tgpp_pools.empty() || mp.non_tgpp_pools.empty()) {
            return "the MPTCP proxy needs link-specific pools for both accesses";
        }
    }
    for (const auto* pools : {&mp.tgpp_pools, &mp.non_tgpp_pools}) {
        if (auto why = check(*pools)) {
            return "link-specific " + *why;
        }
    }
    if (cfg.first_seid == 0) {
        return "SEID 0 is reserved";
    }
    return std::nullopt;
}

namespace {

// ---- small conversions --------------------------------------------------------------------------

uint32_t host_ipv4(const Ipv4Address& a) {
    return static_cast<uint32_t>(a[0]) << 24 | static_cast<uint32_t>(a[1]) << 16 |
           static_cast<uint32_t>(a[2]) << 8 | a[3];
}

Ipv4Address wire_ipv4(uint32_t host) {
    return {static_cast<uint8_t>(host >> 24), static_cast<uint8_t>(host >> 16),
            static_cast<uint8_t>(host >> 8), static_cast<uint8_t>(host)};
}

std::string ipv4_text(uint32_t host) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", host >> 24, (host >> 16) & 0xff,
                  (host >> 8) & 0xff, host & 0xff);
    return buf;
}

std::string node_text(const NodeId& n) {
    switch (n.kind) {
        case NodeId::Kind::ipv4:
            return ipv4_text(host_ipv4(n.ipv4));
        case NodeId::Kind::ipv6: {
            char buf[INET6_ADDRSTRLEN] = {};
            inet_ntop(AF_INET6, n.ipv6.data(), buf, sizeof(buf));
            return buf;
        }
        case NodeId::Kind::fqdn:
            return n.fqdn;
    }
    return "?";
}

uint32_t ntp_seconds(int64_t unix_ms) {
    const int64_t s = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
    return RecoveryTimeStamp::from_unix(s).ntp_seconds;
}

std::optional<dp::Interface> source_interface(SourceInterface::Value v) {
    switch (v) {
        case SourceInterface::Value::access:
            return dp::Interface::access;
        case SourceInterface::Value::core:
            return dp::Interface::core;
        case SourceInterface::Value::sgi_lan_n6_lan:
            return dp::Interface::sgi_lan;
        case SourceInterface::Value::cp_function:
            return dp::Interface::cp_function;
        default:
            return std::nullopt;
    }
}

std::optional<dp::Interface> destination_interface(DestinationInterface::Value v) {
    switch (v) {
        case DestinationInterface::Value::access:
            return dp::Interface::access;
        case DestinationInterface::Value::core:
            return dp::Interface::core;
        case DestinationInterface::Value::sgi_lan_n6_lan:
            return dp::Interface::sgi_lan;
        case DestinationInterface::Value::cp_function:
            return dp::Interface::cp_function;
        default:
            return std::nullopt;
    }
}

uint32_t usage_trigger_bits(dp::UsageTrigger t) {
    switch (t) {
        case dp::UsageTrigger::volume_threshold:
            return UsageReportTrigger::volth;
        case dp::UsageTrigger::time_threshold:
            return UsageReportTrigger::timth;
        case dp::UsageTrigger::periodic:
            return UsageReportTrigger::perio;
        case dp::UsageTrigger::query:
            return UsageReportTrigger::immer;
        case dp::UsageTrigger::termination:
            return UsageReportTrigger::termr;
    }
    return UsageReportTrigger::immer;
}

template <typename T>
T* find_rule(std::vector<T>& rules, uint32_t id) {
    for (T& r : rules) {
        if (r.id == id) {
            return &r;
        }
    }
    return nullptr;
}
template <typename T>
const T* find_rule(const std::vector<T>& rules, uint32_t id) {
    for (const T& r : rules) {
        if (r.id == id) {
            return &r;
        }
    }
    return nullptr;
}
template <typename T>
bool erase_rule(std::vector<T>& rules, uint32_t id) {
    auto it = std::find_if(rules.begin(), rules.end(), [id](const T& r) { return r.id == id; });
    if (it == rules.end()) {
        return false;
    }
    rules.erase(it);
    return true;
}

// ---- rejections --------------------------------------------------------------------------------

using RuleType = FailedRuleId::RuleType;

struct Failure {
    Cause cause = Cause::request_rejected;
    std::optional<IeType> offending_ie;
    std::optional<FailedRuleId> failed_rule;
    std::string why;  // for the log
};

Failure from_rejection(const Rejection& r) {
    Failure f;
    f.cause = r.cause;
    if (r.offending_ie != IeType{}) {
        f.offending_ie = r.offending_ie;
    }
    f.why = std::string(to_string(r.cause)) + ": " + std::string(to_string(r.offending_ie)) +
            " (IE " + std::to_string(static_cast<unsigned>(r.offending_ie)) + ")";
    return f;
}

Failure ie_failure(Cause c, IeType t, std::string why) {
    return Failure{c, t, std::nullopt, std::move(why)};
}

std::string rule_text(RuleType t, uint32_t id);

// 73 Rule creation/modification Failure + Failed Rule ID; `why` (for the log) gets the rule.
Failure rule_failure(RuleType t, uint32_t id, const std::string& why) {
    return Failure{Cause::rule_creation_modification_failure, std::nullopt, FailedRuleId{t, id},
                   rule_text(t, id) + ": " + why};
}

std::string_view rule_name(RuleType t) {
    switch (t) {
        case RuleType::pdr:
            return "PDR";
        case RuleType::far:
            return "FAR";
        case RuleType::qer:
            return "QER";
        case RuleType::urr:
            return "URR";
        case RuleType::bar:
            return "BAR";
        case RuleType::mar:
            return "MAR";
        case RuleType::srr:
            return "SRR";
    }
    return "rule";
}

std::string rule_text(RuleType t, uint32_t id) {
    return std::string(rule_name(t)) + " " + std::to_string(id);
}

// A SpecError the dataplane raised although the procedures checked the spec (a limit, a
// classifier that could not be built, a race with the CLI): the closest PFCP Cause.
Failure from_spec_error(const dp::SpecError& e, bool restoration) {
    std::optional<FailedRuleId> rule;
    static constexpr std::pair<std::string_view, RuleType> prefixes[] = {{"pdr ", RuleType::pdr},
                                                                         {"far ", RuleType::far},
                                                                         {"qer ", RuleType::qer},
                                                                         {"urr ", RuleType::urr},
                                                                         {"bar ", RuleType::bar}};
    for (const auto& [prefix, type] : prefixes) {
        if (e.rule.starts_with(prefix)) {
            uint32_t id = 0;
            bool ok = e.rule.size() > prefix.size();
            for (size_t i = prefix.size(); i < e.rule.size() && ok; ++i) {
                const char c = e.rule[i];
                ok = c >= '0' && c <= '9' && id <= (0xffffffffu - 9) / 10;
                id = id * 10 + static_cast<uint32_t>(c - '0');
            }
            if (ok) {
                rule = FailedRuleId{type, id};
            }
        }
    }
    Failure f;
    f.why = "dataplane: " + std::string(dp::to_string(e.kind)) + " (" + e.rule + "): " + e.message;
    switch (e.kind) {
        case dp::SpecError::Kind::teid_in_use:
            f.cause = restoration ? Cause::pfcp_session_restoration_failure
                                  : Cause::invalid_f_teid_allocation_option;
            f.offending_ie = IeType::f_teid;
            return f;
        case dp::SpecError::Kind::ue_ip_in_use:
            f.cause = restoration ? Cause::pfcp_session_restoration_failure
                                  : Cause::rule_creation_modification_failure;
            f.offending_ie = IeType::ue_ip_address;
            return f;
        case dp::SpecError::Kind::too_many_rules:
            f.cause = Cause::no_resources_available;
            return f;
        default:
            break;
    }
    if (e.rule.starts_with("session")) {
        f.cause = e.kind == dp::SpecError::Kind::dangling_ref ? Cause::session_context_not_found
                                                              : Cause::system_failure;
        return f;
    }
    f.cause = Cause::rule_creation_modification_failure;
    f.failed_rule = rule;
    return f;
}

// ---- rule translation (wire IEs -> dataplane rule model) ----------------------------------------

// What a request asked braid to choose for one PDR.
struct Allocation {
    uint16_t pdr_id = 0;
    bool updated = false;  // Update PDR (-> Updated PDR) rather than Create PDR (-> Created PDR)
    std::optional<FTeid::Choose> teid;
    std::optional<UeIpAddress> ue_ip;  // the request's UE IP Address with CHV4 and/or CHV6
};

// A request being applied to a copy of the session.
struct Edit {
    dp::SessionSpec spec;
    std::map<uint32_t, SessionProcedures::UrrParameters> urrs;
    std::vector<Allocation> allocations;
    bool restoration = false;  // PFCPSEReq-Flags RESTI
};

Result<dp::sdf::Filter, Failure> to_filter(const SdfFilter& in, uint16_t pdr_id) {
    dp::sdf::Filter f;
    if (in.flow_description) {
        auto fd = dp::sdf::parse_flow_description(*in.flow_description);
        if (auto* err = std::get_if<std::string>(&fd)) {
            return Unexpected{rule_failure(RuleType::pdr, pdr_id,
                                           "SDF filter \"" + *in.flow_description + "\": " + *err)};
        }
        f.flow = std::get<dp::sdf::FlowDescription>(std::move(fd));
    }
    if (in.tos_traffic_class) {
        f.tos = std::array<uint8_t, 2>{static_cast<uint8_t>(*in.tos_traffic_class >> 8),
                                       static_cast<uint8_t>(*in.tos_traffic_class)};
    }
    f.spi = in.security_parameter_index;
    f.flow_label = in.flow_label;
    f.id = in.sdf_filter_id;
    return f;
}

// Replaces the PDI-derived fields of `pdr` (§7.5.4.2: a PDI in Update PDR replaces the old one).
std::optional<Failure> apply_pdi(const Pdi& pdi, dp::Pdr& pdr, Edit& e, bool updated) {
    const uint16_t id = pdr.id;
    const auto src = source_interface(pdi.source_interface.value);
    if (!src) {
        return rule_failure(RuleType::pdr, id, "source interface 5G VN internal not supported");
    }
    if (pdi.application_id) {
        return ie_failure(Cause::unknown_application_id, IeType::application_id,
                          rule_text(RuleType::pdr, id) + ": application detection not supported");
    }
    pdr.source = *src;
    pdr.access.reset();
    if (pdi.source_interface_type) {
        switch (pdi.source_interface_type->value) {
            case TgppInterfaceType::n3_3gpp_access:
                pdr.access = dp::LinkAccess::tgpp;
                break;
            case TgppInterfaceType::n3_trusted_non_3gpp_access:
            case TgppInterfaceType::n3_untrusted_non_3gpp_access:
                pdr.access = dp::LinkAccess::non_tgpp;
                break;
            default:
                break;  // an interface that is not an access of an MA PDU session: no check
        }
    }
    pdr.local_teid.reset();
    pdr.ue_ipv4.reset();
    pdr.ue_ipv6.reset();
    pdr.qfi.reset();
    pdr.sdf_filters.clear();
    pdr.network_instance.clear();
    Allocation a;
    a.pdr_id = id;
    a.updated = updated;
    if (pdi.local_f_teid) {
        const FTeid& ft = *pdi.local_f_teid;
        if (ft.choose) {
            a.teid = *ft.choose;
        } else if (!ft.ipv4) {
            return ie_failure(Cause::invalid_f_teid_allocation_option, IeType::f_teid,
                              rule_text(RuleType::pdr, id) + ": braid's N3 F-TEIDs are IPv4");
        } else {
            pdr.local_teid = ft.teid.value();
        }
    }
    if (pdi.network_instance) {
        pdr.network_instance = pdi.network_instance->value;
    }
    for (const UeIpAddress& ue : pdi.ue_ip_addresses) {
        if (ue.choose_v4 || ue.choose_v6) {
            if (a.ue_ip) {
                return rule_failure(RuleType::pdr, id, "two UE IP Address IEs with CHOOSE");
            }
            a.ue_ip = ue;
        }
        if (ue.choose_v4) {
            // allocated below
        } else if (ue.ipv4) {
            const uint32_t v4 = host_ipv4(*ue.ipv4);
            if (pdr.ue_ipv4 && *pdr.ue_ipv4 != v4) {
                return rule_failure(RuleType::pdr, id, "two UE IPv4 addresses in one PDI");
            }
            pdr.ue_ipv4 = v4;
        }
        if (ue.ipv6 && !ue.choose_v6) {
            dp::sdf::Prefix p;
            p.family = 6;
            p.addr = *ue.ipv6;
            if (ue.ipv6_prefix_length) {
                p.len = *ue.ipv6_prefix_length;
            } else if (ue.ipv6_prefix_delegation_bits) {
                p.len = static_cast<uint8_t>(
                    64 - std::min<uint8_t>(64, *ue.ipv6_prefix_delegation_bits));
            } else {
                p.len = 64;
            }
            if (p.len < 64) {
                return rule_failure(RuleType::pdr, id, "UE IPv6 prefix shorter than /64");
            }
            if (pdr.ue_ipv6 && !(*pdr.ue_ipv6 == p)) {
                return rule_failure(RuleType::pdr, id, "two UE IPv6 prefixes in one PDI");
            }
            pdr.ue_ipv6 = p;
        }
    }
    for (const SdfFilter& s : pdi.sdf_filters) {
        auto f = to_filter(s, id);
        if (!f) {
            return f.error();
        }
        pdr.sdf_filters.push_back(std::move(f).value());
    }
    if (pdi.qfis.size() > 1) {
        return rule_failure(RuleType::pdr, id, "more than one QFI in a PDI");
    }
    if (!pdi.qfis.empty()) {
        pdr.qfi = pdi.qfis.front().value;
    }
    if (a.teid || a.ue_ip) {
        e.allocations.push_back(a);
    }
    return std::nullopt;
}

std::optional<Failure> apply_outer_header_removal(const OuterHeaderRemoval& ohr, dp::Pdr& pdr) {
    using D = OuterHeaderRemoval::Description;
    if (ohr.description == D::gtpu_udp_ipv4 || ohr.description == D::gtpu_udp_ipv6 ||
        ohr.description == D::gtpu_udp_ip) {
        pdr.remove_outer_header = true;
        return std::nullopt;
    }
    return rule_failure(RuleType::pdr, pdr.id, "outer header removal other than GTP-U");
}

std::optional<Failure> add_pdr(const CreatePdr& in, Edit& e) {
    const uint16_t id = in.pdr_id.value;
    if (find_rule(e.spec.pdrs, id) != nullptr) {
        return rule_failure(RuleType::pdr, id, "PDR ID already in use");
    }
    if (!in.far_id && !in.mar_id) {
        return ie_failure(Cause::conditional_ie_missing, IeType::far_id,
                          rule_text(RuleType::pdr, id) + " without FAR ID or MAR ID");
    }
    dp::Pdr p;
    p.id = id;
    p.precedence = in.precedence.value;
    if (auto f = apply_pdi(in.pdi, p, e, false)) {
        return f;
    }
    if (in.outer_header_removal) {
        if (auto f = apply_outer_header_removal(*in.outer_header_removal, p)) {
            return f;
        }
    }
    if (in.far_id) {
        p.far_id = in.far_id->value;
    } else {
        p.far_from_mar = true;  // resolve_mars() picks the FAR
    }
    if (in.mar_id) {
        p.mar_id = in.mar_id->value;
    }
    if (in.multipath_applicable) {
        p.multipath_applicable = in.multipath_applicable->flags &
                                 (MultipathApplicableBits::mtai | MultipathApplicableBits::mqai);
    }
    for (const QerId& q : in.qer_ids) {
        p.qer_ids.push_back(q.value);
    }
    for (const UrrId& u : in.urr_ids) {
        p.urr_ids.push_back(u.value);
    }
    e.spec.pdrs.push_back(std::move(p));
    return std::nullopt;
}

std::optional<Failure> update_pdr(const UpdatePdr& in, Edit& e) {
    const uint16_t id = in.pdr_id.value;
    dp::Pdr* p = find_rule(e.spec.pdrs, id);
    if (p == nullptr) {
        return rule_failure(RuleType::pdr, id, "Update PDR: no such PDR");
    }
    if (in.outer_header_removal) {
        if (auto f = apply_outer_header_removal(*in.outer_header_removal, *p)) {
            return f;
        }
    }
    if (in.precedence) {
        p->precedence = in.precedence->value;
    }
    if (in.pdi) {
        if (auto f = apply_pdi(*in.pdi, *p, e, true)) {
            return f;
        }
    }
    if (in.far_id) {
        p->far_id = in.far_id->value;
        p->far_from_mar = false;
    }
    if (in.mar_id) {
        p->mar_id = in.mar_id->value;
    }
    if (!in.qer_ids.empty()) {
        p->qer_ids.clear();
        for (const QerId& q : in.qer_ids) {
            p->qer_ids.push_back(q.value);
        }
    }
    if (!in.urr_ids.empty()) {
        p->urr_ids.clear();
        for (const UrrId& u : in.urr_ids) {
            p->urr_ids.push_back(u.value);
        }
    }
    return std::nullopt;
}

std::optional<Failure> apply_action(const ApplyAction& in, dp::Far& far) {
    if (in.has(ApplyAction::ipma | ApplyAction::ipmd | ApplyAction::fssm | ApplyAction::mbsu)) {
        return rule_failure(RuleType::far, far.id,
                            "apply action IPMA/IPMD/FSSM/MBSU not supported");
    }
    far.action.drop = in.has(ApplyAction::drop);
    far.action.forward = in.has(ApplyAction::forw);
    far.action.buffer = in.has(ApplyAction::buff);
    far.action.notify_cp = in.has(ApplyAction::nocp);
    far.action.duplicate = in.has(ApplyAction::dupl);
    return std::nullopt;
}

std::optional<Failure> apply_outer_header_creation(const OuterHeaderCreation& in, dp::Far& far) {
    if ((in.description & OuterHeaderCreation::gtpu_udp_ipv4) == 0) {
        return rule_failure(RuleType::far, far.id,
                            "outer header creation other than GTP-U/UDP/IPv4 not supported");
    }
    far.outer_header = dp::OuterHeaderCreation{in.teid.value(), host_ipv4(in.ipv4_address)};
    return std::nullopt;
}

std::optional<Failure> apply_destination(DestinationInterface::Value v, dp::Far& far) {
    const auto d = destination_interface(v);
    if (!d) {
        return rule_failure(RuleType::far, far.id,
                            "destination interface LI function / 5G VN internal not supported");
    }
    far.destination = *d;
    return std::nullopt;
}

// One copy destination of a FAR (Duplicating Parameters): where it is reached ...
std::optional<Failure> apply_duplicate_destination(DestinationInterface::Value dest,
                                                   uint32_t far_id, dp::Duplicate& d) {
    if (dest == DestinationInterface::Value::li_function) {
        d.destination = dp::Interface::access;  // reached like the access side: the N3 port
        d.li_function = true;
    } else if (const auto i = destination_interface(dest)) {
        d.destination = *i;
        d.li_function = false;
    } else {
        return rule_failure(RuleType::far, far_id,
                            "duplicating to a 5G VN internal destination not supported");
    }
    return std::nullopt;
}

// ... and its tunnel: braid sends copies through GTP-U/UDP/IPv4 only.
std::optional<Failure> apply_duplicate_tunnel(const OuterHeaderCreation& ohc, uint32_t far_id,
                                              dp::Duplicate& d) {
    dp::Far scratch;
    scratch.id = far_id;
    if (auto err = apply_outer_header_creation(ohc, scratch)) {
        return err;
    }
    d.outer_header = *scratch.outer_header;
    return std::nullopt;
}

// A FAR that duplicates names where the copies go, each through a GTP-U tunnel (§7.5.2.3-3).
std::optional<Failure> check_duplicates(const dp::Far& f) {
    if (!f.action.duplicate) {
        return std::nullopt;
    }
    if (f.duplicates.empty()) {
        return ie_failure(Cause::conditional_ie_missing, IeType::duplicating_parameters,
                          rule_text(RuleType::far, f.id) + ": DUPL without Duplicating Parameters");
    }
    if (f.duplicates.size() > dp::max_duplicates) {
        return rule_failure(RuleType::far, f.id,
                            "more than " + std::to_string(dp::max_duplicates) +
                                " Duplicating Parameters in one FAR");
    }
    for (const dp::Duplicate& d : f.duplicates) {
        if (d.outer_header.peer_ipv4 == 0) {
            return rule_failure(RuleType::far, f.id,
                                "Duplicating Parameters without Outer Header Creation: braid "
                                "sends copies through GTP-U/UDP/IPv4 only");
        }
    }
    return std::nullopt;
}

std::optional<Failure> add_far(const CreateFar& in, Edit& e) {
    const uint32_t id = in.far_id.value;
    if (find_rule(e.spec.fars, id) != nullptr) {
        return rule_failure(RuleType::far, id, "FAR ID already in use");
    }
    dp::Far f;
    f.id = id;
    if (auto err = apply_action(in.apply_action, f)) {
        return err;
    }
    if (in.apply_action.has(ApplyAction::forw) && !in.forwarding_parameters) {
        return ie_failure(Cause::conditional_ie_missing, IeType::forwarding_parameters,
                          rule_text(RuleType::far, id) + ": FORW without Forwarding Parameters");
    }
    if (in.forwarding_parameters) {
        const ForwardingParameters& fp = *in.forwarding_parameters;
        if (auto err = apply_destination(fp.destination_interface.value, f)) {
            return err;
        }
        if (fp.network_instance) {
            f.network_instance = fp.network_instance->value;
        }
        if (fp.outer_header_creation) {
            if (auto err = apply_outer_header_creation(*fp.outer_header_creation, f)) {
                return err;
            }
        }
    }
    for (const DuplicatingParameters& dp_in : in.duplicating_parameters) {
        dp::Duplicate d;
        if (auto err = apply_duplicate_destination(dp_in.destination_interface.value, id, d)) {
            return err;
        }
        if (dp_in.outer_header_creation) {
            if (auto err = apply_duplicate_tunnel(*dp_in.outer_header_creation, id, d)) {
                return err;
            }
        }
        f.duplicates.push_back(d);
    }
    if (auto err = check_duplicates(f)) {
        return err;
    }
    if (in.bar_id) {
        f.bar_id = in.bar_id->value;
    }
    e.spec.fars.push_back(std::move(f));
    return std::nullopt;
}

std::optional<Failure> update_far(const UpdateFar& in, Edit& e, bool& send_end_marker) {
    const uint32_t id = in.far_id.value;
    dp::Far* f = find_rule(e.spec.fars, id);
    if (f == nullptr) {
        return rule_failure(RuleType::far, id, "Update FAR: no such FAR");
    }
    if (in.apply_action) {
        if (auto err = apply_action(*in.apply_action, *f)) {
            return err;
        }
    }
    if (in.update_forwarding_parameters) {
        const UpdateForwardingParameters& u = *in.update_forwarding_parameters;
        if (u.destination_interface) {
            if (auto err = apply_destination(u.destination_interface->value, *f)) {
                return err;
            }
        }
        if (u.network_instance) {
            f->network_instance = u.network_instance->value;
        }
        if (u.outer_header_creation) {
            if (auto err = apply_outer_header_creation(*u.outer_header_creation, *f)) {
                return err;
            }
        }
        if (u.flags && u.flags->has(PfcpSmReqBits::sndem)) {
            send_end_marker = true;
        }
    }
    for (const UpdateDuplicatingParameters& u : in.update_duplicating_parameters) {
        // The copy destination it updates: the one with its Destination Interface (a new one
        // when the FAR has none with it); without a Destination Interface, the only one.
        dp::Duplicate* d = nullptr;
        if (u.destination_interface) {
            dp::Duplicate probe;
            if (auto err = apply_duplicate_destination(u.destination_interface->value, id, probe)) {
                return err;
            }
            for (dp::Duplicate& x : f->duplicates) {
                if (x.destination == probe.destination && x.li_function == probe.li_function) {
                    d = &x;
                }
            }
            if (d == nullptr) {
                f->duplicates.push_back(probe);
                d = &f->duplicates.back();
            }
        } else if (f->duplicates.size() == 1) {
            d = &f->duplicates.front();
        } else {
            return ie_failure(Cause::conditional_ie_missing, IeType::destination_interface,
                              rule_text(RuleType::far, id) +
                                  ": Update Duplicating Parameters without a Destination "
                                  "Interface, and not exactly one destination to update");
        }
        if (u.outer_header_creation) {
            if (auto err = apply_duplicate_tunnel(*u.outer_header_creation, id, *d)) {
                return err;
            }
        }
    }
    if (auto err = check_duplicates(*f)) {
        return err;
    }
    if (in.bar_id) {
        f->bar_id = in.bar_id->value;
    }
    return std::nullopt;
}

void apply_gate(const GateStatus& g, dp::Qer& q) {
    q.gate_ul_open = g.uplink == GateStatus::Gate::open;
    q.gate_dl_open = g.downlink == GateStatus::Gate::open;
}

std::optional<Failure> add_qer(const CreateQer& in, Edit& e) {
    const uint32_t id = in.qer_id.value;
    if (find_rule(e.spec.qers, id) != nullptr) {
        return rule_failure(RuleType::qer, id, "QER ID already in use");
    }
    dp::Qer q;
    q.id = id;
    apply_gate(in.gate_status, q);
    if (in.mbr) {
        q.mbr_ul_kbps = in.mbr->uplink_kbps;
        q.mbr_dl_kbps = in.mbr->downlink_kbps;
    }
    if (in.qfi) {
        q.qfi = in.qfi->value;
    }
    e.spec.qers.push_back(q);
    return std::nullopt;
}

std::optional<Failure> update_qer(const UpdateQer& in, Edit& e) {
    dp::Qer* q = find_rule(e.spec.qers, in.qer_id.value);
    if (q == nullptr) {
        return rule_failure(RuleType::qer, in.qer_id.value, "Update QER: no such QER");
    }
    if (in.gate_status) {
        apply_gate(*in.gate_status, *q);
    }
    if (in.mbr) {
        q->mbr_ul_kbps = in.mbr->uplink_kbps;
        q->mbr_dl_kbps = in.mbr->downlink_kbps;
    }
    if (in.qfi) {
        q->qfi = in.qfi->value;
    }
    return std::nullopt;
}

// Volume Threshold in octets: TOVOL, else the sum of ULVOL and DLVOL (braid counts one total).
std::optional<uint64_t> threshold_octets(const VolumeThreshold& v) {
    if (v.total) {
        return v.total;
    }
    if (v.uplink || v.downlink) {
        return v.uplink.value_or(0) + v.downlink.value_or(0);
    }
    return std::nullopt;
}

dp::Urr to_urr(uint32_t id, const SessionProcedures::UrrParameters& p) {
    dp::Urr u;
    u.id = id;
    u.measure_volume = (p.method & MeasurementMethod::volum) != 0;
    u.measure_duration = (p.method & MeasurementMethod::durat) != 0;
    u.volume_threshold_bytes =
        (p.triggers & ReportingTriggers::volth) != 0 ? p.volume_threshold.value_or(0) : 0;
    u.time_threshold_s =
        (p.triggers & ReportingTriggers::timth) != 0 ? p.time_threshold.value_or(0) : 0;
    u.measurement_period_s =
        (p.triggers & ReportingTriggers::perio) != 0 ? p.measurement_period.value_or(0) : 0;
    return u;
}

// For a URR the procedures have no parameters for (not created over PFCP).
SessionProcedures::UrrParameters parameters_of(const dp::Urr& u) {
    SessionProcedures::UrrParameters p;
    p.method = static_cast<uint8_t>((u.measure_volume ? MeasurementMethod::volum : 0) |
                                    (u.measure_duration ? MeasurementMethod::durat : 0));
    if (u.volume_threshold_bytes != 0) {
        p.triggers |= ReportingTriggers::volth;
        p.volume_threshold = u.volume_threshold_bytes;
    }
    if (u.time_threshold_s != 0) {
        p.triggers |= ReportingTriggers::timth;
        p.time_threshold = u.time_threshold_s;
    }
    if (u.measurement_period_s != 0) {
        p.triggers |= ReportingTriggers::perio;
        p.measurement_period = u.measurement_period_s;
    }
    return p;
}

std::optional<Failure> add_urr(const CreateUrr& in, Edit& e) {
    const uint32_t id = in.urr_id.value;
    if (find_rule(e.spec.urrs, id) != nullptr) {
        return rule_failure(RuleType::urr, id, "URR ID already in use");
    }
    SessionProcedures::UrrParameters p;
    p.method = in.measurement_method.flags;
    p.triggers = in.reporting_triggers.flags;
    if (in.volume_threshold) {
        p.volume_threshold = threshold_octets(*in.volume_threshold);
    }
    if (in.time_threshold) {
        p.time_threshold = in.time_threshold->value;
    }
    if (in.measurement_period) {
        p.measurement_period = in.measurement_period->value;
    }
    e.urrs[id] = p;
    e.spec.urrs.push_back(to_urr(id, p));
    return std::nullopt;
}

std::optional<Failure> update_urr(const UpdateUrr& in, Edit& e) {
    const uint32_t id = in.urr_id.value;
    dp::Urr* u = find_rule(e.spec.urrs, id);
    if (u == nullptr) {
        return rule_failure(RuleType::urr, id, "Update URR: no such URR");
    }
    auto it = e.urrs.find(id);
    SessionProcedures::UrrParameters p = it != e.urrs.end() ? it->second : parameters_of(*u);
    if (in.measurement_method) {
        p.method = in.measurement_method->flags;
    }
    if (in.reporting_triggers) {
        p.triggers = in.reporting_triggers->flags;
    }
    if (in.volume_threshold) {
        p.volume_threshold = threshold_octets(*in.volume_threshold);
    }
    if (in.time_threshold) {
        p.time_threshold = in.time_threshold->value;
    }
    if (in.measurement_period) {
        p.measurement_period = in.measurement_period->value;
    }
    e.urrs[id] = p;
    *u = to_urr(id, p);
    return std::nullopt;
}

template <IeType T>
std::optional<Failure> add_bar(const BarIe<T>& in, Edit& e) {
    const uint32_t id = in.bar_id.value;
    if (find_rule(e.spec.bars, id) != nullptr) {
        return rule_failure(RuleType::bar, id, "BAR ID already in use");
    }
    dp::Bar b;
    b.id = id;
    if (in.suggested_buffering_packets_count) {
        b.buffering_packets = in.suggested_buffering_packets_count->value;
    }
    e.spec.bars.push_back(b);
    return std::nullopt;
}

template <IeType T>
std::optional<Failure> update_bar(const BarIe<T>& in, dp::SessionSpec& spec) {
    dp::Bar* b = find_rule(spec.bars, in.bar_id.value);
    if (b == nullptr) {
        return rule_failure(RuleType::bar, in.bar_id.value, "Update BAR: no such BAR");
    }
    if (in.suggested_buffering_packets_count) {
        b->buffering_packets = in.suggested_buffering_packets_count->value;
    }
    return std::nullopt;
}

// Remove PDR/FAR/QER/URR/BAR (§7.5.4.6-7.5.4.11): removing a QER, URR or BAR also removes the
// references to it; a FAR still used by a PDR that stays is caught by validate().
std::optional<Failure> remove_rule(RuleType t, uint32_t id, Edit& e) {
    bool found = false;
    switch (t) {
        case RuleType::pdr:
            found = erase_rule(e.spec.pdrs, id);
            break;
        case RuleType::far:
            found = erase_rule(e.spec.fars, id);
            break;
        case RuleType::qer:
            found = erase_rule(e.spec.qers, id);
            for (dp::Pdr& p : e.spec.pdrs) {
                std::erase(p.qer_ids, id);
            }
            break;
        case RuleType::urr:
            found = erase_rule(e.spec.urrs, id);
            e.urrs.erase(id);
            for (dp::Pdr& p : e.spec.pdrs) {
                std::erase(p.urr_ids, id);
            }
            for (dp::Mar& m : e.spec.mars) {
                for (auto* a : {&m.tgpp, &m.non_tgpp}) {
                    if (*a) {
                        std::erase((*a)->urr_ids, id);
                    }
                }
            }
            break;
        case RuleType::mar:
            // A PDR still naming it is caught by resolve_mars().
            found = erase_rule(e.spec.mars, id);
            break;
        case RuleType::bar:
            found = erase_rule(e.spec.bars, id);
            for (dp::Far& f : e.spec.fars) {
                if (f.bar_id == id) {
                    f.bar_id.reset();
                }
            }
            break;
        default:
            break;
    }
    if (!found) {
        return rule_failure(t, id, "Remove: no such rule");
    }
    return std::nullopt;
}

// ---- Multi-Access Rules (§5.20, §7.5.2.8, §7.5.4.16-17) -----------------------------------------

// The values a MAR member may take; each wrong value is named by its IE (spec §1.12).
std::optional<Failure> check_steering(std::optional<uint8_t> functionality,
                                      std::optional<uint8_t> mode, uint16_t id) {
    using F = SteeringFunctionalityValue;
    using M = SteeringModeValue;
    const std::string mar = rule_text(RuleType::mar, id) + ": ";
    if (functionality) {
        if (*functionality >= F::mpquic_udp && *functionality <= F::mpquic_e) {
            return ie_failure(Cause::service_not_supported, IeType::steering_functionality,
                              mar + "MPQUIC steering is not supported");
        }
        if (*functionality > F::mpquic_e) {
            return ie_failure(
                Cause::mandatory_ie_incorrect, IeType::steering_functionality,
                mar + "unknown steering functionality " + std::to_string(*functionality));
        }
    }
    if (mode) {
        if (*mode == M::redundant) {
            // Needs REDSM, which braid does not claim.
            return ie_failure(Cause::service_not_supported, IeType::steering_mode,
                              mar + "the Redundant steering mode is not supported");
        }
        if (*mode > M::redundant) {
            return ie_failure(Cause::mandatory_ie_incorrect, IeType::steering_mode,
                              mar + "unknown steering mode " + std::to_string(*mode));
        }
    }
    return std::nullopt;
}

template <typename A>
Result<dp::MarAccess, Failure> to_access(const A& in, const dp::MarAccess* old, uint16_t id) {
    dp::MarAccess a = old != nullptr ? *old : dp::MarAccess{};
    const std::string mar = rule_text(RuleType::mar, id) + ": ";
    if (in.far_id) {
        a.far_id = in.far_id->value;
    } else if (old == nullptr) {
        return Unexpected{ie_failure(Cause::conditional_ie_missing, IeType::far_id,
                                     mar + "an access without FAR ID")};
    }
    if (in.weight) {
        if (in.weight->value > 100) {
            return Unexpected{
                ie_failure(Cause::mandatory_ie_incorrect, IeType::weight,
                           mar + "weight " + std::to_string(in.weight->value) + " is above 100")};
        }
        a.weight = in.weight->value;
    }
    if (in.priority) {
        if (in.priority->value > PriorityValue::secondary) {
            return Unexpected{
                ie_failure(Cause::mandatory_ie_incorrect, IeType::priority,
                           mar + "unknown priority " + std::to_string(in.priority->value))};
        }
        a.priority = in.priority->value;
    }
    if (!in.urr_ids.empty()) {
        a.urr_ids.clear();
        for (const UrrId& u : in.urr_ids) {
            a.urr_ids.push_back(u.value);
        }
    }
    return a;
}

std::optional<Failure> apply_thresholds(const std::optional<Thresholds>& t,
                                        const std::optional<SteeringModeIndicator>& smi,
                                        dp::Mar& m) {
    if (t && smi) {
        return ie_failure(
            Cause::mandatory_ie_incorrect, IeType::steering_mode_indicator,
            rule_text(RuleType::mar, m.id) + ": Steering Mode Indicator together with Thresholds");
    }
    if (smi) {
        const uint8_t bits =
            smi->flags & (SteeringModeIndicatorBits::albi | SteeringModeIndicatorBits::ueai);
        if (bits == (SteeringModeIndicatorBits::albi | SteeringModeIndicatorBits::ueai)) {
            return ie_failure(Cause::mandatory_ie_incorrect, IeType::steering_mode_indicator,
                              rule_text(RuleType::mar, m.id) + ": both ALBI and UEAI");
        }
        m.steering_mode_indicator = bits;
        m.rtt_threshold_ms.reset();
        m.plr_threshold.reset();
    }
    if (t) {
        if (t->packet_loss_rate && *t->packet_loss_rate > 100) {
            return ie_failure(Cause::mandatory_ie_incorrect, IeType::thresholds,
                              rule_text(RuleType::mar, m.id) + ": packet loss rate above 100 %");
        }
        m.rtt_threshold_ms = t->rtt_ms;
        m.plr_threshold = t->packet_loss_rate;
        m.steering_mode_indicator = 0;
    }
    return std::nullopt;
}

std::optional<Failure> add_mar(const CreateMar& in, Edit& e) {
    const uint16_t id = in.mar_id.value;
    if (find_rule(e.spec.mars, id) != nullptr) {
        return rule_failure(RuleType::mar, id, "MAR ID already in use");
    }
    if (auto f = check_steering(in.steering_functionality.value, in.steering_mode.value, id)) {
        return f;
    }
    dp::Mar m;
    m.id = id;
    m.steering_functionality = in.steering_functionality.value;
    m.steering_mode = in.steering_mode.value;
    if (in.tgpp) {
        auto a = to_access(*in.tgpp, nullptr, id);
        if (!a) {
            return a.error();
        }
        m.tgpp = std::move(a).value();
    }
    if (in.non_tgpp) {
        auto a = to_access(*in.non_tgpp, nullptr, id);
        if (!a) {
            return a.error();
        }
        m.non_tgpp = std::move(a).value();
    }
    if (auto f = apply_thresholds(in.thresholds, in.steering_mode_indicator, m)) {
        return f;
    }
    e.spec.mars.push_back(std::move(m));
    return std::nullopt;
}

// The Create* IEs of an Establishment or a Modification: every rule first, the PDRs that refer
// to them last (IE order is never assumed).
std::optional<Failure> add_rules(const std::optional<CreateBar>& bar,
                                 const std::vector<CreateUrr>& urrs,
                                 const std::vector<CreateQer>& qers,
                                 const std::vector<CreateFar>& fars,
                                 const std::vector<CreateMar>& mars,
                                 const std::vector<CreatePdr>& pdrs, Edit& e) {
    if (bar) {
        if (auto f = add_bar(*bar, e)) {
            return f;
        }
    }
    for (const CreateUrr& u : urrs) {
        if (auto f = add_urr(u, e)) {
            return f;
        }
    }
    for (const CreateQer& q : qers) {
        if (auto f = add_qer(q, e)) {
            return f;
        }
    }
    for (const CreateFar& far : fars) {
        if (auto f = add_far(far, e)) {
            return f;
        }
    }
    for (const CreateMar& mar : mars) {
        if (auto f = add_mar(mar, e)) {
            return f;
        }
    }
    for (const CreatePdr& pdr : pdrs) {
        if (auto f = add_pdr(pdr, e)) {
            return f;
        }
    }
    return std::nullopt;
}

// Update MAR (§7.5.4.17): changed members replace the old ones; an AFAI (166/167) adds or
// replaces an access, an Update AFAI (175/176) changes members of an existing one; an access
// absent from both is kept (removing one takes an Update MAR that replaces the MAR's accesses,
// §5.20.5, which braid reads as: an AFAI given for one access only leaves the other as it was).
std::optional<Failure> update_mar(const UpdateMar& in, Edit& e) {
    const uint16_t id = in.mar_id.value;
    dp::Mar* m = find_rule(e.spec.mars, id);
    if (m == nullptr) {
        return rule_failure(RuleType::mar, id, "Update MAR: no such MAR");
    }
    std::optional<uint8_t> f, mode;
    if (in.steering_functionality) {
        f = in.steering_functionality->value;
    }
    if (in.steering_mode) {
        mode = in.steering_mode->value;
    }
    if (auto fail = check_steering(f, mode, id)) {
        return fail;
    }
    if (f) {
        m->steering_functionality = *f;
    }
    if (mode) {
        m->steering_mode = *mode;
    }
    auto apply = [&](const auto& add, const auto& upd,
                     std::optional<dp::MarAccess>& slot) -> std::optional<Failure> {
        if (add && upd) {
            return rule_failure(RuleType::mar, id, "an access both added and updated");
        }
        if (add) {
            auto a = to_access(*add, nullptr, id);
            if (!a) {
                return a.error();
            }
            slot = std::move(a).value();
        }
        if (upd) {
            if (!slot) {
                return rule_failure(RuleType::mar, id, "Update AFAI for an access the MAR lacks");
            }
            auto a = to_access(*upd, &*slot, id);
            if (!a) {
                return a.error();
            }
            slot = std::move(a).value();
        }
        return std::nullopt;
    };
    if (auto fail = apply(in.tgpp, in.update_tgpp, m->tgpp)) {
        return fail;
    }
    if (auto fail = apply(in.non_tgpp, in.update_non_tgpp, m->non_tgpp)) {
        return fail;
    }
    return apply_thresholds(in.thresholds, in.steering_mode_indicator, *m);
}

// A MAR as a whole (after every edit of the request): its accesses exist, their FARs and URRs
// exist, and the steering mode's parameters are consistent (spec §1.12).
std::optional<Failure> check_mar(const dp::Mar& m, const dp::SessionSpec& spec) {
    using M = SteeringModeValue;
    using P = PriorityValue;
    if (!m.tgpp && !m.non_tgpp) {
        return ie_failure(Cause::conditional_ie_missing,
                          IeType::tgpp_access_forwarding_action_information,
                          rule_text(RuleType::mar, m.id) + ": no access");
    }
    std::vector<const dp::MarAccess*> accesses;
    for (const auto* a : {&m.tgpp, &m.non_tgpp}) {
        if (!*a) {
            continue;
        }
        accesses.push_back(&**a);
        if (find_rule(spec.fars, (*a)->far_id) == nullptr) {
            return rule_failure(RuleType::mar, m.id,
                                "FAR " + std::to_string((*a)->far_id) + " does not exist");
        }
        for (uint32_t u : (*a)->urr_ids) {
            if (find_rule(spec.urrs, u) == nullptr) {
                return rule_failure(RuleType::mar, m.id,
                                    "URR " + std::to_string(u) + " does not exist");
            }
        }
    }
    if (m.steering_mode == M::load_balancing) {
        unsigned sum = 0;
        for (const dp::MarAccess* a : accesses) {
            if (!a->weight) {
                return ie_failure(
                    Cause::conditional_ie_missing, IeType::weight,
                    rule_text(RuleType::mar, m.id) + ": Load Balancing without a weight");
            }
            sum += *a->weight;
        }
        if (sum != 100) {
            return rule_failure(
                RuleType::mar, m.id,
                "Load Balancing weights sum to " + std::to_string(sum) + ", not 100");
        }
    }
    if (m.steering_mode == M::active_standby || m.steering_mode == M::priority_based) {
        const bool as = m.steering_mode == M::active_standby;
        const uint8_t lo = as ? P::active : P::high;
        const uint8_t hi = as ? P::no_standby : P::low;
        for (const dp::MarAccess* a : accesses) {
            if (!a->priority) {
                return ie_failure(Cause::conditional_ie_missing, IeType::priority,
                                  rule_text(RuleType::mar, m.id) + ": " +
                                      (as ? "Active-Standby" : "Priority-based") +
                                      " without a priority");
            }
            if (*a->priority < lo || *a->priority > hi) {
                return rule_failure(
                    RuleType::mar, m.id,
                    "priority " + std::to_string(*a->priority) + " does not fit the steering mode");
            }
        }
        if (accesses.size() == 2 && *accesses[0]->priority == *accesses[1]->priority) {
            return rule_failure(RuleType::mar, m.id, "both accesses have the same priority");
        }
        if (as && std::none_of(accesses.begin(), accesses.end(),
                               [](const dp::MarAccess* a) { return *a->priority == P::active; })) {
            return rule_failure(RuleType::mar, m.id, "Active-Standby without an Active access");
        }
    }
    return std::nullopt;
}

// Every MAR is consistent and every PDR's MAR exists; a PDR forwarding by its MAR gets the
// primary access's FAR (the datapath does not steer per packet yet).
std::optional<Failure> resolve_mars(Edit& e) {
    for (const dp::Mar& m : e.spec.mars) {
        if (auto f = check_mar(m, e.spec)) {
            return f;
        }
    }
    for (dp::Pdr& p : e.spec.pdrs) {
        if (!p.mar_id) {
            continue;
        }
        const dp::Mar* m = find_rule(e.spec.mars, *p.mar_id);
        if (m == nullptr) {
            return rule_failure(RuleType::pdr, p.id,
                                "MAR " + std::to_string(*p.mar_id) + " does not exist");
        }
        if (p.far_from_mar) {
            p.far_id = m->primary()->far_id;
        }
    }
    return std::nullopt;
}

// The whole new spec, before anything is allocated: references resolve, conditional IEs are
// there, and what braid's dataplane needs of a PDR holds.
std::optional<Failure> validate(const Edit& e) {
    for (const dp::Far& f : e.spec.fars) {
        if (f.bar_id && find_rule(e.spec.bars, *f.bar_id) == nullptr) {
            return rule_failure(RuleType::far, f.id,
                                "BAR " + std::to_string(*f.bar_id) + " does not exist");
        }
        if (f.action.forward && f.destination == dp::Interface::access && !f.outer_header) {
            return ie_failure(Cause::conditional_ie_missing, IeType::outer_header_creation,
                              rule_text(RuleType::far, f.id) +
                                  ": forwarding to Access needs Outer Header Creation");
        }
        // A tunnel toward the core is N9 (braid as an intermediate UPF): not done. Refused, so
        // that the packets are never sent untunnelled to N6 instead.
        if (f.action.forward && f.destination != dp::Interface::access && f.outer_header) {
            return rule_failure(RuleType::far, f.id,
                                "Outer Header Creation toward the core (N9) not supported");
        }
    }
    for (const auto& [id, p] : e.urrs) {
        if ((p.triggers & ReportingTriggers::volth) && !p.volume_threshold) {
            return ie_failure(Cause::conditional_ie_missing, IeType::volume_threshold,
                              rule_text(RuleType::urr, id) + ": VOLTH without Volume Threshold");
        }
        if ((p.triggers & ReportingTriggers::timth) && !p.time_threshold) {
            return ie_failure(Cause::conditional_ie_missing, IeType::time_threshold,
                              rule_text(RuleType::urr, id) + ": TIMTH without Time Threshold");
        }
        if ((p.triggers & ReportingTriggers::perio) && !p.measurement_period) {
            return ie_failure(Cause::conditional_ie_missing, IeType::measurement_period,
                              rule_text(RuleType::urr, id) + ": PERIO without Measurement Period");
        }
    }
    std::optional<uint32_t> ue4;
    std::optional<dp::sdf::Prefix> ue6;
    for (const dp::Pdr& p : e.spec.pdrs) {
        if (find_rule(e.spec.fars, p.far_id) == nullptr) {
            return rule_failure(RuleType::pdr, p.id,
                                "FAR " + std::to_string(p.far_id) + " does not exist");
        }
        for (uint32_t q : p.qer_ids) {
            if (find_rule(e.spec.qers, q) == nullptr) {
                return rule_failure(RuleType::pdr, p.id,
                                    "QER " + std::to_string(q) + " does not exist");
            }
        }
        for (uint32_t u : p.urr_ids) {
            if (find_rule(e.spec.urrs, u) == nullptr) {
                return rule_failure(RuleType::pdr, p.id,
                                    "URR " + std::to_string(u) + " does not exist");
            }
        }
        const bool allocating = std::any_of(e.allocations.begin(), e.allocations.end(),
                                            [&](const Allocation& a) { return a.pdr_id == p.id; });
        if (!p.local_teid && !p.ue_ipv4 && !p.ue_ipv6 && !allocating) {
            return rule_failure(RuleType::pdr, p.id,
                                "PDI needs a Local F-TEID or a UE IP address in braid");
        }
        // braid keeps one UE address per family per session (TS 23.501 §5.8.2.2).
        if (p.ue_ipv4) {
            if (ue4 && *ue4 != *p.ue_ipv4) {
                return rule_failure(RuleType::pdr, p.id, "a session has one UE IPv4 address");
            }
            ue4 = p.ue_ipv4;
        }
        if (p.ue_ipv6) {
            if (ue6 && !(*ue6 == *p.ue_ipv6)) {
                return rule_failure(RuleType::pdr, p.id, "a session has one UE IPv6 prefix");
            }
            ue6 = p.ue_ipv6;
        }
    }
    return std::nullopt;
}

// ---- message building ---------------------------------------------------------------------------

template <IeType T>
UsageReportIe<T> usage_report_ie(const dp::UsageReport& r, const dp::SessionSpec* spec,
                                 const SessionActions& actions) {
    const dp::Urr* urr = spec != nullptr ? find_rule(spec->urrs, r.urr_id) : nullptr;
    UsageReportIe<T> out;
    out.urr_id.value = r.urr_id;
    out.ur_seqn.value = r.sequence;
    out.trigger.flags = usage_trigger_bits(r.trigger);
    out.start_time = StartTime{ntp_seconds(actions.unix_ms(r.start_ms))};
    out.end_time = EndTime{ntp_seconds(actions.unix_ms(r.end_ms))};
    if (urr == nullptr || urr->measure_volume) {
        VolumeMeasurement v;
        v.total_octets = r.volume.bytes();
        v.uplink_octets = r.volume.bytes_ul;
        v.downlink_octets = r.volume.bytes_dl;
        v.total_packets = r.volume.packets();
        v.uplink_packets = r.volume.packets_ul;
        v.downlink_packets = r.volume.packets_dl;
        out.volume_measurement = v;
    }
    if (urr == nullptr || urr->measure_duration) {
        out.duration_measurement = DurationMeasurement{r.duration_s};
    }
    return out;
}

Header session_header(MessageType type, SequenceNumber seq, Seid seid) {
    Header h;
    h.type = type;
    h.sequence = seq;
    h.seid = seid;
    return h;
}

}  // namespace

// ---- the procedures -----------------------------------------------------------------------------

struct SessionProcedures::Impl {
    SessionProcedures& p;
    using Reply = std::optional<std::vector<uint8_t>>;

    void count(SessionEvent e, uint64_t n = 1) {
        p.counters_.events[static_cast<size_t>(e)].inc(n);
    }
    void update_gauge() {
        p.counters_.sessions.set(p.sessions_.size());
        for (size_t i = 0; i < p.ue_pools_.pool_count(); ++i) {
            p.counters_.ue_pool_used[i].set(p.ue_pools_.used(i));
        }
    }

    // Drops braid's record of a session and frees the UE addresses it held.
    void forget(uint64_t seid) {
        p.sessions_.erase(seid);
        p.ue_pools_.release(seid);
        p.tgpp_link_pools_.release(seid);
        p.non_tgpp_link_pools_.release(seid);
    }

    // Provide ATSSS Control Information (§5.20.2, spec §1.13) in two steps around the session
    // action: plan_atsss() picks the link-specific addresses (nothing committed) so that they
    // go into the spec the datapath publishes (issue 7: the proxy matches them); after the
    // action succeeded, commit_atsss() keeps them and answers. What braid cannot provide is left
    // out of ATSSS Control Parameters (221 is conditional on allocation) and counted. A new
    // request replaces the old one; the addresses stay the same.
    struct AtsssPlan {
        bool mptcp_requested = false;
        std::optional<MptcpParameters> params;  // MPTCP provided: what the response carries
        std::vector<std::pair<UeIpPools*, UeIpPools::Candidate>> picked;  // commit on success
    };
    AtsssPlan plan_atsss(const ProvideAtsssControlInformation& in,
                         const std::optional<MptcpParameters>& current) {
        AtsssPlan plan;
        if (in.atsss_ll && in.atsss_ll->has(0x01)) {
            count(SessionEvent::atsss_ll_not_provided);
        }
        if (in.pmf && in.pmf->has(0x01)) {
            count(SessionEvent::atsss_pmf_not_provided);
        }
        if (!in.mptcp || !in.mptcp->has(0x01)) {
            return plan;
        }
        plan.mptcp_requested = true;
        const MptcpProxyConfig& mp = p.cfg_.mptcp_proxy;
        if (!mp.enabled) {
            count(SessionEvent::atsss_mptcp_not_provided);
            return plan;
        }
        if (current) {
            plan.params = current;
            return plan;
        }
        MptcpParameters params;
        params.address.port = mp.port;
        params.address.ipv4 = mp.ipv4;
        params.address.ipv6 = mp.ipv6;
        for (UeIpPools* pools : {&p.tgpp_link_pools_, &p.non_tgpp_link_pools_}) {
            const bool tgpp = pools == &p.tgpp_link_pools_;
            for (uint8_t family : {uint8_t{4}, uint8_t{6}}) {
                if (!pools->serves(family)) {
                    continue;
                }
                auto r = pools->allocate(family, "", {});
                auto* c = std::get_if<UeIpPools::Candidate>(&r);
                if (c == nullptr) {
                    count(SessionEvent::atsss_mptcp_not_provided);
                    plan.picked.clear();
                    return plan;  // nothing committed
                }
                plan.picked.emplace_back(pools, *c);
                if (family == 4) {
                    Ipv4Address a;
                    std::copy_n(c->address.begin(), 4, a.begin());
                    (tgpp ? params.link.tgpp_ipv4 : params.link.non_tgpp_ipv4) = a;
                } else {
                    (tgpp ? params.link.tgpp_ipv6 : params.link.non_tgpp_ipv6) = c->address;
                }
            }
        }
        plan.params = params;
        return plan;
    }

    // The planned MPTCP Parameters into the spec: the session may use the proxy from its
    // link-specific addresses (issue 7).
    static void apply_atsss(const AtsssPlan& plan, dp::SessionSpec& spec) {
        if (!plan.params) {
            return;
        }
        spec.mptcp = true;
        spec.link_addresses.clear();
        const LinkSpecificMultipathIpAddress& l = plan.params->link;
        auto v4 = [&](const std::optional<Ipv4Address>& a, dp::LinkAccess access) {
            if (a) {
                dp::sdf::Prefix pre{4, {}, 32};
                std::copy(a->begin(), a->end(), pre.addr.begin());
                spec.link_addresses.push_back({access, pre});
            }
        };
        auto v6 = [&](const std::optional<Ipv6Address>& a, dp::LinkAccess access) {
            if (a) {
                dp::sdf::Prefix pre{6, *a, 64};
                std::fill(pre.addr.begin() + 8, pre.addr.end(), 0);
                spec.link_addresses.push_back({access, pre});
            }
        };
        v4(l.tgpp_ipv4, dp::LinkAccess::tgpp);
        v6(l.tgpp_ipv6, dp::LinkAccess::tgpp);
        v4(l.non_tgpp_ipv4, dp::LinkAccess::non_tgpp);
        v6(l.non_tgpp_ipv6, dp::LinkAccess::non_tgpp);
    }

    std::optional<AtsssControlParameters> commit_atsss(const AtsssPlan& plan,
                                                       SessionProcedures::Session& s) {
        if (!plan.params) {
            return std::nullopt;
        }
        for (const auto& [pools, c] : plan.picked) {
            pools->commit(s.seid, c);
        }
        s.mptcp = plan.params;
        count(SessionEvent::atsss_mptcp_provided);
        return AtsssControlParameters{s.mptcp};
    }

    template <typename F>
    std::vector<uint8_t> build(MessageType type, SequenceNumber seq, Seid seid, F&& body) {
        std::vector<uint8_t> out;
        const size_t start = begin_message(session_header(type, seq, seid), out);
        Writer w(out);
        body(w);
        if (w.ok() && finish_message(out, start)) {
            return out;
        }
        count(SessionEvent::encode_failures);
        BRAID_LOG(pfcp, ERR, "bug: %s did not encode; answering with System failure",
                  std::string(to_string(type)).c_str());
        out.clear();
        const size_t again = begin_message(session_header(type, seq, seid), out);
        Writer w2(out);
        if (type == MessageType::session_establishment_response) {
            p.cfg_.node_id.encode(w2);
        }
        CauseIe{Cause::system_failure}.encode(w2);
        (void)finish_message(out, again);
        return out;
    }

    std::vector<uint8_t> reject(MessageType type, SequenceNumber seq, Seid seid, const Failure& f) {
        p.counters_.rejections_by_cause[static_cast<uint8_t>(f.cause)].inc();
        BRAID_LOG(pfcp, INFO, "%s rejected: %s (Cause %u)",
                  std::string(to_string(static_cast<MessageType>(static_cast<uint8_t>(type) - 1)))
                      .c_str(),
                  f.why.c_str(), static_cast<unsigned>(f.cause));
        return build(type, seq, seid, [&](Writer& w) {
            if (type == MessageType::session_establishment_response) {
                p.cfg_.node_id.encode(w);
            }
            CauseIe{f.cause}.encode(w);
            if (f.offending_ie) {
                OffendingIe{*f.offending_ie}.encode(w);
            }
            if (f.failed_rule) {
                f.failed_rule->encode(w);
            }
        });
    }

    // ---- allocation ----------------------------------------------------------------------------

    uint64_t allocate_seid() {
        for (int i = 0; i < (1 << 20); ++i) {
            const uint64_t s = p.next_seid_++;
            if (p.next_seid_ == 0) {
                p.next_seid_ = p.cfg_.first_seid;
            }
            if (s != 0 && p.sessions_.count(s) == 0 && p.actions_.spec(s) == nullptr) {
                return s;
            }
        }
        return 0;
    }

    std::optional<uint32_t> allocate_teid(const std::set<uint32_t>& taken) {
        const SessionProceduresConfig& c = p.cfg_;
        const uint64_t range = uint64_t{c.teid_last} - c.teid_first + 1;
        const uint64_t attempts = std::min<uint64_t>(range, 1u << 20);
        for (uint64_t i = 0; i < attempts; ++i) {
            if (p.next_teid_ < c.teid_first || p.next_teid_ > c.teid_last) {
                p.next_teid_ = c.teid_first;
            }
            const uint32_t t = p.next_teid_;
            p.next_teid_ = t == c.teid_last ? c.teid_first : t + 1;
            if (t != 0 && taken.count(t) == 0 && !p.actions_.teid_owner(t)) {
                return t;
            }
        }
        return std::nullopt;
    }

    // A UE address of `family` for a PDR of `seid` in `network_instance` (§5.21), not yet
    // recorded: the caller commits it once the session is installed.
    Result<UeIpPools::Candidate, Failure> allocate_ue_address(uint8_t family,
                                                              const std::string& network_instance,
                                                              uint64_t seid, uint16_t pdr_id) {
        auto in_use = [&](uint8_t f, const UeIpPools::Address& a) {
            std::optional<uint64_t> owner;
            if (f == 4) {
                owner = p.actions_.ue_ipv4_owner(host_ipv4({a[0], a[1], a[2], a[3]}));
            } else {
                owner = p.actions_.ue_ipv6_owner(a);
            }
            return owner && *owner != seid;
        };
        auto r = p.ue_pools_.allocate(family, network_instance, in_use);
        if (auto* c = std::get_if<UeIpPools::Candidate>(&r)) {
            return *c;
        }
        const std::string what = std::string(family == 4 ? "CHV4" : "CHV6") + " for " +
                                 rule_text(RuleType::pdr, pdr_id) + ": ";
        const std::string where =
            network_instance.empty() ? "" : " for network instance " + network_instance;
        if (std::get<UeIpPools::Failure>(r) == UeIpPools::Failure::no_pool) {
            return Unexpected{ie_failure(
                Cause::service_not_supported, IeType::ue_ip_address,
                what + "no UE IPv" + (family == 4 ? "4" : "6") + " pool is configured" + where)};
        }
        return Unexpected{ie_failure(
            Cause::all_dynamic_addresses_are_occupied, IeType::ue_ip_address,
            what + "the UE IPv" + (family == 4 ? "4" : "6") + " pools" + where + " are exhausted")};
    }

    struct Allocated {
        std::vector<CreatedPdr> created;
        std::vector<UpdatedPdr> updated;
        size_t teids = 0, ue_addresses = 0;
        std::vector<UeIpPools::Candidate> ue_candidates;  // commit() once the session is in
    };

    // SMF-chosen TEIDs and UE addresses must be free; then braid chooses what was asked for
    // (§5.5.3: one F-TEID per CHOOSE ID within the request; one UE IPv4 address per session).
    Result<Allocated, Failure> allocate(Edit& e) {
        const uint64_t seid = e.spec.seid;
        std::set<uint32_t> taken;
        for (const dp::Pdr& pdr : e.spec.pdrs) {
            if (pdr.local_teid) {
                const uint32_t t = *pdr.local_teid;
                const auto owner = p.actions_.teid_owner(t);
                if (t == 0 || (owner && *owner != seid)) {
                    return Unexpected{ie_failure(
                        e.restoration ? Cause::pfcp_session_restoration_failure
                                      : Cause::invalid_f_teid_allocation_option,
                        IeType::f_teid,
                        rule_text(RuleType::pdr, pdr.id) + ": TEID " + std::to_string(t) +
                            (t == 0 ? " is reserved" : " belongs to another session"))};
                }
                taken.insert(t);
            }
            if (pdr.ue_ipv4) {
                const auto owner = p.actions_.ue_ipv4_owner(*pdr.ue_ipv4);
                if (owner && *owner != seid) {
                    Failure f = rule_failure(
                        RuleType::pdr, pdr.id,
                        "UE address " + ipv4_text(*pdr.ue_ipv4) + " belongs to another session");
                    if (e.restoration) {
                        f.cause = Cause::pfcp_session_restoration_failure;
                        f.failed_rule.reset();
                        f.offending_ie = IeType::ue_ip_address;
                    }
                    return Unexpected{f};
                }
            }
        }
        // One UE address per session and family (§5.21.1): what a PDR already has (SMF-chosen or
        // allocated earlier) is what a CHOOSE in another PDR gets.
        std::optional<uint32_t> session_ue4;
        std::optional<dp::sdf::Prefix> session_ue6;
        for (const dp::Pdr& pdr : e.spec.pdrs) {
            if (pdr.ue_ipv4) {
                session_ue4 = pdr.ue_ipv4;
            }
            if (pdr.ue_ipv6 && pdr.ue_ipv6->len == 64) {
                session_ue6 = pdr.ue_ipv6;
            }
        }
        if (auto h = p.ue_pools_.held(seid, 4); h && !session_ue4) {
            session_ue4 = host_ipv4({h->address[0], h->address[1], h->address[2], h->address[3]});
        }
        if (auto h = p.ue_pools_.held(seid, 6); h && !session_ue6) {
            session_ue6 = dp::sdf::Prefix{6, h->address, 64};
        }
        Allocated out;
        std::map<uint8_t, uint32_t> by_choose_id;
        for (const Allocation& a : e.allocations) {
            dp::Pdr* pdr = find_rule(e.spec.pdrs, a.pdr_id);
            if (pdr == nullptr) {
                continue;  // removed again in the same request
            }
            CreatedPdr entry;
            entry.pdr_id.value = a.pdr_id;
            if (a.teid) {
                if (!a.teid->v4 || p.cfg_.n3_ipv4 == 0) {
                    return Unexpected{ie_failure(
                        Cause::invalid_f_teid_allocation_option, IeType::f_teid,
                        rule_text(RuleType::pdr, a.pdr_id) + ": braid allocates IPv4 F-TEIDs only" +
                            (p.cfg_.n3_ipv4 == 0 ? " (no N3 address configured)" : ""))};
                }
                std::optional<uint32_t> t;
                if (a.teid->choose_id) {
                    if (auto it = by_choose_id.find(*a.teid->choose_id); it != by_choose_id.end()) {
                        t = it->second;
                    }
                }
                if (!t) {
                    t = allocate_teid(taken);
                    if (!t) {
                        return Unexpected{ie_failure(Cause::no_resources_available, IeType::f_teid,
                                                     "no free TEID in the range")};
                    }
                    taken.insert(*t);
                    ++out.teids;
                    if (a.teid->choose_id) {
                        by_choose_id[*a.teid->choose_id] = *t;
                    }
                }
                pdr->local_teid = *t;
                FTeid ft;
                ft.teid = Teid(*t);
                ft.ipv4 = wire_ipv4(p.cfg_.n3_ipv4);
                entry.local_f_teid = ft;
            }
            if (a.ue_ip) {
                UeIpAddress ue;
                ue.destination = a.ue_ip->destination;
                if (a.ue_ip->choose_v4) {
                    if (!session_ue4) {
                        auto c = allocate_ue_address(4, pdr->network_instance, seid, a.pdr_id);
                        if (!c) {
                            return Unexpected{c.error()};
                        }
                        session_ue4 =
                            host_ipv4({c->address[0], c->address[1], c->address[2], c->address[3]});
                        out.ue_candidates.push_back(*c);
                        ++out.ue_addresses;
                    }
                    pdr->ue_ipv4 = session_ue4;
                    ue.ipv4 = wire_ipv4(*session_ue4);
                }
                if (a.ue_ip->choose_v6) {
                    if (!session_ue6) {
                        auto c = allocate_ue_address(6, pdr->network_instance, seid, a.pdr_id);
                        if (!c) {
                            return Unexpected{c.error()};
                        }
                        session_ue6 = dp::sdf::Prefix{6, c->address, 64};
                        out.ue_candidates.push_back(*c);
                        ++out.ue_addresses;
                    }
                    pdr->ue_ipv6 = session_ue6;
                    // No IPv6D: a prefix without delegation bits is a /64 (§8.2.62).
                    ue.ipv6 = session_ue6->addr;
                }
                entry.ue_ip_address = ue;
            }
            if (a.updated) {
                out.updated.push_back(
                    UpdatedPdr{entry.pdr_id, entry.local_f_teid, entry.ue_ip_address});
            } else {
                out.created.push_back(entry);
            }
        }
        return out;
    }

    // ---- Session Establishment (§6.3.2, §7.5.2, §7.5.3) --------------------------------------

    Reply establish(const Message& m, const PeerRef& peer) {
        constexpr MessageType rsp = MessageType::session_establishment_response;
        const SequenceNumber seq = m.header.sequence;
        Seid reply_seid{0};
        auto fail = [&](const Failure& f) { return reject(rsp, seq, reply_seid, f); };
        if (!peer.node_id) {
            return fail({Cause::no_established_pfcp_association, {}, {}, "no association"});
        }
        auto ies = IeList::parse(m.body);
        if (!ies) {
            return fail(from_rejection(rejection_for(ies.error())));
        }
        // The CP's SEID for the response header, as early as it can be read (§7.2.2.4.2 (c)).
        if (auto ie = ies->find(IeType::f_seid)) {
            if (auto f = parse_ie<FSeid>(*ie)) {
                reply_seid = f->seid;
            }
        }
        if (auto r = check_singletons(
                *ies, {IeType::node_id, IeType::f_seid, IeType::create_bar, IeType::pfcpsereq_flags,
                       IeType::pdn_type, IeType::user_plane_inactivity_timer})) {
            return fail(from_rejection(*r));
        }
        if (auto t = missing_mandatory(
                *ies, {IeType::node_id, IeType::f_seid, IeType::create_pdr, IeType::create_far})) {
            return fail(from_rejection({Cause::mandatory_ie_missing, *t}));
        }
        auto cp = decode_mandatory<FSeid>(*ies);
        if (!cp) {
            return fail(from_rejection(cp.error()));
        }
        reply_seid = cp->seid;
        if (auto node = decode_mandatory<NodeId>(*ies); !node) {
            return fail(from_rejection(node.error()));
        }
        auto flags = decode_optional<PfcpSeReqFlags>(*ies);
        auto pdrs = decode_list<CreatePdr>(*ies);
        auto fars = decode_list<CreateFar>(*ies);
        auto qers = decode_list<CreateQer>(*ies);
        auto urrs = decode_list<CreateUrr>(*ies);
        auto bar = decode_optional<CreateBar>(*ies);
        auto mars = decode_list<CreateMar>(*ies);
        auto atsss = decode_optional<ProvideAtsssControlInformation>(*ies);
        for (const Rejection* r :
             {flags ? nullptr : &flags.error(), pdrs ? nullptr : &pdrs.error(),
              fars ? nullptr : &fars.error(), qers ? nullptr : &qers.error(),
              urrs ? nullptr : &urrs.error(), bar ? nullptr : &bar.error(),
              mars ? nullptr : &mars.error(), atsss ? nullptr : &atsss.error()}) {
            if (r != nullptr) {
                return fail(from_rejection(*r));
            }
        }

        Edit e;
        e.spec.seid = allocate_seid();
        if (e.spec.seid == 0) {
            return fail({Cause::no_resources_available, {}, {}, "no free SEID"});
        }
        e.restoration = *flags && (*flags)->has(PfcpSeReqBits::resti);
        if (auto f = add_rules(*bar, *urrs, *qers, *fars, *mars, *pdrs, e)) {
            return fail(*f);
        }
        if (auto f = resolve_mars(e)) {
            return fail(*f);
        }
        if (auto f = validate(e)) {
            return fail(*f);
        }
        auto allocated = allocate(e);
        if (!allocated) {
            return fail(allocated.error());
        }
        AtsssPlan atsss_plan;
        if (*atsss) {
            atsss_plan = plan_atsss(**atsss, std::nullopt);
            apply_atsss(atsss_plan, e.spec);
        }
        if (auto err = p.actions_.create(e.spec)) {
            return fail(from_spec_error(*err, e.restoration));
        }

        for (const UeIpPools::Candidate& c : allocated->ue_candidates) {
            p.ue_pools_.commit(e.spec.seid, c);
        }
        Session s;
        s.seid = e.spec.seid;
        s.cp_f_seid = *cp;
        s.peer = *peer.node_id;
        s.urrs = std::move(e.urrs);
        const std::optional<AtsssControlParameters> atsss_params = commit_atsss(atsss_plan, s);
        p.sessions_[s.seid] = s;
        update_gauge();
        count(SessionEvent::established);
        count(SessionEvent::teids_allocated, allocated->teids);
        count(SessionEvent::ue_addresses_allocated, allocated->ue_addresses);
        BRAID_LOG(pfcp, DEBUG, "session %" PRIu64 " established by %s (CP SEID 0x%" PRIx64 ")",
                  s.seid, node_text(s.peer).c_str(), cp->seid.value());

        FSeid up;
        up.seid = Seid(s.seid);
        up.ipv4 = p.cfg_.n4_ipv4;
        up.ipv6 = p.cfg_.n4_ipv6;
        if (!up.ipv4 && !up.ipv6) {
            if (p.cfg_.node_id.kind == NodeId::Kind::ipv4) {
                up.ipv4 = p.cfg_.node_id.ipv4;
            } else if (p.cfg_.node_id.kind == NodeId::Kind::ipv6) {
                up.ipv6 = p.cfg_.node_id.ipv6;
            }
        }
        return build(rsp, seq, reply_seid, [&](Writer& w) {
            p.cfg_.node_id.encode(w);
            CauseIe{Cause::request_accepted}.encode(w);
            up.encode(w);
            for (const CreatedPdr& c : allocated->created) {
                c.encode(w);
            }
            if (atsss_params) {
                atsss_params->encode(w);
            }
        });
    }

    // The session a modification/deletion names, if it exists and belongs to the sender.
    Session* owned_session(const Message& m, const PeerRef& peer) {
        const uint64_t seid = m.header.seid ? m.header.seid->value() : 0;
        auto it = p.sessions_.find(seid);
        if (it == p.sessions_.end() || !peer.node_id || !(it->second.peer == *peer.node_id)) {
            return nullptr;
        }
        if (p.actions_.spec(seid) == nullptr) {
            // Deleted behind the procedures' back (CLI): forget it.
            forget(seid);
            update_gauge();
            return nullptr;
        }
        return &it->second;
    }

    Failure not_found(const Message& m) {
        return {Cause::session_context_not_found,
                {},
                {},
                "no session with SEID " +
                    std::to_string(m.header.seid ? m.header.seid->value() : 0) +
                    " established by this peer"};
    }

    // ---- Session Modification (§6.3.3, §7.5.4, §7.5.5) ----------------------------------------

    Reply modify(const Message& m, const PeerRef& peer) {
        constexpr MessageType rsp = MessageType::session_modification_response;
        const SequenceNumber seq = m.header.sequence;
        Session* s = owned_session(m, peer);
        if (s == nullptr) {
            return reject(rsp, seq, Seid{0}, not_found(m));  // §7.2.2.4.2: SEID 0
        }
        const Seid reply_seid = s->cp_f_seid.seid;
        auto fail = [&](const Failure& f) { return reject(rsp, seq, reply_seid, f); };
        auto ies = IeList::parse(m.body);
        if (!ies) {
            return fail(from_rejection(rejection_for(ies.error())));
        }
        if (auto r = check_singletons(
                *ies, {IeType::f_seid, IeType::pfcpsmreq_flags, IeType::create_bar,
                       IeType::update_bar_session_modification_request, IeType::remove_bar,
                       IeType::node_id, IeType::user_plane_inactivity_timer})) {
            return fail(from_rejection(*r));
        }
        auto cp = decode_optional<FSeid>(*ies);
        auto node = decode_optional<NodeId>(*ies);
        auto flags = decode_optional<PfcpSmReqFlags>(*ies);
        auto remove_pdrs = decode_list<RemovePdr>(*ies);
        auto remove_fars = decode_list<RemoveFar>(*ies);
        auto remove_urrs = decode_list<RemoveUrr>(*ies);
        auto remove_qers = decode_list<RemoveQer>(*ies);
        auto remove_bar = decode_optional<RemoveBar>(*ies);
        auto create_pdrs = decode_list<CreatePdr>(*ies);
        auto create_fars = decode_list<CreateFar>(*ies);
        auto create_urrs = decode_list<CreateUrr>(*ies);
        auto create_qers = decode_list<CreateQer>(*ies);
        auto create_bar = decode_optional<CreateBar>(*ies);
        auto update_pdrs = decode_list<UpdatePdr>(*ies);
        auto update_fars = decode_list<UpdateFar>(*ies);
        auto update_urrs = decode_list<UpdateUrr>(*ies);
        auto update_qers = decode_list<UpdateQer>(*ies);
        auto update_bar_ie = decode_optional<UpdateBar>(*ies);
        auto queries = decode_list<QueryUrr>(*ies);
        auto remove_mars = decode_list<RemoveMar>(*ies);
        auto create_mars = decode_list<CreateMar>(*ies);
        auto update_mars = decode_list<UpdateMar>(*ies);
        auto atsss = decode_optional<ProvideAtsssControlInformation>(*ies);
        for (const Rejection* r : {
                 atsss ? nullptr : &atsss.error(),
                 remove_mars ? nullptr : &remove_mars.error(),
                 create_mars ? nullptr : &create_mars.error(),
                 update_mars ? nullptr : &update_mars.error(),
                 cp ? nullptr : &cp.error(),
                 node ? nullptr : &node.error(),
                 flags ? nullptr : &flags.error(),
                 remove_pdrs ? nullptr : &remove_pdrs.error(),
                 remove_fars ? nullptr : &remove_fars.error(),
                 remove_urrs ? nullptr : &remove_urrs.error(),
                 remove_qers ? nullptr : &remove_qers.error(),
                 remove_bar ? nullptr : &remove_bar.error(),
                 create_pdrs ? nullptr : &create_pdrs.error(),
                 create_fars ? nullptr : &create_fars.error(),
                 create_urrs ? nullptr : &create_urrs.error(),
                 create_qers ? nullptr : &create_qers.error(),
                 create_bar ? nullptr : &create_bar.error(),
                 update_pdrs ? nullptr : &update_pdrs.error(),
                 update_fars ? nullptr : &update_fars.error(),
                 update_urrs ? nullptr : &update_urrs.error(),
                 update_qers ? nullptr : &update_qers.error(),
                 update_bar_ie ? nullptr : &update_bar_ie.error(),
                 queries ? nullptr : &queries.error(),
             }) {
            if (r != nullptr) {
                return fail(from_rejection(*r));
            }
        }

        // A copy of the session: the rejection paths below leave the original untouched.
        const dp::SessionSpec before = *p.actions_.spec(s->seid);
        Edit e;
        e.spec = before;
        e.urrs = s->urrs;
        // Removals, then creations, then updates; references are checked on the result.
        for (const RemovePdr& r : *remove_pdrs) {
            if (auto f = remove_rule(RuleType::pdr, r.id.value, e)) {
                return fail(*f);
            }
        }
        for (const RemoveFar& r : *remove_fars) {
            if (auto f = remove_rule(RuleType::far, r.id.value, e)) {
                return fail(*f);
            }
        }
        for (const RemoveUrr& r : *remove_urrs) {
            if (auto f = remove_rule(RuleType::urr, r.id.value, e)) {
                return fail(*f);
            }
        }
        for (const RemoveQer& r : *remove_qers) {
            if (auto f = remove_rule(RuleType::qer, r.id.value, e)) {
                return fail(*f);
            }
        }
        if (*remove_bar) {
            if (auto f = remove_rule(RuleType::bar, (*remove_bar)->id.value, e)) {
                return fail(*f);
            }
        }
        for (const RemoveMar& r : *remove_mars) {
            if (auto f = remove_rule(RuleType::mar, r.id.value, e)) {
                return fail(*f);
            }
        }
        if (auto f = add_rules(*create_bar, *create_urrs, *create_qers, *create_fars, *create_mars,
                               *create_pdrs, e)) {
            return fail(*f);
        }
        if (*update_bar_ie) {
            if (auto f = update_bar(**update_bar_ie, e.spec)) {
                return fail(*f);
            }
        }
        for (const UpdateUrr& u : *update_urrs) {
            if (auto f = update_urr(u, e)) {
                return fail(*f);
            }
        }
        for (const UpdateQer& q : *update_qers) {
            if (auto f = update_qer(q, e)) {
                return fail(*f);
            }
        }
        dp::ModifyFlags mflags;
        for (const UpdateFar& f : *update_fars) {
            if (auto err = update_far(f, e, mflags.send_end_marker)) {
                return fail(*err);
            }
        }
        for (const UpdatePdr& pdr : *update_pdrs) {
            if (auto f = update_pdr(pdr, e)) {
                return fail(*f);
            }
        }
        for (const UpdateMar& mar : *update_mars) {
            if (auto f = update_mar(mar, e)) {
                return fail(*f);
            }
        }
        if (auto f = resolve_mars(e)) {
            return fail(*f);
        }
        if (auto f = validate(e)) {
            return fail(*f);
        }
        if (*flags) {
            mflags.send_end_marker |= (*flags)->has(PfcpSmReqBits::sndem);
            mflags.query_all_urrs = (*flags)->has(PfcpSmReqBits::qaurr);
        }
        for (const QueryUrr& q : *queries) {
            if (find_rule(e.spec.urrs, q.id.value) == nullptr) {
                return fail(rule_failure(RuleType::urr, q.id.value, "Query URR: no such URR"));
            }
            mflags.query_urrs.push_back(q.id.value);
        }
        auto allocated = allocate(e);
        if (!allocated) {
            return fail(allocated.error());
        }
        AtsssPlan atsss_plan;
        if (*atsss) {
            atsss_plan = plan_atsss(**atsss, s->mptcp);
            apply_atsss(atsss_plan, e.spec);
        }
        std::vector<dp::UsageReport> reports;
        if (auto err = p.actions_.modify(e.spec, mflags, &reports)) {
            return fail(from_spec_error(*err, false));
        }

        for (const UeIpPools::Candidate& c : allocated->ue_candidates) {
            p.ue_pools_.commit(s->seid, c);
        }
        update_gauge();
        s->urrs = std::move(e.urrs);
        if (*cp) {
            s->cp_f_seid = **cp;
        }
        count(SessionEvent::modified);
        count(SessionEvent::teids_allocated, allocated->teids);
        count(SessionEvent::ue_addresses_allocated, allocated->ue_addresses);
        count(SessionEvent::usage_reports_sent, reports.size());
        const std::optional<AtsssControlParameters> atsss_params = commit_atsss(atsss_plan, *s);
        return build(rsp, seq, s->cp_f_seid.seid, [&](Writer& w) {
            CauseIe{Cause::request_accepted}.encode(w);
            for (const CreatedPdr& c : allocated->created) {
                c.encode(w);
            }
            for (const dp::UsageReport& r : reports) {
                // A removed URR is reported from the spec it had before.
                const dp::SessionSpec* spec =
                    find_rule(e.spec.urrs, r.urr_id) != nullptr ? &e.spec : &before;
                usage_report_ie<IeType::usage_report_session_modification_response>(r, spec,
                                                                                    p.actions_)
                    .encode(w);
            }
            for (const UpdatedPdr& u : allocated->updated) {
                u.encode(w);
            }
            if (atsss_params) {
                atsss_params->encode(w);
            }
        });
    }

    // ---- Session Deletion (§6.3.4, §7.5.6, §7.5.7) --------------------------------------------

    Reply remove(const Message& m, const PeerRef& peer) {
        constexpr MessageType rsp = MessageType::session_deletion_response;
        const SequenceNumber seq = m.header.sequence;
        Session* s = owned_session(m, peer);
        if (s == nullptr) {
            return reject(rsp, seq, Seid{0}, not_found(m));
        }
        const Seid reply_seid = s->cp_f_seid.seid;
        auto ies = IeList::parse(m.body);
        if (!ies) {
            return reject(rsp, seq, reply_seid, from_rejection(rejection_for(ies.error())));
        }
        const uint64_t seid = s->seid;
        const dp::SessionSpec before = *p.actions_.spec(seid);
        auto reports = p.actions_.remove(seid);
        forget(seid);
        update_gauge();
        count(SessionEvent::deleted);
        const size_t n = reports ? reports->size() : 0;
        count(SessionEvent::usage_reports_sent, n);
        BRAID_LOG(pfcp, DEBUG, "session %" PRIu64 " deleted (%zu usage reports)", seid, n);
        return build(rsp, seq, reply_seid, [&](Writer& w) {
            CauseIe{Cause::request_accepted}.encode(w);
            if (reports) {
                for (const dp::UsageReport& r : *reports) {
                    usage_report_ie<IeType::usage_report_session_deletion_response>(r, &before,
                                                                                    p.actions_)
                        .encode(w);
                }
            }
        });
    }

    // ---- Session Report (§6.3.5, §7.5.8, §7.5.9) ------------------------------------------------

    struct Batch {
        std::vector<dp::UsageReport> usage;
        std::vector<dp::ErrorIndicationReport> errors;
        std::vector<uint16_t> pdrs;
    };

    void send_report(const Session& s, const Batch& b) {
        const dp::SessionSpec* spec = p.actions_.spec(s.seid);
        uint8_t type = 0;
        type |= b.pdrs.empty() ? 0 : ReportTypeBits::dldr;
        type |= b.usage.empty() ? 0 : ReportTypeBits::usar;
        type |= b.errors.empty() ? 0 : ReportTypeBits::erir;
        auto msg = build(MessageType::session_report_request, SequenceNumber(0), s.cp_f_seid.seid,
                         [&](Writer& w) {
                             ReportType{type}.encode(w);
                             if (!b.pdrs.empty()) {
                                 DownlinkDataReport d;
                                 for (uint16_t id : b.pdrs) {
                                     d.pdr_ids.push_back(PdrId{id});
                                 }
                                 d.encode(w);
                             }
                             for (const dp::UsageReport& r : b.usage) {
                                 usage_report_ie<IeType::usage_report_session_report_request>(
                                     r, spec, p.actions_)
                                     .encode(w);
                             }
                             if (!b.errors.empty()) {
                                 ErrorIndicationReport eir;
                                 for (const dp::ErrorIndicationReport& x : b.errors) {
                                     FTeid ft;
                                     ft.teid = Teid(x.teid);
                                     ft.ipv4 = wire_ipv4(x.peer_ipv4);
                                     eir.remote_f_teids.push_back(ft);
                                 }
                                 eir.encode(w);
                             }
                         });
        const uint64_t seid = s.seid;
        std::weak_ptr<bool> alive = p.alive_;
        SessionProcedures* self = &p;
        const bool sent =
            p.sender_ != nullptr &&
            p.sender_->send_request(s.peer, std::move(msg),
                                    [self, seid, alive](const std::optional<Message>& response) {
                                        if (alive.lock()) {
                                            Impl{*self}.report_response(seid, response);
                                        }
                                    });
        if (!sent) {
            count(SessionEvent::report_send_failures);
            BRAID_LOG(pfcp, WARNING,
                      "Session Report Request for session %" PRIu64
                      " not sent: no association "
                      "with %s",
                      seid, node_text(s.peer).c_str());
            return;
        }
        count(SessionEvent::report_requests_sent);
        count(SessionEvent::usage_reports_sent, b.usage.size());
    }

    void report_response(uint64_t seid, const std::optional<Message>& m) {
        if (!m) {
            count(SessionEvent::report_timeouts);
            BRAID_LOG(pfcp, WARNING, "Session Report Request for session %" PRIu64 " unanswered",
                      seid);
            return;
        }
        auto ies = IeList::parse(m->body);
        std::optional<Cause> cause;
        if (ies) {
            if (auto c = decode_mandatory<CauseIe>(*ies)) {
                cause = c->value;
            }
        }
        if (!cause) {
            count(SessionEvent::report_responses_malformed);
            BRAID_LOG(pfcp, WARNING,
                      "Session Report Response for session %" PRIu64 " without a usable Cause",
                      seid);
            return;
        }
        p.counters_.report_responses_by_cause[static_cast<uint8_t>(*cause)].inc();
        if (is_acceptance(*cause)) {
            if (auto bar = decode_optional<UpdateBarReport>(*ies); bar && *bar) {
                apply_report_bar(seid, **bar);
            }
            return;
        }
        count(SessionEvent::report_responses_rejected);
        BRAID_LOG(pfcp, WARNING, "Session Report Request for session %" PRIu64 " rejected: %s",
                  seid, std::string(to_string(*cause)).c_str());
        if (*cause == Cause::session_context_not_found && p.sessions_.count(seid) != 0) {
            (void)p.actions_.remove(seid);
            forget(seid);
            update_gauge();
            count(SessionEvent::deleted_by_report_response);
            BRAID_LOG(pfcp, NOTICE,
                      "session %" PRIu64 " deleted: the SMF no longer knows it (Cause 65)", seid);
        }
    }

    // Update BAR in a Session Report Response (§7.5.9.2).
    void apply_report_bar(uint64_t seid, const UpdateBarReport& bar) {
        const dp::SessionSpec* cur = p.actions_.spec(seid);
        if (cur == nullptr || p.sessions_.count(seid) == 0) {
            return;
        }
        dp::SessionSpec spec = *cur;
        if (auto f = update_bar(bar, spec)) {
            BRAID_LOG(pfcp, INFO, "Session Report Response for session %" PRIu64 ": %s", seid,
                      f->why.c_str());
            return;
        }
        if (auto err = p.actions_.modify(spec, dp::ModifyFlags{}, nullptr)) {
            BRAID_LOG(pfcp, WARNING, "session %" PRIu64 ": Update BAR not applied: %s", seid,
                      err->message.c_str());
        }
    }

    void poll() {
        std::vector<dp::SessionReport> reports = p.actions_.take_reports();
        if (reports.empty()) {
            return;
        }
        std::map<uint64_t, Batch> batches;
        for (dp::SessionReport& r : reports) {
            std::visit(
                [&](auto& x) {
                    using T = std::decay_t<decltype(x)>;
                    Batch& b = batches[x.seid];
                    if constexpr (std::is_same_v<T, dp::UsageReport>) {
                        b.usage.push_back(x);
                    } else if constexpr (std::is_same_v<T, dp::ErrorIndicationReport>) {
                        b.errors.push_back(x);
                    } else {
                        if (std::find(b.pdrs.begin(), b.pdrs.end(), x.pdr_id) == b.pdrs.end()) {
                            b.pdrs.push_back(x.pdr_id);
                        }
                    }
                },
                r);
        }
        for (const auto& [seid, b] : batches) {
            auto it = p.sessions_.find(seid);
            if (it == p.sessions_.end()) {
                count(SessionEvent::reports_unowned,
                      b.usage.size() + b.errors.size() + b.pdrs.size());
                continue;
            }
            send_report(it->second, b);
        }
    }
};

SessionProcedures::SessionProcedures(SessionProceduresConfig cfg, SessionActions& actions,
                                     RequestSender* sender)
    : cfg_(std::move(cfg)),
      actions_(actions),
      sender_(sender),
      ue_pools_(cfg_.ue_ip_pools),
      tgpp_link_pools_(cfg_.mptcp_proxy.tgpp_pools),
      non_tgpp_link_pools_(cfg_.mptcp_proxy.non_tgpp_pools),
      alive_(std::make_shared<bool>(true)) {
    next_seid_ = cfg_.first_seid != 0 ? cfg_.first_seid : 1;
    next_teid_ = cfg_.teid_first;
    counters_.ue_pool_used = std::vector<SessionCounter>(ue_pools_.pool_count());
    if (auto why = check(cfg_)) {
        BRAID_LOG(pfcp, ERR, "session procedures: %s", why->c_str());
    }
}

SessionProcedures::~SessionProcedures() = default;

std::optional<std::vector<uint8_t>> SessionProcedures::handle_session_message(const Message& msg,
                                                                              const PeerRef& peer) {
    Impl impl{*this};
    switch (msg.header.type) {
        case MessageType::session_establishment_request:
            return impl.establish(msg, peer);
        case MessageType::session_modification_request:
            return impl.modify(msg, peer);
        case MessageType::session_deletion_request:
            return impl.remove(msg, peer);
        default:
            // Session Report Responses reach braid through RequestSender's callback.
            impl.count(SessionEvent::unexpected_messages);
            return std::nullopt;
    }
}

size_t SessionProcedures::drop_peer_sessions(const NodeId& peer) {
    size_t n = 0;
    for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (it->second.peer == peer) {
            (void)actions_.remove(it->first);
            ue_pools_.release(it->first);
            tgpp_link_pools_.release(it->first);
            non_tgpp_link_pools_.release(it->first);
            it = sessions_.erase(it);
            ++n;
        } else {
            ++it;
        }
    }
    Impl impl{*this};
    impl.update_gauge();
    impl.count(SessionEvent::deleted_with_peer, n);
    if (n != 0) {
        BRAID_LOG(pfcp, NOTICE, "%zu sessions of %s deleted", n, node_text(peer).c_str());
    }
    return n;
}

void SessionProcedures::poll(uint64_t /*now_ms*/) {
    Impl{*this}.poll();
}

const SessionProcedures::Session* SessionProcedures::session(uint64_t seid) const {
    auto it = sessions_.find(seid);
    return it == sessions_.end() ? nullptr : &it->second;
}

// ---- AppSessionActions --------------------------------------------------------------------------

std::optional<dp::SpecError> AppSessionActions::create(const dp::SessionSpec& spec) {
    return app_.create_session(spec);
}

std::optional<dp::SpecError> AppSessionActions::modify(const dp::SessionSpec& spec,
                                                       const dp::ModifyFlags& flags,
                                                       std::vector<dp::UsageReport>* reports) {
    return app_.modify_session(spec, flags, reports);
}

std::optional<std::vector<dp::UsageReport>> AppSessionActions::remove(uint64_t seid) {
    return app_.delete_session(seid);
}

const dp::SessionSpec* AppSessionActions::spec(uint64_t seid) const {
    return app_.sessions().spec(seid);
}

std::vector<dp::SessionReport> AppSessionActions::take_reports() {
    return app_.take_reports();
}

std::optional<uint64_t> AppSessionActions::teid_owner(uint32_t teid) const {
    // The control core is the table's only writer: its lookups need no RCU section.
    const dp::SessionRules* r = app_.sessions().by_teid(teid);
    return r != nullptr ? std::optional<uint64_t>(r->seid) : std::nullopt;
}

std::optional<uint64_t> AppSessionActions::ue_ipv4_owner(uint32_t ue_ipv4) const {
    const dp::SessionRules* r = app_.sessions().by_ue_ipv4(ue_ipv4);
    return r != nullptr ? std::optional<uint64_t>(r->seid) : std::nullopt;
}

std::optional<uint64_t> AppSessionActions::ue_ipv6_owner(const Ipv6Address& prefix) const {
    const dp::SessionRules* r = app_.sessions().by_ue_ipv6(prefix.data());
    return r != nullptr ? std::optional<uint64_t>(r->seid) : std::nullopt;
}

int64_t AppSessionActions::unix_ms(uint64_t dataplane_ms) const {
    using namespace std::chrono;
    const int64_t wall =
        duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    const int64_t steady =
        duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
    return wall - steady + static_cast<int64_t>(dataplane_ms);
}

// ---- MemorySessionActions -----------------------------------------------------------------------

namespace {

// What dataplane::compile() and SessionTable refuse, minus the classifier.
std::optional<dp::SpecError> check_spec(const dp::SessionSpec& s) {
    auto err = [](dp::SpecError::Kind k, std::string rule) {
        return dp::SpecError{k, std::move(rule), "memory actions"};
    };
    auto dup = [](const auto& rules) -> std::optional<uint32_t> {
        std::set<uint32_t> seen;
        for (const auto& r : rules) {
            if (!seen.insert(r.id).second) {
                return r.id;
            }
        }
        return std::nullopt;
    };
    if (auto d = dup(s.pdrs)) {
        return err(dp::SpecError::Kind::duplicate_id, "pdr " + std::to_string(*d));
    }
    if (auto d = dup(s.fars)) {
        return err(dp::SpecError::Kind::duplicate_id, "far " + std::to_string(*d));
    }
    if (auto d = dup(s.qers)) {
        return err(dp::SpecError::Kind::duplicate_id, "qer " + std::to_string(*d));
    }
    if (auto d = dup(s.urrs)) {
        return err(dp::SpecError::Kind::duplicate_id, "urr " + std::to_string(*d));
    }
    if (auto d = dup(s.bars)) {
        return err(dp::SpecError::Kind::duplicate_id, "bar " + std::to_string(*d));
    }
    for (const dp::Far& f : s.fars) {
        const int n = int(f.action.drop) + int(f.action.forward) + int(f.action.buffer);
        if (n != 1 || (f.action.notify_cp && !f.action.buffer)) {
            return err(dp::SpecError::Kind::bad_action, "far " + std::to_string(f.id));
        }
        if (f.action.forward && f.destination == dp::Interface::access && !f.outer_header) {
            return err(dp::SpecError::Kind::missing_outer, "far " + std::to_string(f.id));
        }
        if (f.bar_id && find_rule(s.bars, *f.bar_id) == nullptr) {
            return err(dp::SpecError::Kind::dangling_ref, "far " + std::to_string(f.id));
        }
    }
    for (const dp::Pdr& p : s.pdrs) {
        const std::string rule = "pdr " + std::to_string(p.id);
        if (!p.local_teid && !p.ue_ipv4 && !p.ue_ipv6) {
            return err(dp::SpecError::Kind::missing_match, rule);
        }
        if (find_rule(s.fars, p.far_id) == nullptr) {
            return err(dp::SpecError::Kind::dangling_ref, rule);
        }
        for (uint32_t q : p.qer_ids) {
            if (find_rule(s.qers, q) == nullptr) {
                return err(dp::SpecError::Kind::dangling_ref, rule);
            }
        }
        for (uint32_t u : p.urr_ids) {
            if (find_rule(s.urrs, u) == nullptr) {
                return err(dp::SpecError::Kind::dangling_ref, rule);
            }
        }
        if (p.ue_ipv4 && std::any_of(s.pdrs.begin(), s.pdrs.end(), [&](const dp::Pdr& o) {
                return o.ue_ipv4 && *o.ue_ipv4 != *p.ue_ipv4;
            })) {
            return err(dp::SpecError::Kind::two_ue_addresses, rule);
        }
    }
    return std::nullopt;
}

}  // namespace

std::optional<dp::SpecError> MemorySessionActions::create(const dp::SessionSpec& spec) {
    if (fail_next) {
        auto e = std::move(fail_next);
        fail_next.reset();
        return e;
    }
    if (sessions.count(spec.seid) != 0) {
        return dp::SpecError{dp::SpecError::Kind::duplicate_id,
                             "session " + std::to_string(spec.seid), "exists"};
    }
    if (auto e = check_spec(spec)) {
        return e;
    }
    for (const dp::Pdr& p : spec.pdrs) {
        if (p.local_teid && teid_owner(*p.local_teid)) {
            return dp::SpecError{dp::SpecError::Kind::teid_in_use,
                                 "teid " + std::to_string(*p.local_teid), "in use"};
        }
        if (p.ue_ipv4 && ue_ipv4_owner(*p.ue_ipv4)) {
            return dp::SpecError{dp::SpecError::Kind::ue_ip_in_use,
                                 "ue-ip " + std::to_string(*p.ue_ipv4), "in use"};
        }
    }
    sessions[spec.seid] = spec;
    for (const dp::Urr& u : spec.urrs) {
        measurements_[{spec.seid, u.id}] = Measurement{0, now_ms};
    }
    return std::nullopt;
}

dp::UsageReport MemorySessionActions::report(uint64_t seid, uint32_t urr_id, dp::UsageTrigger t) {
    Measurement& m = measurements_[{seid, urr_id}];
    dp::UsageReport r;
    r.seid = seid;
    r.urr_id = urr_id;
    r.sequence = m.sequence++;
    r.trigger = t;
    r.start_ms = m.start_ms;
    r.end_ms = now_ms;
    r.volume = usage_[{seid, urr_id}];
    r.duration_s = static_cast<uint32_t>((now_ms - std::min(now_ms, m.start_ms)) / 1000);
    m.start_ms = now_ms;
    usage_[{seid, urr_id}] = {};
    return r;
}

std::optional<dp::SpecError> MemorySessionActions::modify(const dp::SessionSpec& spec,
                                                          const dp::ModifyFlags& flags,
                                                          std::vector<dp::UsageReport>* reports) {
    if (fail_next) {
        auto e = std::move(fail_next);
        fail_next.reset();
        return e;
    }
    auto it = sessions.find(spec.seid);
    if (it == sessions.end()) {
        return dp::SpecError{dp::SpecError::Kind::dangling_ref,
                             "session " + std::to_string(spec.seid), "no such session"};
    }
    if (auto e = check_spec(spec)) {
        return e;
    }
    for (const dp::Pdr& p : spec.pdrs) {
        if (p.local_teid) {
            if (auto o = teid_owner(*p.local_teid); o && *o != spec.seid) {
                return dp::SpecError{dp::SpecError::Kind::teid_in_use,
                                     "teid " + std::to_string(*p.local_teid), "in use"};
            }
        }
        if (p.ue_ipv4) {
            if (auto o = ue_ipv4_owner(*p.ue_ipv4); o && *o != spec.seid) {
                return dp::SpecError{dp::SpecError::Kind::ue_ip_in_use,
                                     "ue-ip " + std::to_string(*p.ue_ipv4), "in use"};
            }
        }
    }
    std::vector<dp::UsageReport> out;
    for (const dp::Urr& u : it->second.urrs) {
        if (find_rule(spec.urrs, u.id) == nullptr) {
            out.push_back(report(spec.seid, u.id, dp::UsageTrigger::termination));
            measurements_.erase({spec.seid, u.id});
        }
    }
    for (const dp::Urr& u : spec.urrs) {
        if (find_rule(it->second.urrs, u.id) == nullptr) {
            measurements_[{spec.seid, u.id}] = Measurement{0, now_ms};
        }
    }
    if (flags.query_all_urrs || !flags.query_urrs.empty()) {
        for (const dp::Urr& u : spec.urrs) {
            if (flags.query_all_urrs || std::find(flags.query_urrs.begin(), flags.query_urrs.end(),
                                                  u.id) != flags.query_urrs.end()) {
                out.push_back(report(spec.seid, u.id, dp::UsageTrigger::query));
            }
        }
    }
    it->second = spec;
    modify_calls.push_back(flags);
    if (reports != nullptr) {
        reports->insert(reports->end(), out.begin(), out.end());
    }
    return std::nullopt;
}

std::optional<std::vector<dp::UsageReport>> MemorySessionActions::remove(uint64_t seid) {
    auto it = sessions.find(seid);
    if (it == sessions.end()) {
        return std::nullopt;
    }
    std::vector<dp::UsageReport> out;
    for (const dp::Urr& u : it->second.urrs) {
        out.push_back(report(seid, u.id, dp::UsageTrigger::termination));
        measurements_.erase({seid, u.id});
    }
    sessions.erase(it);
    return out;
}

const dp::SessionSpec* MemorySessionActions::spec(uint64_t seid) const {
    auto it = sessions.find(seid);
    return it == sessions.end() ? nullptr : &it->second;
}

std::vector<dp::SessionReport> MemorySessionActions::take_reports() {
    std::vector<dp::SessionReport> out;
    out.swap(pending_reports);
    return out;
}

std::optional<uint64_t> MemorySessionActions::teid_owner(uint32_t teid) const {
    for (const auto& [seid, s] : sessions) {
        for (const dp::Pdr& p : s.pdrs) {
            if (p.local_teid == teid) {
                return seid;
            }
        }
    }
    return std::nullopt;
}

std::optional<uint64_t> MemorySessionActions::ue_ipv4_owner(uint32_t ue_ipv4) const {
    for (const auto& [seid, s] : sessions) {
        for (const dp::Pdr& p : s.pdrs) {
            if (p.ue_ipv4 == ue_ipv4) {
                return seid;
            }
        }
    }
    return std::nullopt;
}

std::optional<uint64_t> MemorySessionActions::ue_ipv6_owner(const Ipv6Address& prefix) const {
    for (const auto& [seid, s] : sessions) {
        for (const dp::Pdr& p : s.pdrs) {
            if (p.ue_ipv6 &&
                std::equal(prefix.begin(), prefix.begin() + 8, p.ue_ipv6->addr.begin())) {
                return seid;
            }
        }
    }
    return std::nullopt;
}

// ---- metrics ------------------------------------------------------------------------------------

void add_collectors(metrics::Exporter& exporter, const SessionProcedures& procs) {
    using metrics::Family;
    using metrics::Type;
    exporter.add_collector("pfcp_session", [&procs](std::vector<Family>& out) {
        const SessionCounters& c = procs.counters();
        Family rej{"braid_pfcp_session_rejections_total",
                   "Session Establishment/Modification/Deletion Responses braid sent with a "
                   "rejection Cause",
                   Type::counter,
                   {}};
        Family rsp{"braid_pfcp_session_report_responses_total",
                   "Session Report Responses received, by Cause",
                   Type::counter,
                   {}};
        uint64_t spare_rej = 0, spare_rsp_acc = 0, spare_rsp_rej = 0;
        for (size_t v = 1; v < 256; ++v) {
            const auto cause = static_cast<Cause>(v);
            const double rj = double(c.rejections_by_cause[v].get());
            const double rs = double(c.report_responses_by_cause[v].get());
            if (!is_known(cause)) {
                (is_acceptance(cause) ? spare_rsp_acc : spare_rsp_rej) +=
                    c.report_responses_by_cause[v].get();
                spare_rej += is_acceptance(cause) ? 0 : c.rejections_by_cause[v].get();
                continue;
            }
            const std::string l(cause_label(cause));
            if (!is_acceptance(cause)) {
                rej.samples.push_back({{{"cause", l}}, rj});
            }
            rsp.samples.push_back({{{"cause", l}}, rs});
        }
        rej.samples.push_back({{{"cause", "spare_rejection"}}, double(spare_rej)});
        rsp.samples.push_back({{{"cause", "spare_acceptance"}}, double(spare_rsp_acc)});
        rsp.samples.push_back({{{"cause", "spare_rejection"}}, double(spare_rsp_rej)});
        out.push_back(std::move(rej));
        out.push_back(std::move(rsp));
        out.push_back({"braid_pfcp_sessions",
                       "PFCP sessions held",
                       Type::gauge,
                       {{{}, double(c.sessions.get())}}});
        // Pool sizes come from the configuration (immutable); the used counts from the gauges
        // the control core keeps.
        const std::vector<UeIpPoolConfig>& pools = procs.config().ue_ip_pools;
        Family size{"braid_pfcp_ue_pool_size",
                    "Addresses (IPv4) or /64 prefixes (IPv6) a UE IP pool can hand out",
                    Type::gauge,
                    {}};
        Family used{"braid_pfcp_ue_pool_used",
                    "Addresses (IPv4) or /64 prefixes (IPv6) of a UE IP pool held by sessions",
                    Type::gauge,
                    {}};
        for (size_t i = 0; i < pools.size() && i < c.ue_pool_used.size(); ++i) {
            const std::vector<std::pair<std::string, std::string>> l = {
                {"pool", prefix_text(pools[i])}, {"network_instance", pools[i].network_instance}};
            size.samples.push_back({l, double(UeIpPools::capacity(pools[i]))});
            used.samples.push_back({l, double(c.ue_pool_used[i].get())});
        }
        out.push_back(std::move(size));
        out.push_back(std::move(used));
        for (size_t e = 0; e < session_event_table.size(); ++e) {
            out.push_back(
                {"braid_pfcp_session_" + std::string(session_event_table[e].name) + "_total",
                 std::string(session_event_table[e].help),
                 Type::counter,
                 {{{}, double(c.events[e].get())}}});
        }
    });
}

}  // namespace braid::pfcp
