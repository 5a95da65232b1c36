// What the libFuzzer targets that need DPDK share: EAL brought up once with no device at all
// (--no-huge, --no-pci, a per-process --file-prefix, so fuzzers never touch the machine's NIC
// and never clash with each other) and removed again at exit, and the byte reader their
// operation scripts are decoded with.
#pragma once

#include <dirent.h>
#include <rte_eal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "dataplane/eal.h"

namespace braid::fuzz {

// At exit (libFuzzer ends with exit() after -max_total_time / -runs): release EAL and remove the
// runtime directory (/var/run/dpdk/<file-prefix>/) that rte_eal_init created, so runs leave
// nothing behind. After a crash it stays, named by the pid.
inline void eal_cleanup_at_exit() {
    const std::string dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
                unlink((dir + "/" + e->d_name).c_str());
            }
        }
        closedir(d);
        rmdir(dir.c_str());
    }
}

// EAL on lcore 0 with 128 MB of ordinary memory and no device; `name` names the file prefix
// (braid-fuzz-<name>-<pid>) and the error message. Exits on failure: a fuzzer without EAL would
// only report false crashes.
inline void eal_up(const char* name) {
    const std::string prefix = std::string("braid-fuzz-") + name + "-" + std::to_string(getpid());
    std::string err;
    if (!braid::dataplane::eal_init(
            {"fuzz", "-l", "0", "--no-huge", "-m", "128", "--no-pci", "--file-prefix", prefix,
             "--no-telemetry", "--log-level", "lib.*:error"},
            &err)) {
        std::fprintf(stderr, "fuzz_%s: %s\n", name, err.c_str());
        std::exit(1);
    }
    std::atexit(eal_cleanup_at_exit);
}

// Reads an operation script; past the end every read yields zeros, so a script never has to be
// well formed.
struct Reader {
    std::span<const uint8_t> in;
    size_t pos = 0;
    bool empty() const { return pos >= in.size(); }
    uint8_t u8() { return pos < in.size() ? in[pos++] : 0; }
    uint16_t u16() { return static_cast<uint16_t>((u8() << 8) | u8()); }
    uint32_t u32() { return (uint32_t{u16()} << 16) | u16(); }
    std::span<const uint8_t> bytes(size_t n) {
        n = std::min(n, in.size() - std::min(pos, in.size()));
        auto s = in.subspan(pos, n);
        pos += n;
        return s;
    }
};

}  // namespace braid::fuzz
