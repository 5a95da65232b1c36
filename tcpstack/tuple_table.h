// The engine's 4-tuple → connection table: open addressing with linear probing over 16-byte
// slots (keyed hash, connection pointer), at most half full, backward-shift deletion (no
// tombstones). A lookup is one keyed hash, one probe run in a flat array and one tuple compare
// in the connection it finds; std::unordered_map added a bucket array and a node per entry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "tcpstack/engine.h"

namespace braid::tcp {

class TupleTable {
public:
    TupleTable() = default;
    TupleTable(const TupleTable&) = delete;
    TupleTable& operator=(const TupleTable&) = delete;

    static uint64_t hash(const FourTuple& t) { return FourTupleHash{}(t); }
    Connection* find(const FourTuple& t, uint64_t h) const;
    Connection* find(const FourTuple& t) const { return find(t, hash(t)); }
    // Maps c->tuple to c (replacing whatever that tuple mapped to). insert and erase use
    // c->tuple_hash, which must be hash(c->tuple).
    void insert(Connection* c);
    // Removes c's tuple if it maps to c.
    void erase(const Connection* c);
    size_t size() const { return size_; }

private:
    struct Slot {
        uint64_t hash;
        Connection* conn;  // nullptr: empty
    };
    size_t home(uint64_t h) const { return static_cast<size_t>(h) & (cap_ - 1); }
    void grow();

    std::unique_ptr<Slot[]> slots_;
    size_t cap_ = 0;
    size_t size_ = 0;
};

}  // namespace braid::tcp
