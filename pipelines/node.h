// What every braid graph node shares: its 16-byte context, the drop helper and registration
// from C++ (RTE_NODE_REGISTER's designated array initialisers are C-only, and next_nodes is a
// flexible array member, so nodes are described by a NodeDef and registered at start-up).
#pragma once

#include <rte_graph.h>
#include <rte_graph_worker.h>
#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/app.h"
#include "dataplane/mbuf_meta.h"
#include "pipelines/drop_reasons.h"

namespace braid::pipelines {

struct NodeDef {
    const char* name;
    rte_node_process_t process;
    uint64_t flags;                 // RTE_NODE_SOURCE_F for sources
    const char* const* next_nodes;  // edge index → node name
    uint16_t nb_edges;
    rte_node_init_t init;  // nullptr: the common init (sets NodeCtx::wc)
};

// Lives in rte_node::ctx: set by the common init callback when the worker's graph is created.
struct NodeCtx {
    dataplane::WorkerContext* wc;
    uint8_t aux;
};
static_assert(sizeof(NodeCtx) <= RTE_NODE_CTX_SZ);

inline NodeCtx& ctx(rte_node* node) {
    return *reinterpret_cast<NodeCtx*>(node->ctx);
}

// The common init callback: points NodeCtx::wc at the worker whose graph is being created.
int common_init(const rte_graph* graph, rte_node* node);
void set_worker_being_built(dataplane::WorkerContext* wc);
rte_node_t register_node(const NodeDef& def);

inline const dataplane::App& app() {
    return *dataplane::current_app;
}

inline void enqueue_drop(rte_graph* graph, rte_node* node, rte_edge_t drop_edge, rte_mbuf* m,
                         DropReason reason) {
    dataplane::meta(m).drop_reason = static_cast<uint8_t>(reason);
    rte_node_enqueue_x1(graph, node, drop_edge, m);
}

// The TX node for the port a packet leaves through.
enum class TxEdge : rte_edge_t { n3_tx, n6_tx };
inline rte_edge_t tx_edge_for(const dataplane::PortRuntime& port, rte_edge_t first_tx_edge) {
    return static_cast<rte_edge_t>(first_tx_edge + (port.role == config::PortRole::n6 ? 1 : 0));
}

}  // namespace braid::pipelines
