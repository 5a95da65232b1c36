// braid's PFCP node: the node procedures and the reliability layer of TS 29.244, sans I/O.
//
// Read first: TS 29.244 §6.2 (node-related procedures), §6.4 (reliable delivery), §7.4 (node
// messages), §7.6 (error handling); spec/n4-gtpu-mams.md §1.1-§1.6.
//
// Datagrams come in through on_datagram() with the peer's UDP endpoint and the current
// (monotonic) time in milliseconds; datagrams go out through the Send callback; on_timer() drives
// every timer (retransmission, heartbeats, UP-initiated association setup, duplicate-cache
// expiry). There are no sockets and no clocks here: server.h owns those, the tests inject time.
//
// Implemented:
//   §6.2.2 Heartbeat in both directions; the peer is lost after heartbeat_misses unanswered
//          requests (one per heartbeat interval), then NodeConfig::peer_lost applies.
//   §6.2.6 Association Setup (CP- and UP-initiated), Update, Release; §6.2.6.2.2 a repeated setup
//          keeps the sessions unless the Recovery Time Stamp changed (the peer restarted).
//   §6.4   T1 x N1 retransmission of requests braid sends; responses matched on peer + sequence
//          number; a retransmitted request (same peer + sequence number within the duplicate
//          window) gets the cached response again without being executed again.
//   §7.6   Version Not Supported Response; drop of unknown types, of unexpected requests and of
//          unparsable headers (counted); Cause 66/68/69 + Offending IE for bad node requests;
//          Cause 68 for a Message Length inconsistent with the datagram.
//   Session messages (types 50-57) go to the SessionHandler (session_handler.h) when the peer
//   has an association; otherwise Cause 72.
// Not implemented (answered or dropped as noted): PFD Management (Cause 76 Service not
// supported), Session Set Deletion/Modification (Cause 76), Node Report (braid sends none),
// PFCP Session Retention Information, SMF sets, load/overload control.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "control/pfcp/header.h"
#include "control/pfcp/ies.h"
#include "control/pfcp/session_handler.h"
#include "control/pfcp/types.h"

namespace braid::pfcp {

// A peer's UDP endpoint: numeric IPv4/IPv6 text (IPv4-mapped IPv6 is written as IPv4) and port.
struct PeerAddress {
    std::string ip;
    uint16_t port = 0;

    std::string to_string() const;  // "198.18.0.9:8805", "[2001:db8::9]:8805"
    auto operator<=>(const PeerAddress&) const = default;
};

// The UP Function Features braid advertises (§8.2.25): exactly what it implements, no more.
// Today: FTUP (braid allocates F-TEIDs for CHOOSE), plus UEIP when UE IP pools are configured
// and MPTCP when the MPTCP proxy runs (node_config() in server.cc adds both). The list is the
// `implemented_up_features` table in node.cc: add a row there when a feature lands —
// ATSSS-LL (octet 9 bit 1) with ATSSS steering is the expected next one.
// NodeConfig::features starts from this set; a component enabled at run time may set more bits.
UpFunctionFeatures up_function_features();

enum class PeerLostPolicy : uint8_t {
    delete_sessions,  // drop the association and the peer's sessions
    keep_sessions,    // keep both, keep sending heartbeats; an answer makes the peer reachable
};

struct NodeConfig {
    NodeId node_id;                   // braid's Node ID
    RecoveryTimeStamp recovery_time;  // when braid started (§19A): sent in setup and heartbeats
    UpFunctionFeatures features = up_function_features();
    uint32_t heartbeat_interval_ms = 10000;
    uint32_t heartbeat_misses = 3;
    uint32_t t1_ms = 3000;
    uint32_t n1 = 3;
    uint32_t duplicate_window_ms = 14000;
    size_t max_cached_responses = 65536;  // the oldest cached response goes first beyond this
    PeerLostPolicy peer_lost = PeerLostPolicy::delete_sessions;
    std::vector<PeerAddress> peers;  // UP-initiated Association Setup towards these
};

// ---- counters, declared as data ----------------------------------------------------------------

// X(name, "help")
#define BRAID_PFCP_NODE_EVENTS(X)                                                              \
    X(retransmissions, "Requests braid sent again after T1 without a response")                \
    X(request_timeouts, "Requests braid gave up on after N1 retransmissions")                  \
    X(duplicate_requests, "Retransmitted requests answered from the response cache")           \
    X(heartbeat_losses, "Peers lost: heartbeat misses Heartbeat Requests in a row unanswered") \
    X(heartbeat_recoveries, "Lost peers kept by peer_lost keep_sessions that answered again")  \
    X(peer_restarts, "Peer restarts detected by a changed Recovery Time Stamp")                \
    X(associations_established, "PFCP associations set up (CP- or UP-initiated)")              \
    X(associations_released, "PFCP associations released by the peer")                         \
    X(association_setup_failures,                                                              \
      "UP-initiated Association Setup attempts rejected or unanswered")                        \
    X(sessions_deleted, "Sessions deleted by node procedures (release, loss, restart)")        \
    X(session_requests_unhandled, "Session requests rejected: no session handler")             \
    X(send_failures, "Datagrams the transport could not send")

// X(name, "help")
#define BRAID_PFCP_DROP_REASONS(X)                                                          \
    X(too_short, "Datagram shorter than a PFCP header")                                     \
    X(bad_version, "Version other than 1 (answered with Version Not Supported Response)")   \
    X(length_too_small, "Message Length shorter than the header itself")                    \
    X(bad_length, "Message Length inconsistent with the datagram (requests: Cause 68)")     \
    X(seid_flag_mismatch, "S flag does not match the message type")                         \
    X(unknown_message_type, "Message type not in TS 29.244 Table 7.3-1")                    \
    X(unexpected_request, "A request a UPF does not receive (Node Report, Session Report)") \
    X(unmatched_response, "A response to no outstanding request (late or unknown)")         \
    X(malformed_response, "A response braid could not use (bad IEs, missing Cause)")        \
    X(version_not_supported, "Version Not Supported Response received from a peer")

enum class NodeEvent : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_PFCP_NODE_EVENTS(BRAID_X)
#undef BRAID_X
        count
};
enum class DropReason : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_PFCP_DROP_REASONS(BRAID_X)
#undef BRAID_X
        count
};

struct CounterInfo {
    std::string_view name;
    std::string_view help;
};
extern const std::array<CounterInfo, static_cast<size_t>(NodeEvent::count)> node_event_table;
extern const std::array<CounterInfo, static_cast<size_t>(DropReason::count)> drop_reason_table;

// "heartbeat_request", ... ("unknown" for unlisted types): metric label values.
std::string_view label(MessageType t);
// "mandatory_ie_missing", ... ("spare_acceptance" / "spare_rejection" for unlisted values).
std::string_view label(Cause c);

// Written on the control core only; read by the metrics exporter thread. Relaxed atomics: each
// counter is independent, readers only need a value that was true at some point.
class Counter {
public:
    void inc(uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

struct NodeCounters {
    std::array<Counter, 256> rx_by_type;           // every message received, by Message Type
    std::array<Counter, 256> tx_by_type;           // every message sent (retransmissions included)
    std::array<Counter, 256> rejections_by_cause;  // responses braid sent with a rejection Cause
    std::array<Counter, static_cast<size_t>(NodeEvent::count)> events;
    std::array<Counter, static_cast<size_t>(DropReason::count)> drops;
    Counter associations;              // gauge: associations held (any state)
    Counter associations_unreachable;  // gauge: of which lost but kept (keep_sessions)

    uint64_t event(NodeEvent e) const { return events[static_cast<size_t>(e)].get(); }
    uint64_t drop(DropReason r) const { return drops[static_cast<size_t>(r)].get(); }
    uint64_t rx(MessageType t) const { return rx_by_type[static_cast<uint8_t>(t)].get(); }
    uint64_t tx(MessageType t) const { return tx_by_type[static_cast<uint8_t>(t)].get(); }
    uint64_t rejected(Cause c) const { return rejections_by_cause[static_cast<uint8_t>(c)].get(); }
};

// ---- associations
// --------------------------------------------------------------------------------

enum class AssociationState : uint8_t {
    established,
    unreachable,  // heartbeats unanswered, kept by PeerLostPolicy::keep_sessions
};
std::string_view to_string(AssociationState s);

struct AssociationInfo {
    NodeId node_id;
    PeerAddress address;  // where braid sends its requests (the peer's source endpoint)
    RecoveryTimeStamp recovery_time;
    std::optional<CpFunctionFeatures> cp_features;
    AssociationState state = AssociationState::established;
    bool up_initiated = false;
    uint64_t established_ms = 0;
    std::optional<uint64_t> last_heartbeat_ms;  // last Heartbeat Request/Response from the peer
    uint32_t heartbeat_misses = 0;              // unanswered in a row
};

// A configured peer braid has no association with yet.
struct PendingPeer {
    PeerAddress address;
    uint32_t attempts = 0;   // Association Setup Requests sent (not counting retransmissions)
    bool in_flight = false;  // a request is outstanding
    uint64_t next_attempt_ms = 0;
};

std::string to_string(const NodeId& id);  // "198.18.0.1", "2001:db8::1", "smf.example.org"

// ---- the node
// ------------------------------------------------------------------------------------

class Node final : public RequestSender {
public:
    using Send = std::function<void(const PeerAddress& to, std::span<const uint8_t> datagram)>;

    // `handler` may be null: session requests are then rejected (Cause 64).
    Node(NodeConfig config, Send send, SessionHandler* handler);
    ~Node() override;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    void set_session_handler(SessionHandler* handler) { handler_ = handler; }

    // Starts the UP-initiated association setups (the first requests go out now).
    void start(uint64_t now_ms);

    // One UDP payload from `from`.
    void on_datagram(std::span<const uint8_t> datagram, const PeerAddress& from, uint64_t now_ms);

    // Runs the timers that are due. Call at least every few tens of milliseconds.
    void on_timer(uint64_t now_ms);

    // RequestSender (Session Report Request): `peer` must have an association. The time is the
    // last one given to on_datagram/on_timer/start. Returns false (and never calls back) when the
    // peer has no association or `msg` is not a request message.
    bool send_request(const NodeId& peer, std::vector<uint8_t> msg,
                      ResponseCallback on_response) override;

    // Inspection (control core only).
    std::vector<AssociationInfo> associations() const;
    std::vector<PendingPeer> pending_peers() const;
    const NodeCounters& counters() const { return counters_; }
    NodeCounters& counters() { return counters_; }
    const NodeConfig& config() const { return config_; }
    size_t outstanding_requests() const;
    size_t cached_responses() const;

    // The sequence number of the next request braid sends (tests; normally starts at 1).
    void set_next_sequence(SequenceNumber seq);

    struct Impl;

private:
    NodeConfig config_;
    Send send_;
    SessionHandler* handler_ = nullptr;
    NodeCounters counters_;
    std::unique_ptr<Impl> impl_;
};

}  // namespace braid::pfcp
