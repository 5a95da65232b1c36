// bench_sdf: nanoseconds per Classifier::match (dataplane/sdf.h) for the linear engine and the
// rte_acl engine at 1 .. 256 rules on IPv4, to set Classifier::acl_threshold from data.
//
// Rule counts: 1, 2, 4 .. 256 and a few points in between. Rule i (precedence 100 + i, one SDF
// filter each, the shapes of typical PCC rules):
//   i % 4 == 0  permit out 6 from 198.18.<i>.0/24 to assigned 443
//   i % 4 == 1  permit out 17 from 198.18.<i>.0/24 2000-2999 to assigned
//   i % 4 == 2  permit out ip from 198.18.<i>.0/24 to assigned
//   i % 4 == 3  permit out 17 from 198.19.<i>.0/24 53 to assigned 1024-65535
// Packets (downlink keys, 1024 per workload, fixed seed): "mixed" = 80 % aimed at a uniformly
// chosen rule, 20 % matching nothing; "last" = every packet matched by the last rule (traffic
// on a catch-all PDR after the SDF-specific ones); "miss" = none matches (dropped traffic).
// Each figure is the best of --repeat runs of --ms milliseconds over the key array; the build
// time is the median of five builds.
//
//   bench_sdf [--ms 200] [--repeat 5]
//
// Output: a table, the crossovers (rule count where the ACL becomes faster, interpolated; one
// filter per rule, so also the filter count) and the suggested Classifier::acl_threshold (the
// "last" crossover), then `result.` key=value lines (scripts/bench.sh style).
// Exit status 1 if the two engines ever disagree.
#include <rte_cycles.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "dataplane/eal.h"
#include "dataplane/sdf.h"

using namespace braid::dataplane;
using namespace braid::dataplane::sdf;

namespace {

struct Options {
    unsigned ms = 200;
    unsigned repeat = 5;
};

// Powers of two, plus points in between where the crossover is expected.
constexpr size_t rule_counts[] = {1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128, 256};
constexpr size_t n_keys = 1024;

const uint8_t ue_ip[4] = {198, 19, 100, 1};
const uint8_t other_ue_ip[4] = {198, 19, 100, 2};

std::array<uint8_t, 16> v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return {a, b, c, d};
}

RuleInput make_rule(size_t i) {
    const auto octet = static_cast<uint8_t>(i);
    std::string text;
    switch (i % 4) {
        case 0:
            text = "permit out 6 from 198.18." + std::to_string(octet) + ".0/24 to assigned 443";
            break;
        case 1:
            text = "permit out 17 from 198.18." + std::to_string(octet) +
                   ".0/24 2000-2999 to assigned";
            break;
        case 2:
            text = "permit out ip from 198.18." + std::to_string(octet) + ".0/24 to assigned";
            break;
        default:
            text = "permit out 17 from 198.19." + std::to_string(octet) +
                   ".0/24 53 to assigned 1024-65535";
            break;
    }
    auto parsed = parse_flow_description(text);
    if (auto* e = std::get_if<std::string>(&parsed)) {
        std::fprintf(stderr, "bench_sdf: %s: %s\n", text.c_str(), e->c_str());
        std::exit(2);
    }
    RuleInput r;
    r.pdr_index = static_cast<uint16_t>(i + 1);
    r.precedence = static_cast<uint32_t>(100 + i);
    Filter f;
    f.flow = std::get<FlowDescription>(parsed);
    r.filters.push_back(f);
    return r;
}

// A downlink key that rule i matches.
PacketKey key_for(size_t i, std::mt19937& rng) {
    PacketKey k;
    k.family = 4;
    std::memcpy(k.ue.data(), ue_ip, 4);
    const auto octet = static_cast<uint8_t>(i);
    const auto host = static_cast<uint8_t>(1 + rng() % 254);
    k.has_ports = true;
    k.ue_port = static_cast<uint16_t>(1024 + rng() % 60000);
    switch (i % 4) {
        case 0:
            k.proto = 6;
            k.remote = v4(198, 18, octet, host);
            k.remote_port = static_cast<uint16_t>(rng() % 65536);
            k.ue_port = 443;
            break;
        case 1:
            k.proto = 17;
            k.remote = v4(198, 18, octet, host);
            k.remote_port = static_cast<uint16_t>(2000 + rng() % 1000);
            break;
        case 2:
            k.proto = 1;
            k.has_ports = false;
            k.ue_port = 0;
            k.remote = v4(198, 18, octet, host);
            break;
        default:
            k.proto = 17;
            k.remote = v4(198, 19, octet, host);
            k.remote_port = 53;
            break;
    }
    return k;
}

// A key no rule matches (another UE address: every rule is "to assigned").
PacketKey miss_key(std::mt19937& rng) {
    PacketKey k = key_for(rng() % 256, rng);
    std::memcpy(k.ue.data(), other_ue_ip, 4);
    return k;
}

volatile int sink = 0;  // keeps the match results alive

// Best of `repeat` runs of ~`ms` milliseconds each over `keys`: ns per match.
double measure(const Classifier& c, const std::vector<PacketKey>& keys, const Options& o) {
    const uint64_t hz = rte_get_tsc_hz();
    double best = 1e18;
    for (unsigned r = 0; r < o.repeat; ++r) {
        const uint64_t budget = hz / 1000 * o.ms;
        uint64_t n = 0;
        int sum = 0;
        const uint64_t t0 = rte_rdtsc_precise();
        uint64_t t1 = t0;
        while (t1 - t0 < budget) {
            for (const PacketKey& k : keys) {
                sum += c.match(k, 0, std::nullopt);
            }
            n += keys.size();
            t1 = rte_rdtsc_precise();
        }
        sink = sink + sum;
        best = std::min(best, static_cast<double>(t1 - t0) * 1e9 / static_cast<double>(hz) /
                                  static_cast<double>(n));
    }
    return best;
}

// Where linear stops being faster, interpolated between the measured counts around it.
double crossover(const std::vector<double>& lin, const std::vector<double>& acl) {
    for (size_t i = 1; i < lin.size(); ++i) {
        const double d0 = lin[i - 1] - acl[i - 1];
        const double d1 = lin[i] - acl[i];
        if (d0 <= 0 && d1 > 0) {
            const auto n0 = static_cast<double>(rule_counts[i - 1]);
            const auto n1 = static_cast<double>(rule_counts[i]);
            return n0 + (n1 - n0) * (-d0) / (d1 - d0);
        }
    }
    return lin.front() > acl.front() ? 0 : static_cast<double>(rule_counts[lin.size() - 1]);
}

bool parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&](unsigned lo, unsigned hi, unsigned& out) {
            if (i + 1 >= argc) {
                return false;
            }
            char* end = nullptr;
            unsigned long v = std::strtoul(argv[++i], &end, 10);
            if (*end != '\0' || v < lo || v > hi) {
                return false;
            }
            out = static_cast<unsigned>(v);
            return true;
        };
        if (a == "--ms") {
            if (!value(10, 10000, o.ms)) {
                return false;
            }
        } else if (a == "--repeat") {
            if (!value(1, 100, o.repeat)) {
                return false;
            }
        } else {
            return false;
        }
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    if (!parse_args(argc, argv, opt)) {
        std::fprintf(stderr,
                     "usage: %s [--ms MILLISECONDS (10-10000, default 200)] [--repeat N (1-100, "
                     "default 5)]\n",
                     argv[0]);
        return 2;
    }
    const std::string prefix = "braid-bench-sdf-" + std::to_string(getpid());
    std::string err;
    if (!eal_init({"bench_sdf", "-l", "0", "--no-huge", "-m", "512", "--no-pci", "--file-prefix",
                   prefix, "--log-level", "lib.eal:warning", "--no-telemetry"},
                  &err)) {
        std::fprintf(stderr, "bench_sdf: %s\n", err.c_str());
        return 2;
    }
    // EAL leaves its runtime directory behind; a benchmark must not litter /var/run/dpdk.
    static const std::string runtime_dir = "/var/run/dpdk/" + prefix;
    std::atexit([] {
        std::error_code ec;
        std::filesystem::remove_all(runtime_dir, ec);
    });

    UeAddresses ue;
    ue.v4.family = 4;
    ue.v4.len = 32;
    std::memcpy(ue.v4.addr.data(), ue_ip, 4);

    std::printf("bench_sdf: ns per Classifier::match, IPv4 downlink keys, best of %u x %u ms\n",
                opt.repeat, opt.ms);
    std::printf(
        "(mixed: 80%% hit a uniformly chosen rule, 20%% match nothing; last: every packet hits\n"
        " the last rule, as traffic on a catch-all PDR; miss: no rule matches)\n\n");
    std::printf("%6s | %-19s | %-19s | %-19s | %s\n", "", "mixed", "last rule", "miss",
                "acl build");
    std::printf("%6s | %9s %9s | %9s %9s | %9s %9s | %9s\n", "rules", "linear", "acl", "linear",
                "acl", "linear", "acl", "ms");
    std::printf(
        "-------+---------------------+---------------------+---------------------+---------"
        "-\n");

    constexpr size_t n_work = 3;  // mixed, last, miss
    const char* const work_names[n_work] = {"mixed", "last", "miss"};
    std::vector<double> lin_ns[n_work];
    std::vector<double> acl_ns[n_work];
    int failures = 0;
    std::string results;
    for (size_t n : rule_counts) {
        std::vector<RuleInput> rules;
        for (size_t i = 0; i < n; ++i) {
            rules.push_back(make_rule(i));
        }
        std::mt19937 rng(12345);
        std::vector<PacketKey> keys[n_work];
        for (size_t i = 0; i < n_keys; ++i) {
            keys[0].push_back(rng() % 5 == 0 ? miss_key(rng) : key_for(rng() % n, rng));
            keys[1].push_back(key_for(n - 1, rng));
            keys[2].push_back(miss_key(rng));
        }
        auto lin = Classifier::build(rules, ue, &err, Classifier::Engine::linear);
        // Build time: the median of 5 (the first builds of a process pay for malloc growth).
        std::unique_ptr<Classifier> acl;
        std::vector<double> builds;
        for (int b = 0; b < 5; ++b) {
            const uint64_t b0 = rte_rdtsc_precise();
            acl = Classifier::build(rules, ue, &err, Classifier::Engine::acl);
            builds.push_back(static_cast<double>(rte_rdtsc_precise() - b0) * 1e3 /
                             static_cast<double>(rte_get_tsc_hz()));
            if (!acl) {
                break;
            }
        }
        std::sort(builds.begin(), builds.end());
        const double build_ms = builds[builds.size() / 2];
        if (!lin || !acl) {
            std::fprintf(stderr, "bench_sdf: build (%zu rules): %s\n", n, err.c_str());
            return 1;
        }
        std::printf("%6zu |", n);
        for (size_t w = 0; w < n_work; ++w) {
            // Same answers, or the numbers mean nothing.
            for (const PacketKey& k : keys[w]) {
                if (lin->match(k, 0, std::nullopt) != acl->match(k, 0, std::nullopt)) {
                    ++failures;
                }
            }
            const double l = measure(*lin, keys[w], opt);
            const double a = measure(*acl, keys[w], opt);
            lin_ns[w].push_back(l);
            acl_ns[w].push_back(a);
            std::printf(" %9.1f %9.1f |", l, a);
            char line[160];
            std::snprintf(line, sizeof(line),
                          "result.%s.linear_ns.%zu=%.1f\nresult.%s.acl_ns.%zu=%.1f\n",
                          work_names[w], n, l, work_names[w], n, a);
            results += line;
        }
        std::printf(" %9.2f\n", build_ms);
    }
    std::printf("\ncrossover, rules (= filters) where rte_acl becomes faster (interpolated):");
    for (size_t w = 0; w < n_work; ++w) {
        const double x = crossover(lin_ns[w], acl_ns[w]);
        std::printf(" %s ~%.0f%s", work_names[w], x, w + 1 < n_work ? "," : "\n");
        char line[80];
        std::snprintf(line, sizeof(line), "result.%s.crossover=%.0f\n", work_names[w], x);
        results += line;
    }
    // The threshold follows the "last rule" crossover: traffic on a session's catch-all PDR
    // (lowest priority, after every SDF-specific rule) is the linear engine's common bad case.
    const auto suggested = static_cast<size_t>(crossover(lin_ns[1], acl_ns[1]));
    std::printf("suggested acl_threshold (last-rule crossover): %zu; compiled in: %zu\n\n",
                suggested, Classifier::acl_threshold);
    std::printf("%sresult.suggested_acl_threshold=%zu\nresult.acl_threshold=%zu\n", results.c_str(),
                suggested, Classifier::acl_threshold);
    if (failures != 0) {
        std::fprintf(stderr, "bench_sdf: linear and acl disagree (%d)\n", failures);
        return 1;
    }
    return 0;
}
