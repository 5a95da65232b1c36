// bench_syncookie: SYN cookies per second (tcpstack/syn_cookie.h) on one core: make_isn() for the
// SYN/ACK of a flood, check() of a genuine third segment, check() of a forged one (the flood
// case: an attacker's ACK), and plain SipHash-2-4 over the 37-byte IPv4 MAC input.
// IPv4 and IPv6 tuples, 1024 distinct connections (fixed seed). Each figure is the best of
// --repeat runs of --ms milliseconds. No EAL, no packets: the cost of the cookie arithmetic only.
//
//   bench_syncookie [--ms 200] [--repeat 5]
//
// Output: a table, then `result.` key=value lines (scripts/bench.sh style). Exit status 1 if a
// genuine cookie is rejected or a forged one accepted.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "tcpstack/siphash.h"
#include "tcpstack/syn_cookie.h"

using namespace braid::tcp;

namespace {

struct Options {
    unsigned ms = 200;
    unsigned repeat = 5;
};

constexpr size_t n_conns = 1024;
constexpr uint64_t now_us = 1000ULL * 64'000'000;

struct Conn {
    CookieTuple tuple;
    uint32_t client_isn;
    uint32_t cookie;
    uint32_t forged;
};

std::vector<Conn> make_conns(uint8_t family, std::mt19937_64& rng, const SynCookies& sc) {
    std::vector<Conn> v(n_conns);
    for (Conn& c : v) {
        c.tuple = CookieTuple{};
        c.tuple.family = family;
        if (family == 4) {
            c.tuple.local = {198, 18, 0, 1};
            c.tuple.remote = {198, 19, static_cast<uint8_t>(rng()), static_cast<uint8_t>(rng())};
        } else {
            c.tuple.local = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
            c.tuple.remote = {0x20, 0x01, 0x0d, 0xb8, 0, 1};
            for (size_t i = 8; i < 16; ++i) {
                c.tuple.remote[i] = static_cast<uint8_t>(rng());
            }
        }
        c.tuple.local_port = 443;
        c.tuple.remote_port = static_cast<uint16_t>(1024 + rng() % 64000);
        c.client_isn = static_cast<uint32_t>(rng());
        c.cookie = sc.make_isn(c.tuple, c.client_isn, {1460, 7, true, true}, now_us);
        c.forged = static_cast<uint32_t>(rng());
    }
    return v;
}

// Best rate (operations per second) of `repeat` runs of `ms` milliseconds of `op` over `conns`.
template <class Op>
double best_rate(const Options& o, const std::vector<Conn>& conns, Op op, uint64_t& sink) {
    using clock = std::chrono::steady_clock;
    double best = 0;
    for (unsigned r = 0; r < o.repeat; ++r) {
        const auto start = clock::now();
        const auto end = start + std::chrono::milliseconds(o.ms);
        uint64_t ops = 0;
        auto t = start;
        while (t < end) {
            for (const Conn& c : conns) {
                sink += op(c);
            }
            ops += conns.size();
            t = clock::now();
        }
        const double s = std::chrono::duration<double>(t - start).count();
        best = std::max(best, double(ops) / s);
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--ms") == 0 && i + 1 < argc) {
            o.ms = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        } else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            o.repeat = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
        } else {
            std::fprintf(stderr, "usage: bench_syncookie [--ms 200] [--repeat 5]\n");
            return 2;
        }
    }
    if (o.ms == 0 || o.repeat == 0) {
        std::fprintf(stderr, "bench_syncookie: --ms and --repeat must be > 0\n");
        return 2;
    }

    std::array<uint8_t, 16> secret{};
    std::mt19937_64 rng(2026);
    for (auto& b : secret) {
        b = static_cast<uint8_t>(rng());
    }
    const SynCookies sc(secret);
    const SipKey key = SipKey::from_bytes(secret);
    uint64_t sink = 0;
    int bad = 0;

    std::printf("%-6s %16s %16s %16s %16s\n", "family", "make_isn/s", "check_ok/s", "check_bad/s",
                "siphash37/s");
    std::string results;
    for (uint8_t family : {uint8_t{4}, uint8_t{6}}) {
        const auto conns = make_conns(family, rng, sc);
        for (const Conn& c : conns) {
            bad += !sc.check(c.tuple, c.client_isn, c.cookie, now_us + 1);
            bad += c.forged != c.cookie && sc.check(c.tuple, c.client_isn, c.forged, now_us + 1);
        }
        const double make = best_rate(
            o, conns,
            [&](const Conn& c) {
                return sc.make_isn(c.tuple, c.client_isn, {1460, 7, true, true}, now_us);
            },
            sink);
        const double ok = best_rate(
            o, conns,
            [&](const Conn& c) {
                return sc.check(c.tuple, c.client_isn, c.cookie, now_us + 1).has_value();
            },
            sink);
        const double forged = best_rate(
            o, conns,
            [&](const Conn& c) {
                return sc.check(c.tuple, c.client_isn, c.forged, now_us + 1).has_value();
            },
            sink);
        std::array<uint8_t, 37> msg{};
        const double sip = best_rate(
            o, conns,
            [&](const Conn& c) {
                msg[0] = static_cast<uint8_t>(c.client_isn);
                return siphash24(key, msg);
            },
            sink);
        std::printf("ipv%-3u %16.0f %16.0f %16.0f %16.0f\n", family, make, ok, forged, sip);
        char line[256];
        std::snprintf(line, sizeof line,
                      "result.make_isn_per_s.ipv%u=%.0f\nresult.check_ok_per_s.ipv%u=%.0f\n"
                      "result.check_forged_per_s.ipv%u=%.0f\nresult.siphash37_per_s.ipv%u=%.0f\n",
                      family, make, family, ok, family, forged, family, sip);
        results += line;
    }
    std::printf("%sresult.sink=%llu\n", results.c_str(), static_cast<unsigned long long>(sink));
    if (bad != 0) {
        std::fprintf(stderr, "bench_syncookie: %d cookies validated wrongly\n", bad);
        return 1;
    }
    return 0;
}
