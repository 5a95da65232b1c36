// Test environment for tcpstack tests: one EAL per process (--no-huge, --no-pci, a unique
// --file-prefix, no device), a data mempool for payloads and a clone pool for the engine.
#pragma once

#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace braid::test {

struct TcpEnv {
    rte_mempool* data = nullptr;
    rte_mempool* clones = nullptr;
};

inline TcpEnv& tcp_env() {
    static TcpEnv env = [] {
        static std::string prefix = "braid-tcp-" + std::to_string(getpid());
        std::vector<std::string> args = {"tcp_tests",
                                         "-l",
                                         "0",
                                         "--no-huge",
                                         "-m",
                                         "512",
                                         "--no-pci",
                                         "--file-prefix",
                                         prefix,
                                         "--log-level",
                                         "lib.eal:warning",
                                         "--no-telemetry"};
        std::vector<char*> argv;
        for (auto& a : args) {
            argv.push_back(a.data());
        }
        if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
            std::fprintf(stderr, "tcp_tests: rte_eal_init failed\n");
            std::exit(2);
        }
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all("/var/run/dpdk/" + prefix, ec);
        });
        TcpEnv e;
        e.data = rte_pktmbuf_pool_create("tcp_data", 16383, 0, 0, 2048 + RTE_PKTMBUF_HEADROOM,
                                         SOCKET_ID_ANY);
        e.clones = rte_pktmbuf_pool_create("tcp_clones", 65535, 0, 0, 0, SOCKET_ID_ANY);
        if (e.data == nullptr || e.clones == nullptr) {
            std::fprintf(stderr, "tcp_tests: mempool creation failed\n");
            std::exit(2);
        }
        return e;
    }();
    return env;
}

// A payload chain holding `bytes`, split into segments of at most `seg` bytes.
inline rte_mbuf* make_payload(std::string_view bytes, size_t seg = 2048) {
    rte_mbuf* head = nullptr;
    size_t off = 0;
    do {
        rte_mbuf* m = rte_pktmbuf_alloc(tcp_env().data);
        if (m == nullptr) {
            std::fprintf(stderr, "tcp_tests: data pool empty\n");
            std::abort();
        }
        size_t n = std::min(seg, bytes.size() - off);
        char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(n));
        std::memcpy(p, bytes.data() + off, n);
        off += n;
        if (head == nullptr) {
            head = m;
        } else if (rte_pktmbuf_chain(head, m) != 0) {
            std::abort();
        }
    } while (off < bytes.size());
    return head;
}

// Reads and frees a chain (nullptr = "").
inline std::string take_bytes(rte_mbuf* m) {
    std::string s;
    for (rte_mbuf* x = m; x != nullptr; x = x->next) {
        s.append(rte_pktmbuf_mtod(x, const char*), x->data_len);
    }
    rte_pktmbuf_free(m);
    return s;
}

}  // namespace braid::test
