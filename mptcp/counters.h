// Per-worker MPTCP counters, declared as data (name = metric label / CLI text, help), in the
// shape of tcpstack/counters.h. One array per worker; readers sum the workers' arrays.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace braid::mptcp {

// clang-format off
#define BRAID_MPTCP_COUNTERS(X)                                                                   \
    X(rx_bytes,                 "data-level bytes accepted (in order or queued out of order)")    \
    X(rx_duplicate_bytes,       "data-level bytes already received (e.g. re-sent on another subflow)") \
    X(rx_beyond_window_bytes,   "data-level bytes past the receive window or the DATA_FIN (dropped)") \
    X(rx_unmapped_bytes,        "subflow bytes without a DSS mapping (dropped)")                  \
    X(rx_mapping_changed,       "mappings contradicting an earlier one for the same subflow bytes") \
    X(rx_mapping_old,           "mappings for subflow bytes already consumed (ignored)")          \
    X(rx_mapping_table_full,    "mappings refused: too many pending on one subflow")              \
    X(rx_checksum_failed,       "mappings whose DSS checksum did not verify")                     \
    X(rx_data_fin,              "DATA_FINs reached in order")                                     \
    X(tx_bytes,                 "data-level bytes sent for the first time")                       \
    X(tx_redundant_bytes,       "data-level bytes sent again as copies on another subflow (redundant scheduler)") \
    X(sched_failover,           "scheduler decisions that used the Standby access (active-standby)") \
    X(sched_failover_rtt,       "active-standby decisions that left the Active access for its RTT threshold") \
    X(sched_failover_plr,       "active-standby decisions that left the Active access for its PLR threshold") \
    X(sched_overflow,           "scheduler decisions that let the Low access take new data (priority-based)") \
    X(tx_reinjected_bytes,      "data-level bytes sent again on another subflow")                 \
    X(tx_data_fin,              "DATA_FINs sent (first transmission)")                            \
    X(tx_data_ack_old,          "DATA_ACKs below the current one (ignored)")                      \
    X(tx_data_ack_beyond_sent,  "DATA_ACKs for data never sent (ignored)")                   \
    X(syn_mp_capable,           "SYNs with a usable MP_CAPABLE on an MPTCP listener")            \
    X(cookie_syn_acks,          "stateless (SYN cookie) SYN/ACKs with a derived key")            \
    X(established,              "connections whose third ACK echoed the keys")                   \
    X(fallback_syn_no_option,   "fallback: SYN without MP_CAPABLE (plain TCP)")                 \
    X(fallback_syn_bad_option,  "fallback: MP_CAPABLE in the SYN unusable (version, flags B/H)") \
    X(fallback_no_unique_key,   "fallback: no key with an unused token (SYN/ACK without MP_CAPABLE)") \
    X(fallback_third_ack,       "fallback: third ACK without MP_CAPABLE (options stripped)")     \
    X(fallback_bad_key,         "fallback: third ACK echoing a key that is not ours")           \
    X(fallback_cookie_ack,      "fallback: SYN-cookie ACK without a valid MP_CAPABLE")          \
    X(join_syn,                 "SYNs with MP_JOIN on an MPTCP listener")                        \
    X(join_accepted,            "subflows joined: the third ACK's HMAC-A verified")              \
    X(join_unknown_token,       "MP_JOIN refused (RST): no connection with that token on this worker") \
    X(join_not_established,     "MP_JOIN refused (RST): connection still in its handshake or closing") \
    X(join_limit,               "MP_JOIN refused (RST): connection at its subflow limit")       \
    X(join_cookie_pressure,     "MP_JOIN refused (RST): listener under SYN-cookie pressure")    \
    X(join_fallen_back,         "MP_JOIN refused (RST): the connection fell back to TCP (infinite mapping)") \
    X(join_bad_hmac,            "MP_JOIN third ACK with a wrong or missing HMAC-A (RST)")       \
    X(subflow_stalled,          "subflows stalled (RTOs without progress): data reinjected on others") \
    X(window_probes,            "connection-level zero-window probes sent (window closed, nothing in flight)") \
    X(data_retransmits,         "un-DATA_ACKed data the subflows had acknowledged sent again (nothing in flight)") \
    X(subflow_failed,           "subflows gone (RST, timeout) while another subflow lived")     \
    X(mp_prio,                  "MP_PRIO received (a subflow's backup flag set or cleared)")    \
    X(fastclose_sent,           "connections aborted by braid with MP_FASTCLOSE on every subflow's RST") \
    X(fastclose_received,       "MP_FASTCLOSE with braid's key received: the connection reset") \
    X(fastclose_bad_key,        "MP_FASTCLOSE with a key that is not braid's (ignored)")        \
    X(tcprst_sent,              "subflow RSTs carrying MP_TCPRST with a reason")               \
    X(tcprst_received,          "subflow RSTs received carrying MP_TCPRST")                    \
    X(add_addr_sent,            "ADD_ADDR announcements sent (first and retransmissions)")     \
    X(add_addr_echoed,          "braid's ADD_ADDR echoed by the peer (E=1)")                    \
    X(add_addr_unechoed,        "braid's ADD_ADDR given up: no echo after the bounded tries")   \
    X(add_addr_received,        "peer ADD_ADDR with a valid HMAC (recorded and echoed)")        \
    X(add_addr_bad_hmac,        "peer ADD_ADDR whose truncated HMAC did not verify (ignored)")  \
    X(add_addr_echo_sent,       "echoes (E=1) of the peer's ADD_ADDR sent")                     \
    X(add_addr_echo_unknown,    "ADD_ADDR echoes for an address braid did not announce (ignored)") \
    X(add_addr_table_full,      "peer ADD_ADDR not recorded: too many peer addresses (ignored)") \
    X(signal_too_long,          "ADD_ADDR/echo/REMOVE_ADDR/MP_FAIL too long for a pure ACK's option space (dropped)") \
    X(remove_addr_sent,         "REMOVE_ADDR sent (an announced address withdrawn)")            \
    X(remove_addr_received,     "REMOVE_ADDR received")                                         \
    X(remove_addr_unknown_id,   "REMOVE_ADDR IDs not in use on the connection (ignored)")       \
    X(remove_addr_subflow_reset, "subflows reset because their address was removed")           \
    X(remove_addr_last_subflow, "REMOVE_ADDR for the last subflow's address: kept (the sender closes it)") \
    X(mp_fail_sent,             "MP_FAIL sent (a DSS checksum failure, or the answer to the peer's)") \
    X(mp_fail_received,         "MP_FAIL received")                                             \
    X(fallback_mp_fail,         "fallback: infinite mapping after MP_FAIL (checksum failure, one subflow)") \
    X(fallback_no_dss,          "fallback: data or an ACK of data without a DSS on the only subflow (options stripped, infinite mapping)") \
    X(infinite_mapping_sent,    "infinite mappings sent (fallback to plain TCP on the subflow)") \
    X(reset_mp_fail,            "connections reset on MP_FAIL: several subflows or non-contiguous data") \
    X(option_parse_errors,      "MPTCP options that did not parse (ignored)")                   \
    X(data_before_keys,         "subflow bytes before the handshake completed (dropped)")       \
    X(reset_checksum,           "connections reset after a DSS checksum failure (no infinite-mapping fallback possible)") \
    X(reset_protocol,           "connections reset: checksum missing/unexpected or unmapped data") \
    X(no_mbuf,                  "stream bytes not moved for want of an mbuf (retried)")
// clang-format on

enum class Counter : uint16_t {
#define BRAID_X(name, help) name,
    BRAID_MPTCP_COUNTERS(BRAID_X)
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
    BRAID_MPTCP_COUNTERS(BRAID_X)
#undef BRAID_X
}};

struct Counters {
    std::array<uint64_t, counter_count> v{};
    void add(Counter c, uint64_t n = 1) { v[static_cast<size_t>(c)] += n; }
    uint64_t operator[](Counter c) const { return v[static_cast<size_t>(c)]; }
};

}  // namespace braid::mptcp
