// One EAL per test process: --no-huge, --no-pci, a unique --file-prefix, lcores 0 (the test),
// 1 (a worker) and 2 (a second worker for the hand-off tests, which never launch it: it shares
// CPU 1 so that two CPUs suffice). Tests that need DPDK call eal_once() first.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "dataplane/eal.h"

namespace braid::test {

inline void eal_once() {
    static bool done = [] {
        std::string prefix = "braid-unit-" + std::to_string(getpid());
        std::string err;
        if (!dataplane::eal_init(
                {"unit_tests", "--lcores", "0,1,2@1", "--no-huge", "-m", "256", "--no-pci",
                 "--file-prefix", prefix, "--log-level", "lib.eal:warning", "--no-telemetry"},
                &err)) {
            std::fprintf(stderr, "unit_tests: %s\n", err.c_str());
            std::exit(2);
        }
        // EAL leaves its runtime directory behind; tests must not litter /var/run/dpdk.
        static std::string dir = "/var/run/dpdk/" + prefix;
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(dir, ec);
        });
        return true;
    }();
    (void)done;
}

}  // namespace braid::test
