#include "dataplane/packet_buffer.h"

namespace braid::dataplane {

PacketBuffer::~PacketBuffer() {
    discard_all();
}

void PacketBuffer::drop_oldest(Queue& q) {
    free_(q.pkts.front());
    q.pkts.pop_front();
    --total_;
    ++stats_.dropped_oldest;
}

bool PacketBuffer::push(uint64_t seid, rte_mbuf* m, uint32_t per_session, uint64_t generation) {
    auto [it, fresh] = queues_.try_emplace(seid);
    Queue& q = it->second;
    if (fresh) {
        q.generation = generation;
    }
    const bool first = q.pkts.empty();
    if (per_session == 0) {
        free_(m);
        ++stats_.dropped_oldest;
        if (q.pkts.empty()) {
            queues_.erase(it);
        }
        return false;
    }
    while (q.pkts.size() >= per_session) {
        drop_oldest(q);
    }
    if (total_ >= max_total_) {
        // The total bound: the oldest packet of this session if it has any, else refuse this
        // one (never evict another session's packets for this one).
        if (q.pkts.empty()) {
            free_(m);
            ++stats_.dropped_oldest;
            queues_.erase(it);
            return false;
        }
        drop_oldest(q);
    }
    q.pkts.push_back(m);
    ++total_;
    ++stats_.buffered;
    return first;
}

std::vector<rte_mbuf*> PacketBuffer::release(uint64_t seid) {
    std::vector<rte_mbuf*> out;
    auto it = queues_.find(seid);
    if (it == queues_.end()) {
        return out;
    }
    out.assign(it->second.pkts.begin(), it->second.pkts.end());
    total_ -= out.size();
    stats_.released += out.size();
    queues_.erase(it);
    return out;
}

void PacketBuffer::discard(uint64_t seid) {
    for (rte_mbuf* m : release(seid)) {
        free_(m);
        --stats_.released;
        ++stats_.discarded;
    }
}

void PacketBuffer::discard_all() {
    while (!queues_.empty()) {
        discard(queues_.begin()->first);
    }
}

std::vector<std::pair<uint64_t, uint64_t>> PacketBuffer::sessions() const {
    std::vector<std::pair<uint64_t, uint64_t>> v;
    for (const auto& [seid, q] : queues_) {
        v.emplace_back(seid, q.generation);
    }
    return v;
}

size_t PacketBuffer::packets(uint64_t seid) const {
    auto it = queues_.find(seid);
    return it == queues_.end() ? 0 : it->second.pkts.size();
}

}  // namespace braid::dataplane
