#include "control/pfcp/message.h"

namespace braid::pfcp {

std::optional<IeType> missing_mandatory(const IeList& ies, std::span<const IeType> mandatory) {
    for (IeType t : mandatory) {
        if (!ies.find(t)) {
            return t;
        }
    }
    return std::nullopt;
}

std::optional<Rejection> check_singletons(const IeList& ies, std::span<const IeType> singletons) {
    for (IeType t : singletons) {
        if (ies.count(t) > 1) {
            return Rejection{Cause::mandatory_ie_incorrect, t};
        }
    }
    return std::nullopt;
}

}  // namespace braid::pfcp
