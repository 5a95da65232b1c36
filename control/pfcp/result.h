// A small Result<T, E> for the PFCP codec (no exceptions; std::expected is C++23).
//
// E must be default-constructible. Construct a success from a T, a failure from Unexpected{e}.
// Accessing value() of a failure or error() of a success is a bug: checked by assert in debug
// builds.
#pragma once

#include <cassert>
#include <optional>
#include <type_traits>
#include <utility>

namespace braid::pfcp {

template <typename E>
struct Unexpected {
    E error;
};

template <typename E>
Unexpected(E) -> Unexpected<E>;

template <typename T, typename E>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}            // NOLINT: implicit
    Result(Unexpected<E> e) : error_(std::move(e.error)) {}  // NOLINT: implicit

    bool ok() const { return value_.has_value(); }
    explicit operator bool() const { return ok(); }

    const T& value() const& {
        assert(ok());
        return *value_;
    }
    T& value() & {
        assert(ok());
        return *value_;
    }
    T&& value() && {
        assert(ok());
        return std::move(*value_);
    }
    const E& error() const {
        assert(!ok());
        return error_;
    }

    const T& operator*() const& { return value(); }
    T& operator*() & { return value(); }
    const T* operator->() const { return &value(); }
    T* operator->() { return &value(); }

private:
    // Not a std::variant: std::get may throw, and get_if trips -Wnull-dereference.
    std::optional<T> value_;
    E error_{};
};

// Result<void, E>: success carries nothing.
template <typename E>
class [[nodiscard]] Result<void, E> {
public:
    Result() = default;
    Result(Unexpected<E> e) : err_(std::move(e.error)), failed_(true) {}  // NOLINT: implicit

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const E& error() const {
        assert(failed_);
        return err_;
    }

private:
    E err_{};
    bool failed_ = false;
};

}  // namespace braid::pfcp
