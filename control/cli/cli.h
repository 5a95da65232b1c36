// testpmd-style CLI: commands declared as data (grammar + help, one line each), matched by a
// sans-I/O Registry, served interactively through DPDK librte_cmdline (tab completion, `?`) and
// to `braid-cli` over a unix socket. Both front ends call Registry::execute(), so a line behaves
// the same way whichever way it arrives (DESIGN.md §7).
//
// Grammar: space-separated elements; each element is one or more alternatives joined by '|'.
//   literal             show
//   alternatives        info|stats|xstats
//   placeholder         <name:type>, type in u16 u32 u64 str ipv4 ipv6 ip
//   mixed               all|<port:u16>       (literals plus at most one placeholder)
//   rest of the line    <name:str...>        (last element only, alone; one or more words)
// A literal beats a placeholder when a word could be both. Words are separated by blanks; '#'
// starts a comment (as in librte_cmdline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "control/event_loop.h"

struct cmdline;
struct cmdline_inst;

namespace braid::cli {

class Output {
public:
    virtual ~Output();
    virtual void write(std::string_view text) = 0;
    void printf(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
};

// Collects everything written; used by tests and by the socket server.
class StringOutput final : public Output {
public:
    void write(std::string_view text) override { text_.append(text); }
    const std::string& str() const { return text_; }
    void clear() { text_.clear(); }

private:
    std::string text_;
};

// The matched command line.
class Args {
public:
    const std::vector<std::string>& words() const { return words_; }
    std::string_view word(size_t i) const;  // "" past the end
    // Did the user type `literal` where the grammar has a literal (not as a placeholder value)?
    bool has(std::string_view literal) const;
    // The word (or, for <name:str...>, the words joined by one space) given for a placeholder.
    std::optional<std::string_view> get(std::string_view placeholder_name) const;
    // The placeholder's value as an unsigned number (already range-checked for u16/u32/u64).
    std::optional<uint64_t> get_uint(std::string_view placeholder_name) const;

private:
    friend class Registry;
    struct Bound {
        std::string name;  // placeholder name; empty for a literal
        std::string value;
    };
    std::vector<std::string> words_;
    std::vector<Bound> bound_;  // one per grammar element, in order
};

using Handler = std::function<void(const Args&, Output&)>;

struct Command {
    std::string grammar;
    std::string help;
    Handler handler;
};

class Registry {
public:
    Registry();  // adds the built-ins `help` and `help <topic:str...>`
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    // Adds a command. A malformed grammar is a programming error: add() prints the reason and
    // aborts; try_add() returns false and describes the problem in `err` (for tests).
    void add(Command command);
    bool try_add(Command command, std::string* err);

    struct Match {
        const Command* command = nullptr;  // null on error
        Args args;
        std::string error;  // "error: ...", set iff command is null and the line is not empty
    };
    // Tokenizes and matches a line. An empty or comment-only line gives command == nullptr and
    // an empty error.
    Match match(std::string_view line) const;

    // Matches and runs the handler, or writes the error (one line, starting with "error: ").
    // Returns false when the line did not match (the error case); true for a run or empty line.
    // A handler that throws is reported as an error, never propagated.
    bool execute(std::string_view line, Output& out) const;

    // One line per command (sorted by grammar): grammar, padded, then the help text. A prefix
    // ("show port") keeps the commands whose grammar can start with those words.
    std::string help(std::string_view prefix = "") const;

    size_t size() const;

    // The librte_cmdline context (NULL-terminated instance array), built on first call and owned
    // by the Registry. Commands cannot be added afterwards.
    cmdline_inst** cmdline_ctx();
    size_t cmdline_instance_count() const;  // instances in cmdline_ctx(), without the NULL

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// The interactive prompt on stdin/stdout. With a terminal: librte_cmdline (raw mode, editing,
// history, tab completion, `?`). With a pipe or file: plain line-by-line execution, no prompt.
class Interactive {
public:
    Interactive() = default;
    ~Interactive();
    Interactive(const Interactive&) = delete;
    Interactive& operator=(const Interactive&) = delete;

    bool start(Registry& registry, std::string_view prompt = "braid> ");
    int fd() const { return 0; }
    // Call when fd() is readable. Returns false once the session is over (EOF, ctrl-d on an empty
    // line, or quit()); the caller should then stop() and stop watching fd().
    bool on_readable();
    void quit();  // may be called from a command handler
    void stop();  // restores the terminal; idempotent

private:
    Registry* registry_ = nullptr;
    cmdline* cl_ = nullptr;
    bool started_ = false;
    bool tty_ = false;
    bool quit_ = false;
    std::string pending_;  // non-tty mode: partial line
};

// The daemon side of braid-cli. Protocol: the client sends '\n'-terminated command lines, then
// shuts down its write side; each line is executed as it arrives and its output sent back; the
// server closes the connection after EOF once all output is written. Never blocks: sockets are
// non-blocking, output is buffered and flushed from the loop.
class SocketServer {
public:
    struct Limits {
        size_t max_clients = 16;
        size_t max_line = 4096;               // bytes, without the '\n'
        size_t max_pending_output = 8 << 20;  // per client; beyond that the client is dropped
        uint32_t idle_timeout_ms = 30000;
        uint32_t tick_ms = 50;  // flush/idle sweep period
    };

    // How the server plugs into an event loop (EventLoop, or a test's own poll loop).
    struct LoopHooks {
        std::function<bool(int fd, std::function<void(uint32_t events)> handler)> add_fd;
        std::function<void(int fd)> remove_fd;
        std::function<void(uint32_t period_ms, std::function<void()> fn)> add_periodic;
    };

    SocketServer();
    explicit SocketServer(Limits limits);
    // Closes everything and unlinks the socket. Destroy before the loop it is attached to.
    ~SocketServer();
    SocketServer(const SocketServer&) = delete;
    SocketServer& operator=(const SocketServer&) = delete;

    // Creates the parent directory (0755) if missing, replaces a stale socket file (refuses if
    // another process is listening on it or the path is not a socket), binds with mode 0600,
    // listens, non-blocking.
    bool open(const std::string& path, std::string* err);
    int listen_fd() const;
    const std::string& path() const;

    void attach(control::EventLoop& loop, const Registry& registry) {
        attach(LoopHooks{
                   [&loop](int fd, std::function<void(uint32_t)> h) {
                       return loop.add_fd(fd, std::move(h));
                   },
                   [&loop](int fd) { loop.remove_fd(fd); },
                   [&loop](uint32_t ms, std::function<void()> fn) {
                       loop.add_periodic(ms, std::move(fn));
                   },
               },
               registry);
    }
    void attach(LoopHooks hooks, const Registry& registry);

    // Flushes pending output and closes idle clients; called every tick_ms once attached.
    // Public so that tests can inject time.
    void tick(uint64_t now_ms);

    void close();  // stops listening, drops clients, unlinks the socket

    uint64_t requests() const;  // command lines executed
    uint64_t errors() const;    // lines that failed to match + protocol errors
    size_t clients() const;

    struct Impl;

private:
    std::shared_ptr<Impl> impl_;
};

}  // namespace braid::cli
