// CLI and /metrics for the fault-injection stage (dataplane/fault.h): thin adapters over
// App::set_fault_plan() and the per-worker injector counters.
#include <cinttypes>
#include <string>

#include "control/commands.h"

namespace braid::control {

namespace {

using cli::Args;
using cli::Output;
using dataplane::FaultDirection;
using dataplane::FaultInjector;

constexpr config::PortRole roles[] = {config::PortRole::n3, config::PortRole::n6};
constexpr FaultDirection directions[] = {FaultDirection::rx, FaultDirection::tx};

// The per-injector counters as data: name (CLI column, metric `action` label) and member.
struct CounterInfo {
    const char* name;
    dataplane::Counter dataplane::FaultCounters::*member;
};
constexpr CounterInfo counter_info[] = {
    {"seen", &dataplane::FaultCounters::seen},
    {"dropped", &dataplane::FaultCounters::dropped},
    {"duplicated", &dataplane::FaultCounters::duplicated},
    {"duplicate_failed", &dataplane::FaultCounters::duplicate_failed},
    {"delayed", &dataplane::FaultCounters::delayed},
    {"reordered", &dataplane::FaultCounters::reordered},
    {"corrupted", &dataplane::FaultCounters::corrupted},
    {"delay_full", &dataplane::FaultCounters::delay_full},
};

std::optional<config::PortRole> role_of(std::string_view w) {
    if (w == "n3") {
        return config::PortRole::n3;
    }
    if (w == "n6") {
        return config::PortRole::n6;
    }
    return std::nullopt;
}

std::optional<FaultDirection> direction_of(std::string_view w) {
    if (w == "rx") {
        return FaultDirection::rx;
    }
    if (w == "tx") {
        return FaultDirection::tx;
    }
    return std::nullopt;
}

// set fault <n3|n6> <rx|tx> <key> <value> [<key> <value> ...]: keys not named keep their value.
void set_fault(dataplane::App& app, const Args& args, Output& out) {
    const auto role = role_of(args.word(2));
    const auto dir = direction_of(args.word(3));
    if (!role || !dir) {
        out.printf("error: expected 'set fault n3|n6 rx|tx <key> <value> ...'\n");
        return;
    }
    const auto& w = args.words();
    if (w.size() < 6 || (w.size() - 4) % 2 != 0) {
        out.printf("error: expected <key> <value> pairs after the direction\n");
        return;
    }
    dataplane::FaultPlan plan = app.fault_plan();
    dataplane::FaultSpec& spec = plan.at(static_cast<uint8_t>(*role), *dir);
    for (size_t i = 4; i + 1 < w.size(); i += 2) {
        if (auto why = dataplane::set_fault_key(spec, w[i], w[i + 1])) {
            out.printf("error: %s: %s\n", w[i].c_str(), why->c_str());
            return;  // nothing applied
        }
    }
    app.set_fault_plan(plan);
    out.printf("fault %s %s: %s\n", std::string(config::to_string(*role)).c_str(),
               std::string(dataplane::to_string(*dir)).c_str(), dataplane::describe(spec).c_str());
}

// clear fault [n3|n6 [rx|tx]]
void clear_fault(dataplane::App& app, const Args& args, Output& out) {
    const std::string_view rw = args.word(2);
    const std::string_view dw = args.word(3);
    const auto role = role_of(rw);
    const auto dir = direction_of(dw);
    if ((!rw.empty() && !role) || (!dw.empty() && !dir)) {
        out.printf("error: expected 'clear fault [n3|n6 [rx|tx]]'\n");
        return;
    }
    dataplane::FaultPlan plan = app.fault_plan();
    for (config::PortRole r : roles) {
        for (FaultDirection d : directions) {
            if ((!role || *role == r) && (!dir || *dir == d)) {
                plan.at(static_cast<uint8_t>(r), d) = dataplane::FaultSpec{};
            }
        }
    }
    app.set_fault_plan(plan);
    out.printf("fault injection %s\n", plan.enabled() ? "cleared there" : "off");
}

void show_fault(const dataplane::App& app, const Args&, Output& out) {
    const dataplane::FaultPlan& plan = app.fault_plan();
    for (config::PortRole r : roles) {
        for (FaultDirection d : directions) {
            out.printf("%s %s: %s\n", std::string(config::to_string(r)).c_str(),
                       std::string(dataplane::to_string(d)).c_str(),
                       dataplane::describe(plan.at(static_cast<uint8_t>(r), d)).c_str());
        }
    }
    out.printf("\n%-6s %-4s %-3s", "worker", "port", "dir");
    for (const auto& c : counter_info) {
        out.printf(" %12s", c.name);
    }
    out.printf(" %6s\n", "held");
    for (const auto* wc : app.workers()) {
        for (config::PortRole r : roles) {
            for (FaultDirection d : directions) {
                // `held` is the worker's own field: a relaxed snapshot is fine for display.
                const FaultInjector& inj = wc->fault.at(static_cast<uint8_t>(r), d);
                out.printf("%-6u %-4s %-3s", wc->index, std::string(config::to_string(r)).c_str(),
                           std::string(dataplane::to_string(d)).c_str());
                for (const auto& c : counter_info) {
                    out.printf(" %12" PRIu64, (inj.counters.*c.member).get());
                }
                out.printf(" %6u\n", inj.held());
            }
        }
    }
}

}  // namespace

void register_fault_commands(cli::Registry& r, CommandContext& ctx) {
    auto& app = ctx.app;
    // clang-format off
    r.add({"set fault n3|n6 rx|tx <settings:str...>",
           "inject faults: <key> <value> pairs, keys drop duplicate reorder corrupt (percent), reorder_gap reorder_timeout_us delay_us jitter_us seed",
           [&app](const Args& a, Output& o) { set_fault(app, a, o); }});
    r.add({"clear fault", "turn all fault injection off",
           [&app](const Args& a, Output& o) { clear_fault(app, a, o); }});
    r.add({"clear fault n3|n6", "turn fault injection off on a port role",
           [&app](const Args& a, Output& o) { clear_fault(app, a, o); }});
    r.add({"clear fault n3|n6 rx|tx", "turn fault injection off on a port role and direction",
           [&app](const Args& a, Output& o) { clear_fault(app, a, o); }});
    r.add({"show fault", "fault injection: spec per port role and direction, counters per worker",
           [&app](const Args& a, Output& o) { show_fault(app, a, o); }});
    // clang-format on
}

void fault_families(const dataplane::App& app, std::vector<metrics::Family>& out) {
    metrics::Family f{"braid_fault_packets_total",
                      "Packets the fault-injection stage saw and what it did to them "
                      "(action: seen, dropped, duplicated, delayed, ...)",
                      metrics::Type::counter,
                      {}};
    for (config::PortRole r : roles) {
        for (FaultDirection d : directions) {
            for (const auto& c : counter_info) {
                uint64_t sum = 0;
                for (const auto* wc : app.workers()) {
                    sum += (wc->fault.at(static_cast<uint8_t>(r), d).counters.*c.member).get();
                }
                f.samples.push_back({{{"port", std::string(config::to_string(r))},
                                      {"direction", std::string(dataplane::to_string(d))},
                                      {"action", c.name}},
                                     double(sum)});
            }
        }
    }
    out.push_back(std::move(f));
}

}  // namespace braid::control
