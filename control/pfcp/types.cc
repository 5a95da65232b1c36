#include "control/pfcp/types.h"

namespace braid::pfcp {

std::string_view to_string(MessageType t) {
    switch (t) {
#define BRAID_X(name, value, text, req, sess) \
    case MessageType::name:                   \
        return text;
        BRAID_PFCP_MESSAGE_TYPES(BRAID_X)
#undef BRAID_X
    }
    return "Unknown";
}

bool is_known(MessageType t) {
    switch (t) {
#define BRAID_X(name, value, text, req, sess) case MessageType::name:
        BRAID_PFCP_MESSAGE_TYPES(BRAID_X)
#undef BRAID_X
        return true;
    }
    return false;
}

bool is_request(MessageType t) {
    switch (t) {
#define BRAID_X(name, value, text, req, sess) \
    case MessageType::name:                   \
        return req;
        BRAID_PFCP_MESSAGE_TYPES(BRAID_X)
#undef BRAID_X
    }
    return false;
}

bool is_session_message(MessageType t) {
    switch (t) {
#define BRAID_X(name, value, text, req, sess) \
    case MessageType::name:                   \
        return sess;
        BRAID_PFCP_MESSAGE_TYPES(BRAID_X)
#undef BRAID_X
    }
    return false;
}

bool is_node_message(MessageType t) {
    return is_known(t) && !is_session_message(t);
}

std::string_view to_string(Cause c) {
    switch (c) {
#define BRAID_X(name, value, text) \
    case Cause::name:              \
        return text;
        BRAID_PFCP_CAUSES(BRAID_X)
#undef BRAID_X
    }
    return is_acceptance(c) ? "Spare acceptance" : "Spare rejection";
}

bool is_known(Cause c) {
    switch (c) {
#define BRAID_X(name, value, text) case Cause::name:
        BRAID_PFCP_CAUSES(BRAID_X)
#undef BRAID_X
        return true;
    }
    return false;
}

std::string_view to_string(IeType t) {
    switch (t) {
#define BRAID_X(name, value, text, grouped) \
    case IeType::name:                      \
        return text;
        BRAID_PFCP_IE_TYPES(BRAID_X)
#undef BRAID_X
    }
    return is_vendor_specific(static_cast<uint16_t>(t)) ? "Vendor-specific" : "Unknown";
}

bool is_known(IeType t) {
    switch (t) {
#define BRAID_X(name, value, text, grouped) case IeType::name:
        BRAID_PFCP_IE_TYPES(BRAID_X)
#undef BRAID_X
        return true;
    }
    return false;
}

bool is_grouped(IeType t) {
    switch (t) {
#define BRAID_X(name, value, text, grouped) \
    case IeType::name:                      \
        return grouped;
        BRAID_PFCP_IE_TYPES(BRAID_X)
#undef BRAID_X
    }
    return false;
}

}  // namespace braid::pfcp
