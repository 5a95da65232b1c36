#include "tcpstack/tuple_table.h"

#include "tcpstack/connection.h"

namespace braid::tcp {

Connection* TupleTable::find(const FourTuple& t, uint64_t h) const {
    if (size_ == 0) {
        return nullptr;
    }
    for (size_t i = home(h);; i = (i + 1) & (cap_ - 1)) {
        const Slot& s = slots_[i];
        if (s.conn == nullptr) {
            return nullptr;
        }
        if (s.hash == h && s.conn->tuple == t) {
            return s.conn;
        }
    }
}

void TupleTable::insert(Connection* c) {
    if (2 * (size_ + 1) > cap_) {
        grow();
    }
    const uint64_t h = c->tuple_hash;
    for (size_t i = home(h);; i = (i + 1) & (cap_ - 1)) {
        Slot& s = slots_[i];
        if (s.conn == nullptr) {
            s = {h, c};
            ++size_;
            return;
        }
        if (s.hash == h && s.conn->tuple == c->tuple) {
            s.conn = c;
            return;
        }
    }
}

void TupleTable::erase(const Connection* c) {
    if (size_ == 0) {
        return;
    }
    size_t i = home(c->tuple_hash);
    for (;; i = (i + 1) & (cap_ - 1)) {
        if (slots_[i].conn == nullptr) {
            return;
        }
        if (slots_[i].conn == c) {
            break;
        }
    }
    // Backward shift: pull later entries of the run into the hole when their home position
    // does not lie (cyclically) in (hole, j].
    const size_t mask = cap_ - 1;
    for (size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
        if (slots_[j].conn == nullptr) {
            break;
        }
        const size_t k = home(slots_[j].hash);
        const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            slots_[i] = slots_[j];
            i = j;
        }
    }
    slots_[i] = {0, nullptr};
    --size_;
}

void TupleTable::grow() {
    const size_t cap = cap_ == 0 ? 64 : cap_ * 2;
    std::unique_ptr<Slot[]> old = std::move(slots_);
    const size_t old_cap = cap_;
    slots_ = std::make_unique<Slot[]>(cap);  // value-initialized: all empty
    cap_ = cap;
    for (size_t i = 0; i < old_cap; ++i) {
        if (old[i].conn != nullptr) {
            size_t j = home(old[i].hash);
            while (slots_[j].conn != nullptr) {
                j = (j + 1) & (cap_ - 1);
            }
            slots_[j] = old[i];
        }
    }
}

}  // namespace braid::tcp
