#include "dataplane/session.h"

#include <algorithm>
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
        case SpecError::Kind::bad_action:
            return "bad_action";
        case SpecError::Kind::missing_outer:
            return "missing_outer";
        case SpecError::Kind::teid_in_use:
            return "teid_in_use";
        case SpecError::Kind::ue_ip_in_use:
            return "ue_ip_in_use";
        case SpecError::Kind::too_many_rules:
            return "too_many_rules";
    }
    return "?";
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

}  // namespace

CompileResult compile(const SessionSpec& spec) {
    if (spec.pdrs.size() > max_rules_per_kind || spec.fars.size() > max_rules_per_kind ||
        spec.qers.size() > max_rules_per_kind || spec.urrs.size() > max_rules_per_kind) {
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
    }
    auto rules = std::make_unique<SessionRules>();
    rules->seid = spec.seid;
    rules->fars = spec.fars;
    rules->qers = spec.qers;
    rules->urrs = spec.urrs;
    for (const Pdr& p : spec.pdrs) {
        const std::string rule = "pdr " + std::to_string(p.id);
        if (!p.local_teid && !p.ue_ipv4) {
            return fail(SpecError::Kind::missing_match, rule,
                        "PDI needs a Local F-TEID or a UE IP address");
        }
        auto far = far_idx.find(p.far_id);
        if (far == far_idx.end()) {
            return fail(SpecError::Kind::dangling_ref, rule,
                        "FAR " + std::to_string(p.far_id) + " does not exist");
        }
        CompiledPdr c{p.id,  p.precedence,          p.source,    p.local_teid, p.ue_ipv4,
                      p.qfi, p.remove_outer_header, far->second, {},           {}};
        for (uint32_t q : p.qer_ids) {
            auto it = qer_idx.find(q);
            if (it == qer_idx.end()) {
                return fail(SpecError::Kind::dangling_ref, rule,
                            "QER " + std::to_string(q) + " does not exist");
            }
            c.qer_indices.push_back(it->second);
        }
        for (uint32_t u : p.urr_ids) {
            auto it = urr_idx.find(u);
            if (it == urr_idx.end()) {
                return fail(SpecError::Kind::dangling_ref, rule,
                            "URR " + std::to_string(u) + " does not exist");
            }
            c.urr_indices.push_back(it->second);
        }
        rules->pdrs.push_back(std::move(c));
    }
    (void)pdr_idx;
    // TS 29.244 §5.2.1: PDRs are matched in precedence order (lower value first).
    std::stable_sort(rules->pdrs.begin(), rules->pdrs.end(), [](const auto& a, const auto& b) {
        return a.precedence != b.precedence ? a.precedence < b.precedence : a.id < b.id;
    });
    return {std::move(rules), std::nullopt};
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

const CompiledPdr* SessionRules::match_uplink(uint32_t teid, std::optional<uint8_t> qfi) const {
    for (const CompiledPdr& p : pdrs) {
        if (p.source == Interface::access && p.local_teid == teid && (!p.qfi || p.qfi == qfi)) {
            return &p;
        }
    }
    return nullptr;
}

const CompiledPdr* SessionRules::match_downlink(uint32_t ue_ipv4) const {
    for (const CompiledPdr& p : pdrs) {
        if (p.source != Interface::access && p.ue_ipv4 == ue_ipv4) {
            return &p;
        }
    }
    return nullptr;
}

}  // namespace braid::dataplane
