// The packet graph of every worker (DESIGN.md §3). This list is the map of the system:
//
//   n3_rx ─┐
//   n6_rx ─┴→ eth_classify → { arp, icmp_local, gtpu_input (UDP 2152 on N3),
//                              pdr_dl (IP to a foreign address on N6), drop }
//   gtpu_input → { pdr_ul (G-PDU), gtpu_echo (Echo, SEHN), gtpu_error_ind, drop }
//   pdr_ul → { qer_meter, handoff, gtpu_error_ind (unknown TEID), proxy_input, drop }
//   pdr_dl → { qer_meter, handoff, tcp_local (the proxy's N6 connections), drop }
//            (handoff also: another worker's proxy N6 connection, Resume::tcp_local)
//   proxy_input (TCP to the MPTCP proxy) → { n6_tx (N6 side), pdr_dl (to the UE), handoff, drop }
//   handoff → (the owner worker's ring) … handoff_rx → { qer_meter, tcp_local, proxy_input,
//             drop }   (DESIGN.md §5)
//   qer_meter → urr_count → far_forward → { n6_tx, gtpu_encap → n3_tx, buffer, drop;
//                                           DUPL copies: n3_tx, n6_tx }
//   ctrl_tx → { n3_tx, n6_tx, pdr_dl (released buffered packets) }
//   arp, icmp_local, gtpu_echo, gtpu_error_ind → { n3_tx, n6_tx, drop }
//   eth_classify → tcp_local (TCP to braid's address) → { n3_tx, n6_tx, handoff, pdr_dl, drop }
//   tcp_timers (engine timers, applications) → { n3_tx, n6_tx, pdr_dl, drop }
//   far_forward, gtpu_encap, tcp_local, tcp_timers: a packet to an unresolved next hop waits in
//   the worker's hold queue … neighbor_release → { n3_tx, n6_tx, drop }   (RFC 1122 §2.3.2.2)
#include "pipelines/graph.h"

#include <rte_errno.h>
#include <rte_graph.h>
#include <rte_graph_worker.h>

#include <cstdio>
#include <mutex>

#include "pipelines/node.h"

namespace braid::pipelines {

extern const NodeDef n3_rx_node, n6_rx_node, ctrl_tx_node, eth_classify_node, arp_node,
    icmp_local_node, gtpu_input_node, gtpu_echo_node, gtpu_error_ind_node, pdr_ul_node, pdr_dl_node,
    qer_meter_node, urr_count_node, far_forward_node, gtpu_encap_node, buffer_node, drop_node,
    n3_tx_node, n6_tx_node, handoff_node, handoff_rx_node, tcp_local_node, tcp_timers_node,
    proxy_input_node, nbr_release_node;

namespace {

const NodeDef* const all_nodes[] = {
    &n3_rx_node,      &n6_rx_node,      &ctrl_tx_node,    &eth_classify_node,   &arp_node,
    &icmp_local_node, &gtpu_input_node, &gtpu_echo_node,  &gtpu_error_ind_node, &pdr_ul_node,
    &pdr_dl_node,     &qer_meter_node,  &urr_count_node,  &far_forward_node,    &gtpu_encap_node,
    &buffer_node,     &drop_node,       &n3_tx_node,      &n6_tx_node,          &handoff_node,
    &handoff_rx_node, &tcp_local_node,  &tcp_timers_node, &proxy_input_node,    &nbr_release_node,
};

std::once_flag registered;

}  // namespace

void register_nodes() {
    std::call_once(registered, [] {
        for (const NodeDef* d : all_nodes) {
            if (register_node(*d) == RTE_NODE_ID_INVALID) {
                std::fprintf(stderr, "braid: cannot register graph node %s\n", d->name);
                std::abort();  // a programming error: names or edges are wrong
            }
        }
    });
}

bool create_worker_graph(dataplane::WorkerContext& wc, std::string* err) {
    register_nodes();
    const char* patterns[std::size(all_nodes)];
    for (size_t i = 0; i < std::size(all_nodes); ++i) {
        patterns[i] = all_nodes[i]->name;
    }
    rte_graph_param prm{};
    prm.socket_id = static_cast<int>(rte_lcore_to_socket_id(wc.lcore_id));
    prm.nb_node_patterns = static_cast<uint16_t>(std::size(all_nodes));
    prm.node_patterns = patterns;
    set_worker_being_built(&wc);
    rte_graph_t id = rte_graph_create(wc.graph_name, &prm);
    set_worker_being_built(nullptr);
    if (id == RTE_GRAPH_ID_INVALID) {
        *err = std::string("cannot create the packet graph of ") + wc.graph_name + ": " +
               rte_strerror(rte_errno);
        return false;
    }
    wc.graph = rte_graph_lookup(wc.graph_name);
    return wc.graph != nullptr;
}

void destroy_worker_graph(dataplane::WorkerContext& wc) {
    if (wc.graph != nullptr) {
        rte_graph_destroy(rte_graph_from_name(wc.graph_name));
        wc.graph = nullptr;
    }
}

std::vector<NodeStats> node_stats(const dataplane::WorkerContext& wc) {
    std::vector<NodeStats> out;
    if (wc.graph == nullptr) {
        return out;
    }
    // rte_graph_foreach_node, spelled out: its void* arithmetic is C-only. The counters are
    // written by the worker; a naturally aligned u64 read from the control core is tear-free on
    // x86-64 (if slightly stale).
    rte_graph_off_t off = wc.graph->nodes_start;
    for (rte_node_t i = 0; i < wc.graph->nb_nodes; ++i) {
        const auto* node = static_cast<const rte_node*>(RTE_PTR_ADD(wc.graph, off));
        out.push_back({node->name, node->total_calls, node->total_objs, node->total_cycles});
        off = node->next;
    }
    return out;
}

std::vector<NodeEdges> graph_edges() {
    std::vector<NodeEdges> out;
    for (const NodeDef* d : all_nodes) {
        NodeEdges e{d->name, (d->flags & RTE_NODE_SOURCE_F) != 0, {}};
        for (uint16_t i = 0; i < d->nb_edges; ++i) {
            e.next.emplace_back(d->next_nodes[i]);
        }
        out.push_back(std::move(e));
    }
    return out;
}

std::string graph_dot(const dataplane::WorkerContext& wc) {
    char* buf = nullptr;
    size_t len = 0;
    FILE* f = open_memstream(&buf, &len);
    if (f == nullptr) {
        return {};
    }
    rte_graph_export(wc.graph_name, f);
    std::fclose(f);
    std::string s(buf, len);
    std::free(buf);
    return s;
}

}  // namespace braid::pipelines
