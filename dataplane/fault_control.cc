// The control core's side of the fault-injection stage: publishing a FaultPlan to the workers
// (the contract is in dataplane/fault.h, FaultWorker).
#include <rte_rcu_qsbr.h>

#include "dataplane/app.h"

namespace braid::dataplane {

void App::set_fault_plan(const FaultPlan& plan) {
    std::unique_ptr<const FaultPlan> next;
    if (plan.enabled()) {
        next = std::make_unique<const FaultPlan>(plan);
    }
    ++fault_generation_;
    for (auto* wc : workers_) {
        wc->fault.published.store(next.get(), std::memory_order_relaxed);
        // Release: a worker that sees the new generation sees the pointer and the plan behind it.
        wc->fault.generation.store(fault_generation_, std::memory_order_release);
    }
    // A worker that loaded the previous pointer is done with it at its next quiescent state
    // (it copies the specs within one graph walk). Offline workers (not launched) are skipped.
    if (rcu_ != nullptr && fault_published_ != nullptr) {
        rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
    }
    fault_published_ = std::move(next);
    fault_plan_ = plan;
}

}  // namespace braid::dataplane
