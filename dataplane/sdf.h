// Service Data Flow filters (TS 29.244 §8.2.5 SDF Filter; Flow Description is an IPFilterRule,
// TS 29.212 §5.4.2) and the per-session classifier that matches packets against a session's
// PDRs in precedence order. Filters are written for the downlink direction ("permit out ... from
// <remote> to <UE>"); an uplink packet matches with source and destination swapped, so a key is
// always expressed as UE side / remote side.
//
// The classifier is linear for small rule sets and an rte_acl context above a threshold
// (`acl_threshold`, measured by tests/bench/bench_sdf.cc, docs/BENCHMARKS.md).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace braid::dataplane::sdf {

// An IPv4 or IPv6 prefix; `family == 0` means any address.
struct Prefix {
    uint8_t family = 0;              // 0 any, 4, 6
    std::array<uint8_t, 16> addr{};  // network order; IPv4 in the first 4 octets
    uint8_t len = 0;
    bool operator==(const Prefix&) const = default;
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
    bool operator==(const PortRange&) const = default;
};

// "permit out <proto> from <remote> [ports] to <ue|assigned> [ports]" (TS 29.212 §5.4.2).
struct FlowDescription {
    std::optional<uint8_t> proto;  // nullopt: "ip" (any protocol)
    Prefix remote;
    std::vector<PortRange> remote_ports;  // empty: any
    Prefix ue;                            // family 0 with `ue_assigned`: the UE's address
    bool ue_assigned = false;
    std::vector<PortRange> ue_ports;  // empty: any
    bool operator==(const FlowDescription&) const = default;
};

// One SDF Filter IE. Every present field must match.
struct Filter {
    std::optional<FlowDescription> flow;
    std::optional<std::array<uint8_t, 2>> tos;  // ToS/Traffic Class value, mask
    std::optional<uint32_t> spi;                // IPsec Security Parameter Index
    std::optional<uint32_t> flow_label;         // IPv6 flow label (20 bits)
    std::optional<uint32_t> id;                 // SDF Filter ID (BID)
    bool operator==(const Filter&) const = default;
};

// Parse an IPFilterRule. Errors name what is wrong ("expected 'from' at column 14").
std::variant<FlowDescription, std::string> parse_flow_description(std::string_view text);
std::string to_string(const FlowDescription& f);

enum class Direction : uint8_t { uplink, downlink };

// What a packet is matched on, oriented UE side / remote side.
struct PacketKey {
    uint8_t family = 4;  // 4 or 6
    std::array<uint8_t, 16> ue{};
    std::array<uint8_t, 16> remote{};
    uint8_t proto = 0;
    bool has_ports = false;  // TCP, UDP, SCTP with a complete header
    uint16_t ue_port = 0;
    uint16_t remote_port = 0;
    uint8_t tos = 0;  // IPv4 ToS / IPv6 Traffic Class
    uint32_t flow_label = 0;
    bool has_spi = false;  // ESP
    uint32_t spi = 0;
};

// Build the key of an inner IPv4/IPv6 packet (`len` octets at `ip`, already validated as an IP
// header by the caller). Returns false if the packet is too short for its own headers.
// Every length is checked (IHL, Total Length / Payload Length bound the packet, link-layer
// padding is ignored); a truncated TCP/UDP/SCTP/ESP header, even in a first fragment, is
// "too short". Later fragments have no ports. IPv6: up to 5 Hop-by-Hop / Routing /
// Destination Options / Fragment headers are skipped; beyond that `proto` is the next
// extension header and there are no ports.
bool extract_key(const uint8_t* ip, size_t len, Direction dir, PacketKey& key);

// The session's UE addresses, what "assigned" stands for (an absent family matches any
// address of that family).
struct UeAddresses {
    Prefix v4;  // family 4 /32, or family 0
    Prefix v6;  // family 6 (usually a /64 prefix), or family 0
};

// Whether the packet matches every field present in `f` (the reference semantics; Classifier
// answers the same). A filter with ports never matches a packet without them.
bool matches(const Filter& f, const PacketKey& key, const UeAddresses& ue);

// One PDR as the classifier sees it. A rule with no filters matches every packet of its
// direction (subject to `teid` and `qfi`).
struct RuleInput {
    uint16_t pdr_index;  // returned on a match
    uint32_t precedence;
    std::optional<uint32_t> teid;  // uplink: the PDR's Local F-TEID
    std::optional<uint8_t> qfi;
    std::vector<Filter> filters;
};

// Matches packets of one direction of one session. Immutable once built; safe for concurrent
// readers (rte_acl contexts are read-only after build); match() does not allocate.
//
// Linear: rules in match order, filters compiled ("assigned" resolved, prefixes as masks).
// rte_acl: one context per address family (category 1), one ACL rule per filter and port-range
// pair, priority from the rule's rank in match order. Every Filter field is an ACL field (ToS
// and QFI/presence bits in one bitmask field, SPI, IPv6 flow label, TEID), so the ACL answer
// is final: no verification, no fall-back. Fields no rule constrains are left out of the
// context. Building is a control-plane cost: ~1 ms for typical rule sets, but rule sets that
// mix many partly-wild fields and port ranges can take seconds; a context's run-time memory is
// capped (32 MiB) and build() fails beyond it.
class Classifier {
public:
    // Rules with more filters in total than this use rte_acl. tests/bench/bench_sdf.cc (IPv4,
    // one filter per rule): linear costs a few ns per filter scanned, one rte_acl_classify a
    // constant ~100-200 ns; rte_acl wins past ~23 filters when traffic hits the last
    // (catch-all) rule, past ~33 for uniformly spread hits, past ~12 for packets matching
    // nothing. docs/BENCHMARKS.md has the table.
    static constexpr size_t acl_threshold = 32;

    static std::unique_ptr<Classifier> build(std::vector<RuleInput> rules, const UeAddresses& ue,
                                             std::string* err);

    // Which matcher to build: `automatic` is what build() does (rte_acl above `acl_threshold`);
    // tests and tests/bench/bench_sdf.cc force one to compare them. `acl` needs EAL memory.
    enum class Engine : uint8_t { automatic, linear, acl };
    static std::unique_ptr<Classifier> build(std::vector<RuleInput> rules, const UeAddresses& ue,
                                             std::string* err, Engine engine);
    ~Classifier();

    // The `pdr_index` of the lowest-precedence-value rule matching, or -1.
    int match(const PacketKey& key, uint32_t teid, std::optional<uint8_t> qfi) const;

    bool uses_acl() const;
    size_t filter_count() const;

private:
    Classifier() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace braid::dataplane::sdf
