#include "mptcp/receiver.h"

#include <algorithm>
#include <iterator>

namespace braid::mptcp {

namespace {

constexpr std::string_view rx_error_names[] = {
#define BRAID_X(name, help) #name,
    BRAID_MPTCP_RX_ERRORS(BRAID_X)
#undef BRAID_X
};

// Relative SSNs are 32-bit and wrap after 4 GiB on one subflow: compare them serially.
int32_t ssn_diff(uint32_t a, uint32_t b) {
    return static_cast<int32_t>(a - b);
}

RxResult error(RxError e) {
    RxResult r;
    r.error = e;
    return r;
}

}  // namespace

std::string_view to_string(RxError e) {
    auto i = static_cast<size_t>(e);
    return i < std::size(rx_error_names) ? rx_error_names[i] : "unknown";
}

Receiver::Receiver(DataSeq first_dsn, uint32_t buffer, bool checksums, Counters& counters)
    : base_(first_dsn), buffer_(buffer), checksums_(checksums), counters_(counters) {
    edge_ = buffer;
}

int64_t Receiver::rel_of(DataSeq d) const {
    constexpr int64_t band = int64_t{1} << 40;
    int64_t from_nxt = d - (base_ + static_cast<uint64_t>(nxt_));
    return nxt_ + std::clamp(from_nxt, -band, band);
}

void Receiver::add(RxResult& r, const Stored& s) {
    r.accepted += s.accepted;
    r.duplicate += s.duplicate;
    r.beyond_window += s.beyond;
}

int64_t Receiver::edge() {
    size_t held = buffered();
    int64_t free = held >= buffer_ ? 0 : static_cast<int64_t>(buffer_ - held);
    edge_ = std::max(edge_, nxt_ + free);
    return edge_;
}

uint32_t Receiver::window() {
    int64_t w = edge() - nxt_;
    return w <= 0 ? 0 : static_cast<uint32_t>(std::min<int64_t>(w, UINT32_MAX));
}

DataSeq Receiver::data_ack() const {
    return base_ + static_cast<uint64_t>(nxt_) + (fin_reached_ ? 1 : 0);
}

void Receiver::note_fin(int64_t fin_rel) {
    // A DATA_FIN before data already received or past the window cannot be the end: ignored
    // (a genuine one is sent again).
    if (!fin_rel_ && (fin_rel < nxt_ || fin_rel > edge())) {
        return;
    }
    if (!fin_rel_) {
        fin_rel_ = fin_rel;
    }
    // A second, different DATA_FIN position is ignored: the first one fixed the end (a mapping
    // MUST NOT change, §3.3.1).
    if (!fin_reached_ && nxt_ == *fin_rel_) {
        fin_reached_ = true;
        counters_.add(Counter::rx_data_fin);
    }
}

Receiver::Stored Receiver::store(int64_t rel, std::span<const uint8_t> bytes) {
    Stored s;
    int64_t end = rel + static_cast<int64_t>(bytes.size());
    // Already delivered: duplicates (e.g. the same DSNs re-sent on another subflow, §3.3.6).
    if (rel < nxt_) {
        int64_t cut = std::min(end, nxt_) - rel;
        s.duplicate += static_cast<uint32_t>(cut);
        bytes = bytes.subspan(static_cast<size_t>(cut));
        rel += cut;
    }
    // Past the window's right edge or the DATA_FIN: dropped, not Data-ACKed (§3.8).
    int64_t limit = edge();
    if (fin_rel_) {
        limit = std::min(limit, *fin_rel_);
    }
    if (end > std::max(rel, limit)) {
        int64_t from = std::max(rel, limit);
        s.beyond += static_cast<uint32_t>(end - from);
        bytes = bytes.first(static_cast<size_t>(std::max<int64_t>(from - rel, 0)));
        end = rel + static_cast<int64_t>(bytes.size());
    }
    // Store only the gaps between ranges already held: the first copy received wins (§3.3).
    int64_t pos = rel;
    auto it = ooo_.upper_bound(pos);
    if (it != ooo_.begin()) {
        auto prev = std::prev(it);
        int64_t prev_end = prev->first + static_cast<int64_t>(prev->second.size());
        if (prev_end > pos) {
            int64_t skip = std::min(prev_end, end) - pos;
            s.duplicate += static_cast<uint32_t>(skip);
            pos += skip;
        }
    }
    while (pos < end) {
        it = ooo_.lower_bound(pos);
        int64_t gap_end = it == ooo_.end() ? end : std::min(end, it->first);
        if (gap_end > pos) {
            auto from = bytes.begin() + (pos - rel);
            ooo_.emplace(pos, std::vector<uint8_t>(from, from + (gap_end - pos)));
            s.accepted += static_cast<uint32_t>(gap_end - pos);
            ooo_bytes_ += static_cast<size_t>(gap_end - pos);
            pos = gap_end;
        }
        if (it != ooo_.end() && pos < end && it->first <= pos) {
            int64_t held_end = it->first + static_cast<int64_t>(it->second.size());
            int64_t skip = std::min(held_end, end) - pos;
            s.duplicate += static_cast<uint32_t>(skip);
            pos += skip;
        }
    }
    // Move what became contiguous to the in-order queue.
    while (!ooo_.empty() && ooo_.begin()->first == nxt_) {
        auto& v = ooo_.begin()->second;
        ready_.insert(ready_.end(), v.begin(), v.end());
        nxt_ += static_cast<int64_t>(v.size());
        ooo_bytes_ -= v.size();
        ooo_.erase(ooo_.begin());
    }
    if (fin_rel_ && !fin_reached_ && nxt_ == *fin_rel_) {
        note_fin(*fin_rel_);
    }
    counters_.add(Counter::rx_bytes, s.accepted);
    counters_.add(Counter::rx_duplicate_bytes, s.duplicate);
    counters_.add(Counter::rx_beyond_window_bytes, s.beyond);
    return s;
}

RxResult Receiver::on_mapping(SubflowId sf, const wire::DssMapping& w, bool data_fin) {
    if (sf >= max_subflows) {
        return error(RxError::bad_subflow);
    }
    if (fallen_back_) {
        return {};  // §3.7: never back to MPTCP; the subflow's bytes map 1:1 already
    }
    // §3.3: checksum presence must match what the handshake negotiated.
    if (checksums_ && !w.checksum) {
        return error(RxError::checksum_missing);
    }
    if (!checksums_ && w.checksum) {
        return error(RxError::checksum_unexpected);
    }
    DataSeq dsn = w.dsn8 ? DataSeq(w.dsn) : extend32(static_cast<uint32_t>(w.dsn), base_ + nxt_);
    Subflow& s = subflows_[sf];
    RxResult r;

    // DATA_FIN without data (§3.3.3): SSN 0, length 1, checksum over the pseudo-header only.
    if (data_fin && w.data_len == 1) {
        if (checksums_ && !crypto::DssChecksum(dsn.raw(), w.ssn, 1).verify(*w.checksum)) {
            counters_.add(Counter::rx_checksum_failed);
            r.error = RxError::checksum_failed;
            r.failed_dsn = dsn;
            return r;
        }
        note_fin(rel_of(dsn));
        return r;
    }

    Mapping m;
    m.ssn = w.ssn;
    m.rel = rel_of(dsn);
    m.infinite = w.data_len == 0;  // §3.7: the rest of the subflow maps 1:1
    m.fin = data_fin && !m.infinite;
    m.len = m.infinite ? 0 : w.data_len - (m.fin ? 1 : 0);
    if (checksums_ && !m.infinite) {
        m.checksum = w.checksum;
        m.sum.emplace(dsn.raw(), w.ssn, w.data_len);
    }

    if (!m.infinite && ssn_diff(m.ssn + m.len, s.next_ssn) <= 0 && s.seen) {
        // Covers only subflow bytes already consumed: a retransmitted segment's mapping.
        counters_.add(Counter::rx_mapping_old);
        return r;
    }
    for (const Mapping& p : s.mappings) {
        bool overlap = (p.infinite || ssn_diff(m.ssn, p.ssn + p.len) < 0) &&
                       (m.infinite || ssn_diff(p.ssn, m.ssn + m.len) < 0);
        if (!overlap) {
            continue;
        }
        bool same_offset =
            p.rel - static_cast<int64_t>(p.ssn) == m.rel - static_cast<int64_t>(m.ssn);
        if (!same_offset) {
            counters_.add(Counter::rx_mapping_changed);
            return error(RxError::mapping_changed);
        }
        if (p.ssn == m.ssn && p.len == m.len && p.fin == m.fin && p.infinite == m.infinite) {
            return r;  // the same mapping again (retransmission, TSO split): tolerated (§3.1)
        }
    }
    if (s.seen && ssn_diff(m.ssn, s.next_ssn) < 0) {
        // Starts in bytes already consumed (unmapped then): the rest is still usable, but a
        // checksum over the whole mapping can no longer be verified.
        if (m.sum) {
            counters_.add(Counter::rx_mapping_changed);
            return error(RxError::mapping_changed);
        }
        m.consumed = s.next_ssn - m.ssn;
    }
    if (s.mappings.size() >= max_pending_mappings) {
        counters_.add(Counter::rx_mapping_table_full);
        return error(RxError::mapping_table_full);
    }
    s.mappings.push_back(std::move(m));
    return r;
}

void Receiver::finish_mapping(Mapping& m, RxResult& r) {
    if (m.sum) {
        if (!m.sum->verify(*m.checksum)) {
            counters_.add(Counter::rx_checksum_failed);
            r.error = RxError::checksum_failed;
            r.failed_dsn = base_ + static_cast<uint64_t>(m.rel);
            return;  // §3.7: the failed data MUST NOT be Data-ACKed
        }
        add(r, store(m.rel, m.held));
    }
    if (m.fin) {
        note_fin(m.rel + m.len);
    }
}

RxResult Receiver::on_data(SubflowId sf, uint32_t ssn, std::span<const uint8_t> bytes) {
    if (sf >= max_subflows) {
        return error(RxError::bad_subflow);
    }
    Subflow& s = subflows_[sf];
    RxResult r;
    if (s.seen && ssn_diff(ssn, s.next_ssn) < 0) {
        uint32_t cut = s.next_ssn - ssn;
        if (cut >= bytes.size()) {
            return r;
        }
        bytes = bytes.subspan(cut);
        ssn = s.next_ssn;
    }
    s.seen = true;
    s.next_ssn = ssn + static_cast<uint32_t>(bytes.size());

    while (!bytes.empty()) {
        // The mapping covering `ssn`, or else where the next one starts.
        Mapping* m = nullptr;
        size_t m_index = 0;
        uint32_t run = static_cast<uint32_t>(bytes.size());
        for (size_t i = 0; i < s.mappings.size(); ++i) {
            Mapping& p = s.mappings[i];
            int32_t off = ssn_diff(ssn, p.ssn);
            if (off >= 0 && (p.infinite || static_cast<uint32_t>(off) < p.len)) {
                m = &p;
                m_index = i;
                break;
            }
            if (off < 0) {
                run = std::min(run, static_cast<uint32_t>(-off));
            }
        }
        if (m == nullptr) {
            // §3.3.1: unmapped data is dropped (ACKed at subflow level by the engine); a whole
            // receive window of it means the subflow is broken.
            r.unmapped += run;
            counters_.add(Counter::rx_unmapped_bytes, run);
            s.unmapped_run += run;
            bytes = bytes.subspan(run);
            ssn += run;
            if (s.unmapped_run >= buffer_) {
                r.error = RxError::unmapped_overflow;
                return r;
            }
            continue;
        }
        s.unmapped_run = 0;
        uint32_t off = ssn - m->ssn;
        uint32_t take = m->infinite
                            ? static_cast<uint32_t>(bytes.size())
                            : std::min<uint32_t>(static_cast<uint32_t>(bytes.size()), m->len - off);
        auto piece = bytes.first(take);
        if (m->sum) {
            m->held.insert(m->held.end(), piece.begin(), piece.end());
            m->sum->add(piece);
        } else {
            add(r, store(m->rel + off, piece));
        }
        m->consumed = std::max(m->consumed, off + take);
        bytes = bytes.subspan(take);
        ssn += take;
        if (!m->infinite && m->consumed == m->len) {
            Mapping done = std::move(*m);
            s.mappings.erase(s.mappings.begin() + static_cast<ptrdiff_t>(m_index));
            finish_mapping(done, r);
            if (r.error == RxError::checksum_failed && fallback_ok_ && !fallen_back_ &&
                done.rel == nxt_) {
                // §3.7, one subflow, the failed data contiguous: infinite mapping from the
                // failed DSN; the rest of this segment goes through it below.
                enter_infinite(s, done.ssn, done.rel, done.held, r);
                continue;
            }
            if (r.error != RxError::none) {
                return r;
            }
        }
    }
    // Mappings whose subflow bytes all went through another, overlapping mapping are done.
    for (auto it = s.mappings.begin(); it != s.mappings.end();) {
        if (!it->infinite && ssn_diff(it->ssn + it->len, s.next_ssn) <= 0) {
            if (it->fin && !it->sum) {
                note_fin(it->rel + it->len);
            }
            it = s.mappings.erase(it);
        } else {
            ++it;
        }
    }
    return r;
}

void Receiver::enter_infinite(Subflow& s, uint32_t ssn, int64_t rel, std::span<const uint8_t> held,
                              RxResult& r) {
    fallen_back_ = true;
    r.fell_back = true;
    checksums_ = false;
    // §3.8/§3.7: data past the failed point held out of order is discarded.
    ooo_.clear();
    ooo_bytes_ = 0;
    s.mappings.clear();
    Mapping m;
    m.ssn = ssn;
    m.rel = rel;
    m.infinite = true;
    m.consumed = static_cast<uint32_t>(held.size());
    s.mappings.push_back(std::move(m));
    s.unmapped_run = 0;
    add(r, store(rel, held));
}

bool Receiver::fall_back(SubflowId sf) {
    if (sf >= max_subflows || fallen_back_) {
        return fallen_back_;
    }
    if (!ooo_.empty()) {
        return false;  // data beyond a hole: not contiguous
    }
    Subflow& s = subflows_[sf];
    RxResult r;
    // The mapping being received (if any) becomes the start of the infinite one.
    for (Mapping& m : s.mappings) {
        if (m.consumed > 0 && m.rel <= nxt_) {
            std::vector<uint8_t> held = std::move(m.held);
            const uint32_t ssn = m.ssn;
            const int64_t rel = m.rel;
            if (!m.sum) {
                held.clear();  // delivered already (no checksum: stored as it came)
                enter_infinite(s, ssn + m.consumed, rel + m.consumed, held, r);
            } else {
                enter_infinite(s, ssn, rel, held, r);
            }
            return true;
        }
    }
    enter_infinite(s, s.seen ? s.next_ssn : 1, nxt_, {}, r);
    return true;
}

void Receiver::remove_subflow(SubflowId sf) {
    if (sf < max_subflows) {
        subflows_[sf] = Subflow{};
    }
}

size_t Receiver::read(std::span<uint8_t> out) {
    size_t n = std::min(out.size(), ready_.size());
    std::copy_n(ready_.begin(), n, out.begin());
    ready_.erase(ready_.begin(), ready_.begin() + static_cast<ptrdiff_t>(n));
    return n;
}

}  // namespace braid::mptcp
