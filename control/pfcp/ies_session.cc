#include "control/pfcp/ies_session.h"

#include <algorithm>
#include <utility>

namespace braid::pfcp {

namespace {

// Assigns the value of a Result<_, Rejection> expression to `lhs`, or returns its error.
#define BRAID_PFCP_TRY(lhs, expr)                \
    do {                                         \
        auto braid_r_ = (expr);                  \
        if (!braid_r_) {                         \
            return Unexpected{braid_r_.error()}; \
        }                                        \
        lhs = std::move(braid_r_).value();       \
    } while (0)

Result<IeList, Rejection> members_of(const IeView& ie) {
    auto m = ie.members();
    if (!m) {
        return Unexpected{rejection_for(m.error())};
    }
    return std::move(m).value();
}

template <typename T>
void put(Writer& w, const std::optional<T>& v) {
    if (v) {
        v->encode(w);
    }
}
template <typename T>
void put(Writer& w, const std::vector<T>& v) {
    for (const T& x : v) {
        x.encode(w);
    }
}

}  // namespace

// ---- leaf IEs --------------------------------------------------------------------------------

Result<UsageReportTrigger, IeError> UsageReportTrigger::parse(std::span<const uint8_t> v) {
    if (v.size() < 2) {
        return Unexpected{IeError::invalid_length(type)};
    }
    uint32_t f = v[0] | static_cast<uint32_t>(v[1]) << 8;
    if (v.size() >= 3) {
        f |= static_cast<uint32_t>(v[2] & 0x3f) << 16;
    }
    return UsageReportTrigger{f};
}

void UsageReportTrigger::encode(Writer& w) const {
    if (flags > 0xffffff) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>(flags));
    w.put_u8(static_cast<uint8_t>(flags >> 8));
    if (flags >> 16) {
        w.put_u8(static_cast<uint8_t>(flags >> 16));
    }
    w.end_ie();
}

Result<VolumeMeasurement, IeError> VolumeMeasurement::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return Unexpected{IeError::invalid_length(type)};
    }
    const uint8_t flags = v[0];
    size_t need = 1;
    for (int bit = 0; bit < 6; ++bit) {
        need += (flags >> bit) & 1 ? 8 : 0;
    }
    if (v.size() < need) {
        return Unexpected{IeError::invalid_length(type)};
    }
    VolumeMeasurement out;
    std::optional<uint64_t>* fields[6] = {&out.total_octets,    &out.uplink_octets,
                                          &out.downlink_octets, &out.total_packets,
                                          &out.uplink_packets,  &out.downlink_packets};
    const uint8_t* p = v.data() + 1;
    for (int bit = 0; bit < 6; ++bit) {
        if ((flags >> bit) & 1) {
            *fields[bit] = load_u64(p);
            p += 8;
        }
    }
    return out;
}

void VolumeMeasurement::encode(Writer& w) const {
    const std::optional<uint64_t>* fields[6] = {&total_octets,  &uplink_octets,  &downlink_octets,
                                                &total_packets, &uplink_packets, &downlink_packets};
    uint8_t flags = 0;
    for (int bit = 0; bit < 6; ++bit) {
        flags |= fields[bit]->has_value() ? static_cast<uint8_t>(1u << bit) : 0;
    }
    w.begin_ie(type);
    w.put_u8(flags);
    for (const auto* f : fields) {
        if (f->has_value()) {
            w.put_u64(**f);
        }
    }
    w.end_ie();
}

namespace {
// Octets of the rule ID after octet 5, by Rule ID Type (Figure 8.2.80-1).
size_t failed_rule_id_octets(FailedRuleId::RuleType t) {
    switch (t) {
        case FailedRuleId::RuleType::pdr:
        case FailedRuleId::RuleType::mar:
            return 2;
        case FailedRuleId::RuleType::far:
        case FailedRuleId::RuleType::qer:
        case FailedRuleId::RuleType::urr:
            return 4;
        case FailedRuleId::RuleType::bar:
        case FailedRuleId::RuleType::srr:
            return 1;
    }
    return 0;
}
}  // namespace

Result<FailedRuleId, IeError> FailedRuleId::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return Unexpected{IeError::invalid_length(type)};
    }
    const uint8_t t = v[0] & 0x1f;
    if (t > static_cast<uint8_t>(RuleType::srr)) {
        return Unexpected{IeError::invalid_value(type)};
    }
    FailedRuleId out;
    out.rule_type = static_cast<RuleType>(t);
    const size_t n = failed_rule_id_octets(out.rule_type);
    if (v.size() < 1 + n) {
        return Unexpected{IeError::invalid_length(type)};
    }
    for (size_t i = 0; i < n; ++i) {
        out.id = out.id << 8 | v[1 + i];
    }
    return out;
}

void FailedRuleId::encode(Writer& w) const {
    const size_t n = failed_rule_id_octets(rule_type);
    if (n == 0 || (n < 4 && id >> (8 * n) != 0)) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>(rule_type));
    for (size_t i = n; i-- > 0;) {
        w.put_u8(static_cast<uint8_t>(id >> (8 * i)));
    }
    w.end_ie();
}

// ---- PDI, Create/Update PDR ------------------------------------------------------------------

Result<Pdi, Rejection> Pdi::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    Pdi out;
    BRAID_PFCP_TRY(out.source_interface, decode_mandatory<SourceInterface>(m));
    BRAID_PFCP_TRY(out.local_f_teid, decode_optional<FTeid>(m));
    BRAID_PFCP_TRY(out.network_instance, decode_optional<NetworkInstance>(m));
    BRAID_PFCP_TRY(out.ue_ip_addresses, decode_list<UeIpAddress>(m));
    BRAID_PFCP_TRY(out.sdf_filters, decode_list<SdfFilter>(m));
    BRAID_PFCP_TRY(out.qfis, decode_list<Qfi>(m));
    BRAID_PFCP_TRY(out.source_interface_type, decode_optional<TgppInterfaceType>(m));
    if (m.count(IeType::application_id) > 1) {
        return Unexpected{Rejection{Cause::mandatory_ie_incorrect, IeType::application_id}};
    }
    if (auto app = m.find(IeType::application_id)) {
        const auto v = app->value();
        out.application_id = std::string(reinterpret_cast<const char*>(v.data()), v.size());
    }
    return out;
}

void Pdi::encode(Writer& w) const {
    w.begin_grouped(type);
    source_interface.encode(w);
    put(w, local_f_teid);
    put(w, network_instance);
    put(w, ue_ip_addresses);
    put(w, sdf_filters);
    if (application_id) {
        w.begin_ie(IeType::application_id);
        w.put_string(*application_id);
        w.end_ie();
    }
    put(w, qfis);
    put(w, source_interface_type);
    w.end_grouped();
}

Result<CreatePdr, Rejection> CreatePdr::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    CreatePdr out;
    BRAID_PFCP_TRY(out.pdr_id, decode_mandatory<PdrId>(m));
    BRAID_PFCP_TRY(out.precedence, decode_mandatory<Precedence>(m));
    BRAID_PFCP_TRY(out.pdi, decode_mandatory<Pdi>(m));
    BRAID_PFCP_TRY(out.outer_header_removal, decode_optional<OuterHeaderRemoval>(m));
    BRAID_PFCP_TRY(out.far_id, decode_optional<FarId>(m));
    BRAID_PFCP_TRY(out.urr_ids, decode_list<UrrId>(m));
    BRAID_PFCP_TRY(out.qer_ids, decode_list<QerId>(m));
    BRAID_PFCP_TRY(out.mar_id, decode_optional<MarId>(m));
    BRAID_PFCP_TRY(out.multipath_applicable, decode_optional<MultipathApplicableIndication>(m));
    return out;
}

void CreatePdr::encode(Writer& w) const {
    w.begin_grouped(type);
    pdr_id.encode(w);
    precedence.encode(w);
    pdi.encode(w);
    put(w, outer_header_removal);
    put(w, far_id);
    put(w, urr_ids);
    put(w, qer_ids);
    put(w, mar_id);
    put(w, multipath_applicable);
    w.end_grouped();
}

Result<UpdatePdr, Rejection> UpdatePdr::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdatePdr out;
    BRAID_PFCP_TRY(out.pdr_id, decode_mandatory<PdrId>(m));
    BRAID_PFCP_TRY(out.outer_header_removal, decode_optional<OuterHeaderRemoval>(m));
    BRAID_PFCP_TRY(out.precedence, decode_optional<Precedence>(m));
    BRAID_PFCP_TRY(out.pdi, decode_optional<Pdi>(m));
    BRAID_PFCP_TRY(out.far_id, decode_optional<FarId>(m));
    BRAID_PFCP_TRY(out.urr_ids, decode_list<UrrId>(m));
    BRAID_PFCP_TRY(out.qer_ids, decode_list<QerId>(m));
    BRAID_PFCP_TRY(out.mar_id, decode_optional<MarId>(m));
    return out;
}

void UpdatePdr::encode(Writer& w) const {
    w.begin_grouped(type);
    pdr_id.encode(w);
    put(w, outer_header_removal);
    put(w, precedence);
    put(w, pdi);
    put(w, far_id);
    put(w, urr_ids);
    put(w, qer_ids);
    put(w, mar_id);
    w.end_grouped();
}

// ---- Forwarding Parameters, Create/Update FAR ----------------------------------------------

Result<ForwardingParameters, Rejection> ForwardingParameters::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    ForwardingParameters out;
    BRAID_PFCP_TRY(out.destination_interface, decode_mandatory<DestinationInterface>(m));
    BRAID_PFCP_TRY(out.network_instance, decode_optional<NetworkInstance>(m));
    BRAID_PFCP_TRY(out.outer_header_creation, decode_optional<OuterHeaderCreation>(m));
    return out;
}

void ForwardingParameters::encode(Writer& w) const {
    w.begin_grouped(type);
    destination_interface.encode(w);
    put(w, network_instance);
    put(w, outer_header_creation);
    w.end_grouped();
}

Result<UpdateForwardingParameters, Rejection> UpdateForwardingParameters::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdateForwardingParameters out;
    BRAID_PFCP_TRY(out.destination_interface, decode_optional<DestinationInterface>(m));
    BRAID_PFCP_TRY(out.network_instance, decode_optional<NetworkInstance>(m));
    BRAID_PFCP_TRY(out.outer_header_creation, decode_optional<OuterHeaderCreation>(m));
    BRAID_PFCP_TRY(out.flags, decode_optional<PfcpSmReqFlags>(m));
    return out;
}

void UpdateForwardingParameters::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, destination_interface);
    put(w, network_instance);
    put(w, outer_header_creation);
    put(w, flags);
    w.end_grouped();
}

Result<DuplicatingParameters, Rejection> DuplicatingParameters::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    DuplicatingParameters out;
    BRAID_PFCP_TRY(out.destination_interface, decode_mandatory<DestinationInterface>(m));
    BRAID_PFCP_TRY(out.outer_header_creation, decode_optional<OuterHeaderCreation>(m));
    return out;
}

void DuplicatingParameters::encode(Writer& w) const {
    w.begin_grouped(type);
    destination_interface.encode(w);
    put(w, outer_header_creation);
    w.end_grouped();
}

Result<UpdateDuplicatingParameters, Rejection> UpdateDuplicatingParameters::decode(
    const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdateDuplicatingParameters out;
    BRAID_PFCP_TRY(out.destination_interface, decode_optional<DestinationInterface>(m));
    BRAID_PFCP_TRY(out.outer_header_creation, decode_optional<OuterHeaderCreation>(m));
    return out;
}

void UpdateDuplicatingParameters::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, destination_interface);
    put(w, outer_header_creation);
    w.end_grouped();
}

Result<CreateFar, Rejection> CreateFar::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    CreateFar out;
    BRAID_PFCP_TRY(out.far_id, decode_mandatory<FarId>(m));
    BRAID_PFCP_TRY(out.apply_action, decode_mandatory<ApplyAction>(m));
    BRAID_PFCP_TRY(out.forwarding_parameters, decode_optional<ForwardingParameters>(m));
    BRAID_PFCP_TRY(out.duplicating_parameters, decode_list<DuplicatingParameters>(m));
    BRAID_PFCP_TRY(out.bar_id, decode_optional<BarId>(m));
    return out;
}

void CreateFar::encode(Writer& w) const {
    w.begin_grouped(type);
    far_id.encode(w);
    apply_action.encode(w);
    put(w, forwarding_parameters);
    put(w, duplicating_parameters);
    put(w, bar_id);
    w.end_grouped();
}

Result<UpdateFar, Rejection> UpdateFar::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdateFar out;
    BRAID_PFCP_TRY(out.far_id, decode_mandatory<FarId>(m));
    BRAID_PFCP_TRY(out.apply_action, decode_optional<ApplyAction>(m));
    BRAID_PFCP_TRY(out.update_forwarding_parameters,
                   decode_optional<UpdateForwardingParameters>(m));
    if (!out.update_forwarding_parameters) {
        std::optional<ForwardingParameters> fp;
        BRAID_PFCP_TRY(fp, decode_optional<ForwardingParameters>(m));
        if (fp) {
            out.update_forwarding_parameters =
                UpdateForwardingParameters{fp->destination_interface, fp->network_instance,
                                           fp->outer_header_creation, std::nullopt};
        }
    }
    BRAID_PFCP_TRY(out.update_duplicating_parameters, decode_list<UpdateDuplicatingParameters>(m));
    BRAID_PFCP_TRY(out.bar_id, decode_optional<BarId>(m));
    return out;
}

void UpdateFar::encode(Writer& w) const {
    w.begin_grouped(type);
    far_id.encode(w);
    put(w, apply_action);
    put(w, update_forwarding_parameters);
    put(w, update_duplicating_parameters);
    put(w, bar_id);
    w.end_grouped();
}

// ---- Create/Update QER -----------------------------------------------------------------------

Result<CreateQer, Rejection> CreateQer::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    CreateQer out;
    BRAID_PFCP_TRY(out.qer_id, decode_mandatory<QerId>(m));
    BRAID_PFCP_TRY(out.gate_status, decode_mandatory<GateStatus>(m));
    BRAID_PFCP_TRY(out.mbr, decode_optional<Mbr>(m));
    BRAID_PFCP_TRY(out.gbr, decode_optional<Gbr>(m));
    BRAID_PFCP_TRY(out.qfi, decode_optional<Qfi>(m));
    return out;
}

void CreateQer::encode(Writer& w) const {
    w.begin_grouped(type);
    qer_id.encode(w);
    gate_status.encode(w);
    put(w, mbr);
    put(w, gbr);
    put(w, qfi);
    w.end_grouped();
}

Result<UpdateQer, Rejection> UpdateQer::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdateQer out;
    BRAID_PFCP_TRY(out.qer_id, decode_mandatory<QerId>(m));
    BRAID_PFCP_TRY(out.gate_status, decode_optional<GateStatus>(m));
    BRAID_PFCP_TRY(out.mbr, decode_optional<Mbr>(m));
    BRAID_PFCP_TRY(out.gbr, decode_optional<Gbr>(m));
    BRAID_PFCP_TRY(out.qfi, decode_optional<Qfi>(m));
    return out;
}

void UpdateQer::encode(Writer& w) const {
    w.begin_grouped(type);
    qer_id.encode(w);
    put(w, gate_status);
    put(w, mbr);
    put(w, gbr);
    put(w, qfi);
    w.end_grouped();
}

// ---- Create/Update URR -----------------------------------------------------------------------

Result<CreateUrr, Rejection> CreateUrr::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    CreateUrr out;
    BRAID_PFCP_TRY(out.urr_id, decode_mandatory<UrrId>(m));
    BRAID_PFCP_TRY(out.measurement_method, decode_mandatory<MeasurementMethod>(m));
    BRAID_PFCP_TRY(out.reporting_triggers, decode_mandatory<ReportingTriggers>(m));
    BRAID_PFCP_TRY(out.measurement_period, decode_optional<MeasurementPeriod>(m));
    BRAID_PFCP_TRY(out.volume_threshold, decode_optional<VolumeThreshold>(m));
    BRAID_PFCP_TRY(out.time_threshold, decode_optional<TimeThreshold>(m));
    return out;
}

void CreateUrr::encode(Writer& w) const {
    w.begin_grouped(type);
    urr_id.encode(w);
    measurement_method.encode(w);
    reporting_triggers.encode(w);
    put(w, measurement_period);
    put(w, volume_threshold);
    put(w, time_threshold);
    w.end_grouped();
}

Result<UpdateUrr, Rejection> UpdateUrr::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdateUrr out;
    BRAID_PFCP_TRY(out.urr_id, decode_mandatory<UrrId>(m));
    BRAID_PFCP_TRY(out.measurement_method, decode_optional<MeasurementMethod>(m));
    BRAID_PFCP_TRY(out.reporting_triggers, decode_optional<ReportingTriggers>(m));
    BRAID_PFCP_TRY(out.measurement_period, decode_optional<MeasurementPeriod>(m));
    BRAID_PFCP_TRY(out.volume_threshold, decode_optional<VolumeThreshold>(m));
    BRAID_PFCP_TRY(out.time_threshold, decode_optional<TimeThreshold>(m));
    return out;
}

void UpdateUrr::encode(Writer& w) const {
    w.begin_grouped(type);
    urr_id.encode(w);
    put(w, measurement_method);
    put(w, reporting_triggers);
    put(w, measurement_period);
    put(w, volume_threshold);
    put(w, time_threshold);
    w.end_grouped();
}

// ---- BAR, rule-ID-only IEs -------------------------------------------------------------------

template <IeType T>
Result<BarIe<T>, Rejection> BarIe<T>::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    BarIe out;
    BRAID_PFCP_TRY(out.bar_id, decode_mandatory<BarId>(m));
    BRAID_PFCP_TRY(out.suggested_buffering_packets_count,
                   decode_optional<SuggestedBufferingPacketsCount>(m));
    return out;
}

template <IeType T>
void BarIe<T>::encode(Writer& w) const {
    w.begin_grouped(type);
    bar_id.encode(w);
    put(w, suggested_buffering_packets_count);
    w.end_grouped();
}

template struct BarIe<IeType::create_bar>;
template struct BarIe<IeType::update_bar_session_modification_request>;
template struct BarIe<IeType::update_bar_session_report_response>;

template <IeType T, typename Id>
Result<RuleIdIe<T, Id>, Rejection> RuleIdIe<T, Id>::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    RuleIdIe out;
    BRAID_PFCP_TRY(out.id, decode_mandatory<Id>(m));
    return out;
}

template <IeType T, typename Id>
void RuleIdIe<T, Id>::encode(Writer& w) const {
    w.begin_grouped(type);
    id.encode(w);
    w.end_grouped();
}

template struct RuleIdIe<IeType::remove_pdr, PdrId>;
template struct RuleIdIe<IeType::remove_far, FarId>;
template struct RuleIdIe<IeType::remove_qer, QerId>;
template struct RuleIdIe<IeType::remove_urr, UrrId>;
template struct RuleIdIe<IeType::remove_bar, BarId>;
template struct RuleIdIe<IeType::query_urr, UrrId>;
template struct RuleIdIe<IeType::remove_mar, MarId>;

// ---- ATSSS control (§7.5.2.10, §7.5.3.7) -------------------------------------------------------

Result<MptcpAddressInformation, IeError> MptcpAddressInformation::parse(
    std::span<const uint8_t> v) {
    if (v.size() < 4) {
        return Unexpected{IeError::invalid_length(type)};
    }
    const uint8_t flags = v[0];
    const size_t need = 4 + ((flags & 0x01) ? 4 : 0) + ((flags & 0x02) ? 16 : 0);
    if (v.size() < need) {
        return Unexpected{IeError::invalid_length(type)};
    }
    MptcpAddressInformation out;
    out.proxy_type = v[1];
    out.port = static_cast<uint16_t>(v[2] << 8 | v[3]);
    size_t at = 4;
    if (flags & 0x01) {
        Ipv4Address a;
        std::copy_n(v.begin() + at, 4, a.begin());
        out.ipv4 = a;
        at += 4;
    }
    if (flags & 0x02) {
        Ipv6Address a;
        std::copy_n(v.begin() + at, 16, a.begin());
        out.ipv6 = a;
    }
    return out;
}

void MptcpAddressInformation::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>((ipv4 ? 0x01 : 0) | (ipv6 ? 0x02 : 0)));
    w.put_u8(proxy_type);
    w.put_u16(port);
    if (ipv4) {
        w.put_bytes(*ipv4);
    }
    if (ipv6) {
        w.put_bytes(*ipv6);
    }
    w.end_ie();
}

Result<LinkSpecificMultipathIpAddress, IeError> LinkSpecificMultipathIpAddress::parse(
    std::span<const uint8_t> v) {
    if (v.empty()) {
        return Unexpected{IeError::invalid_length(type)};
    }
    const uint8_t flags = v[0];
    const size_t need = 1 + ((flags & 0x01) ? 4 : 0) + ((flags & 0x02) ? 16 : 0) +
                        ((flags & 0x04) ? 4 : 0) + ((flags & 0x08) ? 16 : 0);
    if (v.size() < need) {
        return Unexpected{IeError::invalid_length(type)};
    }
    LinkSpecificMultipathIpAddress out;
    size_t at = 1;
    auto take4 = [&](std::optional<Ipv4Address>& o) {
        Ipv4Address a;
        std::copy_n(v.begin() + at, 4, a.begin());
        o = a;
        at += 4;
    };
    auto take6 = [&](std::optional<Ipv6Address>& o) {
        Ipv6Address a;
        std::copy_n(v.begin() + at, 16, a.begin());
        o = a;
        at += 16;
    };
    if (flags & 0x01) {
        take4(out.tgpp_ipv4);
    }
    if (flags & 0x02) {
        take6(out.tgpp_ipv6);
    }
    if (flags & 0x04) {
        take4(out.non_tgpp_ipv4);
    }
    if (flags & 0x08) {
        take6(out.non_tgpp_ipv6);
    }
    return out;
}

void LinkSpecificMultipathIpAddress::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>((tgpp_ipv4 ? 0x01 : 0) | (tgpp_ipv6 ? 0x02 : 0) |
                                  (non_tgpp_ipv4 ? 0x04 : 0) | (non_tgpp_ipv6 ? 0x08 : 0)));
    if (tgpp_ipv4) {
        w.put_bytes(*tgpp_ipv4);
    }
    if (tgpp_ipv6) {
        w.put_bytes(*tgpp_ipv6);
    }
    if (non_tgpp_ipv4) {
        w.put_bytes(*non_tgpp_ipv4);
    }
    if (non_tgpp_ipv6) {
        w.put_bytes(*non_tgpp_ipv6);
    }
    w.end_ie();
}

Result<ProvideAtsssControlInformation, Rejection> ProvideAtsssControlInformation::decode(
    const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    ProvideAtsssControlInformation out;
    BRAID_PFCP_TRY(out.mptcp, decode_optional<MptcpControlInformation>(m));
    BRAID_PFCP_TRY(out.atsss_ll, decode_optional<AtsssLlControlInformation>(m));
    BRAID_PFCP_TRY(out.pmf, decode_optional<PmfControlInformation>(m));
    return out;
}

void ProvideAtsssControlInformation::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, mptcp);
    put(w, atsss_ll);
    put(w, pmf);
    w.end_grouped();
}

Result<MptcpParameters, Rejection> MptcpParameters::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    MptcpParameters out;
    BRAID_PFCP_TRY(out.address, decode_mandatory<MptcpAddressInformation>(m));
    BRAID_PFCP_TRY(out.link, decode_mandatory<LinkSpecificMultipathIpAddress>(m));
    return out;
}

void MptcpParameters::encode(Writer& w) const {
    w.begin_grouped(type);
    address.encode(w);
    link.encode(w);
    w.end_grouped();
}

Result<AtsssControlParameters, Rejection> AtsssControlParameters::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    AtsssControlParameters out;
    BRAID_PFCP_TRY(out.mptcp, decode_optional<MptcpParameters>(m));
    return out;
}

void AtsssControlParameters::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, mptcp);
    w.end_grouped();
}

// ---- Multi-Access Rules (§7.5.2.8, §7.5.4.16, §7.5.4.17) --------------------------------------

Result<Thresholds, IeError> Thresholds::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return Unexpected{IeError::invalid_length(type)};
    }
    const uint8_t flags = v[0];
    const size_t need = 1 + ((flags & 0x01) ? 2 : 0) + ((flags & 0x02) ? 1 : 0);
    if (v.size() < need) {
        return Unexpected{IeError::invalid_length(type)};
    }
    Thresholds t;
    size_t at = 1;
    if (flags & 0x01) {
        t.rtt_ms = static_cast<uint16_t>(v[at] << 8 | v[at + 1]);
        at += 2;
    }
    if (flags & 0x02) {
        t.packet_loss_rate = v[at];
    }
    return t;
}

void Thresholds::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>((rtt_ms ? 0x01 : 0) | (packet_loss_rate ? 0x02 : 0)));
    if (rtt_ms) {
        w.put_u8(static_cast<uint8_t>(*rtt_ms >> 8));
        w.put_u8(static_cast<uint8_t>(*rtt_ms));
    }
    if (packet_loss_rate) {
        w.put_u8(*packet_loss_rate);
    }
    w.end_ie();
}

template <IeType T, bool Update>
Result<AccessForwardingIe<T, Update>, Rejection> AccessForwardingIe<T, Update>::decode(
    const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    AccessForwardingIe out;
    if constexpr (Update) {
        BRAID_PFCP_TRY(out.far_id, decode_optional<FarId>(m));
    } else {
        FarId far;
        BRAID_PFCP_TRY(far, decode_mandatory<FarId>(m));
        out.far_id = far;
    }
    BRAID_PFCP_TRY(out.weight, decode_optional<Weight>(m));
    BRAID_PFCP_TRY(out.priority, decode_optional<Priority>(m));
    BRAID_PFCP_TRY(out.urr_ids, decode_list<UrrId>(m));
    return out;
}

template <IeType T, bool Update>
void AccessForwardingIe<T, Update>::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, far_id);
    put(w, weight);
    put(w, priority);
    put(w, urr_ids);
    w.end_grouped();
}

template struct AccessForwardingIe<IeType::tgpp_access_forwarding_action_information, false>;
template struct AccessForwardingIe<IeType::non_tgpp_access_forwarding_action_information, false>;
template struct AccessForwardingIe<IeType::update_tgpp_access_forwarding_action_information, true>;
template struct AccessForwardingIe<IeType::update_non_tgpp_access_forwarding_action_information,
                                   true>;

Result<CreateMar, Rejection> CreateMar::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    CreateMar out;
    BRAID_PFCP_TRY(out.mar_id, decode_mandatory<MarId>(m));
    BRAID_PFCP_TRY(out.steering_functionality, decode_mandatory<SteeringFunctionality>(m));
    BRAID_PFCP_TRY(out.steering_mode, decode_mandatory<SteeringMode>(m));
    BRAID_PFCP_TRY(out.tgpp, decode_optional<TgppAccessForwarding>(m));
    BRAID_PFCP_TRY(out.non_tgpp, decode_optional<NonTgppAccessForwarding>(m));
    BRAID_PFCP_TRY(out.thresholds, decode_optional<Thresholds>(m));
    BRAID_PFCP_TRY(out.steering_mode_indicator, decode_optional<SteeringModeIndicator>(m));
    return out;
}

void CreateMar::encode(Writer& w) const {
    w.begin_grouped(type);
    mar_id.encode(w);
    steering_functionality.encode(w);
    steering_mode.encode(w);
    put(w, tgpp);
    put(w, non_tgpp);
    put(w, thresholds);
    put(w, steering_mode_indicator);
    w.end_grouped();
}

Result<UpdateMar, Rejection> UpdateMar::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UpdateMar out;
    BRAID_PFCP_TRY(out.mar_id, decode_mandatory<MarId>(m));
    BRAID_PFCP_TRY(out.steering_functionality, decode_optional<SteeringFunctionality>(m));
    BRAID_PFCP_TRY(out.steering_mode, decode_optional<SteeringMode>(m));
    BRAID_PFCP_TRY(out.update_tgpp, decode_optional<UpdateTgppAccessForwarding>(m));
    BRAID_PFCP_TRY(out.update_non_tgpp, decode_optional<UpdateNonTgppAccessForwarding>(m));
    BRAID_PFCP_TRY(out.tgpp, decode_optional<TgppAccessForwarding>(m));
    BRAID_PFCP_TRY(out.non_tgpp, decode_optional<NonTgppAccessForwarding>(m));
    BRAID_PFCP_TRY(out.thresholds, decode_optional<Thresholds>(m));
    BRAID_PFCP_TRY(out.steering_mode_indicator, decode_optional<SteeringModeIndicator>(m));
    return out;
}

void UpdateMar::encode(Writer& w) const {
    w.begin_grouped(type);
    mar_id.encode(w);
    put(w, steering_functionality);
    put(w, steering_mode);
    put(w, update_tgpp);
    put(w, update_non_tgpp);
    put(w, tgpp);
    put(w, non_tgpp);
    put(w, thresholds);
    put(w, steering_mode_indicator);
    w.end_grouped();
}

// ---- Created/Updated PDR -----------------------------------------------------------------------

template <IeType T>
Result<AllocatedPdrIe<T>, Rejection> AllocatedPdrIe<T>::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    AllocatedPdrIe out;
    BRAID_PFCP_TRY(out.pdr_id, decode_mandatory<PdrId>(m));
    BRAID_PFCP_TRY(out.local_f_teid, decode_optional<FTeid>(m));
    BRAID_PFCP_TRY(out.ue_ip_address, decode_optional<UeIpAddress>(m));
    return out;
}

template <IeType T>
void AllocatedPdrIe<T>::encode(Writer& w) const {
    w.begin_grouped(type);
    pdr_id.encode(w);
    put(w, local_f_teid);
    put(w, ue_ip_address);
    w.end_grouped();
}

template struct AllocatedPdrIe<IeType::created_pdr>;
template struct AllocatedPdrIe<IeType::updated_pdr>;

// ---- Usage Report ----------------------------------------------------------------------------

template <IeType T>
Result<UsageReportIe<T>, Rejection> UsageReportIe<T>::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    UsageReportIe out;
    BRAID_PFCP_TRY(out.urr_id, decode_mandatory<UrrId>(m));
    BRAID_PFCP_TRY(out.ur_seqn, decode_mandatory<UrSeqn>(m));
    BRAID_PFCP_TRY(out.trigger, decode_mandatory<UsageReportTrigger>(m));
    BRAID_PFCP_TRY(out.start_time, decode_optional<StartTime>(m));
    BRAID_PFCP_TRY(out.end_time, decode_optional<EndTime>(m));
    BRAID_PFCP_TRY(out.volume_measurement, decode_optional<VolumeMeasurement>(m));
    BRAID_PFCP_TRY(out.duration_measurement, decode_optional<DurationMeasurement>(m));
    BRAID_PFCP_TRY(out.query_urr_reference, decode_optional<QueryUrrReference>(m));
    return out;
}

template <IeType T>
void UsageReportIe<T>::encode(Writer& w) const {
    // Table 7.5.5-2 / 7.5.7.2-1 / 7.5.8.3-1 order.
    w.begin_grouped(type);
    urr_id.encode(w);
    ur_seqn.encode(w);
    trigger.encode(w);
    put(w, start_time);
    put(w, end_time);
    put(w, volume_measurement);
    put(w, duration_measurement);
    if (T != IeType::usage_report_session_deletion_response) {
        put(w, query_urr_reference);
    }
    w.end_grouped();
}

template struct UsageReportIe<IeType::usage_report_session_modification_response>;
template struct UsageReportIe<IeType::usage_report_session_deletion_response>;
template struct UsageReportIe<IeType::usage_report_session_report_request>;

// ---- Error Indication Report, Downlink Data Report -----------------------------------------

Result<ErrorIndicationReport, Rejection> ErrorIndicationReport::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    ErrorIndicationReport out;
    BRAID_PFCP_TRY(out.remote_f_teids, decode_list<FTeid>(m));
    if (out.remote_f_teids.empty()) {
        return Unexpected{Rejection{Cause::mandatory_ie_missing, IeType::f_teid}};
    }
    return out;
}

void ErrorIndicationReport::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, remote_f_teids);
    w.end_grouped();
}

Result<DownlinkDataReport, Rejection> DownlinkDataReport::decode(const IeView& ie) {
    IeList m;
    BRAID_PFCP_TRY(m, members_of(ie));
    DownlinkDataReport out;
    BRAID_PFCP_TRY(out.pdr_ids, decode_list<PdrId>(m));
    if (out.pdr_ids.empty()) {
        return Unexpected{Rejection{Cause::mandatory_ie_missing, IeType::pdr_id}};
    }
    return out;
}

void DownlinkDataReport::encode(Writer& w) const {
    w.begin_grouped(type);
    put(w, pdr_ids);
    w.end_grouped();
}

#undef BRAID_PFCP_TRY

}  // namespace braid::pfcp
