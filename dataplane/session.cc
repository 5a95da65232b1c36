#include "dataplane/session.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

namespace braid::dataplane {

std::string_view to_string(SpecError::Kind k) {
    switch (k) {
        case SpecError::Kind::duplicate_id:
            return "duplicate_id";
        case SpecError::Kind::dangling_ref:
            return "dangling_ref";
        case SpecError::Kind::missing_match:
            return "missing_match";
        case SpecError::Kind::bad_filter:
            return "bad_filter";
        case SpecError::Kind::bad_action:
            return "bad_action";
        case SpecError::Kind::missing_outer:
            return "missing_outer";
        case SpecError::Kind::teid_in_use:
            return "teid_in_use";
        case SpecError::Kind::ue_ip_in_use:
            return "ue_ip_in_use";
        case SpecError::Kind::two_ue_addresses:
            return "two_ue_addresses";
        case SpecError::Kind::too_many_rules:
            return "too_many_rules";
        case SpecError::Kind::bad_link_address:
            return "bad_link_address";
        case SpecError::Kind::link_address_in_use:
            return "link_address_in_use";
    }
    return "?";
}

std::string_view to_string(LinkAccess a) {
    return a == LinkAccess::tgpp ? "3gpp" : "non-3gpp";
}

std::string_view to_string(Interface i) {
    switch (i) {
        case Interface::access:
            return "access";
        case Interface::core:
            return "core";
        case Interface::sgi_lan:
            return "sgi-lan";
        case Interface::cp_function:
            return "cp-function";
    }
    return "?";
}

namespace {

CompileResult fail(SpecError::Kind k, std::string rule, std::string message) {
    return {nullptr, SpecError{k, std::move(rule), std::move(message)}};
}

// Index of each rule by id; the first duplicate found is returned in `dup`.
template <typename Rule>
std::map<uint32_t, uint16_t> index_by_id(const std::vector<Rule>& rules,
                                         std::optional<uint32_t>& dup) {
    std::map<uint32_t, uint16_t> idx;
    for (size_t i = 0; i < rules.size(); ++i) {
        if (!idx.emplace(rules[i].id, static_cast<uint16_t>(i)).second && !dup) {
            dup = rules[i].id;
        }
    }
    return idx;
}

// Link-specific addresses (issue 7): IPv4 /32 or IPv6 /64 (the address's /64 is kept), at most
// one per access and family, distinct, and only for a session that may use the MPTCP proxy.
std::optional<SpecError> check_link_addresses(const SessionSpec& spec, SessionRules& rules) {
    auto bad = [](std::string why) {
        return SpecError{SpecError::Kind::bad_link_address, "session", std::move(why)};
    };
    if (spec.link_addresses.empty()) {
        return std::nullopt;
    }
    if (!rules.mptcp) {
        return bad(
            "link-specific addresses need an MPTCP session (mptcp, or a MAR with the "
            "MPTCP steering functionality)");
    }
    if (spec.link_addresses.size() > 2 * link_access_count) {
        return bad("more than one link-specific address per access and family");
    }
    for (const LinkAddress& l : spec.link_addresses) {
        LinkAddress n = l;
        if (l.prefix.family == 4) {
            if (l.prefix.len != 32) {
                return bad("a link-specific IPv4 address is a /32");
            }
        } else if (l.prefix.family == 6) {
            if (l.prefix.len < 64) {
                return bad("a link-specific IPv6 address is a /64 prefix or longer");
            }
            std::fill(n.prefix.addr.begin() + 8, n.prefix.addr.end(), 0);
            n.prefix.len = 64;
        } else {
            return bad("a link-specific address is IPv4 or IPv6");
        }
        for (const LinkAddress& o : rules.link) {
            if (o.prefix.family == n.prefix.family && o.access == n.access) {
                return bad("two link-specific addresses of one family for the " +
                           std::string(to_string(n.access)) + " access");
            }
            if (o.prefix == n.prefix) {
                return bad("one link-specific address for both accesses");
            }
        }
        rules.link.push_back(n);
    }
    return std::nullopt;
}

}  // namespace

rte_meter_srtcm_params meter_params(uint64_t kbps, uint32_t burst_ms) {
    rte_meter_srtcm_params p{};
    p.cir = kbps * 1000 / 8;  // octets per second
    const uint64_t burst = std::max<uint64_t>(p.cir * burst_ms / 1000, 2 * 1514);
    p.cbs = static_cast<uint32_t>(std::min<uint64_t>(burst, UINT32_MAX));
    p.ebs = 0;  // no excess bucket: above the MBR is red
    return p;
}

CompileResult compile(const SessionSpec& spec, const SessionRules* previous, unsigned workers) {
    if (spec.pdrs.size() > max_rules_per_kind || spec.fars.size() > max_rules_per_kind ||
        spec.qers.size() > max_rules_per_kind || spec.urrs.size() > max_rules_per_kind ||
        spec.bars.size() > max_rules_per_kind) {
        return fail(SpecError::Kind::too_many_rules, "session",
                    "more than " + std::to_string(max_rules_per_kind) + " rules of one kind");
    }
    std::optional<uint32_t> dup;
    auto pdr_idx = index_by_id(spec.pdrs, dup);
    if (dup) {
        return fail(SpecError::Kind::duplicate_id, "pdr " + std::to_string(*dup),
                    "PDR ID used twice");
    }
    auto far_idx = index_by_id(spec.fars, dup);
    if (dup) {
        return fail(SpecError::Kind::duplicate_id, "far " + std::to_string(*dup),
                    "FAR ID used twice");
    }
    auto qer_idx = index_by_id(spec.qers, dup);
    if (dup) {
        return fail(SpecError::Kind::duplicate_id, "qer " + std::to_string(*dup),
                    "QER ID used twice");
    }
    auto urr_idx = index_by_id(spec.urrs, dup);
    if (dup) {
        return fail(SpecError::Kind::duplicate_id, "urr " + std::to_string(*dup),
                    "URR ID used twice");
    }
    auto bar_idx = index_by_id(spec.bars, dup);
    if (dup) {
        return fail(SpecError::Kind::duplicate_id, "bar " + std::to_string(*dup),
                    "BAR ID used twice");
    }
    for (const Far& f : spec.fars) {
        const std::string rule = "far " + std::to_string(f.id);
        int exclusive = int(f.action.drop) + int(f.action.forward) + int(f.action.buffer);
        // TS 29.244 §8.2.26: exactly one of DROP/FORW/BUFF; NOCP only with BUFF.
        if (exclusive != 1 || (f.action.notify_cp && !f.action.buffer)) {
            return fail(SpecError::Kind::bad_action, rule,
                        "apply action needs exactly one of drop, forward, buffer (notify-cp only "
                        "with buffer)");
        }
        if (f.action.forward && f.destination == Interface::access && !f.outer_header) {
            return fail(SpecError::Kind::missing_outer, rule,
                        "forwarding to access needs outer header creation (GTP-U TEID and peer)");
        }
        if (f.bar_id && bar_idx.count(*f.bar_id) == 0) {
            return fail(SpecError::Kind::dangling_ref, rule,
                        "BAR " + std::to_string(*f.bar_id) + " does not exist");
        }
    }
    auto rules = std::make_unique<SessionRules>();
    rules->seid = spec.seid;
    rules->fars = spec.fars;
    rules->bars = spec.bars;
    rules->mptcp = spec.mptcp || std::any_of(spec.mars.begin(), spec.mars.end(),
                                             [](const Mar& m) { return m.is_mptcp(); });
    if (const Mar* mar = mptcp_mar(spec)) {
        rules->scheduler = mar_scheduler(*mar);
        rules->scheduler_mar = mar->id;
    }
    for (const Qer& q : spec.qers) {
        CompiledQer c;
        c.qer = q;
        c.limit_ul = q.mbr_ul_kbps != 0;
        c.limit_dl = q.mbr_dl_kbps != 0;
        if (c.limit_ul) {
            auto prm = meter_params(q.mbr_ul_kbps);
            rte_meter_srtcm_profile_config(&c.ul_profile, &prm);
        }
        if (c.limit_dl) {
            auto prm = meter_params(q.mbr_dl_kbps);
            rte_meter_srtcm_profile_config(&c.dl_profile, &prm);
        }
        if (previous != nullptr) {
            for (const CompiledQer& old : previous->qers) {
                if (old.qer.id == q.id) {
                    c.meters = old.meters;
                }
            }
        }
        if (!c.meters) {
            c.meters = QerMeters(std::max(workers, 1u));
        }
        rules->qers.push_back(std::move(c));
    }
    for (const Urr& u : spec.urrs) {
        CompiledUrr c{u, {}};
        if (previous != nullptr) {
            for (const CompiledUrr& old : previous->urrs) {
                if (old.urr.id == u.id) {
                    c.usage = old.usage;
                }
            }
        }
        if (!c.usage) {
            c.usage = UrrUsage(std::max(workers, 1u));
        }
        rules->urrs.push_back(std::move(c));
    }
    if (auto err = check_link_addresses(spec, *rules)) {
        return {nullptr, std::move(err)};
    }
    for (const Pdr& p : spec.pdrs) {
        const std::string rule = "pdr " + std::to_string(p.id);
        if (!p.local_teid && !p.ue_ipv4 && !p.ue_ipv6) {
            return fail(SpecError::Kind::missing_match, rule,
                        "PDI needs a Local F-TEID or a UE IP address");
        }
        if (p.ue_ipv6 && (p.ue_ipv6->family != 6 || p.ue_ipv6->len < 64)) {
            return fail(SpecError::Kind::missing_match, rule,
                        "the UE IPv6 address must be a prefix of /64 or longer");
        }
        auto far = far_idx.find(p.far_id);
        if (far == far_idx.end()) {
            return fail(SpecError::Kind::dangling_ref, rule,
                        "FAR " + std::to_string(p.far_id) + " does not exist");
        }
        CompiledPdr c{p.id,        p.precedence, p.source, p.local_teid,
                      p.ue_ipv4,   p.ue_ipv6,    p.qfi,    p.remove_outer_header,
                      far->second, {},           {},       p.sdf_filters.size()};
        for (uint32_t q : p.qer_ids) {
            auto it = qer_idx.find(q);
            if (it == qer_idx.end()) {
                return fail(SpecError::Kind::dangling_ref, rule,
                            "QER " + std::to_string(q) + " does not exist");
            }
            c.qer_indices.push_back(it->second);
            const CompiledQer& qer = rules->qers[it->second];
            c.metered = c.metered || (p.source == Interface::access ? qer.limit_ul : qer.limit_dl);
        }
        c.link_far_index.fill(far->second);
        c.access = p.access;
        if (p.mar_id) {
            // The MAR's FAR of each access (resolve_mars / the static loader checked that
            // they exist; one that does not leaves the PDR's own FAR).
            for (const Mar& mar : spec.mars) {
                if (mar.id != *p.mar_id) {
                    continue;
                }
                for (auto [access, a] : {std::pair{LinkAccess::tgpp, &mar.tgpp},
                                         std::pair{LinkAccess::non_tgpp, &mar.non_tgpp}}) {
                    if (!*a) {
                        continue;
                    }
                    if (auto f = far_idx.find((*a)->far_id); f != far_idx.end()) {
                        c.link_far_index[static_cast<size_t>(access)] = f->second;
                    }
                }
            }
        }
        for (uint32_t u : p.urr_ids) {
            auto it = urr_idx.find(u);
            if (it == urr_idx.end()) {
                return fail(SpecError::Kind::dangling_ref, rule,
                            "URR " + std::to_string(u) + " does not exist");
            }
            c.urr_indices.push_back(it->second);
        }
        // The session's UE addresses: what "assigned" means in its SDF filters.
        // braid keeps one UE address per family per session (TS 23.501 §5.8.2.2).
        if (p.ue_ipv4) {
            sdf::Prefix v4{4, {}, 32};
            const uint32_t be = htonl(*p.ue_ipv4);
            std::memcpy(v4.addr.data(), &be, 4);
            if (rules->ue.v4.family != 0 && !(rules->ue.v4 == v4)) {
                return fail(SpecError::Kind::two_ue_addresses, rule,
                            "a session has one UE IPv4 address");
            }
            rules->ue.v4 = v4;
        }
        if (p.ue_ipv6) {
            if (rules->ue.v6.family != 0 && !(rules->ue.v6 == *p.ue_ipv6)) {
                return fail(SpecError::Kind::two_ue_addresses, rule,
                            "a session has one UE IPv6 prefix");
            }
            rules->ue.v6 = *p.ue_ipv6;
        }
        rules->pdrs.push_back(std::move(c));
    }
    (void)pdr_idx;
    // TS 29.244 §5.2.1: PDRs are matched in precedence order (lower value first).
    std::stable_sort(rules->pdrs.begin(), rules->pdrs.end(), [](const auto& a, const auto& b) {
        return a.precedence != b.precedence ? a.precedence < b.precedence : a.id < b.id;
    });
    // One classifier per direction over the sorted PDRs (pdr_index = position in `pdrs`).
    // Downlink PDRs go to the classifier of the family of their UE address (both if none).
    std::vector<sdf::RuleInput> ul, dl4, dl6;
    for (size_t i = 0; i < rules->pdrs.size(); ++i) {
        const CompiledPdr& c = rules->pdrs[i];
        const Pdr& p = spec.pdrs[pdr_idx.at(c.id)];
        sdf::RuleInput in{static_cast<uint16_t>(i), c.precedence, c.local_teid, c.qfi,
                          p.sdf_filters};
        if (c.source == Interface::access) {
            ul.push_back(std::move(in));
            continue;
        }
        in.teid.reset();  // a downlink packet has no TEID
        const bool neither = !c.ue_ipv4 && !c.ue_ipv6;
        if (c.ue_ipv4 || neither) {
            dl4.push_back(in);
        }
        if (c.ue_ipv6 || neither) {
            dl6.push_back(std::move(in));
        }
    }
    std::string err;
    rules->uplink = sdf::Classifier::build(std::move(ul), rules->ue, &err);
    if (!rules->uplink) {
        return fail(SpecError::Kind::bad_filter, "session", "uplink SDF filters: " + err);
    }
    rules->downlink4 = sdf::Classifier::build(std::move(dl4), rules->ue, &err);
    if (!rules->downlink4) {
        return fail(SpecError::Kind::bad_filter, "session", "downlink SDF filters: " + err);
    }
    rules->downlink6 = sdf::Classifier::build(std::move(dl6), rules->ue, &err);
    if (!rules->downlink6) {
        return fail(SpecError::Kind::bad_filter, "session", "downlink SDF filters: " + err);
    }
    // Link-specific addresses may not be the session's UE address (known only now).
    for (const LinkAddress& l : rules->link) {
        const sdf::Prefix& ue = l.prefix.family == 4 ? rules->ue.v4 : rules->ue.v6;
        if (ue.family != 0 &&
            std::memcmp(ue.addr.data(), l.prefix.addr.data(), l.prefix.family == 4 ? 4 : 8) == 0) {
            return fail(SpecError::Kind::bad_link_address, "session",
                        "a link-specific address is the session's UE address");
        }
    }
    return {std::move(rules), std::nullopt};
}

std::optional<LinkAccess> SessionRules::link_access(uint8_t family, const uint8_t* addr) const {
    for (const LinkAddress& l : link) {
        if (l.prefix.family == family &&
            std::memcmp(l.prefix.addr.data(), addr, family == 4 ? 4 : 8) == 0) {
            return l.access;
        }
    }
    return std::nullopt;
}

sdf::PacketKey SessionRules::as_ue(const sdf::PacketKey& key) const {
    sdf::PacketKey k = key;
    const sdf::Prefix& ue_addr = key.family == 4 ? ue.v4 : ue.v6;
    if (ue_addr.family == key.family) {
        if (key.family == 4) {
            std::memcpy(k.ue.data(), ue_addr.addr.data(), 4);
        } else {
            // The UE's /64 and the subflow's interface identifier: an address of the UE.
            std::memcpy(k.ue.data(), ue_addr.addr.data(), 8);
        }
    }
    return k;
}

const MarAccess* Mar::primary() const {
    if (!tgpp || !non_tgpp) {
        return tgpp ? &*tgpp : non_tgpp ? &*non_tgpp : nullptr;
    }
    auto has = [](const MarAccess& a, uint8_t v) { return a.priority && *a.priority == v; };
    switch (steering_mode) {
        case 0:  // Active-Standby
            return has(*non_tgpp, 0) ? &*non_tgpp : &*tgpp;
        case 2:  // Load Balancing: ties go to 3GPP
            return non_tgpp->weight.value_or(0) > tgpp->weight.value_or(0) ? &*non_tgpp : &*tgpp;
        case 3:  // Priority-based
            return has(*non_tgpp, 3) ? &*non_tgpp : &*tgpp;
        default:
            return &*tgpp;
    }
}

const Mar* mptcp_mar(const SessionSpec& spec) {
    const Pdr* best = nullptr;
    const Mar* best_mar = nullptr;
    auto find_mar = [&spec](uint16_t id) -> const Mar* {
        for (const Mar& m : spec.mars) {
            if (m.id == id && m.is_mptcp()) {
                return &m;
            }
        }
        return nullptr;
    };
    for (const Pdr& p : spec.pdrs) {
        if (p.source == Interface::access || !p.mar_id) {
            continue;
        }
        const Mar* m = find_mar(*p.mar_id);
        if (m == nullptr) {
            continue;
        }
        if (best == nullptr || p.precedence < best->precedence ||
            (p.precedence == best->precedence && p.id < best->id)) {
            best = &p;
            best_mar = m;
        }
    }
    if (best_mar != nullptr) {
        return best_mar;
    }
    for (const Mar& m : spec.mars) {
        if (m.is_mptcp() && (best_mar == nullptr || m.id < best_mar->id)) {
            best_mar = &m;
        }
    }
    return best_mar;
}

namespace {

// The priority an access without a Priority IE gets: the complement of the other access's.
std::optional<mptcp::AccessPriority> complement(std::optional<uint8_t> other) {
    using P = mptcp::AccessPriority;
    if (!other) {
        return std::nullopt;
    }
    switch (*other) {
        case 0:
            return P::standby;
        case 1:
        case 2:
            return P::active;
        case 3:
            return P::low;
        case 4:
            return P::high;
        case 5:
            return P::secondary;
        case 6:
            return P::primary;
        default:
            return std::nullopt;
    }
}

}  // namespace

mptcp::SchedulerConfig mar_scheduler(const Mar& mar) {
    using mptcp::AccessPriority;
    using mptcp::SchedulerMode;
    mptcp::SchedulerConfig c;
    c.mode = mar.steering_mode < static_cast<uint8_t>(SchedulerMode::count)
                 ? static_cast<SchedulerMode>(mar.steering_mode)
                 : SchedulerMode::smallest_delay;
    // Defaults per mode: 3GPP first (Active, High, Primary), non-3GPP second.
    AccessPriority first = AccessPriority::active;
    AccessPriority second = AccessPriority::standby;
    if (c.mode == SchedulerMode::priority_based) {
        first = AccessPriority::high;
        second = AccessPriority::low;
    } else if (c.mode == SchedulerMode::redundant) {
        first = AccessPriority::primary;
        second = AccessPriority::secondary;
    }
    const bool any_weight =
        (mar.tgpp && mar.tgpp->weight) || (mar.non_tgpp && mar.non_tgpp->weight);
    auto policy = [&](const std::optional<MarAccess>& a, const std::optional<MarAccess>& other,
                      AccessPriority dflt) {
        mptcp::AccessPolicy p;
        p.present = a.has_value();
        p.priority = dflt;
        if (!a) {
            return p;
        }
        p.weight = any_weight ? std::min<uint8_t>(a->weight.value_or(0), 100) : 50;
        if (a->priority && *a->priority <= static_cast<uint8_t>(AccessPriority::secondary)) {
            p.priority = static_cast<AccessPriority>(*a->priority);
        } else if (auto comp = complement(other ? other->priority : std::nullopt)) {
            p.priority = *comp;
        }
        return p;
    };
    c.access[static_cast<size_t>(mptcp::Access::tgpp)] = policy(mar.tgpp, mar.non_tgpp, first);
    c.access[static_cast<size_t>(mptcp::Access::non_tgpp)] = policy(mar.non_tgpp, mar.tgpp, second);
    if (mar.rtt_threshold_ms) {
        c.rtt_threshold_ms = *mar.rtt_threshold_ms;
    }
    c.plr_threshold_percent = mar.plr_threshold;
    return c;
}

SessionSpec simple_session(uint64_t seid, uint32_t teid, uint32_t ue, uint32_t gnb,
                           uint32_t gnb_teid) {
    SessionSpec s;
    s.seid = seid;
    Pdr ul;
    ul.id = 1;
    ul.precedence = 200;
    ul.source = Interface::access;
    ul.local_teid = teid;
    ul.remove_outer_header = true;
    ul.far_id = 1;
    Pdr dl;
    dl.id = 2;
    dl.precedence = 200;
    dl.source = Interface::core;
    dl.ue_ipv4 = ue;
    dl.far_id = 2;
    Far to_core;
    to_core.id = 1;
    to_core.action.forward = true;
    to_core.destination = Interface::core;
    Far to_access;
    to_access.id = 2;
    to_access.action.forward = true;
    to_access.destination = Interface::access;
    to_access.outer_header = OuterHeaderCreation{gnb_teid, gnb};
    s.pdrs = {ul, dl};
    s.fars = {to_core, to_access};
    return s;
}

const CompiledPdr* SessionRules::match_uplink(uint32_t teid, std::optional<uint8_t> qfi,
                                              const sdf::PacketKey* key) const {
    if (key == nullptr) {
        // No inner IP header: only PDRs without SDF filters can match.
        for (const CompiledPdr& p : pdrs) {
            if (p.source == Interface::access && p.local_teid == teid && (!p.qfi || p.qfi == qfi) &&
                p.sdf_filters == 0) {
                return &p;
            }
        }
        return nullptr;
    }
    const int i = uplink->match(*key, teid, qfi);
    return i < 0 ? nullptr : &pdrs[static_cast<size_t>(i)];
}

const CompiledPdr* SessionRules::match_downlink(const sdf::PacketKey& key) const {
    const sdf::Classifier& c = key.family == 6 ? *downlink6 : *downlink4;
    const int i = c.match(key, 0, std::nullopt);
    return i < 0 ? nullptr : &pdrs[static_cast<size_t>(i)];
}

}  // namespace braid::dataplane
