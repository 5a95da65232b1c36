// Per-worker TCP counters, declared as data (name = metric label / CLI text, help). One Engine
// owns one array; readers sum the workers' arrays (DESIGN.md §4).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace braid::tcp {

// clang-format off
#define BRAID_TCP_COUNTERS(X)                                                                     \
    X(segments_in,              "segments handed to the engine")                                  \
    X(segments_out,             "segments the engine emitted")                                    \
    X(bytes_in,                 "payload bytes accepted in sequence")                             \
    X(bytes_out,                "payload bytes sent, retransmissions included")                   \
    X(retransmissions,          "segments sent again (any cause)")                                \
    X(rtos,                     "retransmission timer expirations")                               \
    X(fast_retransmits,         "retransmissions triggered by duplicate ACKs or SACK")            \
    X(sack_recoveries,          "loss recovery episodes driven by the SACK scoreboard (RFC 6675)") \
    X(newreno_recoveries,       "loss recovery episodes without SACK (RFC 6582)")                 \
    X(syn_cookies_sent,         "SYN/ACKs carrying a SYN cookie (half-open queue full)")          \
    X(syn_cookies_validated,    "ACKs that completed a connection from a valid SYN cookie")       \
    X(syn_cookies_failed,       "ACKs to a listener that carried no valid SYN cookie")            \
    X(challenge_acks,           "RFC 5961 challenge ACKs sent")                                   \
    X(challenge_acks_limited,   "RFC 5961 challenge ACKs suppressed by the rate limit")           \
    X(out_of_window,            "segments outside the receive window (ACKed and dropped)")        \
    X(paws_rejected,            "segments dropped by PAWS (RFC 7323 §5)")                         \
    X(bad_ack,                  "segments whose ACK acknowledges unsent data or is too old")     \
    X(bad_options,              "segments with malformed options (dropped)")                      \
    X(no_timestamp_dropped,     "non-RST segments without timestamps on a TS connection")         \
    X(ooo_segments,             "segments queued out of order")                                   \
    X(dup_segments,             "segments carrying only old data")                                \
    X(zero_window_probes,       "zero-window probes sent")                                        \
    X(keepalive_probes,         "keep-alive probes sent")                                         \
    X(delayed_acks,             "ACKs sent by the delayed-ACK timer")                             \
    X(rst_sent_no_listener,     "RSTs sent: segment for no connection and no listener")          \
    X(rst_sent_abort,           "RSTs sent: local abort")                                         \
    X(rst_sent_bad_ack,         "RSTs sent: ACK in LISTEN/SYN-SENT/SYN-RECEIVED not acceptable") \
    X(rst_sent_hook_refused,    "RSTs sent: SYN refused by the layer above (e.g. MP_JOIN, unknown token)") \
    X(rst_sent_data_after_close, "RSTs sent: data arrived after the application closed reading") \
    X(rst_received_established, "RSTs accepted in a synchronized state")                         \
    X(rst_received_syn_sent,    "RSTs accepted in SYN-SENT (connection refused)")                 \
    X(rst_received_syn_received, "RSTs accepted in SYN-RECEIVED")                                 \
    X(rst_ignored,              "RSTs outside the window or in LISTEN (dropped)")                 \
    X(refused_worker_limit,     "SYNs refused: per-worker connection limit")                      \
    X(refused_source_limit,     "SYNs refused: per-source-address connection limit")              \
    X(refused_no_mbuf,          "segments not sent: clone mempool empty")                         \
    X(syn_data_accepted,        "payload bytes accepted in SYNs by listeners that ask for it")    \
    X(syn_data_deferred,        "SYNs with data held unanswered for the application (defer_syn_data)") \
    X(syn_deferred_answered,    "deferred SYNs the application answered (SYN/ACK sent)")          \
    X(syn_deferred_refused,     "deferred SYNs the application refused (state freed, no segment)") \
    X(syn_deferred_timeouts,    "deferred SYNs neither answered nor refused in time (freed)")     \
    X(syn_retransmits_absorbed, "retransmitted SYNs of a deferred SYN (no answer yet, dropped)")  \
    X(syn_data_refused_pressure, "SYNs with data dropped by a deferring listener under SYN-cookie pressure") \
    X(timewait_reused,          "TIME-WAIT tuples reused by a new SYN (RFC 6191 style)")          \
    X(timeouts,                 "connections closed by retransmission or SYN timeout")            \
    X(keepalive_timeouts,       "connections closed by unanswered keep-alive probes")            \
    X(icmp_errors,              "ICMP errors about a connection's segments, quoted sequence in window") \
    X(icmp_out_of_window,       "ICMP errors whose quoted sequence number is outside [SND.UNA, SND.MAX]") \
    X(icmp_hard_aborts,         "connection attempts aborted by a hard ICMP error (SYN-SENT)")   \
    X(icmp_too_big_ignored,     "Packet Too Big / Fragmentation Needed received (no PMTU discovery)")
// clang-format on

enum class Counter : uint16_t {
#define BRAID_X(name, help) name,
    BRAID_TCP_COUNTERS(BRAID_X)
#undef BRAID_X
        count
};

inline constexpr size_t counter_count = static_cast<size_t>(Counter::count);

struct CounterInfo {
    std::string_view name;
    std::string_view help;
};

inline constexpr std::array<CounterInfo, counter_count> counter_info = {{
#define BRAID_X(name, help) {#name, help},
    BRAID_TCP_COUNTERS(BRAID_X)
#undef BRAID_X
}};

using Counters = std::array<uint64_t, counter_count>;

}  // namespace braid::tcp
