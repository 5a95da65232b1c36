#include "control/cli/cli.h"

#include <arpa/inet.h>
#include <cmdline.h>
#include <cmdline_parse.h>
#include <cmdline_parse_string.h>
#include <cmdline_rdline.h>
#include <cmdline_socket.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <exception>
#include <unordered_map>

namespace braid::cli {

namespace {

enum class Type { u16, u32, u64, str, ipv4, ipv6, ip };

struct TypeName {
    std::string_view name;
    Type type;
};
constexpr TypeName kTypes[] = {
    {"u16", Type::u16},   {"u32", Type::u32},   {"u64", Type::u64}, {"str", Type::str},
    {"ipv4", Type::ipv4}, {"ipv6", Type::ipv6}, {"ip", Type::ip},
};

std::string_view type_name(Type t) {
    for (const auto& tn : kTypes) {
        if (tn.type == t) {
            return tn.name;
        }
    }
    return "?";
}

bool is_blank(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

// Split on blanks; '#' starts a comment anywhere, as in librte_cmdline (which ends a token at
// '#' and ignores the rest of the line).
std::vector<std::string> tokenize(std::string_view line) {
    std::vector<std::string> words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && is_blank(line[i])) {
            ++i;
        }
        if (i == line.size() || line[i] == '#') {
            break;
        }
        size_t start = i;
        while (i < line.size() && !is_blank(line[i]) && line[i] != '#') {
            ++i;
        }
        words.emplace_back(line.substr(start, i - start));
        if (i < line.size() && line[i] == '#') {
            break;
        }
    }
    return words;
}

std::string join(const std::vector<std::string>& words, size_t from = 0,
                 size_t to = std::string::npos) {
    std::string s;
    for (size_t i = from; i < words.size() && i < to; ++i) {
        if (!s.empty()) {
            s += ' ';
        }
        s += words[i];
    }
    return s;
}

std::optional<uint64_t> parse_uint(std::string_view s, uint64_t max) {
    if (s.empty() || s.size() > 20) {
        return std::nullopt;
    }
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') {
            return std::nullopt;
        }
        uint64_t d = static_cast<uint64_t>(c - '0');
        if (v > (max - d) / 10) {
            return std::nullopt;
        }
        v = v * 10 + d;
    }
    return v;
}

// Empty when `word` is a valid value of `type`, else the reason.
std::string validate(Type type, const std::string& word) {
    unsigned char addr[16];
    switch (type) {
        case Type::u16:
            return parse_uint(word, UINT16_MAX) ? "" : "not a number in 0..65535";
        case Type::u32:
            return parse_uint(word, UINT32_MAX) ? "" : "not a number in 0..4294967295";
        case Type::u64:
            return parse_uint(word, UINT64_MAX) ? "" : "not a number in 0..18446744073709551615";
        case Type::str:
            return "";
        case Type::ipv4:
            return inet_pton(AF_INET, word.c_str(), addr) == 1 ? "" : "not an IPv4 address";
        case Type::ipv6:
            return inet_pton(AF_INET6, word.c_str(), addr) == 1 ? "" : "not an IPv6 address";
        case Type::ip:
            return inet_pton(AF_INET, word.c_str(), addr) == 1 ||
                           inet_pton(AF_INET6, word.c_str(), addr) == 1
                       ? ""
                       : "not an IPv4 or IPv6 address";
    }
    return "unknown type";
}

struct Placeholder {
    std::string name;
    Type type = Type::str;
    bool rest = false;  // <name:str...>: one or more words up to the end of the line

    std::string spelled() const {
        return "<" + name + ":" + std::string(type_name(type)) + (rest ? "..." : "") + ">";
    }
};

struct Element {
    std::vector<std::string> literals;
    std::optional<Placeholder> placeholder;

    bool has_literal(std::string_view w) const {
        return std::find(literals.begin(), literals.end(), w) != literals.end();
    }
    void expected(std::vector<std::string>* out) const {
        for (const auto& l : literals) {
            if (std::find(out->begin(), out->end(), l) == out->end()) {
                out->push_back(l);
            }
        }
        if (placeholder) {
            std::string p = placeholder->spelled();
            if (std::find(out->begin(), out->end(), p) == out->end()) {
                out->push_back(p);
            }
        }
    }
};

bool valid_name(std::string_view s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
    });
}

bool valid_literal(std::string_view s) {
    constexpr size_t kMaxLiteral = 64;  // librte_cmdline string tokens stop at 127
    if (s.empty() || s.size() > kMaxLiteral) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isgraph(static_cast<unsigned char>(c)) && c != '<' && c != '>' && c != '#' &&
               c != '|';
    });
}

// Parses and checks a grammar string; empty error on success.
std::string parse_grammar(std::string_view grammar, std::vector<Element>* elements) {
    if (grammar.find('\t') != std::string_view::npos ||
        grammar.find('\n') != std::string_view::npos) {
        return "tabs and newlines are not allowed";
    }
    std::vector<std::string> tokens = tokenize(grammar);
    if (tokens.empty()) {
        return "empty grammar";
    }
    if (grammar.find('#') != std::string_view::npos) {
        return "'#' is not allowed (it starts a comment)";
    }
    std::vector<std::string> names;
    for (size_t t = 0; t < tokens.size(); ++t) {
        const std::string& tok = tokens[t];
        Element el;
        size_t start = 0;
        while (true) {
            size_t bar = tok.find('|', start);
            std::string alt = tok.substr(start, bar == std::string::npos ? bar : bar - start);
            if (alt.empty()) {
                return "empty alternative in '" + tok + "'";
            }
            if (alt.front() == '<') {
                if (alt.back() != '>') {
                    return "placeholder '" + alt + "' must end with '>'";
                }
                std::string inner = alt.substr(1, alt.size() - 2);
                size_t colon = inner.find(':');
                if (colon == std::string::npos) {
                    return "placeholder '" + alt + "' must be <name:type>";
                }
                Placeholder p;
                p.name = inner.substr(0, colon);
                std::string type = inner.substr(colon + 1);
                if (type.size() > 3 && type.compare(type.size() - 3, 3, "...") == 0) {
                    p.rest = true;
                    type.resize(type.size() - 3);
                }
                if (!valid_name(p.name)) {
                    return "bad placeholder name in '" + alt + "'";
                }
                bool known = false;
                for (const auto& tn : kTypes) {
                    if (tn.name == type) {
                        p.type = tn.type;
                        known = true;
                    }
                }
                if (!known) {
                    return "unknown type '" + type + "' in '" + alt +
                           "' (use u16 u32 u64 str ipv4 ipv6 ip)";
                }
                if (p.rest && p.type != Type::str) {
                    return "only <name:str...> may take the rest of the line, not '" + alt + "'";
                }
                if (el.placeholder) {
                    return "more than one placeholder in '" + tok + "'";
                }
                if (std::find(names.begin(), names.end(), p.name) != names.end()) {
                    return "placeholder name '" + p.name + "' used twice";
                }
                names.push_back(p.name);
                el.placeholder = p;
            } else {
                if (!valid_literal(alt)) {
                    return "bad literal '" + alt + "'";
                }
                if (el.has_literal(alt)) {
                    return "literal '" + alt + "' repeated in '" + tok + "'";
                }
                el.literals.push_back(alt);
            }
            if (bar == std::string::npos) {
                break;
            }
            start = bar + 1;
        }
        if (el.placeholder && el.placeholder->rest) {
            if (!el.literals.empty()) {
                return "'" + tok + "' cannot have alternatives";
            }
            if (t + 1 != tokens.size()) {
                return "'" + tok + "' must be the last element";
            }
        }
        elements->push_back(std::move(el));
    }
    return "";
}

std::string canonical(const std::vector<Element>& elements) {
    std::string s;
    for (const auto& el : elements) {
        if (!s.empty()) {
            s += ' ';
        }
        std::string alts;
        for (const auto& l : el.literals) {
            alts += (alts.empty() ? "" : "|") + l;
        }
        if (el.placeholder) {
            alts += (alts.empty() ? "" : "|") + el.placeholder->spelled();
        }
        s += alts;
    }
    return s;
}

struct Entry {
    Command command;
    std::vector<Element> elements;
};

// One command tried against the words of a line.
struct Attempt {
    enum Kind { full, incomplete, mismatch, extra } kind = full;
    size_t depth = 0;               // words matched before the failure
    size_t element = 0;             // element at the failure (incomplete, mismatch)
    std::string placeholder_error;  // mismatch caused by a bad placeholder value
    std::vector<int> rank;          // per word: 1 literal, 0 placeholder (literal wins)
};

Attempt try_entry(const Entry& e, const std::vector<std::string>& words,
                  std::vector<std::pair<std::string, std::string>>* bound) {
    Attempt a;
    size_t i = 0;
    for (size_t k = 0; k < e.elements.size(); ++k) {
        const Element& el = e.elements[k];
        if (i == words.size()) {
            a.kind = Attempt::incomplete;
            a.depth = i;
            a.element = k;
            return a;
        }
        const std::string& w = words[i];
        if (el.placeholder && el.placeholder->rest) {
            bound->emplace_back(el.placeholder->name, join(words, i));
            a.rank.insert(a.rank.end(), words.size() - i, 0);
            i = words.size();
            continue;
        }
        if (el.has_literal(w)) {
            bound->emplace_back("", w);
            a.rank.push_back(1);
        } else if (el.placeholder) {
            std::string why = validate(el.placeholder->type, w);
            if (!why.empty()) {
                a.kind = Attempt::mismatch;
                a.depth = i;
                a.element = k;
                a.placeholder_error =
                    "bad argument '" + w + "' for " + el.placeholder->spelled() + ": " + why;
                return a;
            }
            bound->emplace_back(el.placeholder->name, w);
            a.rank.push_back(0);
        } else {
            a.kind = Attempt::mismatch;
            a.depth = i;
            a.element = k;
            return a;
        }
        ++i;
    }
    if (i < words.size()) {
        a.kind = Attempt::extra;
        a.depth = i;
    }
    return a;
}

constexpr std::string_view kDash = " \u2014 ";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Output, Args

Output::~Output() = default;

void Output::printf(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if (static_cast<size_t>(n) < sizeof(buf)) {
        write(std::string_view(buf, static_cast<size_t>(n)));
        return;
    }
    std::string big(static_cast<size_t>(n) + 1, '\0');
    va_start(ap, fmt);
    vsnprintf(big.data(), big.size(), fmt, ap);
    va_end(ap);
    big.pop_back();
    write(big);
}

std::string_view Args::word(size_t i) const {
    return i < words_.size() ? std::string_view(words_[i]) : std::string_view();
}

bool Args::has(std::string_view literal) const {
    return std::any_of(bound_.begin(), bound_.end(),
                       [&](const Bound& b) { return b.name.empty() && b.value == literal; });
}

std::optional<std::string_view> Args::get(std::string_view placeholder_name) const {
    for (const auto& b : bound_) {
        if (!b.name.empty() && b.name == placeholder_name) {
            return std::string_view(b.value);
        }
    }
    return std::nullopt;
}

std::optional<uint64_t> Args::get_uint(std::string_view placeholder_name) const {
    auto v = get(placeholder_name);
    if (!v) {
        return std::nullopt;
    }
    return parse_uint(*v, UINT64_MAX);
}

// ---------------------------------------------------------------------------------------------
// librte_cmdline glue
//
// Each command becomes one cmdline instance per combination of its mixed elements
// ("all|<port:u16>" gives one instance with the literal, one with the placeholder). Literals are
// stock string tokens ("info#stats#xstats"), so tab completion and `?` work; placeholders are our
// own token type, validated with the Registry's own rules and shown in `?` as [port:u16].
//
// So that the prompt behaves exactly like the socket, the Registry stays the judge:
//  - the first token of every instance is wrapped in a "gate" that, on a real parse, only lets
//    the instance match if Registry::match() picks its command (literal-beats-placeholder and
//    other tie-breaks give exactly one full match, never cmdline's "Ambiguous command");
//  - a last "fallback" instance matches every line the Registry rejects, so the user sees the
//    Registry's error message instead of "Command not found"; it is invisible to completion;
//  - the callback runs Registry::execute() on the line, which the gate/fallback copied into
//    result slot 0. All other tokens share one scratch slot, which nobody reads.

namespace {

constexpr unsigned kLineSlot = 0;
constexpr unsigned kScratchSlot = CMDLINE_PARSE_RESULT_BUFSIZE / 2;
static_assert(CMDLINE_PARSE_RESULT_BUFSIZE - kScratchSlot >= STR_TOKEN_SIZE);

struct CmdlineState;

struct PlaceholderToken {
    cmdline_token_hdr hdr;
    const Element* element;
};

struct GateToken {
    cmdline_token_hdr hdr;
    cmdline_token_hdr* inner;
    CmdlineState* state;
    const Command* command;
};

struct FallbackToken {
    cmdline_token_hdr hdr;
    CmdlineState* state;
};

template <typename T>
T* token_cast(cmdline_token_hdr* hdr) {
    // hdr is the first member of a standard-layout T: the addresses are interconvertible.
    static_assert(std::is_standard_layout_v<T>);
    return reinterpret_cast<T*>(hdr);
}

size_t line_length(const char* buf) {
    size_t n = 0;
    while (buf[n] != '\0' && buf[n] != '\n' && buf[n] != '\r') {
        ++n;
    }
    return n;
}

// Copies the line (to its end) into the result slot; false when it does not fit.
bool save_line(const char* buf, void* res, unsigned ressize) {
    size_t n = line_length(buf);
    if (n + 1 > std::min<size_t>(ressize, kScratchSlot - kLineSlot)) {
        return false;
    }
    std::memcpy(res, buf, n);
    static_cast<char*>(res)[n] = '\0';
    return true;
}

int placeholder_parse(cmdline_parse_token_hdr_t* tk, const char* buf, void*, unsigned) {
    const Element* el = token_cast<PlaceholderToken>(tk)->element;
    if (el->placeholder->rest) {
        int n = 0;
        while (buf[n] != '\0' && buf[n] != '#' && buf[n] != '\n' && buf[n] != '\r') {
            ++n;
        }
        return n > 0 ? n : -1;
    }
    int n = 0;
    while (!cmdline_isendoftoken(buf[n])) {
        ++n;
    }
    if (n == 0) {
        return -1;
    }
    std::string word(buf, static_cast<size_t>(n));
    if (el->has_literal(word) || !validate(el->placeholder->type, word).empty()) {
        return -1;
    }
    return n;
}

int placeholder_complete_get_nb(cmdline_parse_token_hdr_t*) {
    return 0;
}

int placeholder_complete_get_elt(cmdline_parse_token_hdr_t*, int, char*, unsigned) {
    return -1;
}

int placeholder_get_help(cmdline_parse_token_hdr_t* tk, char* dst, unsigned size) {
    const Placeholder& p = *token_cast<PlaceholderToken>(tk)->element->placeholder;
    std::string s = p.spelled();
    snprintf(dst, size, "%s", s.substr(1, s.size() - 2).c_str());
    return 0;
}

cmdline_token_ops placeholder_ops = {placeholder_parse, placeholder_complete_get_nb,
                                     placeholder_complete_get_elt, placeholder_get_help};

const Command* selected_command(CmdlineState* st, std::string_view line);

int gate_parse(cmdline_parse_token_hdr_t* tk, const char* buf, void* res, unsigned ressize) {
    GateToken* g = token_cast<GateToken>(tk);
    int n = g->inner->ops->parse(g->inner, buf, res, ressize);
    if (n < 0 || res == nullptr) {
        return n;  // no result buffer: completion, which is purely syntactic
    }
    if (selected_command(g->state, std::string_view(buf, line_length(buf))) != g->command) {
        return -1;
    }
    return save_line(buf, res, ressize) ? n : -1;
}

int gate_complete_get_nb(cmdline_parse_token_hdr_t* tk) {
    GateToken* g = token_cast<GateToken>(tk);
    return g->inner->ops->complete_get_nb ? g->inner->ops->complete_get_nb(g->inner) : 0;
}

int gate_complete_get_elt(cmdline_parse_token_hdr_t* tk, int idx, char* dst, unsigned size) {
    GateToken* g = token_cast<GateToken>(tk);
    return g->inner->ops->complete_get_elt
               ? g->inner->ops->complete_get_elt(g->inner, idx, dst, size)
               : -1;
}

int gate_get_help(cmdline_parse_token_hdr_t* tk, char* dst, unsigned size) {
    GateToken* g = token_cast<GateToken>(tk);
    return g->inner->ops->get_help ? g->inner->ops->get_help(g->inner, dst, size) : -1;
}

cmdline_token_ops gate_ops = {gate_parse, gate_complete_get_nb, gate_complete_get_elt,
                              gate_get_help};

int fallback_parse(cmdline_parse_token_hdr_t* tk, const char* buf, void* res, unsigned ressize) {
    if (res == nullptr) {
        return -1;  // never take part in completion
    }
    size_t n = line_length(buf);
    if (selected_command(token_cast<FallbackToken>(tk)->state, std::string_view(buf, n)) !=
        nullptr) {
        return -1;
    }
    return save_line(buf, res, ressize) ? static_cast<int>(n) : -1;
}

// One completion choice that never materialises: cmdline_complete() then neither lists the
// fallback under `?` nor counts it as a non-completable alternative.
int fallback_complete_get_nb(cmdline_parse_token_hdr_t*) {
    return 1;
}

int fallback_complete_get_elt(cmdline_parse_token_hdr_t*, int, char*, unsigned) {
    return -1;
}

int fallback_get_help(cmdline_parse_token_hdr_t*, char* dst, unsigned size) {
    if (size > 0) {
        dst[0] = '\0';
    }
    return 0;
}

cmdline_token_ops fallback_ops = {fallback_parse, fallback_complete_get_nb,
                                  fallback_complete_get_elt, fallback_get_help};

class CmdlineOutput final : public Output {
public:
    explicit CmdlineOutput(cmdline* cl) : cl_(cl) {}
    void write(std::string_view text) override {
        cmdline_printf(cl_, "%.*s", static_cast<int>(text.size()), text.data());
    }

private:
    cmdline* cl_;
};

}  // namespace

struct Registry::Impl {
    std::vector<std::unique_ptr<Entry>> entries;
    std::unique_ptr<CmdlineState> cmdline;
};

namespace {

struct CmdlineState {
    const Registry* registry = nullptr;
    std::deque<std::string> strings;
    std::deque<cmdline_parse_token_string_t> literal_tokens;
    std::deque<PlaceholderToken> placeholder_tokens;
    std::deque<GateToken> gate_tokens;
    std::deque<FallbackToken> fallback_tokens;
    std::vector<cmdline_parse_inst_t*> ctx;  // NULL-terminated
    // The gates of all instances ask about the same line in a row.
    std::string cached_line;
    const Command* cached_command = nullptr;
    bool cache_valid = false;

    ~CmdlineState() {
        for (cmdline_parse_inst_t* inst : ctx) {
            std::free(inst);
        }
    }
};

const Command* selected_command(CmdlineState* st, std::string_view line) {
    if (!st->cache_valid || st->cached_line != line) {
        st->cached_line.assign(line);
        st->cached_command = st->registry->match(line).command;
        st->cache_valid = true;
    }
    return st->cached_command;
}

void on_parsed(void* result, cmdline* cl, void* data) {
    auto* st = static_cast<CmdlineState*>(data);
    st->cache_valid = false;  // a handler may change what later lines mean
    CmdlineOutput out(cl);
    st->registry->execute(static_cast<const char*>(result), out);
}

cmdline_parse_inst_t* new_instance(CmdlineState* st, const char* help,
                                   const std::vector<cmdline_token_hdr*>& tokens) {
    size_t bytes = sizeof(cmdline_parse_inst_t) + (tokens.size() + 1) * sizeof(cmdline_token_hdr*);
    auto* inst = static_cast<cmdline_parse_inst_t*>(std::calloc(1, bytes));
    if (inst == nullptr) {
        std::fprintf(stderr, "braid: cli: out of memory building the cmdline context\n");
        std::abort();
    }
    inst->f = on_parsed;
    inst->data = st;
    inst->help_str = help;
    for (size_t i = 0; i < tokens.size(); ++i) {
        inst->tokens[i] = tokens[i];
    }
    inst->tokens[tokens.size()] = nullptr;
    return inst;
}

void build_instances(CmdlineState* st, const Entry& e) {
    // Each element offers a literal choice, a placeholder choice, or both (mixed): expand the
    // mixed ones into separate instances.
    std::vector<std::vector<cmdline_token_hdr*>> variants(1);
    for (const Element& el : e.elements) {
        std::vector<cmdline_token_hdr*> options;
        if (!el.literals.empty()) {
            std::string choices;
            for (const auto& l : el.literals) {
                choices += (choices.empty() ? "" : "#") + l;
            }
            st->strings.push_back(std::move(choices));
            cmdline_parse_token_string_t tok{};
            tok.hdr.ops = &cmdline_token_string_ops;
            tok.hdr.offset = kScratchSlot;
            tok.string_data.str = st->strings.back().c_str();
            st->literal_tokens.push_back(tok);
            options.push_back(&st->literal_tokens.back().hdr);
        }
        if (el.placeholder) {
            PlaceholderToken tok{};
            tok.hdr.ops = &placeholder_ops;
            tok.hdr.offset = kScratchSlot;
            tok.element = &el;
            st->placeholder_tokens.push_back(tok);
            options.push_back(&st->placeholder_tokens.back().hdr);
        }
        std::vector<std::vector<cmdline_token_hdr*>> next;
        for (const auto& v : variants) {
            for (cmdline_token_hdr* o : options) {
                next.push_back(v);
                next.back().push_back(o);
            }
        }
        variants = std::move(next);
    }
    for (auto& v : variants) {
        GateToken gate{};
        gate.hdr.ops = &gate_ops;
        gate.hdr.offset = kLineSlot;
        gate.inner = v.front();
        gate.state = st;
        gate.command = &e.command;
        st->gate_tokens.push_back(gate);
        v.front() = &st->gate_tokens.back().hdr;
        st->ctx.push_back(new_instance(st, e.command.help.c_str(), v));
    }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Registry

Registry::Registry() : impl_(std::make_unique<Impl>()) {
    add({"help", "List all commands", [this](const Args&, Output& out) { out.write(help()); }});
    add({"help <topic:str...>", "List the commands that start with <topic>, e.g. 'help show'",
         [this](const Args& args, Output& out) {
             std::string_view topic = args.get("topic").value_or("");
             std::string text = help(topic);
             if (text.empty()) {
                 out.printf("error: no command starts with '%.*s'. Type 'help'.\n",
                            static_cast<int>(topic.size()), topic.data());
             } else {
                 out.write(text);
             }
         }});
}

Registry::~Registry() = default;

void Registry::add(Command command) {
    std::string err;
    std::string grammar = command.grammar;
    if (!try_add(std::move(command), &err)) {
        std::fprintf(stderr, "braid: cli: bad command grammar '%s': %s\n", grammar.c_str(),
                     err.c_str());
        std::abort();
    }
}

bool Registry::try_add(Command command, std::string* err) {
    auto fail = [&](std::string why) {
        if (err != nullptr) {
            *err = std::move(why);
        }
        return false;
    };
    if (impl_->cmdline) {
        return fail("commands cannot be added after cmdline_ctx() was built");
    }
    if (!command.handler) {
        return fail("no handler");
    }
    auto e = std::make_unique<Entry>();
    std::string why = parse_grammar(command.grammar, &e->elements);
    if (!why.empty()) {
        return fail(why);
    }
    std::string canon = canonical(e->elements);
    for (const auto& other : impl_->entries) {
        if (canonical(other->elements) == canon) {
            return fail("duplicate of '" + other->command.grammar + "'");
        }
    }
    e->command = std::move(command);
    impl_->entries.push_back(std::move(e));
    return true;
}

size_t Registry::size() const {
    return impl_->entries.size();
}

Registry::Match Registry::match(std::string_view line) const {
    Match m;
    std::vector<std::string> words = tokenize(line);
    if (words.empty()) {
        return m;
    }
    const std::string typed = join(words);

    std::vector<Attempt> attempts;
    std::vector<std::vector<std::pair<std::string, std::string>>> bindings;
    attempts.reserve(impl_->entries.size());
    bindings.resize(impl_->entries.size());
    for (size_t i = 0; i < impl_->entries.size(); ++i) {
        attempts.push_back(try_entry(*impl_->entries[i], words, &bindings[i]));
    }

    // Full matches: the best rank wins (a literal beats a placeholder at the first difference).
    const Attempt* best = nullptr;
    size_t best_i = 0;
    std::vector<size_t> tied;
    for (size_t i = 0; i < attempts.size(); ++i) {
        if (attempts[i].kind != Attempt::full) {
            continue;
        }
        if (best == nullptr || attempts[i].rank > best->rank) {
            best = &attempts[i];
            best_i = i;
            tied.assign(1, i);
        } else if (attempts[i].rank == best->rank) {
            tied.push_back(i);
        }
    }
    if (tied.size() > 1) {
        m.error = "error: ambiguous command: '" + typed + "' matches:";
        for (size_t i : tied) {
            m.error += " '" + impl_->entries[i]->command.grammar + "'";
        }
        return m;
    }
    if (best != nullptr) {
        const Entry& e = *impl_->entries[best_i];
        m.command = &e.command;
        m.args.words_ = std::move(words);
        for (auto& [name, value] : bindings[best_i]) {
            m.args.bound_.push_back({std::move(name), std::move(value)});
        }
        return m;
    }

    // No match: explain the failure of the commands that got furthest.
    size_t depth = 0;
    for (const auto& a : attempts) {
        depth = std::max(depth, a.depth);
    }
    std::vector<std::string> expected;
    bool only_extra = true;
    for (size_t i = 0; i < attempts.size(); ++i) {
        const Attempt& a = attempts[i];
        if (a.depth != depth) {
            continue;
        }
        if (!a.placeholder_error.empty()) {
            m.error = "error: " + a.placeholder_error;
            return m;
        }
        if (a.kind != Attempt::extra) {
            only_extra = false;
            impl_->entries[i]->elements[a.element].expected(&expected);
        }
    }
    std::string list;
    for (const auto& x : expected) {
        list += (list.empty() ? "" : " ") + x;
    }
    if (depth == 0) {
        m.error = "error: unknown command: '" + typed + "'. Type 'help'.";
    } else if (depth == words.size()) {
        m.error = "error: incomplete command: '" + typed + "'" + std::string(kDash) +
                  "expected one of: " + list;
    } else if (only_extra) {
        m.error = "error: unexpected '" + join(words, depth) + "' after complete command '" +
                  join(words, 0, depth) + "'";
    } else {
        m.error = "error: unknown word '" + words[depth] + "' after '" + join(words, 0, depth) +
                  "'" + std::string(kDash) + "expected one of: " + list;
    }
    return m;
}

bool Registry::execute(std::string_view line, Output& out) const {
    Match m = match(line);
    if (m.command == nullptr) {
        if (m.error.empty()) {
            return true;  // empty line or comment
        }
        out.write(m.error);
        out.write("\n");
        return false;
    }
    try {
        m.command->handler(m.args, out);
    } catch (const std::exception& ex) {
        out.printf("error: command failed: %s\n", ex.what());
        return false;
    } catch (...) {
        out.write("error: command failed\n");
        return false;
    }
    return true;
}

std::string Registry::help(std::string_view prefix) const {
    std::vector<std::string> words = tokenize(prefix);
    std::vector<const Entry*> shown;
    for (const auto& e : impl_->entries) {
        size_t i = 0;
        bool ok = true;
        for (size_t k = 0; k < e->elements.size() && i < words.size(); ++k, ++i) {
            const Element& el = e->elements[k];
            if (el.placeholder && el.placeholder->rest) {
                i = words.size();
                break;
            }
            if (!el.has_literal(words[i]) &&
                !(el.placeholder && validate(el.placeholder->type, words[i]).empty())) {
                ok = false;
                break;
            }
        }
        if (ok && i >= words.size()) {
            shown.push_back(e.get());
        }
    }
    std::sort(shown.begin(), shown.end(), [](const Entry* a, const Entry* b) {
        return a->command.grammar < b->command.grammar;
    });
    constexpr size_t kMaxPad = 44;
    size_t width = 0;
    for (const Entry* e : shown) {
        width = std::max(width, std::min(e->command.grammar.size(), kMaxPad));
    }
    std::string text;
    for (const Entry* e : shown) {
        const std::string& g = e->command.grammar;
        text += g;
        text.append(g.size() < width ? width - g.size() + 2 : 2, ' ');
        text += e->command.help;
        text += '\n';
    }
    return text;
}

cmdline_inst** Registry::cmdline_ctx() {
    if (!impl_->cmdline) {
        auto st = std::make_unique<CmdlineState>();
        st->registry = this;
        for (const auto& e : impl_->entries) {
            build_instances(st.get(), *e);
        }
        FallbackToken fb{};
        fb.hdr.ops = &fallback_ops;
        fb.hdr.offset = kLineSlot;
        fb.state = st.get();
        st->fallback_tokens.push_back(fb);
        st->ctx.push_back(new_instance(st.get(), "", {&st->fallback_tokens.back().hdr}));
        st->ctx.push_back(nullptr);
        impl_->cmdline = std::move(st);
    }
    return impl_->cmdline->ctx.data();
}

size_t Registry::cmdline_instance_count() const {
    return impl_->cmdline ? impl_->cmdline->ctx.size() - 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Interactive

namespace {

// Blocking write of everything (stdout may be a pipe).
void write_all(int fd, std::string_view text) {
    while (!text.empty()) {
        ssize_t n = ::write(fd, text.data(), text.size());
        if (n > 0) {
            text.remove_prefix(static_cast<size_t>(n));
        } else if (n < 0 && errno == EAGAIN) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 1000);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return;
        }
    }
}

class FdOutput final : public Output {
public:
    explicit FdOutput(int fd) : fd_(fd) {}
    void write(std::string_view text) override { write_all(fd_, text); }

private:
    int fd_;
};

constexpr size_t kMaxInteractiveLine = 4096;

}  // namespace

Interactive::~Interactive() {
    stop();
}

bool Interactive::start(Registry& registry, std::string_view prompt) {
    if (started_) {
        return false;
    }
    registry_ = &registry;
    tty_ = isatty(STDIN_FILENO) == 1;
    quit_ = false;
    pending_.clear();
    if (tty_) {
        std::string p(prompt);
        cl_ = cmdline_stdin_new(registry.cmdline_ctx(), p.c_str());
        if (cl_ == nullptr) {
            return false;
        }
    }
    started_ = true;
    return true;
}

bool Interactive::on_readable() {
    if (!started_ || quit_) {
        return false;
    }
    // cmdline_poll() reads one byte per call and, in DPDK 22.11, cannot tell EOF from "nothing
    // to read": read what is there ourselves and feed it to cmdline_in().
    char buf[512];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0) {
        return errno == EINTR || errno == EAGAIN;
    }
    if (tty_) {
        if (n == 0 || cmdline_in(cl_, buf, static_cast<int>(n)) < 0) {
            return false;
        }
        return !quit_;
    }
    FdOutput out(STDOUT_FILENO);
    if (n == 0) {
        if (!pending_.empty()) {
            registry_->execute(pending_, out);
            pending_.clear();
        }
        return false;
    }
    pending_.append(buf, static_cast<size_t>(n));
    size_t pos;
    while (!quit_ && (pos = pending_.find('\n')) != std::string::npos) {
        std::string line = pending_.substr(0, pos);
        pending_.erase(0, pos + 1);
        registry_->execute(line, out);
    }
    if (pending_.size() > kMaxInteractiveLine) {
        out.printf("error: line too long (max %zu bytes)\n", kMaxInteractiveLine);
        pending_.clear();
    }
    return !quit_;
}

void Interactive::quit() {
    quit_ = true;
    if (cl_ != nullptr) {
        cmdline_quit(cl_);
    }
}

void Interactive::stop() {
    if (cl_ != nullptr) {
        cmdline_stdin_exit(cl_);  // restores the terminal and frees the cmdline
        cl_ = nullptr;
    }
    started_ = false;
}

// ---------------------------------------------------------------------------------------------
// SocketServer

namespace {

uint64_t mono_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

// mkdir -p for the directory part of `path`.
bool make_parent_dirs(const std::string& path, std::string* err) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) {
        return true;
    }
    std::string dir = path.substr(0, slash);
    for (size_t i = 1; i <= dir.size(); ++i) {
        if (i != dir.size() && dir[i] != '/') {
            continue;
        }
        std::string part = dir.substr(0, i);
        if (::mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
            *err = errno_text(("cannot create directory " + part).c_str());
            return false;
        }
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        *err = dir + " is not a directory";
        return false;
    }
    return true;
}

}  // namespace

struct SocketServer::Impl : std::enable_shared_from_this<SocketServer::Impl> {
    struct Client {
        std::string in;
        std::string out;
        bool eof = false;      // the client shut down its write side
        bool closing = false;  // protocol error: close once the error is written
        bool watched = false;  // registered with the loop
        bool truncated = false;
        uint64_t last_activity = 0;
    };

    class ClientOutput final : public Output {
    public:
        ClientOutput(Client& c, size_t cap) : c_(c), cap_(cap) {}
        void write(std::string_view text) override {
            if (c_.truncated) {
                return;
            }
            if (c_.out.size() + text.size() > cap_) {
                c_.out += "\nerror: output truncated\n";
                c_.truncated = true;
                return;
            }
            c_.out.append(text);
        }

    private:
        Client& c_;
        size_t cap_;
    };

    Limits limits;
    std::string path;
    int listen_fd = -1;
    bool listen_watched = false;
    dev_t dev = 0;
    ino_t ino = 0;
    LoopHooks hooks;
    const Registry* registry = nullptr;
    std::unordered_map<int, Client> clients;
    uint64_t requests = 0;
    uint64_t errors = 0;

    bool watch(int fd, bool listener) {
        if (!hooks.add_fd) {
            return false;
        }
        std::weak_ptr<Impl> weak = shared_from_this();
        auto handler = [weak, fd, listener](uint32_t events) {
            if (auto self = weak.lock()) {
                if (listener) {
                    self->on_listen();
                } else {
                    self->on_client(fd, events);
                }
            }
        };
        return hooks.add_fd(fd, std::move(handler));
    }

    void drop(int fd) {
        auto it = clients.find(fd);
        if (it == clients.end()) {
            return;
        }
        if (it->second.watched && hooks.remove_fd) {
            hooks.remove_fd(fd);
        }
        ::close(fd);
        clients.erase(it);
    }

    void on_listen() {
        for (int i = 0; i < 64; ++i) {
            int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                return;  // EAGAIN, or out of fds: try again on the next event
            }
            if (clients.size() >= limits.max_clients) {
                char msg[64];
                int n = snprintf(msg, sizeof(msg), "error: too many clients (max %zu)\n",
                                 limits.max_clients);
                (void)::send(fd, msg, static_cast<size_t>(n), MSG_NOSIGNAL | MSG_DONTWAIT);
                ::close(fd);
                ++errors;
                continue;
            }
            Client& c = clients[fd];
            c.last_activity = mono_ms();
            c.watched = watch(fd, false);
            if (!c.watched) {
                ::close(fd);
                clients.erase(fd);
                ++errors;
            }
        }
    }

    void run_line(Client& c, std::string line) {
        if (!line.empty() && line.back() == '\r') {
            line.pop_back();
        }
        ++requests;
        ClientOutput out(c, limits.max_pending_output);
        if (!registry->execute(line, out)) {
            ++errors;
        }
    }

    void feed(Client& c, const char* data, size_t n) {
        while (n > 0 && !c.closing) {
            const char* nl = static_cast<const char*>(std::memchr(data, '\n', n));
            size_t take = nl != nullptr ? static_cast<size_t>(nl - data) : n;
            if (c.in.size() + take > limits.max_line) {
                c.out +=
                    "error: line too long (max " + std::to_string(limits.max_line) + " bytes)\n";
                c.in.clear();
                c.closing = true;
                ++errors;
                return;
            }
            c.in.append(data, take);
            if (nl == nullptr) {
                return;
            }
            data += take + 1;
            n -= take + 1;
            std::string line;
            line.swap(c.in);
            run_line(c, std::move(line));
        }
    }

    // Writes what the socket takes; false when the client is gone.
    bool flush(int fd, Client& c, uint64_t now) {
        while (!c.out.empty()) {
            ssize_t n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                c.out.erase(0, static_cast<size_t>(n));
                c.last_activity = now;
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return true;
            } else {
                return false;
            }
        }
        return true;
    }

    // After reading or on a tick: flush, then close, pause or resume the client.
    void progress(int fd, uint64_t now) {
        auto it = clients.find(fd);
        if (it == clients.end()) {
            return;
        }
        Client& c = it->second;
        if (!flush(fd, c, now)) {
            drop(fd);
            return;
        }
        if (c.out.empty() && (c.eof || c.closing)) {
            drop(fd);
            return;
        }
        // While the fd would stay readable without us reading (EOF seen, protocol error, or
        // output backlog), stop watching it so that the loop does not spin; the tick flushes.
        bool pause = c.eof || c.closing || c.out.size() >= limits.max_pending_output;
        if (pause && c.watched) {
            if (hooks.remove_fd) {
                hooks.remove_fd(fd);
            }
            c.watched = false;
        } else if (!pause && !c.watched) {
            c.watched = watch(fd, false);
        }
    }

    void on_client(int fd, uint32_t /*events*/) {
        auto it = clients.find(fd);
        if (it == clients.end()) {
            return;
        }
        Client& c = it->second;
        uint64_t now = mono_ms();
        char buf[4096];
        size_t budget = 64 * 1024;  // per event, so one client cannot starve the loop
        while (!c.eof && !c.closing && c.out.size() < limits.max_pending_output && budget > 0) {
            ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
            if (n > 0) {
                c.last_activity = now;
                budget -= std::min(budget, static_cast<size_t>(n));
                feed(c, buf, static_cast<size_t>(n));
            } else if (n == 0) {
                c.eof = true;
                if (!c.in.empty()) {  // last line without '\n': run it anyway
                    std::string line;
                    line.swap(c.in);
                    run_line(c, std::move(line));
                }
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            } else {
                drop(fd);
                return;
            }
        }
        progress(fd, now);
    }

    void tick(uint64_t now) {
        std::vector<int> fds;
        fds.reserve(clients.size());
        for (const auto& [fd, c] : clients) {
            fds.push_back(fd);
        }
        for (int fd : fds) {
            progress(fd, now);
            auto it = clients.find(fd);
            if (it != clients.end() && now - it->second.last_activity >= limits.idle_timeout_ms &&
                now >= it->second.last_activity) {
                static constexpr char kMsg[] = "error: idle timeout\n";
                (void)::send(fd, kMsg, sizeof(kMsg) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                ++errors;
                drop(fd);
            }
        }
    }

    void close_all() {
        std::vector<int> fds;
        for (const auto& [fd, c] : clients) {
            fds.push_back(fd);
        }
        for (int fd : fds) {
            drop(fd);
        }
        if (listen_fd >= 0) {
            if (listen_watched && hooks.remove_fd) {
                hooks.remove_fd(listen_fd);
            }
            listen_watched = false;
            ::close(listen_fd);
            listen_fd = -1;
            struct stat st {};
            if (::lstat(path.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino) {
                ::unlink(path.c_str());
            }
        }
    }
};

SocketServer::SocketServer() : SocketServer(Limits{}) {}

SocketServer::SocketServer(Limits limits) : impl_(std::make_shared<Impl>()) {
    impl_->limits = limits;
}

SocketServer::~SocketServer() {
    close();
}

bool SocketServer::open(const std::string& path, std::string* err) {
    std::string scratch;
    if (err == nullptr) {
        err = &scratch;
    }
    Impl& s = *impl_;
    if (s.listen_fd >= 0) {
        *err = "already open on " + s.path;
        return false;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        *err = "socket path '" + path + "' is empty or too long (max " +
               std::to_string(sizeof(addr.sun_path) - 1) + " bytes)";
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    if (!make_parent_dirs(path, err)) {
        return false;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            *err = path + " exists and is not a socket";
            return false;
        }
        int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool live =
            probe >= 0 && ::connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
        if (probe >= 0) {
            ::close(probe);
        }
        if (live) {
            *err = "another process is listening on " + path + " (is braid already running?)";
            return false;
        }
        if (::unlink(path.c_str()) != 0) {
            *err = errno_text(("cannot remove stale socket " + path).c_str());
            return false;
        }
    }
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *err = errno_text("socket");
        return false;
    }
    // umask makes the socket 0600 from the start; the chmod makes sure of it.
    mode_t old_mask = ::umask(0177);
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::umask(old_mask);
    if (rc != 0) {
        *err = errno_text(("cannot bind " + path).c_str());
        ::close(fd);
        return false;
    }
    if (::chmod(path.c_str(), 0600) != 0 || ::listen(fd, 16) != 0 ||
        ::lstat(path.c_str(), &st) != 0) {
        *err = errno_text(("cannot listen on " + path).c_str());
        ::close(fd);
        ::unlink(path.c_str());
        return false;
    }
    s.listen_fd = fd;
    s.path = path;
    s.dev = st.st_dev;
    s.ino = st.st_ino;
    if (s.hooks.add_fd && s.registry != nullptr) {
        s.listen_watched = s.watch(fd, true);
    }
    return true;
}

int SocketServer::listen_fd() const {
    return impl_->listen_fd;
}

const std::string& SocketServer::path() const {
    return impl_->path;
}

void SocketServer::attach(LoopHooks hooks, const Registry& registry) {
    Impl& s = *impl_;
    s.hooks = std::move(hooks);
    s.registry = &registry;
    if (s.listen_fd >= 0 && !s.listen_watched) {
        s.listen_watched = s.watch(s.listen_fd, true);
    }
    if (s.hooks.add_periodic) {
        std::weak_ptr<Impl> weak = impl_;
        s.hooks.add_periodic(s.limits.tick_ms, [weak] {
            if (auto self = weak.lock()) {
                self->tick(mono_ms());
            }
        });
    }
}

void SocketServer::tick(uint64_t now_ms) {
    impl_->tick(now_ms);
}

void SocketServer::close() {
    impl_->close_all();
}

uint64_t SocketServer::requests() const {
    return impl_->requests;
}

uint64_t SocketServer::errors() const {
    return impl_->errors;
}

size_t SocketServer::clients() const {
    return impl_->clients.size();
}

}  // namespace braid::cli
