#include "control/static_sessions.h"

#include <arpa/inet.h>

#include <cinttypes>
#include <variant>

namespace braid::control {

namespace {

std::vector<dataplane::sdf::Filter> filters(const std::vector<std::string>& texts) {
    std::vector<dataplane::sdf::Filter> out;
    for (const std::string& t : texts) {
        // Validated when the configuration was read.
        auto fd = dataplane::sdf::parse_flow_description(t);
        if (auto* f = std::get_if<dataplane::sdf::FlowDescription>(&fd)) {
            dataplane::sdf::Filter filter;
            filter.flow = *f;
            out.push_back(filter);
        }
    }
    return out;
}

}  // namespace

dataplane::SessionSpec session_spec(const config::StaticSession& s) {
    using namespace dataplane;
    SessionSpec spec;
    spec.seid = s.seid;
    spec.mptcp = s.mptcp;
    for (auto [list, access] : {std::pair{&s.tgpp_link_addresses, LinkAccess::tgpp},
                                std::pair{&s.non_tgpp_link_addresses, LinkAccess::non_tgpp}}) {
        for (const config::IpPrefix& p : *list) {
            spec.link_addresses.push_back({access, sdf::Prefix{p.family, p.addr, p.len}});
        }
    }
    Pdr ul;
    ul.id = 1;
    ul.precedence = 200;
    ul.source = Interface::access;
    ul.local_teid = s.uplink_teid;
    ul.remove_outer_header = true;
    ul.far_id = 1;
    ul.sdf_filters = filters(s.uplink_filters);
    spec.pdrs.push_back(ul);
    Pdr dl;
    dl.precedence = 200;
    dl.source = Interface::core;
    dl.far_id = 2;
    dl.sdf_filters = filters(s.downlink_filters);
    if (s.ue_ipv4) {
        dl.id = 2;
        dl.ue_ipv4 = *s.ue_ipv4;
        spec.pdrs.push_back(dl);
        dl.ue_ipv4.reset();
    }
    if (s.ue_ipv6) {
        dl.id = 3;
        sdf::Prefix p{6, s.ue_ipv6->addr, 64};
        std::fill(p.addr.begin() + 8, p.addr.end(), 0);
        dl.ue_ipv6 = p;
        spec.pdrs.push_back(dl);
    }
    Far to_core;
    to_core.id = 1;
    to_core.action.forward = true;
    to_core.destination = Interface::core;
    Far to_access;
    to_access.id = 2;
    to_access.action.forward = true;
    to_access.destination = Interface::access;
    to_access.outer_header = OuterHeaderCreation{s.gnb_teid, s.gnb_ipv4};
    spec.fars = {to_core, to_access};
    Qer q;
    q.id = 1;
    q.qfi = s.qfi;
    q.mbr_ul_kbps = s.mbr_ul_kbps;
    q.mbr_dl_kbps = s.mbr_dl_kbps;
    spec.qers = {q};
    Urr u;
    u.id = 1;
    u.volume_threshold_bytes = s.volume_threshold_bytes;
    u.time_threshold_s = s.time_threshold_s;
    u.measurement_period_s = s.period_s;
    spec.urrs = {u};
    for (Pdr& p : spec.pdrs) {
        p.qer_ids = {1};
        p.urr_ids = {1};
    }
    return spec;
}

bool install_static_sessions(dataplane::App& app, const config::Config& cfg, std::string* err) {
    for (size_t i = 0; i < cfg.sessions.static_sessions.size(); ++i) {
        const config::StaticSession& s = cfg.sessions.static_sessions[i];
        if (auto e = app.create_session(session_spec(s))) {
            *err = "sessions.static[" + std::to_string(i) + "] (seid " + std::to_string(s.seid) +
                   "): " + std::string(dataplane::to_string(e->kind)) + " (" + e->rule +
                   "): " + e->message;
            return false;
        }
    }
    return true;
}

}  // namespace braid::control
