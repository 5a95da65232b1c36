#include <cstdlib>
#include <cstring>

#include "pipelines/node.h"

namespace braid::pipelines {

namespace {

// One worker is being given its graph at a time (on the main lcore): the common init callback
// reads it to fill each node's context.
dataplane::WorkerContext* worker_being_built = nullptr;

}  // namespace

int common_init(const rte_graph* /*graph*/, rte_node* node) {
    if (worker_being_built == nullptr) {
        return -EINVAL;
    }
    ctx(node).wc = worker_being_built;
    return 0;
}

void set_worker_being_built(dataplane::WorkerContext* wc) {
    worker_being_built = wc;
}

rte_node_t register_node(const NodeDef& def) {
    size_t size = sizeof(rte_node_register) + def.nb_edges * sizeof(const char*);
    auto* reg = static_cast<rte_node_register*>(std::calloc(1, size));
    if (reg == nullptr) {
        return RTE_NODE_ID_INVALID;
    }
    std::strncpy(reg->name, def.name, RTE_NODE_NAMESIZE - 1);
    reg->flags = def.flags;
    reg->process = def.process;
    reg->init = def.init != nullptr ? def.init : common_init;
    reg->nb_edges = def.nb_edges;
    for (uint16_t i = 0; i < def.nb_edges; ++i) {
        reg->next_nodes[i] = def.next_nodes[i];
    }
    // rte_graph copies the name and the edge names.
    rte_node_t id = __rte_node_register(reg);
    std::free(reg);
    return id;
}

}  // namespace braid::pipelines
