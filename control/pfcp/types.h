// PFCP (TS 29.244) vocabulary: SEID, sequence number, message types, IE types, causes.
//
// The enums below are tables (X-macros): one line per code point with the spec's name, so the
// enum, to_string() and the tests come from the same rows. Numbers: spec/n4-gtpu-mams.md §1.3
// (messages), §1.5 (causes), §1.8 (IE types; a few more from §1.6/§1.7/§1.10/§1.12).
// Every enum is a scoped enum over the wire width, so any received value can be held; is_known()
// tells a listed code point from a future one.
#pragma once

#include <compare>
#include <cstdint>
#include <string_view>

namespace braid::pfcp {

// Session Endpoint Identifier (§7.2.2.4.2). The header carries the receiver's SEID.
class Seid {
public:
    constexpr Seid() = default;
    constexpr explicit Seid(uint64_t v) : v_(v) {}
    constexpr uint64_t value() const { return v_; }
    constexpr auto operator<=>(const Seid&) const = default;

private:
    uint64_t v_ = 0;
};

// GTP-U Tunnel Endpoint Identifier as carried in F-TEID / Outer Header Creation.
class Teid {
public:
    constexpr Teid() = default;
    constexpr explicit Teid(uint32_t v) : v_(v) {}
    constexpr uint32_t value() const { return v_; }
    constexpr auto operator<=>(const Teid&) const = default;

private:
    uint32_t v_ = 0;
};

// 24-bit message sequence number (§6.4, §7.2.2.2). The constructor keeps the low 24 bits;
// next() wraps 0xffffff -> 0. Matching is by equality only (requests are matched on seq + peer),
// so no ordering is defined.
class SequenceNumber {
public:
    static constexpr uint32_t max_value = 0xffffff;

    constexpr SequenceNumber() = default;
    constexpr explicit SequenceNumber(uint32_t v) : v_(v & max_value) {}
    constexpr uint32_t value() const { return v_; }
    constexpr SequenceNumber next() const { return SequenceNumber((v_ + 1) & max_value); }
    constexpr SequenceNumber& operator++() {
        v_ = (v_ + 1) & max_value;
        return *this;
    }
    constexpr bool operator==(const SequenceNumber&) const = default;

private:
    uint32_t v_ = 0;
};

// Table 7.3-1. X(name, value, "spec name", is_request, is_session)
#define BRAID_PFCP_MESSAGE_TYPES(X)                                                             \
    X(heartbeat_request, 1, "Heartbeat Request", true, false)                                   \
    X(heartbeat_response, 2, "Heartbeat Response", false, false)                                \
    X(pfd_management_request, 3, "PFD Management Request", true, false)                         \
    X(pfd_management_response, 4, "PFD Management Response", false, false)                      \
    X(association_setup_request, 5, "Association Setup Request", true, false)                   \
    X(association_setup_response, 6, "Association Setup Response", false, false)                \
    X(association_update_request, 7, "Association Update Request", true, false)                 \
    X(association_update_response, 8, "Association Update Response", false, false)              \
    X(association_release_request, 9, "Association Release Request", true, false)               \
    X(association_release_response, 10, "Association Release Response", false, false)           \
    X(version_not_supported_response, 11, "Version Not Supported Response", false, false)       \
    X(node_report_request, 12, "Node Report Request", true, false)                              \
    X(node_report_response, 13, "Node Report Response", false, false)                           \
    X(session_set_deletion_request, 14, "Session Set Deletion Request", true, false)            \
    X(session_set_deletion_response, 15, "Session Set Deletion Response", false, false)         \
    X(session_set_modification_request, 16, "Session Set Modification Request", true, false)    \
    X(session_set_modification_response, 17, "Session Set Modification Response", false, false) \
    X(session_establishment_request, 50, "Session Establishment Request", true, true)           \
    X(session_establishment_response, 51, "Session Establishment Response", false, true)        \
    X(session_modification_request, 52, "Session Modification Request", true, true)             \
    X(session_modification_response, 53, "Session Modification Response", false, true)          \
    X(session_deletion_request, 54, "Session Deletion Request", true, true)                     \
    X(session_deletion_response, 55, "Session Deletion Response", false, true)                  \
    X(session_report_request, 56, "Session Report Request", true, true)                         \
    X(session_report_response, 57, "Session Report Response", false, true)

enum class MessageType : uint8_t {
#define BRAID_X(name, value, text, req, sess) name = value,
    BRAID_PFCP_MESSAGE_TYPES(BRAID_X)
#undef BRAID_X
};

std::string_view to_string(MessageType t);  // "Unknown" for unlisted values
bool is_known(MessageType t);
bool is_request(MessageType t);          // false for unknown types
bool is_session_message(MessageType t);  // S=1 (types 50-57); false for unknown types
bool is_node_message(MessageType t);     // S=0 (types 1-17); false for unknown types

// Table 8.2.1-1. X(name, value, "spec name")
#define BRAID_PFCP_CAUSES(X)                                                        \
    X(reserved, 0, "Reserved")                                                      \
    X(request_accepted, 1, "Request accepted")                                      \
    X(more_usage_report_to_send, 2, "More Usage Report to send")                    \
    X(request_partially_accepted, 3, "Request partially accepted")                  \
    X(request_rejected, 64, "Request rejected")                                     \
    X(session_context_not_found, 65, "Session context not found")                   \
    X(mandatory_ie_missing, 66, "Mandatory IE missing")                             \
    X(conditional_ie_missing, 67, "Conditional IE missing")                         \
    X(invalid_length, 68, "Invalid length")                                         \
    X(mandatory_ie_incorrect, 69, "Mandatory IE incorrect")                         \
    X(invalid_forwarding_policy, 70, "Invalid Forwarding Policy")                   \
    X(invalid_f_teid_allocation_option, 71, "Invalid F-TEID allocation option")     \
    X(no_established_pfcp_association, 72, "No established PFCP Association")       \
    X(rule_creation_modification_failure, 73, "Rule creation/modification Failure") \
    X(pfcp_entity_in_congestion, 74, "PFCP entity in congestion")                   \
    X(no_resources_available, 75, "No resources available")                         \
    X(service_not_supported, 76, "Service not supported")                           \
    X(system_failure, 77, "System failure")                                         \
    X(redirection_requested, 78, "Redirection Requested")                           \
    X(all_dynamic_addresses_are_occupied, 79, "All dynamic addresses are occupied") \
    X(unknown_pre_defined_rule, 80, "Unknown Pre-defined Rule")                     \
    X(unknown_application_id, 81, "Unknown Application ID")                         \
    X(l2tp_tunnel_establishment_failure, 82, "L2TP tunnel Establishment failure")   \
    X(l2tp_session_establishment_failure, 83, "L2TP session Establishment failure") \
    X(l2tp_tunnel_release, 84, "L2TP tunnel release")                               \
    X(l2tp_session_release, 85, "L2TP session release")                             \
    X(pfcp_session_restoration_failure, 86,                                         \
      "PFCP session restoration failure due to requested resource not available")   \
    X(l2tp_tunnel_establishment_failure_tunnel_auth_failure, 87,                    \
      "L2TP tunnel Establishment failure - Tunnel Auth failure")                    \
    X(l2tp_session_establishment_failure_session_auth_failure, 88,                  \
      "L2TP Session Establishment failure - Session Auth failure")                  \
    X(l2tp_tunnel_establishment_failure_lns_not_reachable, 89,                      \
      "L2TP tunnel Establishment failure - LNS not reachable")                      \
    X(pfd_contents_syntax_error, 90, "PFD Contents Syntax Error")                   \
    X(pfd_contents_semantics_error, 91, "PFD Contents Semantics Error")             \
    X(pfd_application_id_unknown, 92, "PFD Application Id Unknown")

enum class Cause : uint8_t {
#define BRAID_X(name, value, text) name = value,
    BRAID_PFCP_CAUSES(BRAID_X)
#undef BRAID_X
};

std::string_view to_string(Cause c);  // spare values: "Spare acceptance" / "Spare rejection"
bool is_known(Cause c);
// 1-63 are acceptance (4-63 spare: treat as 1); 64-255 rejection (93-255 spare: treat as 64);
// 0 is reserved and invalid on the wire.
constexpr bool is_acceptance(Cause c) {
    const auto v = static_cast<uint8_t>(c);
    return v >= 1 && v <= 63;
}

// Table 8.1.2-1, the part a UPF meets. X(name, value, "spec name", grouped)
#define BRAID_PFCP_IE_TYPES(X)                                                                     \
    X(create_pdr, 1, "Create PDR", true)                                                           \
    X(pdi, 2, "PDI", true)                                                                         \
    X(create_far, 3, "Create FAR", true)                                                           \
    X(forwarding_parameters, 4, "Forwarding Parameters", true)                                     \
    X(duplicating_parameters, 5, "Duplicating Parameters", true)                                   \
    X(create_urr, 6, "Create URR", true)                                                           \
    X(create_qer, 7, "Create QER", true)                                                           \
    X(created_pdr, 8, "Created PDR", true)                                                         \
    X(update_pdr, 9, "Update PDR", true)                                                           \
    X(update_far, 10, "Update FAR", true)                                                          \
    X(update_forwarding_parameters, 11, "Update Forwarding Parameters", true)                      \
    X(update_bar_session_report_response, 12, "Update BAR (Session Report Response)", true)        \
    X(update_urr, 13, "Update URR", true)                                                          \
    X(update_qer, 14, "Update QER", true)                                                          \
    X(remove_pdr, 15, "Remove PDR", true)                                                          \
    X(remove_far, 16, "Remove FAR", true)                                                          \
    X(remove_urr, 17, "Remove URR", true)                                                          \
    X(remove_qer, 18, "Remove QER", true)                                                          \
    X(cause, 19, "Cause", false)                                                                   \
    X(source_interface, 20, "Source Interface", false)                                             \
    X(f_teid, 21, "F-TEID", false)                                                                 \
    X(network_instance, 22, "Network Instance", false)                                             \
    X(sdf_filter, 23, "SDF Filter", false)                                                         \
    X(application_id, 24, "Application ID", false)                                                 \
    X(gate_status, 25, "Gate Status", false)                                                       \
    X(mbr, 26, "MBR", false)                                                                       \
    X(gbr, 27, "GBR", false)                                                                       \
    X(qer_correlation_id, 28, "QER Correlation ID", false)                                         \
    X(precedence, 29, "Precedence", false)                                                         \
    X(transport_level_marking, 30, "Transport Level Marking", false)                               \
    X(volume_threshold, 31, "Volume Threshold", false)                                             \
    X(time_threshold, 32, "Time Threshold", false)                                                 \
    X(monitoring_time, 33, "Monitoring Time", false)                                               \
    X(subsequent_volume_threshold, 34, "Subsequent Volume Threshold", false)                       \
    X(subsequent_time_threshold, 35, "Subsequent Time Threshold", false)                           \
    X(inactivity_detection_time, 36, "Inactivity Detection Time", false)                           \
    X(reporting_triggers, 37, "Reporting Triggers", false)                                         \
    X(redirect_information, 38, "Redirect Information", false)                                     \
    X(report_type, 39, "Report Type", false)                                                       \
    X(offending_ie, 40, "Offending IE", false)                                                     \
    X(forwarding_policy, 41, "Forwarding Policy", false)                                           \
    X(destination_interface, 42, "Destination Interface", false)                                   \
    X(up_function_features, 43, "UP Function Features", false)                                     \
    X(apply_action, 44, "Apply Action", false)                                                     \
    X(pfcpsmreq_flags, 49, "PFCPSMReq-Flags", false)                                               \
    X(pfcpsrrsp_flags, 50, "PFCPSRRsp-Flags", false)                                               \
    X(load_control_information, 51, "Load Control Information", true)                              \
    X(overload_control_information, 54, "Overload Control Information", true)                      \
    X(timer, 55, "Timer", false)                                                                   \
    X(pdr_id, 56, "PDR ID", false)                                                                 \
    X(f_seid, 57, "F-SEID", false)                                                                 \
    X(application_ids_pfds, 58, "Application ID's PFDs", true)                                     \
    X(pfd_context, 59, "PFD context", true)                                                        \
    X(node_id, 60, "Node ID", false)                                                               \
    X(measurement_method, 62, "Measurement Method", false)                                         \
    X(usage_report_trigger, 63, "Usage Report Trigger", false)                                     \
    X(measurement_period, 64, "Measurement Period", false)                                         \
    X(fq_csid, 65, "FQ-CSID", false)                                                               \
    X(volume_measurement, 66, "Volume Measurement", false)                                         \
    X(duration_measurement, 67, "Duration Measurement", false)                                     \
    X(application_detection_information, 68, "Application Detection Information", true)            \
    X(time_of_first_packet, 69, "Time of First Packet", false)                                     \
    X(time_of_last_packet, 70, "Time of Last Packet", false)                                       \
    X(quota_holding_time, 71, "Quota Holding Time", false)                                         \
    X(volume_quota, 73, "Volume Quota", false)                                                     \
    X(time_quota, 74, "Time Quota", false)                                                         \
    X(start_time, 75, "Start Time", false)                                                         \
    X(end_time, 76, "End Time", false)                                                             \
    X(query_urr, 77, "Query URR", true)                                                            \
    X(usage_report_session_modification_response, 78,                                              \
      "Usage Report (Session Modification Response)", true)                                        \
    X(usage_report_session_deletion_response, 79, "Usage Report (Session Deletion Response)",      \
      true)                                                                                        \
    X(usage_report_session_report_request, 80, "Usage Report (Session Report Request)", true)      \
    X(urr_id, 81, "URR ID", false)                                                                 \
    X(linked_urr_id, 82, "Linked URR ID", false)                                                   \
    X(downlink_data_report, 83, "Downlink Data Report", true)                                      \
    X(outer_header_creation, 84, "Outer Header Creation", false)                                   \
    X(create_bar, 85, "Create BAR", true)                                                          \
    X(update_bar_session_modification_request, 86, "Update BAR (Session Modification Request)",    \
      true)                                                                                        \
    X(remove_bar, 87, "Remove BAR", true)                                                          \
    X(bar_id, 88, "BAR ID", false)                                                                 \
    X(cp_function_features, 89, "CP Function Features", false)                                     \
    X(usage_information, 90, "Usage Information", false)                                           \
    X(ue_ip_address, 93, "UE IP Address", false)                                                   \
    X(outer_header_removal, 95, "Outer Header Removal", false)                                     \
    X(recovery_time_stamp, 96, "Recovery Time Stamp", false)                                       \
    X(error_indication_report, 99, "Error Indication Report", true)                                \
    X(node_report_type, 101, "Node Report Type", false)                                            \
    X(user_plane_path_failure_report, 102, "User Plane Path Failure Report", true)                 \
    X(remote_gtp_u_peer, 103, "Remote GTP-U Peer", false)                                          \
    X(ur_seqn, 104, "UR-SEQN", false)                                                              \
    X(update_duplicating_parameters, 105, "Update Duplicating Parameters", true)                   \
    X(far_id, 108, "FAR ID", false)                                                                \
    X(qer_id, 109, "QER ID", false)                                                                \
    X(pfcp_association_release_request, 111, "PFCP Association Release Request", false)            \
    X(graceful_release_period, 112, "Graceful Release Period", false)                              \
    X(pdn_type, 113, "PDN Type", false)                                                            \
    X(failed_rule_id, 114, "Failed Rule ID", false)                                                \
    X(user_plane_inactivity_timer, 117, "User Plane Inactivity Timer", false)                      \
    X(rqi, 123, "RQI", false)                                                                      \
    X(qfi, 124, "QFI", false)                                                                      \
    X(query_urr_reference, 125, "Query URR Reference", false)                                      \
    X(additional_usage_reports_information, 126, "Additional Usage Reports Information", false)    \
    X(create_traffic_endpoint, 127, "Create Traffic Endpoint", true)                               \
    X(created_traffic_endpoint, 128, "Created Traffic Endpoint", true)                             \
    X(update_traffic_endpoint, 129, "Update Traffic Endpoint", true)                               \
    X(remove_traffic_endpoint, 130, "Remove Traffic Endpoint", true)                               \
    X(user_id, 141, "User ID", false)                                                              \
    X(trace_information, 152, "Trace Information", false)                                          \
    X(time_stamp, 156, "Time Stamp", false)                                                        \
    X(apn_dnn, 159, "APN/DNN", false)                                                              \
    X(tgpp_interface_type, 160, "3GPP Interface Type", false)                                      \
    X(pfcpsrreq_flags, 161, "PFCPSRReq-Flags", false)                                              \
    X(pfcpaureq_flags, 162, "PFCPAUReq-Flags", false)                                              \
    X(create_mar, 165, "Create MAR", true)                                                         \
    X(tgpp_access_forwarding_action_information, 166, "3GPP Access Forwarding Action Information", \
      true)                                                                                        \
    X(non_tgpp_access_forwarding_action_information, 167,                                          \
      "Non-3GPP Access Forwarding Action Information", true)                                       \
    X(remove_mar, 168, "Remove MAR", true)                                                         \
    X(update_mar, 169, "Update MAR", true)                                                         \
    X(mar_id, 170, "MAR ID", false)                                                                \
    X(steering_functionality, 171, "Steering Functionality", false)                                \
    X(steering_mode, 172, "Steering Mode", false)                                                  \
    X(weight, 173, "Weight", false)                                                                \
    X(priority, 174, "Priority", false)                                                            \
    X(update_tgpp_access_forwarding_action_information, 175,                                       \
      "Update 3GPP Access Forwarding Action Information", true)                                    \
    X(update_non_tgpp_access_forwarding_action_information, 176,                                   \
      "Update Non-3GPP Access Forwarding Action Information", true)                                \
    X(alternative_smf_ip_address, 178, "Alternative SMF IP Address", false)                        \
    X(smf_set_id, 180, "SMF Set ID", false)                                                        \
    X(pfcp_session_retention_information, 183, "PFCP Session Retention Information", true)         \
    X(pfcpasrsp_flags, 184, "PFCPASRsp-Flags", false)                                              \
    X(pfcpsereq_flags, 186, "PFCPSEReq-Flags", false)                                              \
    X(user_plane_path_recovery_report, 187, "User Plane Path Recovery Report", true)               \
    X(source_ip_address, 192, "Source IP Address", false)                                          \
    X(create_bridge_router_info, 194, "Create Bridge/Router Info", true)                           \
    X(tsc_management_information_session_report_request, 201,                                      \
      "TSC Management Information (Session Report Request)", true)                                 \
    X(clock_drift_control_information, 203, "Clock Drift Control Information", true)               \
    X(clock_drift_report, 205, "Clock Drift Report", true)                                         \
    X(remove_srr, 211, "Remove SRR", true)                                                         \
    X(create_srr, 212, "Create SRR", true)                                                         \
    X(update_srr, 213, "Update SRR", true)                                                         \
    X(session_report, 214, "Session Report", true)                                                 \
    X(srr_id, 215, "SRR ID", false)                                                                \
    X(access_availability_control_information, 216, "Access Availability Control Information",     \
      true)                                                                                        \
    X(requested_access_availability_information, 217, "Requested Access Availability Information", \
      false)                                                                                       \
    X(access_availability_report, 218, "Access Availability Report", true)                         \
    X(access_availability_information, 219, "Access Availability Information", false)              \
    X(provide_atsss_control_information, 220, "Provide ATSSS Control Information", true)           \
    X(atsss_control_parameters, 221, "ATSSS Control Parameters", true)                             \
    X(mptcp_control_information, 222, "MPTCP Control Information", false)                          \
    X(atsss_ll_control_information, 223, "ATSSS-LL Control Information", false)                    \
    X(pmf_control_information, 224, "PMF Control Information", false)                              \
    X(mptcp_parameters, 225, "MPTCP Parameters", true)                                             \
    X(atsss_ll_parameters, 226, "ATSSS-LL Parameters", true)                                       \
    X(pmf_parameters, 227, "PMF Parameters", true)                                                 \
    X(mptcp_address_information, 228, "MPTCP Address Information", false)                          \
    X(link_specific_multipath_ip_address, 229, "Link-Specific Multipath IP Address", false)        \
    X(pmf_address_information, 230, "PMF Address Information", false)                              \
    X(atsss_ll_information, 231, "ATSSS-LL Information", false)                                    \
    X(ue_ip_address_pool_information, 233, "UE IP address Pool Information", true)                 \
    X(gtp_u_path_qos_control_information, 238, "GTP-U Path QoS Control Information", true)         \
    X(gtp_u_path_qos_report, 239, "GTP-U Path QoS Report", true)                                   \
    X(qos_monitoring_per_qos_flow_control_information, 242,                                        \
      "QoS Monitoring per QoS flow Control Information", true)                                     \
    X(qos_monitoring_report, 247, "QoS Monitoring Report", true)                                   \
    X(packet_rate_status_report, 252, "Packet Rate Status Report", true)                           \
    X(nf_instance_id, 253, "NF Instance ID", false)                                                \
    X(updated_pdr, 256, "Updated PDR", true)                                                       \
    X(s_nssai, 257, "S-NSSAI", false)                                                              \
    X(pfcpasreq_flags, 259, "PFCPASReq-Flags", false)                                              \
    X(query_packet_rate_status, 263, "Query Packet Rate Status", true)                             \
    X(packet_rate_status_report_session_modification_response, 264,                                \
      "Packet Rate Status Report (Session Modification Response)", true)                           \
    X(multipath_applicable_indication, 265, "Multipath Applicable Indication", false)              \
    X(ue_ip_address_usage_information, 267, "UE IP Address Usage Information", true)               \
    X(partial_failure_information, 272, "Partial Failure Information", true)                       \
    X(rat_type, 275, "RAT Type", false)                                                            \
    X(thresholds, 288, "Thresholds", false)                                                        \
    X(steering_mode_indicator, 289, "Steering Mode Indicator", false)                              \
    X(group_id, 291, "Group Id", false)                                                            \
    X(peer_up_restart_report, 315, "Peer UP Restart Report", true)                                 \
    X(pfcpsdrsp_flags, 318, "PFCPSDRsp-Flags", false)                                              \
    X(vendor_specific_node_report_type, 320, "Vendor-Specific Node Report Type", false)            \
    X(mpquic_control_information, 330, "MPQUIC Control Information", false)                        \
    X(mpquic_parameters, 331, "MPQUIC Parameters", true)                                           \
    X(mpquic_address_information, 332, "MPQUIC Address Information", false)                        \
    X(transport_mode, 333, "Transport Mode", false)                                                \
    X(hplmn_s_nssai, 338, "HPLMN S-NSSAI", false)

enum class IeType : uint16_t {
#define BRAID_X(name, value, text, grouped) name = value,
    BRAID_PFCP_IE_TYPES(BRAID_X)
#undef BRAID_X
};

// Types 32768-65535 are vendor-specific: the value starts with a 2-octet Enterprise ID.
constexpr bool is_vendor_specific(uint16_t raw_type) {
    return raw_type >= 0x8000;
}

std::string_view to_string(IeType t);  // "Vendor-specific" / "Unknown" for unlisted values
bool is_known(IeType t);
bool is_grouped(IeType t);  // false for unknown types (their value is opaque)

}  // namespace braid::pfcp
