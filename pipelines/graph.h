// The packet graph: node registration, one graph per worker, and what `show graph` reads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dataplane/app.h"

namespace braid::pipelines {

// Register braid's nodes with rte_graph (once per process).
void register_nodes();

bool create_worker_graph(dataplane::WorkerContext& wc, std::string* err);
void destroy_worker_graph(dataplane::WorkerContext& wc);

struct NodeStats {
    std::string name;
    uint64_t calls = 0;
    uint64_t objs = 0;
    uint64_t cycles = 0;
};
std::vector<NodeStats> node_stats(const dataplane::WorkerContext& wc);

struct NodeEdges {
    std::string name;
    bool source = false;
    std::vector<std::string> next;
};
std::vector<NodeEdges> graph_edges();

// Graphviz of a worker's graph (rte_graph_export).
std::string graph_dot(const dataplane::WorkerContext& wc);

}  // namespace braid::pipelines
