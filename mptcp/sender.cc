#include "mptcp/sender.h"

#include <algorithm>

#include "mptcp/crypto.h"

namespace braid::mptcp {

Sender::Sender(DataSeq first_dsn, uint32_t buffer, uint32_t window, bool checksums,
               Counters& counters)
    : base_(first_dsn),
      buffer_(buffer),
      checksums_(checksums),
      counters_(counters),
      edge_(window) {}

size_t Sender::write(std::span<const uint8_t> bytes) {
    if (fin_queued_) {
        return 0;  // nothing follows the DATA_FIN
    }
    size_t room = buffer_ > buf_.size() ? buffer_ - buf_.size() : 0;
    size_t n = std::min(room, bytes.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(n));
    return n;
}

void Sender::shutdown() {
    fin_queued_ = true;
}

Chunk Sender::make_chunk(int64_t rel, uint32_t len, uint32_t ssn, SubflowId sf, bool reinjected) {
    Chunk c;
    c.reinjected = reinjected;
    c.data_fin = fin_queued_ && rel + len > queued_end();
    uint32_t data = len - (c.data_fin ? 1 : 0);
    auto from = buf_.begin() + (rel - una_);
    c.bytes.assign(from, from + data);
    c.mapping.dsn = (base_ + static_cast<uint64_t>(rel)).raw();
    c.mapping.dsn8 = true;  // Linux sends 64-bit DSNs; we never risk a 32-bit wrap (§3.3.1)
    // §3.3.3: a DATA_FIN without data has SSN 0; the data-level length counts the DATA_FIN.
    c.mapping.ssn = c.bytes.empty() ? 0 : ssn;
    c.mapping.data_len = static_cast<uint16_t>(len);
    if (checksums_) {
        crypto::DssChecksum sum(c.mapping.dsn, c.mapping.ssn, c.mapping.data_len);
        sum.add(c.bytes);
        c.mapping.checksum = sum.value();
    }
    sent_.push_back(Sent{rel, len, uint32_t{1} << sf});
    return c;
}

std::optional<Chunk> Sender::next(SubflowId sf, uint32_t ssn, uint32_t max_len, bool new_data) {
    if (sf >= max_subflows) {
        return std::nullopt;
    }
    // A mapping's data-level length is 16 bits.
    max_len = std::min<uint32_t>(max_len, UINT16_MAX - 1);
    const int64_t fin_rel = queued_end();

    // 1. Reinjection: data another subflow carried and that is still not Data-ACKed.
    for (auto it = reinject_.begin(); it != reinject_.end();) {
        int64_t una = una_ + (fin_acked_ ? 1 : 0);
        if (it->rel + it->len <= una) {
            it = reinject_.erase(it);
            continue;
        }
        if (it->rel < una) {
            it->len -= static_cast<uint32_t>(una - it->rel);
            it->rel = una;
        }
        if (it->carried & (uint32_t{1} << sf)) {
            ++it;  // this subflow carried it already: leave it for another one
            continue;
        }
        uint32_t take = std::min(it->len, max_len);
        bool fin_in = fin_queued_ && it->rel + it->len > fin_rel;
        if (fin_in && it->len - take == 1) {
            take += 1;  // the DATA_FIN rides along with the last bytes
        }
        if (take == 0) {
            return std::nullopt;
        }
        Chunk c = make_chunk(it->rel, take, ssn, sf, true);
        counters_.add(it->copy ? Counter::tx_redundant_bytes : Counter::tx_reinjected_bytes,
                      c.bytes.size());
        it->rel += take;
        it->len -= take;
        if (it->len == 0) {
            reinject_.erase(it);
        }
        return c;
    }

    if (!new_data) {
        return std::nullopt;
    }
    // 2. New data within the connection-level window (§3.3.4), DATA_FIN with the last bytes.
    int64_t window_room = std::max<int64_t>(edge_ - nxt_, 0);
    int64_t avail = std::min<int64_t>({fin_rel - nxt_, window_room, max_len});
    if (avail > 0) {
        uint32_t take = static_cast<uint32_t>(avail);
        bool fin_in = fin_queued_ && !fin_sent_ && nxt_ + take == fin_rel;
        Chunk c = make_chunk(nxt_, take + (fin_in ? 1 : 0), ssn, sf, false);
        nxt_ += take + (fin_in ? 1 : 0);
        counters_.add(Counter::tx_bytes, take);
        if (fin_in) {
            fin_sent_ = true;
            counters_.add(Counter::tx_data_fin);
        }
        return c;
    }
    // 3. DATA_FIN alone (it takes no window: it carries no data).
    if (fin_queued_ && !fin_sent_ && nxt_ == fin_rel) {
        Chunk c = make_chunk(nxt_, 1, ssn, sf, false);
        nxt_ += 1;
        fin_sent_ = true;
        counters_.add(Counter::tx_data_fin);
        return c;
    }
    return std::nullopt;
}

void Sender::duplicate(SubflowId sf, const Chunk& c) {
    if (sf >= max_subflows || c.reinjected || c.mapping.data_len == 0) {
        return;
    }
    const int64_t rel = DataSeq(c.mapping.dsn) - base_;
    const uint32_t len = c.mapping.data_len;
    const uint32_t bit = uint32_t{1} << sf;
    if (!reinject_.empty()) {
        Range& last = reinject_.back();
        if (last.copy && last.carried == bit && last.rel + last.len == rel) {
            last.len += len;  // one range per run of segments, not one per segment
            return;
        }
    }
    reinject_.push_back(Range{rel, len, bit, true});
}

void Sender::reinject(SubflowId sf) {
    if (sf >= max_subflows) {
        return;
    }
    int64_t una = una_ + (fin_acked_ ? 1 : 0);
    for (const Sent& s : sent_) {
        if ((s.subflows & (uint32_t{1} << sf)) == 0 || s.rel + s.len <= una) {
            continue;
        }
        int64_t from = std::max(s.rel, una);
        uint32_t len = static_cast<uint32_t>(s.rel + s.len - from);
        // The subflow's own copies are not counted as carried: it is the one that failed, and
        // any other subflow that also carried this range (redundant send) is recorded too.
        auto same = std::find_if(reinject_.begin(), reinject_.end(),
                                 [&](const Range& r) { return r.rel == from && r.len == len; });
        if (same != reinject_.end()) {
            same->carried |= s.subflows;
        } else {
            reinject_.push_back(Range{from, len, s.subflows});
        }
    }
}

void Sender::retransmit_unacked() {
    int64_t una = una_ + (fin_acked_ ? 1 : 0);
    if (nxt_ <= una) {
        return;
    }
    // One range over all of it: what was waiting for reinjection is inside it.
    reinject_.clear();
    reinject_.push_back(Range{una, static_cast<uint32_t>(nxt_ - una), 0});
}

AckStatus Sender::on_data_ack(uint64_t raw, bool ack64, uint32_t window) {
    DataSeq una_seq = base_ + static_cast<uint64_t>(una_ + (fin_acked_ ? 1 : 0));
    DataSeq ack = ack64 ? DataSeq(raw) : extend32(static_cast<uint32_t>(raw), una_seq);
    int64_t rel = ack - base_;
    int64_t una = una_ + (fin_acked_ ? 1 : 0);
    if (rel > nxt_) {
        counters_.add(Counter::tx_data_ack_beyond_sent);
        return AckStatus::beyond_sent;
    }
    if (rel < una) {
        counters_.add(Counter::tx_data_ack_old);
        return AckStatus::old;
    }
    bool advanced = rel > una;
    int64_t data_end = queued_end();
    int64_t new_una = std::min(rel, data_end);
    buf_.erase(buf_.begin(), buf_.begin() + (new_una - una_));
    una_ = new_una;
    if (fin_sent_ && rel == data_end + 1) {
        fin_acked_ = true;
    }
    // §3.3.4: the window is relative to the DATA_ACK; the right edge never moves left.
    int64_t edge = rel + static_cast<int64_t>(window);
    if (edge > edge_) {
        edge_ = edge;
        advanced = true;
    }
    // Records are in send order, reinjections after newer data: prune them all, not the front.
    std::erase_if(sent_, [rel](const Sent& x) { return x.rel + x.len <= rel; });
    return advanced ? AckStatus::advanced : AckStatus::duplicate;
}

}  // namespace braid::mptcp
