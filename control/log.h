// braid logging: a thin layer over DPDK's rte_log.
//
// Each braid component has its own rte_log type "braid.<component>" (default level info, or what
// the EAL option --log-level=braid.*:debug picked), so `set log <component> <level>` works at run
// time and DPDK's own log stream, format and syslog handling are shared. Component "eal" is
// DPDK's RTE_LOGTYPE_EAL ("lib.eal"); "all" means every component.
//
//     BRAID_LOG(pfcp, WARNING, "association from %s rejected: %s", peer, why);
//
// prints "braid.pfcp: association ..." plus a newline. Arguments are not evaluated when the level
// is disabled. Registration is done by init(), which type() calls on first use: both work before
// rte_eal_init() (rte_log's tables are set up by a constructor), and EAL --log-level patterns
// given later still apply to the registered types.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <rte_log.h>

namespace braid::log {

enum class Component : uint8_t {
    eal,
    dataplane,
    pipelines,
    control,
    cli,
    metrics,
    config,
    pfcp,
    tcp,
    mptcp,
};
inline constexpr size_t component_count = 10;

// "eal", "dataplane", ...
std::string_view name(Component c);
bool parse_component(std::string_view s, Component* out);

// Registers the braid.<component> log types. Idempotent and thread-safe.
void init();

// The rte_log type of a component (calls init() if needed).
int type(Component c);

// "emerg" alert crit err warning notice info "debug" (case-insensitive), or the DPDK number 1..8.
bool parse_level(std::string_view s, uint32_t* out);
// RTE_LOG_EMERG..RTE_LOG_DEBUG -> "emerg".."debug"; anything else -> "unknown".
std::string_view level_name(uint32_t level);

// component is a component name or "all". If the level is more verbose than rte_log's global
// level, the global level is raised and every other type is capped at the old global level, so
// only the named component gets louder. On error sets *err (if not null) naming the valid choices.
bool set_level(std::string_view component, std::string_view level, std::string* err);

// (component, effective level) for every component, in enum order, for `show log`.
std::vector<std::pair<std::string, std::string>> levels();

}  // namespace braid::log

#define BRAID_LOG(component, LEVEL, fmt, ...)                                               \
    do {                                                                                    \
        const int braid_log_type_ = ::braid::log::type(::braid::log::Component::component); \
        if (rte_log_can_log(static_cast<uint32_t>(braid_log_type_), RTE_LOG_##LEVEL)) {     \
            rte_log(RTE_LOG_##LEVEL, static_cast<uint32_t>(braid_log_type_),                \
                    "braid." #component ": " fmt "\n" __VA_OPT__(, ) __VA_ARGS__);          \
        }                                                                                   \
    } while (0)
