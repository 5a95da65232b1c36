// The seam between the PFCP server (node procedures, transport, reliability: server.h) and the
// session procedures (TS 29.244 §6.3, §7.5: session_procedures.h). The server owns the socket,
// associations, sequence numbers, retransmission and the duplicate-response cache; the handler
// owns sessions and talks to the dataplane's session action functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/pfcp/header.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/types.h"

namespace braid::pfcp {

// Who sent a message: the peer's UDP endpoint and, once associated, its Node ID.
struct PeerRef {
    std::string address;  // numeric IPv4/IPv6 of the UDP source
    uint16_t port = 0;
    std::optional<NodeId> node_id;  // set iff the peer has an association with braid
};

class SessionHandler {
public:
    virtual ~SessionHandler() = default;

    // One session message (Session Establishment/Modification/Deletion Request, or the
    // response to a Session Report Request braid sent) from an associated peer. Returns the
    // complete encoded response message (header included, same sequence number), or nothing
    // for a message that needs no response.
    virtual std::optional<std::vector<uint8_t>> handle_session_message(const Message& msg,
                                                                       const PeerRef& peer) = 0;

    // The association with `peer` is gone (released, heartbeat lost per policy, or the peer
    // restarted with a new Recovery Time Stamp): delete its sessions. Returns how many.
    virtual size_t drop_peer_sessions(const NodeId& peer) = 0;
};

// What the handler uses to send requests of its own (Session Report Request): the server
// assigns the sequence number, retransmits (T1 × N1) and calls `on_response` with the response
// or with nothing after the last retransmission.
using ResponseCallback = std::function<void(const std::optional<Message>& response)>;
class RequestSender {
public:
    virtual ~RequestSender() = default;
    // `msg` is a complete encoded message whose sequence number the server overwrites.
    virtual bool send_request(const NodeId& peer, std::vector<uint8_t> msg,
                              ResponseCallback on_response) = 0;
};

}  // namespace braid::pfcp
