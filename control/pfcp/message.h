// Message-level IE checks (TS 29.244 §7.6; spec/n4-gtpu-mams.md §1.4). IE order is never
// assumed: every helper scans the whole list.
//
//   auto ies = IeList::parse(msg.body);            // framing
//   if (!ies) -> reject with cause_for(ies.error()) + Offending IE
//   if (auto t = missing_mandatory(*ies, kMandatory)) -> Cause 66, Offending IE *t
//   if (auto r = check_singletons(*ies, kSingletons)) -> r->cause, Offending IE r->offending_ie
#pragma once

#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

#include "control/pfcp/header.h"
#include "control/pfcp/ie.h"
#include "control/pfcp/types.h"

namespace braid::pfcp {

// What a rejection carries besides the header (§7.2.3.2): the Cause and the Offending IE.
struct Rejection {
    Cause cause = Cause::request_rejected;
    IeType offending_ie{};
    bool operator==(const Rejection&) const = default;
};

inline Rejection rejection_for(const IeError& e) {
    return {cause_for(e), e.type};
}

inline std::vector<IeView> find_all(const IeList& ies, IeType t) {
    return ies.find_all(t);
}
inline std::optional<IeView> find_first(const IeList& ies, IeType t) {
    return ies.find(t);
}

// The first type of `mandatory` (in the order given) that is absent from `ies`.
std::optional<IeType> missing_mandatory(const IeList& ies, std::span<const IeType> mandatory);
inline std::optional<IeType> missing_mandatory(const IeList& ies,
                                               std::initializer_list<IeType> mandatory) {
    return missing_mandatory(ies, std::span(mandatory.begin(), mandatory.size()));
}

// The first IE of `singletons` that occurs more than once: {69 Mandatory IE incorrect, type}.
// Note §7.6 lets a receiver use the first instance of a repeated non-list IE instead of
// rejecting; the procedure chooses which list to pass (strict for IEs whose repetition would
// be ambiguous, e.g. Node ID, CP F-SEID).
std::optional<Rejection> check_singletons(const IeList& ies, std::span<const IeType> singletons);
inline std::optional<Rejection> check_singletons(const IeList& ies,
                                                 std::initializer_list<IeType> singletons) {
    return check_singletons(ies, std::span(singletons.begin(), singletons.size()));
}

}  // namespace braid::pfcp
