// What the fault-injection stage does to one port role and direction (issue 5: the test kernels
// have no sch_netem). Plain data shared by the YAML config, the CLI and the workers; no DPDK.
//
// Probabilities are kept in parts per million so that a spec compares and renders exactly (the
// YAML and the CLI take a percentage with up to four decimals: 1.25 → 12500 ppm).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace braid::dataplane {

enum class FaultDirection : uint8_t { rx, tx };

inline constexpr uint32_t fault_ppm_max = 1'000'000;  // 100 %
inline constexpr uint32_t fault_delay_max_us = 10'000'000;

struct FaultSpec {
    uint32_t drop_ppm = 0;       // freed through the drop node (reason fault_injected)
    uint32_t duplicate_ppm = 0;  // a second, distinct frame (a deep copy) follows the original
    uint32_t reorder_ppm = 0;    // held until `reorder_gap` later packets have passed
    uint32_t corrupt_ppm = 0;    // one byte past the Ethernet header XORed with a non-zero value
    uint16_t reorder_gap = 3;    // 1..64 packets
    uint32_t reorder_timeout_us = 10'000;  // a held packet leaves after this even without traffic
    uint32_t delay_us = 0;                 // every packet held this long ...
    uint32_t jitter_us = 0;                // ... plus a uniform offset in [-jitter, +jitter]
    uint64_t seed = 1;                     // of the injector's PRNG (deterministic runs)

    // Anything to do at all; a spec that only sets a seed or a gap is off.
    bool enabled() const {
        return drop_ppm != 0 || duplicate_ppm != 0 || reorder_ppm != 0 || corrupt_ppm != 0 ||
               delay_us != 0 || jitter_us != 0;
    }
    bool operator==(const FaultSpec&) const = default;
};

// One spec per port role (config::PortRole: n3 = 0, n6 = 1) and direction.
struct FaultPlan {
    std::array<FaultSpec, 4> specs{};

    static constexpr size_t index(uint8_t role, FaultDirection dir) {
        return size_t{role} * 2 + static_cast<size_t>(dir);
    }
    FaultSpec& at(uint8_t role, FaultDirection dir) { return specs[index(role, dir)]; }
    const FaultSpec& at(uint8_t role, FaultDirection dir) const { return specs[index(role, dir)]; }
    bool enabled() const {
        for (const auto& s : specs) {
            if (s.enabled()) {
                return true;
            }
        }
        return false;
    }
    bool operator==(const FaultPlan&) const = default;
};

// The keys of a spec, as the YAML section and `set fault` spell them.
inline constexpr std::array<std::string_view, 9> fault_keys = {
    "drop",     "duplicate", "reorder", "reorder_gap", "reorder_timeout_us",
    "delay_us", "jitter_us", "corrupt", "seed"};

// Sets `key` of `spec` from its text ("1.5" for a percentage, "25000" for a count). Returns an
// error message (naming the accepted range) and leaves `spec` unchanged on bad input.
std::optional<std::string> set_fault_key(FaultSpec& spec, std::string_view key,
                                         std::string_view value);

// The value of `key` as set_fault_key() accepts it back ("1.5", "25000").
std::string fault_key_text(const FaultSpec& spec, std::string_view key);

// "drop 1.5% delay 25000us ..." (only what is set), or "off".
std::string describe(const FaultSpec& spec);

std::string_view to_string(FaultDirection dir);

}  // namespace braid::dataplane
