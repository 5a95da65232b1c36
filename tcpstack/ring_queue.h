// A FIFO over a power-of-two ring that allocates nothing until the first push (std::deque
// allocates a 512-byte block and its map on construction: twice per connection, most of an idle
// connection's heap). Random-access iterators for binary searches over queued chunks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>

namespace braid::tcp {

template <typename T>
class RingQueue {
public:
    RingQueue() = default;
    RingQueue(const RingQueue&) = delete;
    RingQueue& operator=(const RingQueue&) = delete;

    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    T& front() { return buf_[head_]; }
    const T& front() const { return buf_[head_]; }
    T& back() { return (*this)[size_ - 1]; }
    T& operator[](size_t i) { return buf_[(head_ + i) & (cap_ - 1)]; }
    const T& operator[](size_t i) const { return buf_[(head_ + i) & (cap_ - 1)]; }

    void push_back(T v) {
        if (size_ == cap_) {
            grow();
        }
        buf_[(head_ + size_) & (cap_ - 1)] = std::move(v);
        ++size_;
    }
    void pop_front() {
        head_ = (head_ + 1) & (cap_ - 1);
        --size_;
    }
    void clear() { head_ = size_ = 0; }

    template <typename Q, typename V>
    class Iter {
    public:
        using iterator_category = std::random_access_iterator_tag;
        using value_type = T;
        using difference_type = std::ptrdiff_t;
        using pointer = V*;
        using reference = V&;
        Iter() = default;
        Iter(Q* q, size_t i) : q_(q), i_(i) {}
        V& operator*() const { return (*q_)[i_]; }
        V* operator->() const { return &(*q_)[i_]; }
        V& operator[](difference_type n) const { return (*q_)[i_ + n]; }
        Iter& operator++() {
            ++i_;
            return *this;
        }
        Iter& operator--() {
            --i_;
            return *this;
        }
        Iter operator++(int) {
            Iter t = *this;
            ++i_;
            return t;
        }
        Iter operator--(int) {
            Iter t = *this;
            --i_;
            return t;
        }
        Iter& operator+=(difference_type n) {
            i_ += n;
            return *this;
        }
        Iter& operator-=(difference_type n) {
            i_ -= n;
            return *this;
        }
        Iter operator+(difference_type n) const { return Iter(q_, i_ + n); }
        Iter operator-(difference_type n) const { return Iter(q_, i_ - n); }
        difference_type operator-(const Iter& o) const {
            return static_cast<difference_type>(i_) - static_cast<difference_type>(o.i_);
        }
        bool operator==(const Iter& o) const { return i_ == o.i_; }
        auto operator<=>(const Iter& o) const { return i_ <=> o.i_; }

    private:
        Q* q_ = nullptr;
        size_t i_ = 0;
    };
    using iterator = Iter<RingQueue, T>;
    using const_iterator = Iter<const RingQueue, const T>;
    iterator begin() { return {this, 0}; }
    iterator end() { return {this, size_}; }
    const_iterator begin() const { return {this, 0}; }
    const_iterator end() const { return {this, size_}; }

private:
    void grow() {
        const uint32_t cap = cap_ == 0 ? 4 : cap_ * 2;
        std::unique_ptr<T[]> b(new T[cap]);
        for (uint32_t i = 0; i < size_; ++i) {
            b[i] = std::move((*this)[i]);
        }
        buf_ = std::move(b);
        cap_ = cap;
        head_ = 0;
    }

    std::unique_ptr<T[]> buf_;
    uint32_t cap_ = 0;
    uint32_t head_ = 0;
    uint32_t size_ = 0;
};

}  // namespace braid::tcp
