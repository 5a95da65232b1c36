#include "control/log.h"

#include <algorithm>
#include <array>
#include <mutex>

namespace braid::log {

namespace {

constexpr std::array<std::string_view, component_count> kComponents = {
    "eal", "dataplane", "pipelines", "control", "cli", "metrics", "config", "pfcp", "tcp", "mptcp",
};

// Index = DPDK level - 1 (RTE_LOG_EMERG is 1, RTE_LOG_DEBUG is 8).
constexpr std::array<std::string_view, 8> kLevels = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

std::once_flag g_once;
std::array<int, component_count> g_types{};
std::mutex g_set_mu;  // set_level's read-modify-write of the global level

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>(c - 'A' + 'a');
        }
        if (c != b[i]) {
            return false;
        }
    }
    return true;
}

template <size_t N>
std::string choices(const std::array<std::string_view, N>& names, std::string_view first = {}) {
    std::string out(first);
    for (std::string_view n : names) {
        if (!out.empty()) {
            out += ", ";
        }
        out += n;
    }
    return out;
}

}  // namespace

std::string_view name(Component c) {
    return kComponents[static_cast<size_t>(c)];
}

bool parse_component(std::string_view s, Component* out) {
    for (size_t i = 0; i < kComponents.size(); ++i) {
        if (iequals(s, kComponents[i])) {
            *out = static_cast<Component>(i);
            return true;
        }
    }
    return false;
}

void init() {
    std::call_once(g_once, [] {
        g_types[static_cast<size_t>(Component::eal)] = RTE_LOGTYPE_EAL;
        for (size_t i = 0; i < kComponents.size(); ++i) {
            if (static_cast<Component>(i) == Component::eal) {
                continue;
            }
            const std::string tname = "braid." + std::string(kComponents[i]);
            const int t = rte_log_register_type_and_pick_level(tname.c_str(), RTE_LOG_INFO);
            // Only fails on allocation failure; fall back to a static user type.
            g_types[i] = t >= 0 ? t : RTE_LOGTYPE_USER1;
        }
    });
}

int type(Component c) {
    init();
    return g_types[static_cast<size_t>(c)];
}

bool parse_level(std::string_view s, uint32_t* out) {
    if (s.size() == 1 && s[0] >= '1' && s[0] <= '8') {
        *out = static_cast<uint32_t>(s[0] - '0');
        return true;
    }
    for (size_t i = 0; i < kLevels.size(); ++i) {
        if (iequals(s, kLevels[i])) {
            *out = static_cast<uint32_t>(i + 1);
            return true;
        }
    }
    return false;
}

std::string_view level_name(uint32_t level) {
    if (level < RTE_LOG_EMERG || level > RTE_LOG_DEBUG) {
        return "unknown";
    }
    return kLevels[level - 1];
}

bool set_level(std::string_view component, std::string_view level, std::string* err) {
    auto fail = [&](std::string msg) {
        if (err != nullptr) {
            *err = std::move(msg);
        }
        return false;
    };
    init();
    std::vector<int> targets;
    Component c{};
    if (iequals(component, "all")) {
        targets.assign(g_types.begin(), g_types.end());
    } else if (parse_component(component, &c)) {
        targets.push_back(type(c));
    } else {
        return fail("log: unknown component '" + std::string(component) +
                    "' (valid: " + choices(kComponents, "all") + ")");
    }
    uint32_t lvl = 0;
    if (!parse_level(level, &lvl)) {
        return fail("log: unknown level '" + std::string(level) + "' (valid: " + choices(kLevels) +
                    ")");
    }

    std::lock_guard lock(g_set_mu);
    const uint32_t global = rte_log_get_global_level();
    if (lvl > global) {
        // rte_log filters on both the global and the per-type level. Raise the global one, and
        // keep every other type's effective level where it was.
        for (uint32_t t = 0;; ++t) {
            const int cur = rte_log_get_level(t);
            if (cur < 0) {
                break;
            }
            if (static_cast<uint32_t>(cur) > global) {
                rte_log_set_level(t, global);
            }
        }
        rte_log_set_global_level(lvl);
    }
    for (int t : targets) {
        if (rte_log_set_level(static_cast<uint32_t>(t), lvl) != 0) {
            return fail("log: cannot set the level of log type " + std::to_string(t));
        }
    }
    return true;
}

std::vector<std::pair<std::string, std::string>> levels() {
    init();
    const uint32_t global = rte_log_get_global_level();
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(kComponents.size());
    for (size_t i = 0; i < kComponents.size(); ++i) {
        const int cur = rte_log_get_level(static_cast<uint32_t>(g_types[i]));
        const uint32_t eff = cur < 0 ? 0 : std::min(static_cast<uint32_t>(cur), global);
        out.emplace_back(std::string(kComponents[i]), std::string(level_name(eff)));
    }
    return out;
}

}  // namespace braid::log
