// The per-packet logic of braid's local stages, separate from graph plumbing so that it can be
// driven directly by tests and libFuzzer targets. Each function takes an untrusted frame in an
// mbuf and decides what happens to it; a `tx` verdict means the mbuf now holds the reply, to be
// sent out of the port it came in on.
#pragma once

#include <rte_ether.h>
#include <rte_mbuf.h>

#include "dataplane/app.h"
#include "pipelines/drop_reasons.h"
#include "pipelines/node.h"

namespace braid::pipelines {

enum class Verdict : uint8_t {
    drop,
    arp,
    icmp_local,
    gtpu_input,
    gtpu_echo,
    gtpu_error_ind,
    pdr_ul,
    pdr_dl,
    tcp_local,
    tx,
    consumed,  // the stage kept or freed the mbuf
};

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
StageResult icmp_local_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                              dataplane::WorkerContext* wc = nullptr);

// GTP-U on UDP 2152 to braid's N3 address (after eth_classify validated IPv4 and UDP): which
// stage handles the message (G-PDU metadata filled in for pdr_ul).
StageResult gtpu_input_packet(const dataplane::PortRuntime& port, rte_mbuf* m);

// Path management (TS 29.281 §7.2) in place: Echo Request → Echo Response; a message with an
// unknown comprehension-required extension header → Supported Extension Headers Notification
// (rate-limited by `wc`, may be null in tests: no limit).
StageResult gtpu_echo_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                             dataplane::WorkerContext* wc);

// Tunnel management (§7.3.1): a G-PDU to an unknown TEID (from pdr_ul) → Error Indication in
// place (rate-limited); a received Error Indication → reported to the control core.
StageResult gtpu_error_ind_packet(const dataplane::PortRuntime& port, rte_mbuf* m,
                                  dataplane::WorkerContext* wc);

// Rewrites the IPv4/UDP/GTP-U headers of a frame in place into a reply to its sender carrying
// `gtp` (`len` octets): addresses and ports swapped (or `dst_port` when non-zero), TTL 64,
// checksums recomputed. False if the mbuf cannot hold it.
bool gtpu_reply_in_place(const dataplane::PortRuntime& port, rte_mbuf* m, const uint8_t* gtp,
                         size_t len, uint16_t dst_port);

// A reply built in place goes back to the frame's sender, from the port's MAC.
inline void reply_to_sender(rte_ether_hdr* eth, const dataplane::PortRuntime& port) {
    eth->dst_addr = eth->src_addr;
    eth->src_addr = port.mac;
}

// The process function of a stage that answers in place: each packet either leaves through the
// TX node of the port it came from (edges `first_tx` and `first_tx + 1` for n3/n6) or is dropped
// (edge `drop_edge`) for the reason the stage gave.
template <typename Stage>
uint16_t answer_or_drop(rte_graph* graph, rte_node* node, void** objs, uint16_t nb,
                        rte_edge_t drop_edge, rte_edge_t first_tx, Stage&& stage) {
    const auto& ports = dataplane::current_app->ports();
    for (uint16_t i = 0; i < nb; ++i) {
        auto* m = static_cast<rte_mbuf*>(objs[i]);
        const dataplane::PortRuntime& port = ports[dataplane::meta(m).port_index];
        StageResult r = stage(port, m);
        if (r.verdict == Verdict::tx) {
            rte_node_enqueue_x1(graph, node, tx_edge_for(port, first_tx), m);
        } else {
            enqueue_drop(graph, node, drop_edge, m, r.reason);
        }
    }
    return nb;
}

}  // namespace braid::pipelines
