// braid configuration: strict YAML -> Config, and Config -> YAML (docs/CONFIG.md).
//
// The parser walks the yaml-cpp node tree by hand instead of using Node::as<T>(): as<T>() accepts
// "yes"/"on" for booleans, hex and octal for integers and quoted numbers, and it throws. Here
// every scalar is checked against one written rule, and every problem becomes an Error that
// names the dotted key path and the 1-based line. All errors are collected; parse() never throws.
//
// Scalar rules (documented in docs/CONFIG.md):
//   integer  plain (unquoted) decimal digits, no sign, no leading zeros, no 0x/0o, no fraction
//   boolean  plain `true` or `false`, lower case only
//   string   any scalar, plain or quoted; a null (`key:` or `~`) is not a string
//   null     on an optional field (mac, ipv4, ...) means "not set"; on a section means "defaults"
#include "control/config.h"

#include "dataplane/sdf.h"
#include "mptcp/scheduler.h"

#include <arpa/inet.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>

namespace braid::config {

namespace {

// Ranges that the header leaves open; chosen here and documented in docs/CONFIG.md.
constexpr uint64_t max_lcore = 1023;          // EAL's RTE_MAX_LCORE is checked at start-up
constexpr uint64_t max_memory_mb = 1u << 20;  // 1 TiB

constexpr std::string_view tag_plain = "?";   // untagged plain scalar
constexpr std::string_view tag_quoted = "!";  // untagged quoted scalar
constexpr std::string_view tag_str = "tag:yaml.org,2002:str";
constexpr std::string_view tag_int = "tag:yaml.org,2002:int";
constexpr std::string_view tag_bool = "tag:yaml.org,2002:bool";

constexpr std::array<std::string_view, 8> log_levels = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

std::string join_path(const std::string& parent, std::string_view key) {
    if (parent.empty()) {
        return std::string(key);
    }
    return parent + "." + std::string(key);
}

std::string index_path(const std::string& parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

int line_of(const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    return mark.is_null() || mark.line < 0 ? 0 : mark.line + 1;
}

std::string_view type_name(const YAML::Node& node) {
    switch (node.Type()) {
        case YAML::NodeType::Null:
            return "null";
        case YAML::NodeType::Scalar:
            return node.Tag() == tag_quoted ? "a quoted string" : "a scalar";
        case YAML::NodeType::Sequence:
            return "a sequence";
        case YAML::NodeType::Map:
            return "a map";
        case YAML::NodeType::Undefined:
            break;
    }
    return "nothing";
}

// --- Address and identifier syntax (pure functions, no YAML) ---------------------------------

bool all_of(std::string_view s, bool (*pred)(char)) {
    return std::all_of(s.begin(), s.end(), pred);
}

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

unsigned hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return static_cast<unsigned>(c - '0');
    }
    if (c >= 'a' && c <= 'f') {
        return static_cast<unsigned>(c - 'a' + 10);
    }
    return static_cast<unsigned>(c - 'A' + 10);
}

// Decimal digits, no sign, no leading zeros. nullopt on anything else or on overflow.
std::optional<uint64_t> parse_decimal(std::string_view s) {
    if (s.empty() || s.size() > 19 || !all_of(s, is_digit) || (s.size() > 1 && s[0] == '0')) {
        return std::nullopt;
    }
    uint64_t value = 0;
    for (char c : s) {
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    return value;
}

std::optional<uint32_t> parse_ipv4(const std::string& s) {
    in_addr addr{};
    if (inet_pton(AF_INET, s.c_str(), &addr) != 1) {
        return std::nullopt;
    }
    return ntohl(addr.s_addr);
}

std::optional<std::array<uint8_t, 16>> parse_ipv6(const std::string& s) {
    std::array<uint8_t, 16> out{};
    if (inet_pton(AF_INET6, s.c_str(), out.data()) != 1) {
        return std::nullopt;
    }
    return out;
}

// "addr/len" with 1 <= len <= max_len. Returns the error text, or empty on success.
std::string split_prefix(const std::string& s, unsigned max_len, std::string& addr, uint8_t& len) {
    const size_t slash = s.find('/');
    if (slash == std::string::npos) {
        return "missing prefix length (write it as address/length)";
    }
    addr = s.substr(0, slash);
    const auto n = parse_decimal(std::string_view(s).substr(slash + 1));
    if (!n || *n < 1 || *n > max_len) {
        return "prefix length must be 1.." + std::to_string(max_len);
    }
    len = static_cast<uint8_t>(*n);
    return {};
}

std::string format_ipv4(uint32_t addr_host) {
    in_addr addr{};
    addr.s_addr = htonl(addr_host);
    char buf[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &addr, buf, sizeof(buf));
    return buf;
}

std::string format_ipv6(const std::array<uint8_t, 16>& addr) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, addr.data(), buf, sizeof(buf));
    return buf;
}

std::string format_mac(const std::array<uint8_t, 6>& mac) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < mac.size(); ++i) {
        if (i != 0) {
            out += ':';
        }
        out += digits[mac[i] >> 4];
        out += digits[mac[i] & 0xf];
    }
    return out;
}

// "aa:bb:cc:dd:ee:ff", either case. Returns the error text, or empty on success.
std::string parse_mac(std::string_view s, std::array<uint8_t, 6>& mac) {
    if (s.size() != 17) {
        return "not a MAC address (expected aa:bb:cc:dd:ee:ff)";
    }
    for (size_t i = 0; i < 6; ++i) {
        const char hi = s[i * 3];
        const char lo = s[i * 3 + 1];
        if (!is_hex(hi) || !is_hex(lo) || (i < 5 && s[i * 3 + 2] != ':')) {
            return "not a MAC address (expected aa:bb:cc:dd:ee:ff)";
        }
        mac[i] = static_cast<uint8_t>(hex_value(hi) << 4 | hex_value(lo));
    }
    if ((mac[0] & 0x01) != 0) {
        return "a multicast MAC cannot be a port address";
    }
    if (std::all_of(mac.begin(), mac.end(), [](uint8_t b) { return b == 0; })) {
        return "the all-zero MAC cannot be a port address";
    }
    return {};
}

// "DDDD:BB:DD.F" or "BB:DD.F" (hex domain, bus and device; device <= 0x1f, function 0..7).
bool is_pci_address(std::string_view s) {
    if (s.size() == 12) {
        if (s[4] != ':' || !all_of(s.substr(0, 4), is_hex)) {
            return false;
        }
        s.remove_prefix(5);
    }
    if (s.size() != 7 || s[2] != ':' || s[5] != '.') {
        return false;
    }
    if (!all_of(s.substr(0, 2), is_hex) || !all_of(s.substr(3, 2), is_hex)) {
        return false;
    }
    const unsigned device = hex_value(s[3]) << 4 | hex_value(s[4]);
    return device <= 0x1f && s[6] >= '0' && s[6] <= '7';
}

bool is_port_name(std::string_view s) {
    return !s.empty() && s.size() <= 31 && all_of(s, [](char c) {
        return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
    });
}

bool is_file_prefix(std::string_view s) {
    return !s.empty() && s.size() <= 64 && all_of(s, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
               c == '-' || c == '.';
    });
}

// A DNS name (RFC 1123 letters, digits, hyphens, dots) or an IP literal.
bool is_node_id(const std::string& s) {
    if (parse_ipv4(s) || parse_ipv6(s)) {
        return true;
    }
    return !s.empty() && s.size() <= 253 && s.front() != '.' && s.front() != '-' &&
           all_of(s, [](char c) {
               return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' ||
                      c == '.';
           });
}

bool has_space(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t'; });
}

// --- The reader: typed accessors that record errors ------------------------------------------

class Reader {
public:
    using Handler = std::function<void(const YAML::Node& value, const std::string& path)>;

    struct Field {
        std::string_view name;
        Handler handle;
    };

    explicit Reader(std::vector<Error>& errors) : errors_(errors) {}

    void error(const std::string& path, int line, std::string message) {
        errors_.push_back(Error{path, line, std::move(message)});
    }

    void error(const std::string& path, const YAML::Node& node, std::string message) {
        error(path, line_of(node), std::move(message));
    }

    // Walk a map: reject non-maps, duplicate keys and unknown keys; dispatch the rest. A null
    // node is an empty map (a section written as `pfcp:` keeps its defaults). Returns the keys
    // seen, so callers can check required ones.
    std::set<std::string> map(const YAML::Node& node, const std::string& path,
                              std::initializer_list<Field> fields) {
        std::set<std::string> seen;
        if (node.IsNull()) {
            return seen;
        }
        if (!node.IsMap()) {
            error(path, node, "expected a map, got " + std::string(type_name(node)));
            return seen;
        }
        for (const auto& entry : node) {
            // Copies (cheap handles): yaml-cpp iterators yield a temporary pair, and a reference
            // into `it->first` dangles (found by ASan).
            const YAML::Node key = entry.first;
            const YAML::Node value = entry.second;
            if (!key.IsScalar()) {
                error(path, key, "map keys must be scalars, got " + std::string(type_name(key)));
                continue;
            }
            const std::string name = key.Scalar();
            const std::string key_path = join_path(path, name);
            const auto field = std::find_if(fields.begin(), fields.end(),
                                            [&](const Field& f) { return f.name == name; });
            if (field == fields.end()) {
                std::string expected;
                for (const Field& f : fields) {
                    expected += (expected.empty() ? "" : ", ") + std::string(f.name);
                }
                error(key_path, key,
                      "unknown key '" + name + "' (expected one of: " + expected + ")");
                continue;
            }
            if (!seen.insert(name).second) {
                error(key_path, key, "duplicate key '" + name + "'");
                continue;
            }
            // A null value has the mark of whatever follows it; the key's line is the useful one.
            key_lines_[key_path] = line_of(key);
            field->handle(value, key_path);
        }
        return seen;
    }

    // Sequence: calls `each(element, path[i])`. A null is an empty sequence.
    void sequence(const YAML::Node& node, const std::string& path,
                  const std::function<void(const YAML::Node&, const std::string&)>& each) {
        if (node.IsNull()) {
            return;
        }
        if (!node.IsSequence()) {
            error(path, line(node, path),
                  "expected a sequence, got " + std::string(type_name(node)));
            return;
        }
        for (size_t i = 0; i < node.size(); ++i) {
            const std::string element_path = index_path(path, i);
            key_lines_[element_path] = line_of(node[i]);
            each(node[i], element_path);
        }
    }

    // The scalar text of a string-typed value; nullopt (and an error) otherwise.
    std::optional<std::string> scalar(const YAML::Node& node, const std::string& path,
                                      std::string_view what) {
        if (!node.IsScalar()) {
            error(path, line(node, path),
                  "expected " + std::string(what) + ", got " + std::string(type_name(node)));
            return std::nullopt;
        }
        const std::string& tag = node.Tag();
        if (tag != tag_plain && tag != tag_quoted && tag != tag_str) {
            error(path, line(node, path),
                  "unexpected tag '" + tag + "' (expected " + std::string(what) + ")");
            return std::nullopt;
        }
        return node.Scalar();
    }

    void string(const YAML::Node& node, const std::string& path, std::string& out) {
        if (auto s = scalar(node, path, "a string")) {
            out = std::move(*s);
        }
    }

    // Stores the value and returns true when it is a valid integer in [min, max].
    template <typename T>
    bool uint(const YAML::Node& node, const std::string& path, T& out, uint64_t min, uint64_t max) {
        if (!node.IsScalar()) {
            error(path, line(node, path),
                  "expected an integer, got " + std::string(type_name(node)));
            return false;
        }
        const std::string& text = node.Scalar();
        if (node.Tag() != tag_plain && node.Tag() != tag_int) {
            error(path, line(node, path),
                  "expected an integer, got " + std::string(type_name(node)) + " '" + text + "'");
            return false;
        }
        const auto value = parse_decimal(text);
        if (!value) {
            std::string why = "expected a decimal integer, got '" + text + "'";
            if (!text.empty() && text[0] == '-') {
                why = "expected a non-negative integer, got '" + text + "'";
            } else if (text.find_first_of(".eE") != std::string::npos &&
                       text.find_first_of("0123456789") != std::string::npos &&
                       text.rfind("0x", 0) != 0) {
                why = "expected an integer, got '" + text + "' (no fractions or exponents)";
            } else if (text.rfind("0x", 0) == 0 || text.rfind("0o", 0) == 0) {
                why = "expected a decimal integer, got '" + text + "' (hex/octal not accepted)";
            } else if (!text.empty() && all_of(text, is_digit)) {
                why = text.size() > 1 && text[0] == '0'
                          ? "leading zeros are not allowed: '" + text + "'"
                          : "'" + text + "' is out of range (" + std::to_string(min) + ".." +
                                std::to_string(max) + ")";
            }
            error(path, line(node, path), why);
            return false;
        }
        if (*value < min || *value > max) {
            error(path, line(node, path),
                  std::to_string(*value) + " is out of range (" + std::to_string(min) + ".." +
                      std::to_string(max) + ")");
            return false;
        }
        out = static_cast<T>(*value);
        return true;
    }

    void boolean(const YAML::Node& node, const std::string& path, bool& out) {
        const bool plain = node.IsScalar() && (node.Tag() == tag_plain || node.Tag() == tag_bool);
        if (plain && node.Scalar() == "true") {
            out = true;
        } else if (plain && node.Scalar() == "false") {
            out = false;
        } else {
            const std::string got = node.IsScalar()
                                        ? std::string(type_name(node)) + " '" + node.Scalar() + "'"
                                        : std::string(type_name(node));
            error(path, line(node, path), "expected true or false, got " + got);
        }
    }

    // The line to report for a value: a null value reports its key's line.
    int line(const YAML::Node& node, const std::string& path) const {
        if (node.IsNull()) {
            const auto it = key_lines_.find(path);
            if (it != key_lines_.end()) {
                return it->second;
            }
        }
        return line_of(node);
    }

    int key_line(const std::string& path) const {
        const auto it = key_lines_.find(path);
        return it == key_lines_.end() ? 0 : it->second;
    }

private:
    std::vector<Error>& errors_;
    std::map<std::string, int> key_lines_;
};

// --- Sections ---------------------------------------------------------------------------------

std::optional<uint32_t> read_ipv4(Reader& r, const YAML::Node& v, const std::string& p) {
    if (auto s = r.scalar(v, p, "an IPv4 address")) {
        if (auto a = parse_ipv4(*s)) {
            return a;
        }
        r.error(p, r.line(v, p), "not an IPv4 address: '" + *s + "'");
    }
    return std::nullopt;
}

std::vector<std::string> read_filters(Reader& r, const YAML::Node& v, const std::string& p) {
    std::vector<std::string> out;
    r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
        if (auto s = r.scalar(e, ep, "an SDF filter (IPFilterRule)")) {
            auto fd = dataplane::sdf::parse_flow_description(*s);
            if (const auto* why = std::get_if<std::string>(&fd)) {
                r.error(ep, r.line(e, ep), "not an SDF filter: '" + *s + "': " + *why);
            } else {
                out.push_back(*s);
            }
        }
    });
    return out;
}

std::vector<IpPrefix> read_link_addresses(Reader& r, const YAML::Node& node,
                                          const std::string& path);
std::optional<std::string> check_link_addresses(const StaticSession& s);

StaticSession read_static_session(Reader& r, const YAML::Node& node, const std::string& path) {
    StaticSession s;
    auto seen = r.map(
        node, path,
        {
            {"seid", [&](const YAML::Node& v,
                         const std::string& p) { r.uint(v, p, s.seid, 1, UINT64_MAX); }},
            {"uplink_teid",
             [&](const YAML::Node& v, const std::string& p) {
                 r.uint(v, p, s.uplink_teid, 1, UINT32_MAX);
             }},
            {"ue_ipv4",
             [&](const YAML::Node& v, const std::string& p) { s.ue_ipv4 = read_ipv4(r, v, p); }},
            {"ue_ipv6",
             [&](const YAML::Node& v, const std::string& p) {
                 if (auto t = r.scalar(v, p, "an IPv6 /64 prefix")) {
                     std::string addr;
                     uint8_t len = 0;
                     std::string why = split_prefix(*t, 128, addr, len);
                     const auto a = why.empty() ? parse_ipv6(addr) : std::nullopt;
                     if (why.empty() && !a) {
                         why = "'" + addr + "' is not an IPv6 address";
                     } else if (why.empty() && len != 64) {
                         why = "the UE prefix must be a /64";
                     }
                     if (!why.empty()) {
                         r.error(p, r.line(v, p), "not a UE IPv6 prefix: '" + *t + "': " + why);
                     } else {
                         s.ue_ipv6 = Ipv6Prefix{*a, len};
                     }
                 }
             }},
            {"gnb_ipv4",
             [&](const YAML::Node& v, const std::string& p) {
                 s.gnb_ipv4 = read_ipv4(r, v, p).value_or(0);
             }},
            {"gnb_teid", [&](const YAML::Node& v,
                             const std::string& p) { r.uint(v, p, s.gnb_teid, 1, UINT32_MAX); }},
            {"mptcp", [&](const YAML::Node& v, const std::string& p) { r.boolean(v, p, s.mptcp); }},
            {"link_addresses",
             [&](const YAML::Node& v, const std::string& p) {
                 r.map(v, p,
                       {
                           {"tgpp",
                            [&](const YAML::Node& e, const std::string& ep) {
                                s.tgpp_link_addresses = read_link_addresses(r, e, ep);
                            }},
                           {"non_tgpp",
                            [&](const YAML::Node& e, const std::string& ep) {
                                s.non_tgpp_link_addresses = read_link_addresses(r, e, ep);
                            }},
                       });
             }},
            {"qfi",
             [&](const YAML::Node& v, const std::string& p) {
                 uint8_t q = 0;
                 if (r.uint(v, p, q, 0, 63)) {
                     s.qfi = q;
                 }
             }},
            {"mbr_ul_kbps",
             [&](const YAML::Node& v, const std::string& p) {
                 r.uint(v, p, s.mbr_ul_kbps, 0, 10'000'000'000ull);
             }},
            {"mbr_dl_kbps",
             [&](const YAML::Node& v, const std::string& p) {
                 r.uint(v, p, s.mbr_dl_kbps, 0, 10'000'000'000ull);
             }},
            {"uplink_filters",
             [&](const YAML::Node& v, const std::string& p) {
                 s.uplink_filters = read_filters(r, v, p);
             }},
            {"downlink_filters",
             [&](const YAML::Node& v,
                 const std::string& p) { s.downlink_filters = read_filters(r, v, p); }},
            {"volume_threshold_bytes",
             [&](const YAML::Node& v,
                 const std::string& p) { r.uint(v, p, s.volume_threshold_bytes, 0, UINT64_MAX); }},
            {"time_threshold_s",
             [&](const YAML::Node& v,
                 const std::string& p) { r.uint(v, p, s.time_threshold_s, 0, 86400 * 365); }},
            {"period_s", [&](const YAML::Node& v,
                             const std::string& p) { r.uint(v, p, s.period_s, 0, 86400 * 365); }},
        });
    if (node.IsMap()) {
        for (const char* required : {"seid", "uplink_teid", "gnb_ipv4", "gnb_teid"}) {
            if (seen.count(required) == 0) {
                r.error(path, r.line(node, path),
                        std::string("a static session needs '") + required + "'");
            }
        }
        if (seen.count("ue_ipv4") == 0 && seen.count("ue_ipv6") == 0) {
            r.error(path, r.line(node, path), "a static session needs ue_ipv4 or ue_ipv6");
        }
        if (seen.count("link_addresses") != 0) {
            if (auto why = check_link_addresses(s)) {
                r.error(path + ".link_addresses", r.line(node, path), *why);
            }
        }
    }
    return s;
}

std::optional<IpPrefix> read_ip_prefix(Reader& r, const YAML::Node& v, const std::string& p,
                                       unsigned v4_min, unsigned v6_min);

// `sessions.static[].link_addresses.{tgpp,non_tgpp}`: a list of IPv4 addresses and IPv6 /64s.
std::vector<IpPrefix> read_link_addresses(Reader& r, const YAML::Node& node,
                                          const std::string& path) {
    std::vector<IpPrefix> out;
    r.sequence(node, path, [&](const YAML::Node& e, const std::string& ep) {
        const auto t = e.IsScalar() ? std::optional<std::string>(e.Scalar()) : std::nullopt;
        if (t && t->find(':') == std::string::npos) {
            if (auto a = read_ipv4(r, e, ep)) {
                IpPrefix x;
                for (size_t i = 0; i < 4; ++i) {
                    x.addr[i] = static_cast<uint8_t>(*a >> (24 - 8 * i));
                }
                x.len = 32;
                out.push_back(x);
            }
        } else if (auto pre = read_ip_prefix(r, e, ep, 32, 64)) {
            if (pre->len != 64) {
                r.error(ep, r.line(e, ep), "a link-specific IPv6 address is a /64 prefix");
            } else {
                out.push_back(*pre);
            }
        }
    });
    return out;
}

// What a static session's link-specific addresses must be (the dataplane checks the same when
// compiling; said here with the YAML's words).
std::optional<std::string> check_link_addresses(const StaticSession& s) {
    if (!s.mptcp) {
        return "link-specific addresses need 'mptcp: true' (they are for the MPTCP proxy)";
    }
    std::vector<IpPrefix> all;
    for (const auto* list : {&s.tgpp_link_addresses, &s.non_tgpp_link_addresses}) {
        const char* access = list == &s.tgpp_link_addresses ? "tgpp" : "non_tgpp";
        for (int family : {4, 6}) {
            if (std::count_if(list->begin(), list->end(),
                              [&](const IpPrefix& p) { return p.family == family; }) > 1) {
                return std::string("more than one IPv") + std::to_string(family) +
                       " link-specific address for " + access;
            }
        }
        for (const IpPrefix& p : *list) {
            if (std::find(all.begin(), all.end(), p) != all.end()) {
                return std::string("a link-specific address is listed twice");
            }
            all.push_back(p);
            if (p.family == 4 && s.ue_ipv4) {
                const uint32_t a = uint32_t{p.addr[0]} << 24 | uint32_t{p.addr[1]} << 16 |
                                   uint32_t{p.addr[2]} << 8 | p.addr[3];
                if (a == *s.ue_ipv4) {
                    return std::string("a link-specific address is the UE's address (ue_ipv4)");
                }
            }
            if (p.family == 6 && s.ue_ipv6 &&
                std::equal(p.addr.begin(), p.addr.begin() + 8, s.ue_ipv6->addr.begin())) {
                return std::string("a link-specific /64 is the UE's prefix (ue_ipv6)");
            }
        }
    }
    return std::nullopt;
}

// `tcp.services[].scheduler`: {mode, tgpp, non_tgpp, preferred, tgpp_weight, rtt_threshold_ms,
// plr_threshold}.
void read_tcp_scheduler(Reader& r, const YAML::Node& node, const std::string& path,
                        TcpService::Scheduler& s) {
    auto prefixes = [&](const YAML::Node& v, const std::string& p, std::vector<IpPrefix>& out) {
        out.clear();
        r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
            if (auto pre = read_ip_prefix(r, e, ep, 0, 0)) {
                out.push_back(*pre);
            }
        });
    };
    r.map(node, path,
          {
              {"mode",
               [&](const YAML::Node& v, const std::string& p) {
                   r.string(v, p, s.mode);
                   if (!mptcp::scheduler_mode(s.mode)) {
                       r.error(p, r.line(v, p),
                               "'" + s.mode +
                                   "' is not a scheduler (active_standby, smallest_delay, "
                                   "load_balancing, priority_based, redundant)");
                   }
               }},
              {"tgpp", [&](const YAML::Node& v, const std::string& p) { prefixes(v, p, s.tgpp); }},
              {"non_tgpp",
               [&](const YAML::Node& v, const std::string& p) { prefixes(v, p, s.non_tgpp); }},
              {"preferred",
               [&](const YAML::Node& v, const std::string& p) {
                   r.string(v, p, s.preferred);
                   if (s.preferred != "3gpp" && s.preferred != "non-3gpp") {
                       r.error(p, r.line(v, p),
                               "'" + s.preferred + "' is not an access (3gpp, non-3gpp)");
                   }
               }},
              {"tgpp_weight", [&](const YAML::Node& v,
                                  const std::string& p) { r.uint(v, p, s.tgpp_weight, 0, 100); }},
              {"rtt_threshold_ms",
               [&](const YAML::Node& v, const std::string& p) {
                   uint32_t ms = 0;
                   if (r.uint(v, p, ms, 1, 60000)) {
                       s.rtt_threshold_ms = ms;
                   }
               }},
              {"plr_threshold",
               [&](const YAML::Node& v, const std::string& p) {
                   uint32_t pct = 0;
                   if (r.uint(v, p, pct, 0, 100)) {
                       s.plr_threshold = pct;
                   }
               }},
          });
}

// `tcp.services[].advertise[]`: {id, address, port}.
TcpService::Advertise read_tcp_advertise(Reader& r, const YAML::Node& node,
                                         const std::string& path) {
    TcpService::Advertise a;
    const auto seen = r.map(
        node, path,
        {
            {"id", [&](const YAML::Node& v, const std::string& p) { r.uint(v, p, a.id, 1, 255); }},
            {"address",
             [&](const YAML::Node& v, const std::string& p) {
                 if (auto t = r.scalar(v, p, "an IPv4 or IPv6 address")) {
                     if (auto v4 = parse_ipv4(*t)) {
                         a.family = 4;
                         for (int i = 0; i < 4; ++i) {
                             a.addr[i] = static_cast<uint8_t>(*v4 >> (24 - 8 * i));
                         }
                     } else if (auto v6 = parse_ipv6(*t)) {
                         a.family = 6;
                         a.addr = *v6;
                     } else {
                         r.error(p, r.line(v, p), "not an IP address: '" + *t + "'");
                     }
                 }
             }},
            {"port",
             [&](const YAML::Node& v, const std::string& p) {
                 uint16_t port = 0;
                 if (r.uint(v, p, port, 1, 65535)) {
                     a.port = port;
                 }
             }},
        });
    if (node.IsMap()) {
        for (const char* required : {"id", "address"}) {
            if (seen.count(required) == 0) {
                r.error(path, r.line(node, path),
                        std::string("an advertised address needs '") + required + "'");
            }
        }
    }
    return a;
}

TcpService read_tcp_service(Reader& r, const YAML::Node& node, const std::string& path) {
    TcpService s;
    const auto seen = r.map(
        node, path,
        {
            {"port",
             [&](const YAML::Node& v, const std::string& p) { r.uint(v, p, s.port, 1, 65535); }},
            {"mode",
             [&](const YAML::Node& v, const std::string& p) {
                 r.string(v, p, s.mode);
                 if (s.mode != "echo" && s.mode != "sink" && s.mode != "source" &&
                     s.mode != "discard") {
                     r.error(p, r.line(v, p),
                             "'" + s.mode + "' is not a mode (echo, sink, source, discard)");
                 }
             }},
            {"bytes", [&](const YAML::Node& v,
                          const std::string& p) { r.uint(v, p, s.bytes, 1, UINT64_MAX); }},
            {"mptcp", [&](const YAML::Node& v, const std::string& p) { r.boolean(v, p, s.mptcp); }},
            {"scheduler",
             [&](const YAML::Node& v, const std::string& p) {
                 s.scheduler_set = true;
                 read_tcp_scheduler(r, v, p, s.scheduler);
             }},
            {"advertise",
             [&](const YAML::Node& v, const std::string& p) {
                 r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                     TcpService::Advertise a = read_tcp_advertise(r, e, ep);
                     for (const auto& other : s.advertise) {
                         if (other.id == a.id && a.id != 0) {
                             r.error(ep + ".id", r.line(e, ep),
                                     "address ID " + std::to_string(a.id) +
                                         " is used twice (RFC 8684 §3.4.1: one address per ID)");
                         }
                     }
                     s.advertise.push_back(a);
                 });
             }},
        });
    if (node.IsMap()) {
        for (const char* required : {"port", "mode"}) {
            if (seen.count(required) == 0) {
                r.error(path, r.line(node, path),
                        std::string("a TCP service needs '") + required + "'");
            }
        }
        if (s.mode == "source" && seen.count("bytes") == 0) {
            r.error(path, r.line(node, path), "a source service needs 'bytes'");
        }
        if (s.scheduler_set && !s.mptcp) {
            r.error(path + ".scheduler", r.line(node, path),
                    "a scheduler needs 'mptcp: true' (plain TCP has one path)");
        }
        if (!s.advertise.empty() && !s.mptcp) {
            r.error(path + ".advertise", r.line(node, path),
                    "advertised addresses need 'mptcp: true' (ADD_ADDR is MPTCP signalling)");
        }
    }
    return s;
}

void read_power_of_two(Reader& r, const YAML::Node& node, const std::string& path, uint16_t& out) {
    uint16_t value = 0;
    if (!r.uint(node, path, value, 64, 16384)) {
        return;
    }
    if ((value & (value - 1)) != 0) {
        r.error(path, r.line(node, path),
                std::to_string(value) + " is not a power of two (64..16384)");
        return;
    }
    out = value;
}

// Returns false when the port's role is unknown (missing or invalid).
bool read_port(Reader& r, const YAML::Node& node, const std::string& path, Port& port) {
    bool role_ok = false;
    auto optional_null = [](const YAML::Node& n) { return n.IsNull(); };
    const auto seen = r.map(
        node, path,
        {
            {"name",
             [&](const YAML::Node& v, const std::string& p) {
                 if (auto s = r.scalar(v, p, "a string")) {
                     if (!is_port_name(*s)) {
                         r.error(p, r.line(v, p),
                                 "port name '" + *s + "' must match [a-z0-9_-]{1,31}");
                     } else {
                         port.name = *s;
                     }
                 }
             }},
            {"role",
             [&](const YAML::Node& v, const std::string& p) {
                 if (auto s = r.scalar(v, p, "a port role")) {
                     if (*s == "n3" || *s == "n6") {
                         port.role = *s == "n3" ? PortRole::n3 : PortRole::n6;
                         role_ok = true;
                     } else {
                         r.error(p, r.line(v, p),
                                 "unknown port role '" + *s + "' (expected n3 or n6)");
                     }
                 }
             }},
            {"pci",
             [&](const YAML::Node& v, const std::string& p) {
                 if (auto s = r.scalar(v, p, "a PCI address")) {
                     if (!is_pci_address(*s)) {
                         r.error(p, r.line(v, p),
                                 "not a PCI address: '" + *s +
                                     "' (expected DDDD:BB:DD.F or BB:DD.F, hex)");
                     } else {
                         port.pci = *s;
                     }
                 }
             }},
            {"vdev",
             [&](const YAML::Node& v, const std::string& p) {
                 if (auto s = r.scalar(v, p, "a vdev string")) {
                     if (s->empty() || s->front() == ',' || has_space(*s)) {
                         r.error(p, r.line(v, p),
                                 "not a vdev string: '" + *s +
                                     "' (expected driver[,key=value...], no spaces)");
                     } else {
                         port.vdev = *s;
                     }
                 }
             }},
            {"mac",
             [&](const YAML::Node& v, const std::string& p) {
                 if (optional_null(v)) {
                     return;
                 }
                 if (auto s = r.scalar(v, p, "a MAC address")) {
                     std::array<uint8_t, 6> mac{};
                     const std::string why = parse_mac(*s, mac);
                     if (!why.empty()) {
                         r.error(p, r.line(v, p), why + ": '" + *s + "'");
                     } else {
                         port.mac = mac;
                     }
                 }
             }},
            {"ipv4",
             [&](const YAML::Node& v, const std::string& p) {
                 if (optional_null(v)) {
                     return;
                 }
                 if (auto s = r.scalar(v, p, "an IPv4 prefix")) {
                     std::string addr;
                     uint8_t len = 0;
                     std::string why = split_prefix(*s, 32, addr, len);
                     const auto a = why.empty() ? parse_ipv4(addr) : std::nullopt;
                     if (why.empty() && !a) {
                         why = "'" + addr + "' is not an IPv4 address";
                     }
                     if (!why.empty()) {
                         r.error(p, r.line(v, p), "not an IPv4 prefix: '" + *s + "': " + why);
                     } else {
                         port.ipv4 = Ipv4Prefix{*a, len};
                     }
                 }
             }},
            {"ipv6",
             [&](const YAML::Node& v, const std::string& p) {
                 if (optional_null(v)) {
                     return;
                 }
                 if (auto s = r.scalar(v, p, "an IPv6 prefix")) {
                     std::string addr;
                     uint8_t len = 0;
                     std::string why = split_prefix(*s, 128, addr, len);
                     const auto a = why.empty() ? parse_ipv6(addr) : std::nullopt;
                     if (why.empty() && !a) {
                         why = "'" + addr + "' is not an IPv6 address";
                     }
                     if (!why.empty()) {
                         r.error(p, r.line(v, p), "not an IPv6 prefix: '" + *s + "': " + why);
                     } else {
                         port.ipv6 = Ipv6Prefix{*a, len};
                     }
                 }
             }},
            {"gateway_ipv4",
             [&](const YAML::Node& v, const std::string& p) {
                 if (optional_null(v)) {
                     return;
                 }
                 if (auto s = r.scalar(v, p, "an IPv4 address")) {
                     if (auto a = parse_ipv4(*s)) {
                         port.gateway_ipv4 = *a;
                     } else {
                         r.error(p, r.line(v, p), "not an IPv4 address: '" + *s + "'");
                     }
                 }
             }},
            {"gateway_ipv6",
             [&](const YAML::Node& v, const std::string& p) {
                 if (optional_null(v)) {
                     return;
                 }
                 if (auto s = r.scalar(v, p, "an IPv6 address")) {
                     if (auto a = parse_ipv6(*s)) {
                         port.gateway_ipv6 = *a;
                     } else {
                         r.error(p, r.line(v, p), "not an IPv6 address: '" + *s + "'");
                     }
                 }
             }},
            {"rx_queues", [&](const YAML::Node& v,
                              const std::string& p) { r.uint(v, p, port.rx_queues, 1, 64); }},
            {"tx_queues", [&](const YAML::Node& v,
                              const std::string& p) { r.uint(v, p, port.tx_queues, 1, 64); }},
            {"rx_descriptors",
             [&](const YAML::Node& v, const std::string& p) {
                 read_power_of_two(r, v, p, port.rx_descriptors);
             }},
            {"tx_descriptors",
             [&](const YAML::Node& v, const std::string& p) {
                 read_power_of_two(r, v, p, port.tx_descriptors);
             }},
            {"mtu",
             [&](const YAML::Node& v, const std::string& p) { r.uint(v, p, port.mtu, 576, 9600); }},
            {"promiscuous",
             [&](const YAML::Node& v, const std::string& p) { r.boolean(v, p, port.promiscuous); }},
        });
    if (!node.IsMap()) {
        return false;  // already reported
    }
    const int line = line_of(node);
    if (!seen.count("name")) {
        r.error(join_path(path, "name"), line, "missing required key 'name'");
    }
    if (!seen.count("role")) {
        r.error(join_path(path, "role"), line, "missing required key 'role' (n3 or n6)");
    }
    const bool has_pci = seen.count("pci") != 0;
    const bool has_vdev = seen.count("vdev") != 0;
    if (has_pci && has_vdev) {
        r.error(path, line, "exactly one of 'pci' and 'vdev' must be set, not both");
    } else if (!has_pci && !has_vdev) {
        r.error(path, line, "exactly one of 'pci' and 'vdev' must be set");
    }
    return role_ok;
}

// Returns true when every port has a known role (so the n3/n6 presence check is meaningful).
bool read_ports(Reader& r, const YAML::Node& node, const std::string& path,
                std::vector<Port>& ports) {
    if (node.IsNull() || (node.IsSequence() && node.size() == 0)) {
        r.error(path, r.line(node, path), "at least one port is required");
        return false;
    }
    bool roles_ok = node.IsSequence();
    r.sequence(node, path, [&](const YAML::Node& element, const std::string& p) {
        Port port;  // pushed even when invalid, so that ports[i] is the i-th element
        if (element.IsNull()) {
            r.error(p, line_of(element), "expected a map, got null");
            roles_ok = false;
        } else {
            roles_ok = read_port(r, element, p, port) && roles_ok;
        }
        ports.push_back(std::move(port));
    });
    // Uniqueness across ports; values that failed to parse are empty and skipped.
    const auto device = [](const std::string& vdev) { return vdev.substr(0, vdev.find(',')); };
    for (size_t i = 0; i < ports.size(); ++i) {
        const std::string p = index_path(path, i);
        for (size_t j = 0; j < i; ++j) {
            const std::string also = " (also " + index_path(path, j) + ")";
            if (!ports[i].name.empty() && ports[i].name == ports[j].name) {
                const std::string key = join_path(p, "name");
                r.error(key, r.key_line(key), "duplicate port name '" + ports[i].name + "'" + also);
            }
            if (!ports[i].pci.empty() && ports[i].pci == ports[j].pci) {
                const std::string key = join_path(p, "pci");
                r.error(key, r.key_line(key),
                        "duplicate PCI address '" + ports[i].pci + "'" + also);
            }
            if (!ports[i].vdev.empty() && !ports[j].vdev.empty() &&
                device(ports[i].vdev) == device(ports[j].vdev)) {
                const std::string key = join_path(p, "vdev");
                r.error(key, r.key_line(key),
                        "duplicate vdev device '" + device(ports[i].vdev) + "'" + also);
            }
        }
    }
    return roles_ok;
}

void read_endpoint(Reader& r, const YAML::Node& node, const std::string& path, Endpoint& ep) {
    r.map(node, path,
          {
              {"address",
               [&](const YAML::Node& v, const std::string& p) {
                   if (auto s = r.scalar(v, p, "an IP address")) {
                       if (!parse_ipv4(*s) && !parse_ipv6(*s)) {
                           r.error(p, r.line(v, p), "not an IPv4 or IPv6 address: '" + *s + "'");
                       } else {
                           ep.address = *s;
                       }
                   }
               }},
              {"port",
               [&](const YAML::Node& v, const std::string& p) { r.uint(v, p, ep.port, 1, 65535); }},
          });
}

bool is_wildcard(const std::string& address) {
    return parse_ipv4(address) == 0u || parse_ipv6(address) == std::array<uint8_t, 16>{};
}

// One `pfcp.ue_ip_pools` element: {prefix: "198.20.0.0/16" | "2001:db8:100::/48",
// network_instance: "internet" (optional)}.
std::optional<pfcp::UeIpPoolConfig> read_ue_ip_pool(Reader& r, const YAML::Node& node,
                                                    const std::string& path) {
    pfcp::UeIpPoolConfig pool;
    bool ok = true;
    auto seen =
        r.map(node, path,
              {
                  {"prefix",
                   [&](const YAML::Node& v, const std::string& p) {
                       auto t = r.scalar(v, p, "an IPv4 or IPv6 prefix");
                       if (!t) {
                           ok = false;
                           return;
                       }
                       std::string addr;
                       uint8_t len = 0;
                       const bool v6 = t->find(':') != std::string::npos;
                       std::string why = split_prefix(*t, v6 ? 128 : 32, addr, len);
                       if (why.empty() && v6) {
                           if (auto a = parse_ipv6(addr)) {
                               pool.family = 6;
                               pool.prefix = *a;
                           } else {
                               why = "'" + addr + "' is not an IPv6 address";
                           }
                       } else if (why.empty()) {
                           if (auto a = parse_ipv4(addr)) {
                               pool.family = 4;
                               for (int i = 0; i < 4; ++i) {
                                   pool.prefix[i] = static_cast<uint8_t>(*a >> (24 - 8 * i));
                               }
                           } else {
                               why = "'" + addr + "' is not an IPv4 address";
                           }
                       }
                       pool.length = len;
                       if (why.empty()) {
                           // Family, length range and host bits: the pool's own rules.
                           if (auto bad = pfcp::check({pool})) {
                               why = bad->substr(bad->find(": ") + 2);
                           }
                       }
                       if (!why.empty()) {
                           r.error(p, r.line(v, p), "not a UE IP pool: '" + *t + "': " + why);
                           ok = false;
                       }
                   }},
                  {"network_instance",
                   [&](const YAML::Node& v, const std::string& p) {
                       if (auto t = r.scalar(v, p, "a network instance name")) {
                           if (t->empty()) {
                               r.error(p, r.line(v, p), "must not be empty (omit the key instead)");
                               ok = false;
                           }
                           pool.network_instance = *t;
                       }
                   }},
              });
    if (node.IsNull()) {
        r.error(path, line_of(node), "expected a map, got null");
        ok = false;
    } else if (node.IsMap() && seen.count("prefix") == 0) {
        r.error(join_path(path, "prefix"), line_of(node), "missing required key 'prefix'");
        ok = false;
    } else if (!node.IsMap()) {
        ok = false;
    }
    if (!ok) {
        return std::nullopt;
    }
    return pool;
}

// "198.18.0.0/15" or "2001:db8::/32": IPv4 lengths v4_min..32, IPv6 v6_min..128, host bits 0.
std::optional<IpPrefix> read_ip_prefix(Reader& r, const YAML::Node& v, const std::string& p,
                                       unsigned v4_min, unsigned v6_min) {
    auto t = r.scalar(v, p, "an IPv4 or IPv6 prefix");
    if (!t) {
        return std::nullopt;
    }
    IpPrefix out;
    std::string addr;
    const bool v6 = t->find(':') != std::string::npos;
    std::string why = split_prefix(*t, v6 ? 128 : 32, addr, out.len);
    if (why.empty() && v6) {
        out.family = 6;
        if (auto a = parse_ipv6(addr)) {
            out.addr = *a;
        } else {
            why = "'" + addr + "' is not an IPv6 address";
        }
    } else if (why.empty()) {
        if (auto a = parse_ipv4(addr)) {
            for (int i = 0; i < 4; ++i) {
                out.addr[static_cast<size_t>(i)] = static_cast<uint8_t>(*a >> (24 - 8 * i));
            }
        } else {
            why = "'" + addr + "' is not an IPv4 address";
        }
    }
    const unsigned min = v6 ? v6_min : v4_min;
    if (why.empty() && out.len < min) {
        why = "prefix length must be " + std::to_string(min) + ".." + (v6 ? "128" : "32");
    }
    if (why.empty()) {
        const size_t bytes = v6 ? 16 : 4;
        for (size_t bit = out.len; bit < bytes * 8; ++bit) {
            if ((out.addr[bit / 8] >> (7 - bit % 8)) & 1) {
                why = "host bits are set (the prefix of '" + *t + "' ends at bit " +
                      std::to_string(out.len) + ")";
                break;
            }
        }
    }
    if (!why.empty()) {
        r.error(p, r.line(v, p), "not a usable prefix: " + why);
        return std::nullopt;
    }
    return out;
}

std::string prefix_text(const IpPrefix& p) {
    if (p.family == 6) {
        return format_ipv6(p.addr) + "/" + std::to_string(p.len);
    }
    uint32_t a = uint32_t{p.addr[0]} << 24 | uint32_t{p.addr[1]} << 16 | uint32_t{p.addr[2]} << 8 |
                 p.addr[3];
    return format_ipv4(a) + "/" + std::to_string(p.len);
}

// `pfcp.mptcp_proxy`: {enabled, address_v4, address_v6, port,
// link_specific_pools: {tgpp: [{prefix}], non_tgpp: [{prefix}]}, address_mode, n6_pool,
// deny_prefixes, per_ue_max_connections, per_ue_max_pending_syns, error_reply_rate,
// connect_timeout_ms}.
void read_mptcp_proxy(Reader& r, const YAML::Node& node, const std::string& path,
                      Pfcp::MptcpProxy& mp) {
    auto pools = [&](const YAML::Node& v, const std::string& p,
                     std::vector<pfcp::UeIpPoolConfig>& out) {
        out.clear();
        r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
            if (auto pool = read_ue_ip_pool(r, e, ep)) {
                out.push_back(std::move(*pool));
            }
        });
        if (auto why = pfcp::check(out)) {
            r.error(p, r.key_line(p), *why);
        }
    };
    r.map(node, path,
          {
              {"enabled",
               [&](const YAML::Node& v, const std::string& p) { r.boolean(v, p, mp.enabled); }},
              {"address_v4", [&](const YAML::Node& v,
                                 const std::string& p) { mp.address_v4 = read_ipv4(r, v, p); }},
              {"address_v6",
               [&](const YAML::Node& v, const std::string& p) {
                   if (auto t = r.scalar(v, p, "an IPv6 address")) {
                       mp.address_v6 = parse_ipv6(*t);
                       if (!mp.address_v6) {
                           r.error(p, r.line(v, p), "not an IPv6 address: '" + *t + "'");
                       }
                   }
               }},
              {"port",
               [&](const YAML::Node& v, const std::string& p) { r.uint(v, p, mp.port, 1, 65535); }},
              {"link_specific_pools",
               [&](const YAML::Node& v, const std::string& p) {
                   r.map(v, p,
                         {
                             {"tgpp", [&](const YAML::Node& e,
                                          const std::string& ep) { pools(e, ep, mp.tgpp_pools); }},
                             {"non_tgpp",
                              [&](const YAML::Node& e, const std::string& ep) {
                                  pools(e, ep, mp.non_tgpp_pools);
                              }},
                         });
               }},
              {"address_mode",
               [&](const YAML::Node& v, const std::string& p) {
                   if (auto t = r.scalar(v, p, "preserving or sharing")) {
                       if (*t == "preserving") {
                           mp.address_mode = ProxyAddressMode::preserving;
                       } else if (*t == "sharing") {
                           mp.address_mode = ProxyAddressMode::sharing;
                       } else {
                           r.error(p, r.line(v, p),
                                   "unknown address mode '" + *t +
                                       "' (expected preserving or sharing)");
                       }
                   }
               }},
              {"n6_pool",
               [&](const YAML::Node& v, const std::string& p) {
                   mp.n6_pool.clear();
                   r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                       // IPv6 pools give each UE one address of at most 2^64.
                       if (auto pre = read_ip_prefix(r, e, ep, 8, 64)) {
                           for (const IpPrefix& other : mp.n6_pool) {
                               if (other.family == pre->family) {
                                   r.error(ep, r.line(e, ep),
                                           "a second IPv" + std::to_string(pre->family) +
                                               " prefix (the pool has one prefix per family)");
                               }
                           }
                           mp.n6_pool.push_back(*pre);
                       }
                   });
               }},
              {"deny_prefixes",
               [&](const YAML::Node& v, const std::string& p) {
                   mp.deny_prefixes.clear();
                   r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                       if (auto pre = read_ip_prefix(r, e, ep, 0, 0)) {
                           mp.deny_prefixes.push_back(*pre);
                       }
                   });
               }},
              {"per_ue_max_connections",
               [&](const YAML::Node& v, const std::string& p) {
                   r.uint(v, p, mp.per_ue_max_connections, 1, 65536);
               }},
              {"per_ue_max_pending_syns",
               [&](const YAML::Node& v, const std::string& p) {
                   r.uint(v, p, mp.per_ue_max_pending_syns, 1, 4096);
               }},
              {"error_reply_rate",
               [&](const YAML::Node& v, const std::string& p) {
                   r.uint(v, p, mp.error_reply_rate, 1, 10000);
               }},
              {"connect_timeout_ms",
               [&](const YAML::Node& v, const std::string& p) {
                   r.uint(v, p, mp.connect_timeout_ms, 100, 120000);
               }},
          });
    const int line = r.key_line(path);
    if (mp.address_mode == ProxyAddressMode::sharing && mp.n6_pool.empty()) {
        const std::string key = join_path(path, "n6_pool");
        r.error(key,
                r.key_line(join_path(path, "address_mode"))
                    ? r.key_line(join_path(path, "address_mode"))
                    : line,
                "address_mode sharing needs an n6_pool (an IPv4 and/or IPv6 prefix)");
    }
    if (mp.address_mode == ProxyAddressMode::preserving && !mp.n6_pool.empty()) {
        const std::string key = join_path(path, "n6_pool");
        r.error(key, r.key_line(key),
                "n6_pool is used only with address_mode: sharing (the mode is preserving)");
    }
    if (mp.per_ue_max_pending_syns > mp.per_ue_max_connections) {
        const std::string key = join_path(path, "per_ue_max_pending_syns");
        r.error(key, r.key_line(key),
                std::to_string(mp.per_ue_max_pending_syns) + " is above per_ue_max_connections (" +
                    std::to_string(mp.per_ue_max_connections) +
                    "): every pending SYN is a connection");
    }
}

// Rules of the pfcp section that span fields.
void check_pfcp(Reader& r, const Pfcp& pfcp) {
    // The proxy's N6 pool (address sharing) must not hand out UE addresses.
    for (const IpPrefix& n6 : pfcp.mptcp_proxy.n6_pool) {
        for (const pfcp::UeIpPoolConfig& ue : pfcp.ue_ip_pools) {
            const IpPrefix u{ue.family, ue.prefix, ue.length};
            if (n6.contains(u) || u.contains(n6)) {
                const std::string key = "pfcp.mptcp_proxy.n6_pool";
                r.error(key, r.key_line(key),
                        prefix_text(n6) + " overlaps the UE address pool " + pfcp::prefix_text(ue));
            }
        }
    }
    if (pfcp.enabled && !pfcp.node_id && is_wildcard(pfcp.listen.address)) {
        const std::string key = "pfcp.node_id";
        r.error(key,
                r.key_line("pfcp.listen.address") ? r.key_line("pfcp.listen.address")
                                                  : r.key_line("pfcp"),
                "must be set when pfcp.listen.address is a wildcard ('" + pfcp.listen.address +
                    "' is no address an SMF can reach)");
    }
    const bool listen_v4 = parse_ipv4(pfcp.listen.address).has_value();
    const bool dual_stack = !listen_v4 && is_wildcard(pfcp.listen.address);
    for (size_t i = 0; i < pfcp.peers.size(); ++i) {
        const std::string path = index_path("pfcp.peers", i);
        const Endpoint& peer = pfcp.peers[i];
        if (peer.address.empty()) {
            continue;  // already reported
        }
        const bool peer_v4 = parse_ipv4(peer.address).has_value();
        if (peer_v4 != listen_v4 && !dual_stack) {
            r.error(join_path(path, "address"), r.key_line(path),
                    "peer '" + peer.address + "' is IPv" + (peer_v4 ? "4" : "6") +
                        " but pfcp.listen.address '" + pfcp.listen.address + "' is IPv" +
                        (listen_v4 ? "4" : "6") + " (listen on \"::\" for both)");
        }
        if (is_wildcard(peer.address)) {
            r.error(join_path(path, "address"), r.key_line(path),
                    "peer '" + peer.address + "' is a wildcard, not an address");
        }
        for (size_t j = 0; j < i; ++j) {
            if (pfcp.peers[j] == peer) {
                r.error(path, r.key_line(path),
                        "duplicate peer " + peer.address + " port " + std::to_string(peer.port) +
                            " (also " + index_path("pfcp.peers", j) + ")");
            }
        }
    }
}

// fault_injection: { n3|n6: { rx|tx: { drop: 1.5, delay_us: 25000, ... } } }
void read_fault_injection(Reader& r, const YAML::Node& node, const std::string& path,
                          dataplane::FaultPlan& plan) {
    const auto direction = [&](uint8_t role, dataplane::FaultDirection dir) {
        return [&r, &plan, role, dir](const YAML::Node& d, const std::string& dp) {
            dataplane::FaultSpec& spec = plan.at(role, dir);
            if (d.IsNull()) {
                return;
            }
            if (!d.IsMap()) {
                r.error(dp, r.line(d, dp), "expected a map, got " + std::string(type_name(d)));
                return;
            }
            std::vector<std::string> seen;
            for (const auto& entry : d) {
                const YAML::Node key = entry.first;
                const YAML::Node value = entry.second;
                if (!key.IsScalar()) {
                    r.error(dp, line_of(key), "map keys must be scalars");
                    continue;
                }
                const std::string kp = join_path(dp, key.Scalar());
                if (std::find(seen.begin(), seen.end(), key.Scalar()) != seen.end()) {
                    r.error(kp, line_of(key), "duplicate key '" + key.Scalar() + "'");
                    continue;
                }
                seen.push_back(key.Scalar());
                if (value.IsNull()) {
                    r.error(kp, line_of(key), "expected a value");
                    continue;
                }
                if (auto text = r.scalar(value, kp, "a number")) {
                    if (auto why = dataplane::set_fault_key(spec, key.Scalar(), *text)) {
                        r.error(kp, line_of(key), *why);
                    }
                }
            }
        };
    };
    const auto role = [&](uint8_t ro) {
        return [&r, direction, ro](const YAML::Node& v, const std::string& p) {
            r.map(v, p,
                  {
                      {"rx", direction(ro, dataplane::FaultDirection::rx)},
                      {"tx", direction(ro, dataplane::FaultDirection::tx)},
                  });
        };
    };
    r.map(node, path,
          {
              {"n3", role(static_cast<uint8_t>(PortRole::n3))},
              {"n6", role(static_cast<uint8_t>(PortRole::n6))},
          });
}

void read_config(Reader& r, const YAML::Node& root, Config& c) {
    bool have_ports = false;
    bool roles_ok = false;
    int root_line = line_of(root);
    if (root_line == 0) {
        root_line = 1;
    }
    r.map(
        root, "",
        {
            {"eal",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(
                     node, path,
                     {
                         {"main_lcore",
                          [&](const YAML::Node& v, const std::string& p) {
                              r.uint(v, p, c.eal.main_lcore, 0, max_lcore);
                          }},
                         {"file_prefix",
                          [&](const YAML::Node& v, const std::string& p) {
                              if (auto s = r.scalar(v, p, "a string")) {
                                  if (!is_file_prefix(*s)) {
                                      r.error(p, r.line(v, p),
                                              "file prefix '" + *s +
                                                  "' must match [A-Za-z0-9_.-]{1,64}");
                                  } else {
                                      c.eal.file_prefix = *s;
                                  }
                              }
                          }},
                         {"no_huge", [&](const YAML::Node& v,
                                         const std::string& p) { r.boolean(v, p, c.eal.no_huge); }},
                         {"memory_mb",
                          [&](const YAML::Node& v, const std::string& p) {
                              r.uint(v, p, c.eal.memory_mb, 0, max_memory_mb);
                          }},
                         {"no_pci", [&](const YAML::Node& v,
                                        const std::string& p) { r.boolean(v, p, c.eal.no_pci); }},
                         {"extra_args",
                          [&](const YAML::Node& v, const std::string& p) {
                              c.eal.extra_args.clear();
                              r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                                  if (auto s = r.scalar(e, ep, "a string")) {
                                      c.eal.extra_args.push_back(*s);
                                  }
                              });
                          }},
                     });
             }},
            {"ports",
             [&](const YAML::Node& node, const std::string& path) {
                 have_ports = true;
                 roles_ok = read_ports(r, node, path, c.ports);
             }},
            {"mempool",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"mbufs_per_port",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.mempool.mbufs_per_port, 1023, 4194303);
                            }},
                           {"cache_size",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.mempool.cache_size, 0, 512);
                            }},
                           {"data_room",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.mempool.data_room, 1024, 16384);
                            }},
                       });
             }},
            {"workers",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"lcores",
                            [&](const YAML::Node& v, const std::string& p) {
                                c.workers.lcores.clear();
                                if (v.IsNull() || (v.IsSequence() && v.size() == 0)) {
                                    r.error(p, r.line(v, p),
                                            "at least one worker lcore is required");
                                    return;
                                }
                                std::set<unsigned> seen;
                                r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                                    unsigned lcore = 0;
                                    if (!r.uint(e, ep, lcore, 0, max_lcore)) {
                                        return;
                                    }
                                    if (!seen.insert(lcore).second) {
                                        r.error(ep, line_of(e),
                                                "duplicate worker lcore " + std::to_string(lcore));
                                        return;
                                    }
                                    c.workers.lcores.push_back(lcore);
                                });
                            }},
                           {"burst_size",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.workers.burst_size, 1, 256);
                            }},
                           {"tx_drain_us",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.workers.tx_drain_us, 1, 100000);
                            }},
                           {"handoff_ring_size",
                            [&](const YAML::Node& v, const std::string& p) {
                                read_power_of_two(r, v, p, c.workers.handoff_ring_size);
                            }},
                       });
             }},
            {"pfcp",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"enabled",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.boolean(v, p, c.pfcp.enabled);
                            }},
                           {"listen",
                            [&](const YAML::Node& v, const std::string& p) {
                                read_endpoint(r, v, p, c.pfcp.listen);
                            }},
                           {"node_id",
                            [&](const YAML::Node& v, const std::string& p) {
                                if (v.IsNull()) {
                                    return;
                                }
                                if (auto s = r.scalar(v, p, "a string")) {
                                    if (!is_node_id(*s)) {
                                        r.error(p, r.line(v, p),
                                                "node_id '" + *s +
                                                    "' is neither an IP address nor a DNS name");
                                    } else {
                                        c.pfcp.node_id = *s;
                                    }
                                }
                            }},
                           {"heartbeat",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.map(v, p,
                                      {
                                          {"interval_s",
                                           [&](const YAML::Node& e, const std::string& ep) {
                                               r.uint(e, ep, c.pfcp.heartbeat.interval_s, 1, 3600);
                                           }},
                                          {"misses",
                                           [&](const YAML::Node& e, const std::string& ep) {
                                               r.uint(e, ep, c.pfcp.heartbeat.misses, 1, 100);
                                           }},
                                      });
                            }},
                           {"t1_ms",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.pfcp.t1_ms, 10, 60000);
                            }},
                           {"n1", [&](const YAML::Node& v,
                                      const std::string& p) { r.uint(v, p, c.pfcp.n1, 0, 10); }},
                           {"duplicate_window_ms",
                            [&](const YAML::Node& v, const std::string& p) {
                                if (v.IsNull()) {
                                    return;
                                }
                                uint32_t ms = 0;
                                if (r.uint(v, p, ms, 100, 3600000)) {
                                    c.pfcp.duplicate_window_ms = ms;
                                }
                            }},
                           {"peer_lost",
                            [&](const YAML::Node& v, const std::string& p) {
                                if (auto s = r.scalar(v, p, "a policy")) {
                                    if (*s == "delete_sessions") {
                                        c.pfcp.peer_lost = PfcpPeerLost::delete_sessions;
                                    } else if (*s == "keep_sessions") {
                                        c.pfcp.peer_lost = PfcpPeerLost::keep_sessions;
                                    } else {
                                        r.error(p, r.line(v, p),
                                                "unknown policy '" + *s +
                                                    "' (expected delete_sessions or "
                                                    "keep_sessions)");
                                    }
                                }
                            }},
                           {"peers",
                            [&](const YAML::Node& v, const std::string& p) {
                                c.pfcp.peers.clear();
                                r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                                    Endpoint peer{"", 8805};
                                    if (e.IsNull()) {
                                        r.error(ep, line_of(e), "expected a map, got null");
                                    } else if (e.IsMap() && !e["address"]) {
                                        r.error(join_path(ep, "address"), line_of(e),
                                                "missing required key 'address'");
                                    }
                                    read_endpoint(r, e, ep, peer);
                                    c.pfcp.peers.push_back(std::move(peer));
                                });
                            }},
                           {"mptcp_proxy",
                            [&](const YAML::Node& v, const std::string& p) {
                                read_mptcp_proxy(r, v, p, c.pfcp.mptcp_proxy);
                            }},
                           {"ue_ip_pools",
                            [&](const YAML::Node& v, const std::string& p) {
                                c.pfcp.ue_ip_pools.clear();
                                r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                                    if (auto pool = read_ue_ip_pool(r, e, ep)) {
                                        c.pfcp.ue_ip_pools.push_back(std::move(*pool));
                                    }
                                });
                                // Overlaps span elements: reported at the list.
                                if (auto why = pfcp::check(c.pfcp.ue_ip_pools)) {
                                    r.error(p, r.key_line(p), *why);
                                }
                            }},
                       });
             }},
            {"metrics",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"enabled",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.boolean(v, p, c.metrics.enabled);
                            }},
                           {"listen",
                            [&](const YAML::Node& v, const std::string& p) {
                                read_endpoint(r, v, p, c.metrics.listen);
                            }},
                       });
             }},
            {"cli",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"socket_path",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.string(v, p, c.cli.socket_path);
                            }},
                       });
             }},
            {"neighbors",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"max_entries",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.max_entries, 16, 1048576);
                            }},
                           {"reachable_s",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.reachable_s, 1, 86400);
                            }},
                           {"retry_ms",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.retry_ms, 10, 60000);
                            }},
                           {"max_retries",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.max_retries, 0, 100);
                            }},
                           {"hold_per_neighbor",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.hold_per_neighbor, 0, 65536);
                            }},
                           {"hold_total",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.hold_total, 0, 65536);
                            }},
                           {"hold_timeout_ms",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.neighbors.hold_timeout_ms, 10, 60000);
                            }},
                       });
             }},
            {"gtpu",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"echo_interval_s",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.gtpu.echo_interval_s, 1, 86400);
                            }},
                           {"t3_response_ms",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.gtpu.t3_response_ms, 100, 60000);
                            }},
                           {"n3_requests",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.gtpu.n3_requests, 1, 10);
                            }},
                       });
             }},
            {"tcp",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"congestion_control",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.string(v, p, c.tcp.congestion_control);
                                if (c.tcp.congestion_control != "cubic" &&
                                    c.tcp.congestion_control != "newreno") {
                                    r.error(p, r.line(v, p),
                                            "'" + c.tcp.congestion_control +
                                                "' is not cubic or newreno");
                                }
                            }},
                           {"mbufs_per_worker",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.mbufs_per_worker, 1023, 1048575);
                            }},
                           {"max_connections",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.max_connections, 1, 4194304);
                            }},
                           {"max_per_source",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.max_per_source, 1, 4194304);
                            }},
                           {"syn_backlog",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.syn_backlog, 1, 1048576);
                            }},
                           {"rcv_buf_kb",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.rcv_buf_kb, 4, 16384);
                            }},
                           {"snd_buf_kb",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.snd_buf_kb, 4, 16384);
                            }},
                           {"msl_s",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.msl_s, 1, 600);
                            }},
                           {"rto_min_ms",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.tcp.rto_min_ms, 10, 1000);
                            }},
                           {"services",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                                    TcpService svc = read_tcp_service(r, e, ep);
                                    for (const TcpService& other : c.tcp.services) {
                                        if (other.port == svc.port) {
                                            r.error(ep, r.line(e, ep),
                                                    "TCP port " + std::to_string(svc.port) +
                                                        " already has a service");
                                        }
                                    }
                                    c.tcp.services.push_back(std::move(svc));
                                });
                            }},
                       });
             }},
            {"sessions",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"max",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.uint(v, p, c.sessions.max, 1, 4194304);
                            }},
                           {"static",
                            [&](const YAML::Node& v, const std::string& p) {
                                r.sequence(v, p, [&](const YAML::Node& e, const std::string& ep) {
                                    c.sessions.static_sessions.push_back(
                                        read_static_session(r, e, ep));
                                });
                            }},
                       });
             }},
            {"fault_injection",
             [&](const YAML::Node& node, const std::string& path) {
                 read_fault_injection(r, node, path, c.fault_injection);
             }},
            {"log",
             [&](const YAML::Node& node, const std::string& path) {
                 r.map(node, path,
                       {
                           {"level",
                            [&](const YAML::Node& v, const std::string& p) {
                                if (auto s = r.scalar(v, p, "a log level")) {
                                    if (std::find(log_levels.begin(), log_levels.end(), *s) ==
                                        log_levels.end()) {
                                        std::string names;
                                        for (std::string_view l : log_levels) {
                                            names += (names.empty() ? "" : ", ") + std::string(l);
                                        }
                                        r.error(p, r.line(v, p),
                                                "unknown log level '" + *s +
                                                    "' (expected one of: " + names + ")");
                                    } else {
                                        c.log.level = *s;
                                    }
                                }
                            }},
                       });
             }},
        });

    // Rules that span fields.
    if (!have_ports && (root.IsMap() || root.IsNull())) {
        r.error("ports", root.IsNull() ? 0 : root_line, "missing required key 'ports'");
    }
    if (roles_ok) {
        const auto has_role = [&](PortRole role) {
            return std::any_of(c.ports.begin(), c.ports.end(),
                               [&](const Port& p) { return p.role == role; });
        };
        for (PortRole role : {PortRole::n3, PortRole::n6}) {
            if (!has_role(role)) {
                r.error("ports", r.key_line("ports"),
                        "no port with role " + std::string(to_string(role)) +
                            " (braid needs at least one n3 and one n6 port)");
            }
        }
    }
    for (size_t i = 0; i < c.workers.lcores.size(); ++i) {
        if (c.workers.lcores[i] == c.eal.main_lcore) {
            const std::string path = index_path("workers.lcores", i);
            r.error(path, r.key_line(path),
                    "worker lcore " + std::to_string(c.workers.lcores[i]) +
                        " is eal.main_lcore; the main lcore runs the control plane");
        }
    }
    check_pfcp(r, c.pfcp);
    if (c.eal.no_huge && c.eal.memory_mb == 0) {
        const int line =
            r.key_line("eal.memory_mb") ? r.key_line("eal.memory_mb") : r.key_line("eal.no_huge");
        r.error("eal.memory_mb", line, "must be > 0 when eal.no_huge is true");
    }
}

// --- Rendering ----------------------------------------------------------------------------------

void emit_string(YAML::Emitter& out, std::string_view key, const std::string& value) {
    // Always double-quoted: a string such as "true", "123" or "~" stays a string on re-parse.
    out << YAML::Key << std::string(key) << YAML::Value << YAML::DoubleQuoted << value;
}

void emit_uint(YAML::Emitter& out, std::string_view key, uint64_t value) {
    out << YAML::Key << std::string(key) << YAML::Value << value;
}

void emit_bool(YAML::Emitter& out, std::string_view key, bool value) {
    out << YAML::Key << std::string(key) << YAML::Value << YAML::TrueFalseBool << YAML::LowerCase
        << value;
}

void emit_endpoint(YAML::Emitter& out, std::string_view key, const Endpoint& ep) {
    out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginMap;
    emit_string(out, "address", ep.address);
    emit_uint(out, "port", ep.port);
    out << YAML::EndMap;
}

// 1-based line of the first byte sequence that is not UTF-8 (overlong forms, surrogates and
// code points above U+10FFFF included), or 0 when `s` is valid UTF-8.
int invalid_utf8_line(std::string_view s) {
    int line = 1;
    for (size_t i = 0; i < s.size();) {
        const auto b = static_cast<unsigned char>(s[i]);
        if (b < 0x80) {
            line += b == '\n';
            ++i;
            continue;
        }
        size_t n = 0;
        uint32_t cp = 0, min = 0;
        if ((b & 0xe0) == 0xc0) {
            n = 1, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3, cp = b & 0x07, min = 0x10000;
        } else {
            return line;
        }
        for (size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) {
                return line;
            }
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xc0) != 0x80) {
                return line;
            }
            cp = (cp << 6) | (c & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return line;
        }
        i += n + 1;
    }
    return 0;
}

// How many documents `text` holds, counting at most two. Not YAML::LoadAll(): yaml-cpp 0.7
// loops forever there, allocating a null document per turn, when a stray flow indicator (",")
// keeps the parser from advancing (jbeder/yaml-cpp#1040, fixed upstream by PR #1319).
struct DocumentCount {
    int count = 0;
    int second_line = 0;  // 1-based line where the second document starts
};

DocumentCount count_documents(const std::string& text) {
    struct Counter final : YAML::EventHandler {
        DocumentCount* c;
        explicit Counter(DocumentCount* dc) : c(dc) {}
        void OnDocumentStart(const YAML::Mark& mark) override {
            if (++c->count == 2) {
                c->second_line = mark.is_null() ? 0 : mark.line + 1;
            }
        }
        void OnDocumentEnd() override {}
        void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
        void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
        void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                      const std::string&) override {}
        void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                             YAML::EmitterStyle::value) override {}
        void OnSequenceEnd() override {}
        void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                        YAML::EmitterStyle::value) override {}
        void OnMapEnd() override {}
    };
    DocumentCount dc;
    std::istringstream in(text);
    YAML::Parser parser(in);
    Counter counter(&dc);
    for (int i = 0; i < 2 && parser.HandleNextDocument(counter); ++i) {
    }
    return dc;
}

}  // namespace

std::string_view to_string(PortRole role) {
    switch (role) {
        case PortRole::n3:
            return "n3";
        case PortRole::n6:
            return "n6";
    }
    return "unknown";
}

std::string_view to_string(ProxyAddressMode mode) {
    return mode == ProxyAddressMode::sharing ? "sharing" : "preserving";
}

bool IpPrefix::contains(const IpPrefix& o) const {
    if (o.family != family || o.len < len) {
        return false;
    }
    for (size_t bit = 0; bit < len; ++bit) {
        const uint8_t m = static_cast<uint8_t>(0x80 >> (bit % 8));
        if ((addr[bit / 8] & m) != (o.addr[bit / 8] & m)) {
            return false;
        }
    }
    return true;
}

std::string_view to_string(PfcpPeerLost policy) {
    switch (policy) {
        case PfcpPeerLost::delete_sessions:
            return "delete_sessions";
        case PfcpPeerLost::keep_sessions:
            return "keep_sessions";
    }
    return "unknown";
}

const Port* Config::port_by_name(std::string_view name) const {
    for (const Port& port : ports) {
        if (port.name == name) {
            return &port;
        }
    }
    return nullptr;
}

std::string Error::to_string() const {
    std::string out = "config: ";
    if (!key.empty()) {
        out += key;
        out += line > 0 ? " (line " + std::to_string(line) + "): " : ": ";
    } else if (line > 0) {
        out += "line " + std::to_string(line) + ": ";
    }
    out += message;
    return out;
}

ParseResult parse(std::string_view yaml_text, std::string_view source_name) {
    ParseResult result;
    const std::string source(source_name);
    const auto fail = [&](int line, std::string message) {
        result.errors.push_back(Error{"", line, std::move(message)});
    };
    try {
        const std::string text(yaml_text);
        if (const int bad = invalid_utf8_line(text); bad > 0) {
            // YAML streams are Unicode; yaml-cpp passes stray bytes through on input but emits
            // U+FFFD for them, so render() would not give back what was parsed.
            fail(bad, source + " is not valid UTF-8");
            return result;
        }
        const DocumentCount docs = count_documents(text);
        const YAML::Node root = YAML::Load(text);  // the first document (null if none)
        if (docs.count > 1) {
            fail(docs.second_line,
                 "expected one YAML document in " + source + ", found more than one");
        } else if (!root.IsNull() && !root.IsMap()) {
            fail(line_of(root), "the top level of " + source + " must be a map, got " +
                                    std::string(type_name(root)));
        } else {
            Config config;
            Reader reader(result.errors);
            read_config(reader, root, config);
            if (result.errors.empty()) {
                result.config = std::move(config);
            }
        }
    } catch (const YAML::ParserException& e) {
        fail(e.mark.is_null() ? 0 : e.mark.line + 1,
             "YAML syntax error in " + source + ": " + e.msg);
    } catch (const YAML::Exception& e) {
        fail(e.mark.is_null() ? 0 : e.mark.line + 1, "YAML error in " + source + ": " + e.msg);
    } catch (const std::exception& e) {
        fail(0, "cannot parse " + source + ": " + e.what());
    } catch (...) {
        fail(0, "cannot parse " + source + ": unknown exception");
    }
    if (!result.errors.empty()) {
        result.config.reset();
    }
    return result;
}

ParseResult parse_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        ParseResult result;
        result.errors.push_back(
            Error{"", 0, "cannot open '" + path + "': " + std::strerror(err ? err : ENOENT)});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
        ParseResult result;
        result.errors.push_back(Error{"", 0, "cannot read '" + path + "'"});
        return result;
    }
    return parse(text.str(), path);
}

std::string_view default_yaml() {
    static constexpr std::string_view text =
        R"yaml(# braid default configuration: virtual devices only, no hugepages, no PCI.
# Runs on any Linux host with CAP_NET_ADMIN (net_tap creates the braid-n3 and
# braid-n6 kernel interfaces). Every key is documented in docs/CONFIG.md.

eal:
  main_lcore: 0          # control plane (PFCP, CLI, metrics) runs here
  file_prefix: braid     # --file-prefix: keeps hugepage/runtime files apart
  no_huge: true          # --no-huge: anonymous memory, no hugepage setup needed
  memory_mb: 512         # -m: required with no_huge
  no_pci: true           # --no-pci: do not probe PCI devices
  extra_args: []         # passed to rte_eal_init verbatim

ports:
  - name: n3             # access side: GTP-U from the gNB
    role: n3
    vdev: "net_tap0,iface=braid-n3"
    ipv4: 198.18.0.1/24
    ipv6: 2001:db8:3::1/64
    gateway_ipv4: 198.18.0.254
  - name: n6             # core side: the data network
    role: n6
    vdev: "net_tap1,iface=braid-n6"
    ipv4: 198.19.0.1/24
    ipv6: 2001:db8:6::1/64
    gateway_ipv4: 198.19.0.254

mempool:
  mbufs_per_port: 8191   # 2^n - 1 is the most memory-efficient size
  cache_size: 256
  data_room: 2176

workers:
  lcores: [1]            # one worker per lcore; must not include eal.main_lcore
  burst_size: 32
  tx_drain_us: 100
  handoff_ring_size: 1024  # packets per worker→worker hand-off ring (power of two)

pfcp:
  enabled: true
  listen:
    address: 127.0.0.1
    port: 8805
  # node_id: upf.example.org   # default: the listen address
  heartbeat:
    interval_s: 10       # Heartbeat Request to each associated SMF this often
    misses: 3            # unanswered in a row: the SMF is lost (see peer_lost)
  t1_ms: 3000            # retransmission timer of requests braid sends
  n1: 3                  # retransmissions, then braid gives up
  peer_lost: delete_sessions   # or keep_sessions
  peers: []              # SMFs braid associates with itself: [{address: ..., port: 8805}]

metrics:
  enabled: true          # Prometheus text format at http://address:port/metrics
  listen:
    address: 127.0.0.1
    port: 9464

cli:
  socket_path: /run/braid/cli.sock   # "" disables the CLI socket

neighbors:
  max_entries: 1024
  reachable_s: 300
  retry_ms: 1000
  max_retries: 3
  hold_per_neighbor: 16  # packets held per unresolved next hop, per worker (0: drop at once)
  hold_total: 256        # packets held per worker over all next hops
  hold_timeout_ms: 3000  # then a held packet is dropped

gtpu:                    # path management: Echo Requests to the peers sessions tunnel to
  echo_interval_s: 60    # TS 29.281 7.2.1: not more often than every 60 s on a path
  t3_response_ms: 3000   # T3-RESPONSE
  n3_requests: 3         # N3-REQUESTS: unanswered requests before the path is down

tcp:                     # braid's own TCP endpoint on its N6 addresses (tcpstack, per worker)
  congestion_control: cubic   # cubic | newreno
  mbufs_per_worker: 8191      # headers and application data of braid's connections
  max_connections: 65536      # per worker, every state counted
  max_per_source: 4096        # per remote address, per worker
  syn_backlog: 1024           # half-open connections per listener before SYN cookies
  rcv_buf_kb: 256             # per connection
  snd_buf_kb: 256
  msl_s: 30                   # TIME-WAIT lasts 2 MSL
  rto_min_ms: 200             # RFC 6298 2.4 says 1000; Linux (and braid) use 200
  services: []                # test applications, e.g. {port: 5001, mode: echo}

sessions:
  max: 65536             # PFCP sessions at once (static ones from the CLI included)

log:
  level: info            # emerg alert crit err warning notice info debug
)yaml";
    return text;
}

std::string render(const Config& c) {
    YAML::Emitter out;
    out << YAML::BeginMap;

    out << YAML::Key << "eal" << YAML::Value << YAML::BeginMap;
    emit_uint(out, "main_lcore", c.eal.main_lcore);
    emit_string(out, "file_prefix", c.eal.file_prefix);
    emit_bool(out, "no_huge", c.eal.no_huge);
    emit_uint(out, "memory_mb", c.eal.memory_mb);
    emit_bool(out, "no_pci", c.eal.no_pci);
    out << YAML::Key << "extra_args" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const std::string& arg : c.eal.extra_args) {
        out << YAML::DoubleQuoted << arg;
    }
    out << YAML::EndSeq << YAML::EndMap;

    out << YAML::Key << "ports" << YAML::Value << YAML::BeginSeq;
    for (const Port& p : c.ports) {
        out << YAML::BeginMap;
        emit_string(out, "name", p.name);
        emit_string(out, "role", std::string(to_string(p.role)));
        if (!p.pci.empty()) {
            emit_string(out, "pci", p.pci);
        }
        if (!p.vdev.empty()) {
            emit_string(out, "vdev", p.vdev);
        }
        if (p.mac) {
            emit_string(out, "mac", format_mac(*p.mac));
        }
        if (p.ipv4) {
            emit_string(out, "ipv4",
                        format_ipv4(p.ipv4->addr_host) + "/" + std::to_string(p.ipv4->len));
        }
        if (p.ipv6) {
            emit_string(out, "ipv6", format_ipv6(p.ipv6->addr) + "/" + std::to_string(p.ipv6->len));
        }
        if (p.gateway_ipv4) {
            emit_string(out, "gateway_ipv4", format_ipv4(*p.gateway_ipv4));
        }
        if (p.gateway_ipv6) {
            emit_string(out, "gateway_ipv6", format_ipv6(*p.gateway_ipv6));
        }
        emit_uint(out, "rx_queues", p.rx_queues);
        emit_uint(out, "tx_queues", p.tx_queues);
        emit_uint(out, "rx_descriptors", p.rx_descriptors);
        emit_uint(out, "tx_descriptors", p.tx_descriptors);
        emit_uint(out, "mtu", p.mtu);
        emit_bool(out, "promiscuous", p.promiscuous);
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;

    out << YAML::Key << "mempool" << YAML::Value << YAML::BeginMap;
    emit_uint(out, "mbufs_per_port", c.mempool.mbufs_per_port);
    emit_uint(out, "cache_size", c.mempool.cache_size);
    emit_uint(out, "data_room", c.mempool.data_room);
    out << YAML::EndMap;

    out << YAML::Key << "workers" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "lcores" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (unsigned lcore : c.workers.lcores) {
        out << lcore;
    }
    out << YAML::EndSeq;
    emit_uint(out, "burst_size", c.workers.burst_size);
    emit_uint(out, "tx_drain_us", c.workers.tx_drain_us);
    emit_uint(out, "handoff_ring_size", c.workers.handoff_ring_size);
    out << YAML::EndMap;

    out << YAML::Key << "pfcp" << YAML::Value << YAML::BeginMap;
    emit_bool(out, "enabled", c.pfcp.enabled);
    emit_endpoint(out, "listen", c.pfcp.listen);
    if (c.pfcp.node_id) {
        emit_string(out, "node_id", *c.pfcp.node_id);
    }
    out << YAML::Key << "heartbeat" << YAML::Value << YAML::BeginMap;
    emit_uint(out, "interval_s", c.pfcp.heartbeat.interval_s);
    emit_uint(out, "misses", c.pfcp.heartbeat.misses);
    out << YAML::EndMap;
    emit_uint(out, "t1_ms", c.pfcp.t1_ms);
    emit_uint(out, "n1", c.pfcp.n1);
    if (c.pfcp.duplicate_window_ms) {
        emit_uint(out, "duplicate_window_ms", *c.pfcp.duplicate_window_ms);
    }
    emit_string(out, "peer_lost", std::string(to_string(c.pfcp.peer_lost)));
    out << YAML::Key << "peers" << YAML::Value << YAML::BeginSeq;
    for (const Endpoint& peer : c.pfcp.peers) {
        out << YAML::BeginMap;
        emit_string(out, "address", peer.address);
        emit_uint(out, "port", peer.port);
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    {
        const Pfcp::MptcpProxy& mp = c.pfcp.mptcp_proxy;
        auto emit_pools = [&](std::string_view key, const std::vector<pfcp::UeIpPoolConfig>& v) {
            out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginSeq;
            for (const pfcp::UeIpPoolConfig& pool : v) {
                out << YAML::BeginMap;
                emit_string(out, "prefix", pfcp::prefix_text(pool));
                out << YAML::EndMap;
            }
            out << YAML::EndSeq;
        };
        out << YAML::Key << "mptcp_proxy" << YAML::Value << YAML::BeginMap;
        emit_bool(out, "enabled", mp.enabled);
        if (mp.address_v4) {
            emit_string(out, "address_v4", format_ipv4(*mp.address_v4));
        }
        if (mp.address_v6) {
            emit_string(out, "address_v6", format_ipv6(*mp.address_v6));
        }
        if (mp.port != 0) {
            emit_uint(out, "port", mp.port);
        }
        out << YAML::Key << "link_specific_pools" << YAML::Value << YAML::BeginMap;
        emit_pools("tgpp", mp.tgpp_pools);
        emit_pools("non_tgpp", mp.non_tgpp_pools);
        out << YAML::EndMap;
        emit_string(out, "address_mode", std::string(to_string(mp.address_mode)));
        auto emit_prefixes = [&](std::string_view key, const std::vector<IpPrefix>& v) {
            out << YAML::Key << std::string(key) << YAML::Value << YAML::BeginSeq;
            for (const IpPrefix& p : v) {
                out << prefix_text(p);
            }
            out << YAML::EndSeq;
        };
        emit_prefixes("n6_pool", mp.n6_pool);
        emit_prefixes("deny_prefixes", mp.deny_prefixes);
        emit_uint(out, "per_ue_max_connections", mp.per_ue_max_connections);
        emit_uint(out, "per_ue_max_pending_syns", mp.per_ue_max_pending_syns);
        emit_uint(out, "error_reply_rate", mp.error_reply_rate);
        emit_uint(out, "connect_timeout_ms", mp.connect_timeout_ms);
        out << YAML::EndMap;
    }
    out << YAML::Key << "ue_ip_pools" << YAML::Value << YAML::BeginSeq;
    for (const pfcp::UeIpPoolConfig& pool : c.pfcp.ue_ip_pools) {
        out << YAML::BeginMap;
        emit_string(out, "prefix", pfcp::prefix_text(pool));
        if (!pool.network_instance.empty()) {
            emit_string(out, "network_instance", pool.network_instance);
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;

    out << YAML::Key << "metrics" << YAML::Value << YAML::BeginMap;
    emit_bool(out, "enabled", c.metrics.enabled);
    emit_endpoint(out, "listen", c.metrics.listen);
    out << YAML::EndMap;

    out << YAML::Key << "cli" << YAML::Value << YAML::BeginMap;
    emit_string(out, "socket_path", c.cli.socket_path);
    out << YAML::EndMap;

    out << YAML::Key << "neighbors" << YAML::Value << YAML::BeginMap;
    emit_uint(out, "max_entries", c.neighbors.max_entries);
    emit_uint(out, "reachable_s", c.neighbors.reachable_s);
    emit_uint(out, "retry_ms", c.neighbors.retry_ms);
    emit_uint(out, "max_retries", c.neighbors.max_retries);
    emit_uint(out, "hold_per_neighbor", c.neighbors.hold_per_neighbor);
    emit_uint(out, "hold_total", c.neighbors.hold_total);
    emit_uint(out, "hold_timeout_ms", c.neighbors.hold_timeout_ms);
    out << YAML::EndMap;

    out << YAML::Key << "gtpu" << YAML::Value << YAML::BeginMap;
    emit_uint(out, "echo_interval_s", c.gtpu.echo_interval_s);
    emit_uint(out, "t3_response_ms", c.gtpu.t3_response_ms);
    emit_uint(out, "n3_requests", c.gtpu.n3_requests);
    out << YAML::EndMap;

    out << YAML::Key << "tcp" << YAML::Value << YAML::BeginMap;
    emit_string(out, "congestion_control", c.tcp.congestion_control);
    emit_uint(out, "mbufs_per_worker", c.tcp.mbufs_per_worker);
    emit_uint(out, "max_connections", c.tcp.max_connections);
    emit_uint(out, "max_per_source", c.tcp.max_per_source);
    emit_uint(out, "syn_backlog", c.tcp.syn_backlog);
    emit_uint(out, "rcv_buf_kb", c.tcp.rcv_buf_kb);
    emit_uint(out, "snd_buf_kb", c.tcp.snd_buf_kb);
    emit_uint(out, "msl_s", c.tcp.msl_s);
    emit_uint(out, "rto_min_ms", c.tcp.rto_min_ms);
    out << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
    for (const TcpService& svc : c.tcp.services) {
        out << YAML::BeginMap;
        emit_uint(out, "port", svc.port);
        emit_string(out, "mode", svc.mode);
        if (svc.bytes != 0) {
            emit_uint(out, "bytes", svc.bytes);
        }
        if (svc.mptcp) {
            emit_bool(out, "mptcp", true);
        }
        if (svc.scheduler_set) {
            const TcpService::Scheduler& s = svc.scheduler;
            out << YAML::Key << "scheduler" << YAML::Value << YAML::BeginMap;
            emit_string(out, "mode", s.mode);
            for (auto [key, list] :
                 {std::pair{"tgpp", &s.tgpp}, std::pair{"non_tgpp", &s.non_tgpp}}) {
                if (!list->empty()) {
                    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
                    for (const IpPrefix& pre : *list) {
                        out << prefix_text(pre);
                    }
                    out << YAML::EndSeq;
                }
            }
            emit_string(out, "preferred", s.preferred);
            emit_uint(out, "tgpp_weight", s.tgpp_weight);
            if (s.rtt_threshold_ms) {
                emit_uint(out, "rtt_threshold_ms", *s.rtt_threshold_ms);
            }
            if (s.plr_threshold) {
                emit_uint(out, "plr_threshold", *s.plr_threshold);
            }
            out << YAML::EndMap;
        }
        if (!svc.advertise.empty()) {
            out << YAML::Key << "advertise" << YAML::Value << YAML::BeginSeq;
            for (const TcpService::Advertise& a : svc.advertise) {
                out << YAML::BeginMap;
                emit_uint(out, "id", a.id);
                IpPrefix host{a.family, a.addr, static_cast<uint8_t>(a.family == 6 ? 128 : 32)};
                std::string text = prefix_text(host);
                emit_string(out, "address", text.substr(0, text.find('/')));
                if (a.port) {
                    emit_uint(out, "port", *a.port);
                }
                out << YAML::EndMap;
            }
            out << YAML::EndSeq;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::EndMap;

    out << YAML::Key << "sessions" << YAML::Value << YAML::BeginMap;
    emit_uint(out, "max", c.sessions.max);
    if (!c.sessions.static_sessions.empty()) {
        out << YAML::Key << "static" << YAML::Value << YAML::BeginSeq;
        for (const StaticSession& st : c.sessions.static_sessions) {
            out << YAML::BeginMap;
            emit_uint(out, "seid", st.seid);
            emit_uint(out, "uplink_teid", st.uplink_teid);
            if (st.ue_ipv4) {
                emit_string(out, "ue_ipv4", format_ipv4(*st.ue_ipv4));
            }
            if (st.ue_ipv6) {
                emit_string(out, "ue_ipv6", format_ipv6(st.ue_ipv6->addr) + "/64");
            }
            emit_string(out, "gnb_ipv4", format_ipv4(st.gnb_ipv4));
            emit_uint(out, "gnb_teid", st.gnb_teid);
            if (st.qfi) {
                emit_uint(out, "qfi", *st.qfi);
            }
            emit_uint(out, "mbr_ul_kbps", st.mbr_ul_kbps);
            emit_uint(out, "mbr_dl_kbps", st.mbr_dl_kbps);
            if (st.mptcp) {
                out << YAML::Key << "mptcp" << YAML::Value << true;
            }
            if (!st.tgpp_link_addresses.empty() || !st.non_tgpp_link_addresses.empty()) {
                out << YAML::Key << "link_addresses" << YAML::Value << YAML::BeginMap;
                for (auto [key, list] : {std::pair{"tgpp", &st.tgpp_link_addresses},
                                         std::pair{"non_tgpp", &st.non_tgpp_link_addresses}}) {
                    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
                    for (const IpPrefix& pre : *list) {
                        // IPv4 as a plain address, IPv6 as its /64 (what the reader takes).
                        const std::string t = prefix_text(pre);
                        out << YAML::DoubleQuoted
                            << (pre.family == 4 ? t.substr(0, t.find('/')) : t);
                    }
                    out << YAML::EndSeq;
                }
                out << YAML::EndMap;
            }
            for (const auto& [key, list] : {std::pair{"uplink_filters", &st.uplink_filters},
                                            std::pair{"downlink_filters", &st.downlink_filters}}) {
                if (!list->empty()) {
                    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
                    for (const std::string& f : *list) {
                        out << YAML::DoubleQuoted << f;
                    }
                    out << YAML::EndSeq;
                }
            }
            emit_uint(out, "volume_threshold_bytes", st.volume_threshold_bytes);
            emit_uint(out, "time_threshold_s", st.time_threshold_s);
            emit_uint(out, "period_s", st.period_s);
            out << YAML::EndMap;
        }
        out << YAML::EndSeq;
    }
    out << YAML::EndMap;

    out << YAML::Key << "log" << YAML::Value << YAML::BeginMap;
    emit_string(out, "level", c.log.level);
    out << YAML::EndMap;

    if (c.fault_injection != dataplane::FaultPlan{}) {
        out << YAML::Key << "fault_injection" << YAML::Value << YAML::BeginMap;
        for (PortRole role : {PortRole::n3, PortRole::n6}) {
            const auto ro = static_cast<uint8_t>(role);
            out << YAML::Key << std::string(to_string(role)) << YAML::Value << YAML::BeginMap;
            for (auto dir : {dataplane::FaultDirection::rx, dataplane::FaultDirection::tx}) {
                const dataplane::FaultSpec& spec = c.fault_injection.at(ro, dir);
                out << YAML::Key << std::string(dataplane::to_string(dir)) << YAML::Value
                    << YAML::BeginMap;
                for (std::string_view k : dataplane::fault_keys) {
                    out << YAML::Key << std::string(k) << YAML::Value
                        << dataplane::fault_key_text(spec, k);
                }
                out << YAML::EndMap;
            }
            out << YAML::EndMap;
        }
        out << YAML::EndMap;
    }

    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

}  // namespace braid::config
