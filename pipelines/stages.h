// The per-packet logic of braid's local stages, separate from graph plumbing so that it can be
// driven directly by tests and libFuzzer targets. Each function takes an untrusted frame in an
// mbuf and decides what happens to it; a `tx` verdict means the mbuf now holds the reply, to be
// sent out of the port it came in on.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/app.h"
#include "pipelines/drop_reasons.h"

namespace braid::pipelines {

enum class Verdict : uint8_t { drop, arp, icmp_local, tx };

struct StageResult {
    Verdict verdict;
    DropReason reason;  // meaningful for Verdict::drop
};

// Ethernet + IPv4/IPv6 header validation; trims Ethernet padding; sets MbufMeta::l3_offset.
StageResult eth_classify_packet(const dataplane::PortRuntime& port, rte_mbuf* m);

// ARP (RFC 826): answers requests for the port's address in place; reports senders to the
// control core through `wc.w2m` (may be null in tests).
StageResult arp_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                       dataplane::WorkerContext* wc);

// ICMP echo and IPv6 neighbor solicitation for our addresses (after eth_classify).
StageResult icmp_local_packet(const dataplane::PortRuntime& port, rte_mbuf* m);

}  // namespace braid::pipelines
