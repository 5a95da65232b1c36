#include "control/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <vector>

namespace braid::control {

struct EventLoop::Impl {
    int epfd = -1;
    int wake_fd = -1;  // written by stop(): async-signal-safe wake-up
    std::atomic<bool> stopping{false};
    std::map<int, std::shared_ptr<FdHandler>> handlers;
    struct Periodic {
        uint32_t period_ms;
        uint64_t next_ms;
        TimerHandler fn;
    };
    std::vector<Periodic> timers;

    static uint64_t now_ms() {
        using namespace std::chrono;
        return static_cast<uint64_t>(
            duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
    }
};

EventLoop::EventLoop() : impl_(std::make_unique<Impl>()) {
    impl_->epfd = epoll_create1(EPOLL_CLOEXEC);
    impl_->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = impl_->wake_fd;
    epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, impl_->wake_fd, &ev);
}

EventLoop::~EventLoop() {
    close(impl_->wake_fd);
    close(impl_->epfd);
}

bool EventLoop::add_fd(int fd, FdHandler handler, std::string* err) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    if (epoll_ctl(impl_->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        if (err != nullptr) {
            *err = std::string("epoll_ctl: ") + std::strerror(errno);
        }
        return false;
    }
    impl_->handlers[fd] = std::make_shared<FdHandler>(std::move(handler));
    return true;
}

void EventLoop::remove_fd(int fd) {
    epoll_ctl(impl_->epfd, EPOLL_CTL_DEL, fd, nullptr);
    impl_->handlers.erase(fd);
}

void EventLoop::add_periodic(uint32_t period_ms, TimerHandler handler) {
    impl_->timers.push_back({period_ms, Impl::now_ms() + period_ms, std::move(handler)});
}

int EventLoop::run() {
    epoll_event events[32];
    while (!impl_->stopping.load(std::memory_order_acquire)) {
        uint64_t now = Impl::now_ms();
        int timeout = 1000;
        for (const auto& t : impl_->timers) {
            timeout =
                std::min<int>(timeout, t.next_ms > now ? static_cast<int>(t.next_ms - now) : 0);
        }
        int n = epoll_wait(impl_->epfd, events, 32, timeout);
        if (n < 0 && errno != EINTR) {
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            int fd = events[i].data.fd;
            if (fd == impl_->wake_fd) {
                uint64_t v;
                [[maybe_unused]] ssize_t r = read(fd, &v, sizeof(v));
                continue;
            }
            auto it = impl_->handlers.find(fd);
            if (it != impl_->handlers.end()) {
                auto keep = it->second;  // the handler may remove itself
                (*keep)(events[i].events);
            }
        }
        now = Impl::now_ms();
        for (size_t i = 0; i < impl_->timers.size(); ++i) {
            if (impl_->timers[i].next_ms <= now) {
                impl_->timers[i].next_ms = now + impl_->timers[i].period_ms;
                impl_->timers[i].fn();
            }
        }
    }
    return 0;
}

void EventLoop::stop() {
    impl_->stopping.store(true, std::memory_order_release);
    uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(impl_->wake_fd, &one, sizeof(one));
}

bool EventLoop::stopping() const {
    return impl_->stopping.load(std::memory_order_acquire);
}

}  // namespace braid::control
