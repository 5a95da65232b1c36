// GTP-U path management (TS 29.281 §7.2.1, TS 29.060 §7.2.1 rules for Echo): the control core
// probes every GTP-U peer that a session's FAR tunnels to (outer header creation) with Echo
// Requests, retransmits an unanswered request after T3-RESPONSE up to N3-REQUESTS times and then
// declares the path down (a path failure: logged and counted); a down path keeps being probed at
// the echo interval and comes back up on the next Echo Response.
//
// Sans-I/O like NeighborTable: time is injected and the requests to send come back from poll().
// Only peers that sessions use are tracked (an Echo Request from anyone is answered by the
// workers but does not create state here), so the table is bounded by the sessions.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <vector>

namespace braid::dataplane {

struct GtpuPathConfig {
    // TS 29.281 §7.2.1 / TS 29.060: an Echo Request shall not be sent more often than every
    // 60 s on a path. Shorter intervals are for labs (the config layer warns).
    uint32_t echo_interval_ms = 60000;
    uint32_t t3_response_ms = 3000;  // T3-RESPONSE: wait for the Echo Response
    uint32_t n3_requests = 3;        // N3-REQUESTS: attempts before the path is declared down
};

class GtpuPaths {
public:
    enum class State : uint8_t {
        probing,  // first request outstanding, never answered yet
        up,       // the last probe was answered
        down,     // N3-REQUESTS requests in a row went unanswered
    };

    struct Peer {
        uint32_t ipv4 = 0;  // host byte order
        State state = State::probing;
        uint32_t sessions = 0;  // sessions whose FARs tunnel to this peer
        uint16_t next_seq = 0;
        bool outstanding = false;  // a request waits for its response
        uint16_t outstanding_seq = 0;
        uint32_t attempts = 0;          // requests sent for the outstanding probe
        uint64_t probe_start_ms = 0;    // first request of the outstanding probe
        uint64_t last_sent_ms = 0;      // last (re)transmission
        uint64_t next_action_ms = 0;    // next request or timeout check
        uint64_t last_response_ms = 0;  // 0: never
        uint32_t last_rtt_ms = 0;       // from the last request sent to its response
        uint64_t state_since_ms = 0;
        uint64_t requests_sent = 0;
        uint64_t responses = 0;
        uint64_t timeouts = 0;       // requests that went unanswered for T3-RESPONSE
        uint64_t path_failures = 0;  // transitions to down
    };

    struct Request {
        uint32_t ipv4;
        uint16_t seq;
    };

    struct Transition {
        uint32_t ipv4;
        State from;
        State to;
    };

    struct Stats {
        uint64_t requests_sent = 0;
        uint64_t responses = 0;
        uint64_t unexpected_responses = 0;  // unknown peer, or no request with that sequence
        uint64_t timeouts = 0;
        uint64_t path_failures = 0;
        uint64_t path_recoveries = 0;  // down → up
    };

    explicit GtpuPaths(GtpuPathConfig cfg) : cfg_(cfg) {}

    const GtpuPathConfig& config() const { return cfg_; }

    // A session started (or stopped) using `ipv4` as a tunnel peer. The first user makes the
    // peer known and probed at the next poll; the last one leaving forgets it.
    void add_user(uint32_t ipv4, uint64_t now_ms);
    void remove_user(uint32_t ipv4);

    // An Echo Response from `ipv4` with sequence number `seq`. False (and counted) if no request
    // of ours waits for it.
    bool on_echo_response(uint32_t ipv4, uint16_t seq, uint64_t now_ms,
                          std::vector<Transition>& transitions);

    // Requests due now (first transmissions and retransmissions) and state changes from
    // timeouts.
    void poll(uint64_t now_ms, std::vector<Request>& requests,
              std::vector<Transition>& transitions);

    const std::map<uint32_t, Peer>& peers() const { return peers_; }
    const Stats& stats() const { return stats_; }
    size_t count(State s) const;

private:
    void set_state(Peer& p, State s, uint64_t now_ms, std::vector<Transition>& transitions);

    GtpuPathConfig cfg_;
    std::map<uint32_t, Peer> peers_;
    Stats stats_;
};

std::string_view to_string(GtpuPaths::State s);

}  // namespace braid::dataplane
