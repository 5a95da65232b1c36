// The control core's single epoll loop (DESIGN.md §2): CLI, metrics housekeeping, neighbor
// resolution and (later) PFCP all run here, on the main lcore, and never on a worker.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace braid::control {

class EventLoop {
public:
    using FdHandler = std::function<void(uint32_t epoll_events)>;
    using TimerHandler = std::function<void()>;

    EventLoop();
    ~EventLoop();
    EventLoop(const EventLoop&) = delete;
    EventLoop& operator=(const EventLoop&) = delete;

    // Watch `fd` for EPOLLIN (plus EPOLLRDHUP/EPOLLHUP/EPOLLERR, always reported). Returns false
    // and sets `err` when epoll_ctl fails. The handler may call remove_fd() on its own fd.
    bool add_fd(int fd, FdHandler handler, std::string* err = nullptr);
    void remove_fd(int fd);

    // Call `handler` every `period_ms` milliseconds (first call one period from now).
    void add_periodic(uint32_t period_ms, TimerHandler handler);

    // Run until stop() is called (from a handler or a signal handler: stop() is
    // async-signal-safe). Returns 0.
    int run();
    void stop();
    bool stopping() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace braid::control
