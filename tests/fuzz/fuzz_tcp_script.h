// What the two engine fuzz targets (fuzz_tcp_engine, fuzz_mptcp_endpoint) share to turn a script
// into segments: invariant checks, the handful of tuples a script can name, and payload chains.
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tcpstack/engine.h"

namespace braid::fuzz {

inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "invariant violated: %s\n", what);
        std::abort();
    }
}

// Bits of `k`: 0 picks the remote port, 1 the listening (80) or the active open's (443) side,
// 2 the remote address; so scripts hit several connections and per-source limits.
inline tcp::FourTuple tuple_for(uint8_t k) {
    tcp::FourTuple t;
    t.local = tcp::IpAddr::v4(198, 18, 0, 1);
    t.remote = tcp::IpAddr::v4(198, 18, 0, static_cast<uint8_t>(2 + (k >> 2 & 1)));
    t.local_port = (k & 2) ? 443 : 80;  // 80 listens; 443 is the active open's local port
    t.remote_port = static_cast<uint16_t>(40000 + (k & 1) + (k >> 3 & 1) * 2);
    if (k & 2) {
        t.remote_port = 8080;
    }
    return t;
}

// n bytes of 'x' as a chain of mbufs of at most 700 bytes each (shorter if the pool runs dry);
// nullptr for 0.
inline rte_mbuf* payload(rte_mempool* pool, size_t n) {
    rte_mbuf* head = nullptr;
    while (n > 0) {
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        if (m == nullptr) {
            break;
        }
        size_t take = std::min<size_t>(n, 700);
        char* p = rte_pktmbuf_append(m, static_cast<uint16_t>(take));
        std::memset(p, 'x', take);
        n -= take;
        if (head == nullptr) {
            head = m;
        } else if (rte_pktmbuf_chain(head, m) != 0) {
            rte_pktmbuf_free(m);
            break;
        }
    }
    return head;
}

}  // namespace braid::fuzz
