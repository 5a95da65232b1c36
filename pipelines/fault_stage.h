// The fault-injection stage in the graph (dataplane/fault.h): the slow paths the RX and TX nodes
// take when their worker's FaultWorker asks for attention. While no fault is set, n3_rx/n6_rx
// pay one branch on FaultWorker::attention() and n3_tx/n6_tx one on FaultWorker::active; no
// extra node is visited and no mbuf is touched.
#pragma once

#include "pipelines/node.h"

namespace braid::pipelines {

// n3_rx/n6_rx with faults possible: adopt a newly published plan; release the packets this
// role's RX injector held (to `classify_edge`) and its TX injector held (straight into the TX
// buffers: they already went through n3_tx/n6_tx); poll the RX queues and run what arrives through
// the RX injector. Injected drops go to `drop_edge` (reason fault_injected).
uint16_t fault_rx_process(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc,
                          uint8_t role, rte_edge_t classify_edge, rte_edge_t drop_edge);

// n3_tx/n6_tx with this role's TX injector enabled: run the packets through it, buffer what
// passes for the TX queue, send injected drops to `drop_edge`.
uint16_t fault_tx_process(rte_graph* graph, rte_node* node, dataplane::WorkerContext& wc,
                          uint8_t role, void** objs, uint16_t nb, rte_edge_t drop_edge);

}  // namespace braid::pipelines
