// braid-cli: send commands to a running braid over its unix socket (control/cli/cli.h,
// SocketServer). Standalone: no DPDK.
//
//   braid-cli [-s SOCKET] COMMAND WORDS...   one command, print the response
//   braid-cli [-s SOCKET]                    a terminal: prompt loop; a pipe: send all of stdin
//
// Exit status: 0 ok, 1 cannot connect / I/O error, 2 usage, 3 the response reports an error (it
// starts with "error:"; for a batch from stdin, any response line does).
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

namespace braid::cli {
namespace {

constexpr const char* kDefaultSocket = "/run/braid/cli.sock";
constexpr int kTimeoutMs = 60000;  // no progress for this long: give up

enum Exit { ok = 0, io_error = 1, usage = 2, command_error = 3 };

void print_usage(FILE* f) {
    std::fprintf(f,
                 "usage: braid-cli [-s SOCKET] [COMMAND WORDS...]\n"
                 "  -s SOCKET  braid's CLI socket (default $BRAID_CLI_SOCKET or %s)\n"
                 "  With no command: a prompt on a terminal, else the commands on stdin.\n",
                 kDefaultSocket);
}

int connect_to(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof(addr.sun_path)) {
        std::fprintf(stderr, "braid-cli: socket path too long: %s\n", path.c_str());
        return -1;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
        int e = errno;
        if (fd >= 0) {
            ::close(fd);
        }
        std::fprintf(stderr, "braid-cli: cannot connect to %s: %s (is braid running?)\n",
                     path.c_str(), std::strerror(e));
        return -1;
    }
    return fd;
}

// Sends `request`, half-closes, and reads the response until the server closes. Sending and
// receiving overlap so that a large batch cannot deadlock against a large response.
bool exchange(int fd, std::string_view request, std::string* response) {
    bool shut = false;
    if (request.empty()) {
        ::shutdown(fd, SHUT_WR);
        shut = true;
    }
    char buf[65536];
    while (true) {
        pollfd p{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
        int r = ::poll(&p, 1, kTimeoutMs);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            std::fprintf(stderr, "braid-cli: %s\n",
                         r == 0 ? "timed out waiting for braid" : std::strerror(errno));
            return false;
        }
        if (!shut && (p.revents & POLLOUT)) {
            ssize_t n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                request.remove_prefix(static_cast<size_t>(n));
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                shut = true;  // the server closed early (e.g. an error): read what it said
            }
            if (request.empty() && !shut) {
                ::shutdown(fd, SHUT_WR);
                shut = true;
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                response->append(buf, static_cast<size_t>(n));
            } else if (n == 0) {
                return true;
            } else if (errno != EAGAIN && errno != EINTR) {
                if (errno == ECONNRESET && !response->empty()) {
                    return true;
                }
                std::fprintf(stderr, "braid-cli: %s\n", std::strerror(errno));
                return false;
            }
        }
    }
}

bool starts_with_error(std::string_view s) {
    return s.substr(0, 6) == "error:";
}

bool any_line_is_error(std::string_view s) {
    while (!s.empty()) {
        if (starts_with_error(s)) {
            return true;
        }
        size_t nl = s.find('\n');
        if (nl == std::string_view::npos) {
            break;
        }
        s.remove_prefix(nl + 1);
    }
    return false;
}

// One connection, one batch. Returns the exit status.
int run(const std::string& socket_path, const std::string& request, bool batch) {
    int fd = connect_to(socket_path);
    if (fd < 0) {
        return io_error;
    }
    std::string response;
    bool ok_io = exchange(fd, request, &response);
    ::close(fd);
    std::fwrite(response.data(), 1, response.size(), stdout);
    std::fflush(stdout);
    if (!ok_io) {
        return io_error;
    }
    bool failed = batch ? any_line_is_error(response) : starts_with_error(response);
    return failed ? command_error : ok;
}

std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) {
        return "";
    }
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

int prompt_loop(const std::string& socket_path) {
    int status = ok;
    std::string line;
    while (true) {
        std::fputs("braid> ", stdout);
        std::fflush(stdout);
        if (!std::getline(std::cin, line)) {
            std::fputs("\n", stdout);
            return status;
        }
        line = trim(line);
        if (line.empty() || line[0] == '#') {
            continue;
        }
        if (line == "quit" || line == "exit") {
            return status;
        }
        status = run(socket_path, line + "\n", false);
    }
}

int main_impl(int argc, char** argv) {
    ::signal(SIGPIPE, SIG_IGN);
    const char* env = std::getenv("BRAID_CLI_SOCKET");
    std::string socket_path = env != nullptr && *env != '\0' ? env : kDefaultSocket;
    int i = 1;
    for (; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "-s" || a == "--socket") {
            if (i + 1 >= argc) {
                print_usage(stderr);
                return usage;
            }
            socket_path = argv[++i];
        } else if (a == "-h" || a == "--help") {
            print_usage(stdout);
            return ok;
        } else if (a == "--") {
            ++i;
            break;
        } else if (a.size() > 1 && a[0] == '-' && a != "-") {
            std::fprintf(stderr, "braid-cli: unknown option %s\n", argv[i]);
            print_usage(stderr);
            return usage;
        } else {
            break;
        }
    }
    if (i < argc) {
        std::string line;
        for (; i < argc; ++i) {
            line += (line.empty() ? "" : " ") + std::string(argv[i]);
        }
        return run(socket_path, line + "\n", false);
    }
    if (::isatty(STDIN_FILENO)) {
        return prompt_loop(socket_path);
    }
    std::string all;
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), stdin)) > 0) {
        all.append(buf, n);
    }
    if (!all.empty() && all.back() != '\n') {
        all += '\n';
    }
    return run(socket_path, all, true);
}

}  // namespace
}  // namespace braid::cli

int main(int argc, char** argv) {
    return braid::cli::main_impl(argc, argv);
}
