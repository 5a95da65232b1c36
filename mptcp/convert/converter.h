// RFC 8803 transport converter decisions, sans-I/O: the datapath hands in the UE's SYN (its
// parsed Convert message, sizes, addresses) with the session's context and per-UE state, and
// gets back what to do — open an N6 connection (source address and port, which TCP options to
// put in the N6 SYN) or answer the UE (an Error TLV then FIN, or an Info reply), or ignore /
// reset. It then maps what N6 answered (SYN+ACK, RST, ICMP, silence) to the UE's reply, and
// the teardown events of spec §1.8 to actions. No engine calls, no clock: time is injected.
//
// Order of checks (spec tcp-mptcp-convert.md §1.6 then §1.10): the message itself (version,
// framing, TLVs), authorization (a session that enabled MPTCP: internal realm only, §9.2), the
// destination ACL, the Connect TLV's TCP options (§7), per-UE limits (§9.3), source selection.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "mptcp/convert/wire.h"
#include "mptcp/scheduler.h"

namespace braid::mptcp::convert {

using wire::Address;

// clang-format off
// Why the converter refused a SYN or a connection failed; each is counted (metric label /
// CLI text) and answered with the error code shown (or not answered: ignore / reset).
#define BRAID_CONVERT_REFUSALS(X)                                                                 \
    X(not_convert,             "SYN data is not a Convert message (ignored)")                    \
    X(incomplete_message,      "the Convert message does not end within the SYN data")           \
    X(bad_version,             "Convert version is not 1")                                       \
    X(zero_total_length,       "Total Length 0 (connection reset)")                              \
    X(malformed_message,       "framing, duplicate TLV, bad Connect length, address or options") \
    X(unsupported_tlv,         "TLV type 0, unknown, or one only a converter sends")             \
    X(no_connect,              "neither Connect nor Info in the message")                        \
    X(no_session,              "the source is not a UE of a PFCP session (external realm)")      \
    X(mptcp_not_enabled,       "the UE's session did not enable MPTCP (ATSSS)")                  \
    X(destination_denied,      "destination is braid's own address or in a denied prefix")       \
    X(unsupported_option,      "the Connect TLV asks for a TCP option braid does not support")   \
    X(ue_connection_limit,     "per-UE proxied connection limit reached")                        \
    X(ue_pending_syn_limit,    "per-UE pending SYN limit reached")                               \
    X(no_source_address,       "no N6 source address of the destination's family")               \
    X(no_source_port,          "no free N6 source port")                                         \
    X(syn_amplification,       "the N6 SYN would be bigger than the UE's")                       \
    X(server_reset,            "the server answered the N6 SYN with RST")                        \
    X(destination_unreachable, "ICMP Destination Unreachable for the N6 SYN (hard, or the last soft one at the timeout)") \
    X(server_timeout,          "no answer to the N6 SYN")

#define BRAID_CONVERT_COUNTERS(X)                                                                 \
    X(syns,                    "UE SYNs handed to the converter")                                \
    X(n6_opens,                "N6 connections the converter asked for")                         \
    X(info_replies,            "Info TLVs answered with Supported TCP Extensions")               \
    X(established,             "N6 SYN+ACKs turned into the UE's SYN+ACK with the Convert reply") \
    X(error_replies,           "Error TLV replies sent to UEs")                                  \
    X(error_replies_limited,   "Error TLV replies suppressed by the per-UE rate limit (SYN dropped)") \
    X(resets,                  "UE connections reset (Total Length 0)")                          \
    X(options_ignored,         "Connect TCP options ignored (EOL/NOP/MSS/WS/SACK, MPTCP downstream)") \
    X(options_dropped_for_size, "N6 SYN options left out so as not to amplify the UE's SYN")     \
    X(icmp_soft_errors,        "ICMP soft errors for pending N6 SYNs (kept waiting)")
// clang-format on

enum class Refusal : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_CONVERT_REFUSALS(BRAID_X)
#undef BRAID_X
        count
};
inline constexpr size_t refusal_count = static_cast<size_t>(Refusal::count);
std::string_view to_string(Refusal);
std::string_view help(Refusal);

enum class Counter : uint8_t {
#define BRAID_X(name, help) name,
    BRAID_CONVERT_COUNTERS(BRAID_X)
#undef BRAID_X
        count
};
inline constexpr size_t counter_count = static_cast<size_t>(Counter::count);
std::string_view to_string(Counter);
std::string_view help(Counter);

// Per worker, summed on read (DESIGN.md §4).
struct Counters {
    std::array<uint64_t, counter_count> v{};
    std::array<uint64_t, refusal_count> refusals{};
    std::array<uint64_t, 256> errors_by_code{};  // Error TLVs sent, by code
    void add(Counter c, uint64_t n = 1) { v[static_cast<size_t>(c)] += n; }
    uint64_t operator[](Counter c) const { return v[static_cast<size_t>(c)]; }
    uint64_t operator[](Refusal r) const { return refusals[static_cast<size_t>(r)]; }
};

enum class AddressMode : uint8_t {
    preserving,  // N6 source = the session's UE address (RFC 8803 §4.4.1)
    sharing,     // N6 source from a pool, paired per UE (§4.4.2, RFC 6888 REQ-2)
};

struct Prefix {
    Address address;  // IPv4 as ::ffff:a.b.c.d, with len counted over the 128 bits (+96)
    uint8_t len = 0;
    bool contains(const Address& a) const;
    static Prefix v4(uint32_t host_order, uint8_t len);
    static Prefix v6(const std::array<uint8_t, 16>& a, uint8_t len);
};

// The proxy's configuration (config `pfcp.mptcp_proxy`), compiled for the workers.
struct Policy {
    AddressMode mode = AddressMode::preserving;
    std::optional<Prefix> n6_pool_v4;  // sharing mode
    std::optional<Prefix> n6_pool_v6;
    std::vector<Prefix> deny;  // configurable deny prefixes
    std::vector<Address> own;  // braid's own addresses (N3, N6, the proxy's)
    uint32_t per_ue_max_connections = 64;
    uint32_t per_ue_max_pending_syns = 16;
    uint32_t error_reply_rate = 10;  // Error replies per second per UE (bucket depth = rate)
};

// The TCP option kinds the converter offers (Supported TCP Extensions, §6.2.4): MPTCP
// conversion, SACK-permitted, Timestamps, TFO.
inline constexpr std::array<uint8_t, 4> supported_kinds = {30, 4, 8, 34};

// What the datapath knows about the UE (from the session that matched the SYN's source).
struct UeContext {
    bool in_session = false;     // the SYN's source is a UE of a PFCP session
    bool mptcp_enabled = false;  // that session requested MPTCP (ATSSS TCI)
    std::optional<Address> ue_v4;
    std::optional<Address> ue_v6;
    // For the proxy, not the converter (issue 7: PFCP steering of proxied connections): the
    // session's identity and snapshot generation, and the scheduler its MPTCP MAR compiles to
    // (unset: no MPTCP MAR, the endpoint's default).
    uint64_t seid = 0;
    uint64_t generation = 0;
    std::optional<SchedulerConfig> scheduler;
};

// Per-UE state the datapath keeps with the session; the converter updates it.
struct UeState {
    uint32_t connections = 0;   // proxied connections, pending ones included
    uint32_t pending_syns = 0;  // N6 SYNs not yet answered
    // Token bucket for error replies (§6.2.5): tokens scaled by 1e6 per reply, refilled by time.
    uint64_t error_tokens_us = 0;
    uint64_t error_refill_at_us = 0;
    bool bucket_started = false;
};

// The UE's SYN as the datapath saw it.
struct UeSyn {
    std::span<const uint8_t> data;  // the SYN's payload (Convert message, then user data)
    uint32_t syn_bytes = 0;         // IP + TCP header + payload of the UE's SYN (inner packet)
    Address client;                 // the subflow's source address and port
    uint16_t client_port = 0;
    bool mptcp = false;  // MP_CAPABLE in the SYN (else plain TCP, converted too)
};

// Chooses a free N6 source port for (src, dst, dst_port); `preferred` first if it is free.
class PortSource {
public:
    virtual ~PortSource() = default;
    virtual std::optional<uint16_t> reserve(const Address& src, const Address& dst,
                                            uint16_t dst_port, uint16_t preferred) = 0;
};

// The TCP options of the N6 SYN beyond the engine's own MSS and window scale (§7).
struct N6SynOptions {
    bool sack_permitted = false;
    bool timestamps = false;
    bool tfo = false;                 // TFO option: cookie request if the cookie is empty
    wire::FixedBytes<16> tfo_cookie;  // copied from the Connect TLV (§7.6)
    bool operator==(const N6SynOptions&) const = default;
};

struct N6Open {
    Address src;
    uint16_t src_port = 0;
    Address dst;
    uint16_t dst_port = 0;
    N6SynOptions options;
    bool extended = false;     // Extended Connect: the reply carries the Extended TCP Header
    bool info = false;         // Info with the Connect: the reply lists Supported Extensions
    uint32_t message_len = 0;  // SYN data bytes that were the Convert message (not relayed)
};

enum class Verdict : uint8_t {
    open_n6,      // open `n6`; answer the UE later (on_n6_outcome)
    established,  // the server accepted: SYN+ACK (acking all SYN data) carrying `reply`, relay
    reply,        // SYN+ACK (acking all SYN data) carrying `reply`, then FIN
    ignore,       // drop the SYN silently (not Convert, or an error reply was rate-limited)
    reset,        // RST the UE's SYN
};

struct Decision {
    Verdict verdict = Verdict::ignore;
    std::optional<Refusal> refusal;  // set for every refusal (reply with an Error, ignore, reset)
    N6Open n6;                       // open_n6
    std::array<uint8_t, wire::max_message_len> reply{};
    size_t reply_len = 0;
    bool is_error = false;  // the reply is an Error TLV (the UE resets on it)
    std::span<const uint8_t> reply_bytes() const { return {reply.data(), reply_len}; }
};

// What became of the N6 SYN.
struct N6Outcome {
    enum class Kind : uint8_t { syn_ack, rst, icmp, timeout } kind = Kind::syn_ack;
    std::span<const uint8_t> syn_ack_options;  // syn_ack: the server's TCP option bytes
    bool icmp_v6 = false;                      // icmp: ICMPv6 (else ICMPv4) Destination Unreachable
    uint8_t icmp_code = 0;
    std::optional<uint8_t> last_soft_icmp;  // timeout: the last soft ICMP code seen, if any
};

// RFC 1122 §4.2.3.9 / RFC 5461: which Destination Unreachable codes abort a connection attempt.
bool icmp_is_hard(bool v6, uint8_t code);

// Teardown events and the converter's answer to each (spec §1.8).
enum class Event : uint8_t {
    ue_data_fin,     // MPTCP DATA_FIN from the UE (or FIN of a plain-TCP UE)
    ue_subflow_rst,  // RST on one MPTCP subflow
    ue_fastclose,    // MP_FASTCLOSE from the UE (or RST of a plain-TCP UE)
    n6_fin,          // FIN from the server
    n6_rst,          // RST from the server after establishment
    n6_failed,       // retransmission limit on the N6 side
};
enum class TeardownAction : uint8_t {
    fin_n6,        // FIN on the N6 connection once the relayed bytes are sent
    rst_n6,        // RST the N6 connection
    close_ue,      // DATA_FIN (FIN for plain TCP) towards the UE once the relayed bytes are sent
    fastclose_ue,  // MP_FASTCLOSE (RST for plain TCP) towards the UE
    subflow_only,  // close that subflow; the N6 side and the other subflows stay
};
TeardownAction on_event(Event e);

class Converter {
public:
    explicit Converter(Policy policy) : policy_(std::move(policy)) {}

    // A UE's SYN with data. On open_n6, `ue` counts one more connection and pending SYN.
    Decision on_syn(const UeContext& ctx, UeState& ue, const UeSyn& syn, PortSource& ports,
                    uint64_t now_us);

    // The N6 SYN's fate, for a connection on_syn opened with `open`. Returns the reply to put
    // at the start of the UE's SYN+ACK byte stream: the Convert reply on syn_ack (then relay),
    // an Error TLV otherwise (then FIN). A soft ICMP error is no outcome: the verdict is
    // `ignore` (keep retransmitting, RFC 8803 §4.2), and the caller reports the last soft code
    // with the timeout.
    Decision on_n6_outcome(UeState& ue, const N6Open& open, const N6Outcome& outcome);

    // An established proxied connection ended (either side, any cause).
    void on_closed(UeState& ue);

    const Counters& counters() const { return counters_; }
    const Policy& policy() const { return policy_; }

private:
    Decision error_reply(UeState& ue, Refusal r, wire::ErrorCode code, uint8_t value,
                         uint64_t now_us);
    Decision echo_reply(UeState& ue, Refusal r, wire::ErrorCode code,
                        std::span<const uint8_t> received, uint64_t now_us);
    Decision option_reply(UeState& ue, std::span<const uint8_t> kinds, uint64_t now_us);
    bool take_error_token(UeState& ue, uint64_t now_us);
    template <class Emit>
    Decision limited_error(UeState& ue, Refusal r, uint64_t now_us, Emit emit);
    void count_error(const Decision& d);
    bool destination_allowed(const Address& dst) const;
    std::optional<Address> pick_source(const UeContext& ctx, const Address& dst) const;

    Policy policy_;
    Counters counters_;
    UeState strangers_;  // the error-reply bucket shared by sources without a session
};

}  // namespace braid::mptcp::convert
