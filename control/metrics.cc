#include "control/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "control/log.h"

#ifndef BRAID_VERSION
#define BRAID_VERSION "dev"
#endif
#ifndef BRAID_GIT_REV
#define BRAID_GIT_REV "unknown"
#endif

namespace braid::metrics {

namespace {

constexpr const char* kBuildInfo = "braid_build_info";
constexpr const char* kScrapes = "braid_metrics_scrapes_total";
constexpr const char* kInvalid = "braid_metrics_invalid_families_total";

bool lower_digit_underscore(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

bool valid_label_name(const std::string& s) {
    if (s.empty() || (s[0] >= '0' && s[0] <= '9')) {
        return false;
    }
    return std::all_of(s.begin(), s.end(), lower_digit_underscore);
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

// prometheus-cpp 1.0 writes HELP text verbatim; the format requires \ and newline escaped.
std::string escape_help(const std::string& help) {
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

prometheus::MetricFamily to_prometheus(const Family& f) {
    prometheus::MetricFamily pf;
    pf.name = f.name;
    pf.help = escape_help(f.help);
    pf.type = f.type == Type::counter ? prometheus::MetricType::Counter
              : f.type == Type::gauge ? prometheus::MetricType::Gauge
                                      : prometheus::MetricType::Histogram;
    pf.metric.reserve(f.samples.size());
    for (const Sample& s : f.samples) {
        prometheus::ClientMetric m;
        m.label.reserve(s.labels.size());
        for (const auto& [name, value] : s.labels) {
            m.label.push_back(prometheus::ClientMetric::Label{name, value});
        }
        if (f.type == Type::counter) {
            m.counter.value = s.value;
        } else if (f.type == Type::gauge) {
            m.gauge.value = s.value;
        } else {
            m.histogram.sample_count = s.count;
            m.histogram.sample_sum = s.value;
            for (const auto& [bound, cum] : s.buckets) {
                m.histogram.bucket.push_back(prometheus::ClientMetric::Bucket{cum, bound});
            }
            m.histogram.bucket.push_back(
                prometheus::ClientMetric::Bucket{s.count, std::numeric_limits<double>::infinity()});
        }
        pf.metric.push_back(std::move(m));
    }
    return pf;
}

// "127.0.0.1:9464", "[::1]:9464": civetweb's listening_ports syntax.
std::string listen_spec(const std::string& address, uint16_t port) {
    std::string a = address.empty() ? std::string("0.0.0.0") : address;
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') {
        a = a.substr(1, a.size() - 2);
    }
    const bool v6 = a.find(':') != std::string::npos;
    return (v6 ? "[" + a + "]" : a) + ":" + std::to_string(port);
}

// After civetweb failed to start (its exception says nothing useful), find out why by trying
// the same bind ourselves.
std::string diagnose_bind(const std::string& address, uint16_t port) {
    std::string a = address.empty() ? std::string("0.0.0.0") : address;
    if (a.size() >= 2 && a.front() == '[' && a.back() == ']') {
        a = a.substr(1, a.size() - 2);
    }
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, a.c_str(), &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        len = sizeof(sockaddr_in);
    } else if (inet_pton(AF_INET6, a.c_str(), &sin6->sin6_addr) == 1) {
        family = AF_INET6;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
    } else {
        return "not an IPv4 or IPv6 address literal";
    }
    int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return std::strerror(errno);
    }
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    std::string why;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 1) != 0) {
        why = std::strerror(errno);
    }
    ::close(fd);
    return why;
}

}  // namespace

bool valid_family(const Family& f, std::string* why) {
    auto fail = [&](const std::string& msg) {
        if (why != nullptr) {
            *why = "metric family '" + f.name + "': " + msg;
        }
        return false;
    };
    constexpr std::string_view prefix = "braid_";
    if (f.name.size() <= prefix.size() || f.name.compare(0, prefix.size(), prefix) != 0 ||
        !std::all_of(f.name.begin() + prefix.size(), f.name.end(), lower_digit_underscore)) {
        return fail("name must match ^braid_[a-z0-9_]+$");
    }
    if (f.type == Type::counter && !ends_with(f.name, "_total")) {
        return fail("counter name must end in _total");
    }
    if (f.type != Type::counter && ends_with(f.name, "_total")) {
        return fail("gauge or histogram name must not end in _total");
    }
    if (f.type == Type::histogram) {
        for (const Sample& s : f.samples) {
            for (size_t i = 0; i < s.buckets.size(); ++i) {
                const bool ordered = i == 0 || (s.buckets[i].first > s.buckets[i - 1].first &&
                                                s.buckets[i].second >= s.buckets[i - 1].second);
                if (!ordered || s.buckets[i].second > s.count) {
                    return fail("histogram buckets must be cumulative with increasing bounds");
                }
            }
        }
    }
    std::vector<std::vector<std::pair<std::string, std::string>>> sets;
    sets.reserve(f.samples.size());
    for (const Sample& s : f.samples) {
        auto labels = s.labels;
        std::sort(labels.begin(), labels.end());
        for (size_t i = 0; i < labels.size(); ++i) {
            if (!valid_label_name(labels[i].first)) {
                return fail("label name '" + labels[i].first + "' must match ^[a-z_][a-z0-9_]*$");
            }
            if (i > 0 && labels[i].first == labels[i - 1].first) {
                return fail("label '" + labels[i].first + "' repeated in a sample");
            }
        }
        sets.push_back(std::move(labels));
    }
    std::sort(sets.begin(), sets.end());
    if (std::adjacent_find(sets.begin(), sets.end()) != sets.end()) {
        return fail("two samples have the same label set");
    }
    return true;
}

std::string render_text(const std::vector<Family>& families) {
    std::vector<prometheus::MetricFamily> pfs;
    pfs.reserve(families.size());
    for (const Family& f : families) {
        pfs.push_back(to_prometheus(f));
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, pfs);
    return out.str();
}

// The state shared by scrapes and the control thread; registered with the Exposer as a
// Collectable (the Exposer keeps only a weak_ptr).
class Source final : public prometheus::Collectable {
public:
    std::vector<prometheus::MetricFamily> Collect() const override {
        scrapes_.fetch_add(1, std::memory_order_relaxed);
        std::vector<Family> families = gather();
        std::vector<prometheus::MetricFamily> out;
        out.reserve(families.size());
        for (const Family& f : families) {
            out.push_back(to_prometheus(f));
        }
        return out;
    }

    void add(std::string name, Collector c) {
        std::lock_guard lock(mu_);
        collectors_.emplace_back(std::move(name), std::move(c));
    }

    // All collectors' valid families, then the exporter's own. One scrape at a time: collectors
    // need not be reentrant.
    std::vector<Family> gather() const {
        std::lock_guard lock(mu_);
        std::vector<Family> out;
        std::set<std::string> seen{kBuildInfo, kScrapes, kInvalid};
        std::vector<Family> batch;
        for (const auto& [cname, collect] : collectors_) {
            batch.clear();
            try {
                collect(batch);
            } catch (const std::exception& e) {
                reject(cname, "collector threw: " + std::string(e.what()));
                continue;
            } catch (...) {
                reject(cname, "collector threw");
                continue;
            }
            for (Family& f : batch) {
                std::string why;
                if (!valid_family(f, &why)) {
                    reject(cname, why);
                } else if (!seen.insert(f.name).second) {
                    reject(cname, "metric family '" + f.name + "': name already emitted");
                } else {
                    out.push_back(std::move(f));
                }
            }
        }

        out.push_back(
            Family{kBuildInfo,
                   "braid build information.",
                   Type::gauge,
                   {Sample{{{"version", BRAID_VERSION}, {"git_rev", BRAID_GIT_REV}}, 1}}});
        out.push_back(Family{kScrapes,
                             "Scrapes of the metrics endpoint.",
                             Type::counter,
                             {Sample{{}, double(scrapes_.load(std::memory_order_relaxed))}}});
        Family invalid{kInvalid,
                       "Metric families dropped because they were invalid, duplicated, or their "
                       "collector threw.",
                       Type::counter,
                       {}};
        for (const auto& [cname, n] : invalid_) {
            invalid.samples.push_back(Sample{{{"collector", cname}}, double(n)});
        }
        out.push_back(std::move(invalid));
        return out;
    }

private:
    // Called with mu_ held.
    void reject(const std::string& collector, const std::string& why) const {
        ++invalid_[collector];
        if (logged_.insert(collector + "\n" + why).second) {
            BRAID_LOG(metrics, WARNING, "collector '%s': %s (dropped, logged once)",
                      collector.c_str(), why.c_str());
        }
    }

    mutable std::mutex mu_;
    std::vector<std::pair<std::string, Collector>> collectors_;
    mutable std::map<std::string, uint64_t> invalid_;
    mutable std::set<std::string> logged_;
    mutable std::atomic<uint64_t> scrapes_{0};
};

struct Exporter::Impl {
    std::shared_ptr<Source> source;  // outlives exposer (declared first, destroyed last)
    std::unique_ptr<prometheus::Exposer> exposer;
    uint16_t port = 0;
};

Exporter::Exporter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Exporter::~Exporter() = default;

std::unique_ptr<Exporter> Exporter::start(const std::string& address, uint16_t port,
                                          std::string* err) {
    const std::string spec = listen_spec(address, port);
    auto fail = [&](const std::string& why) -> std::unique_ptr<Exporter> {
        if (err != nullptr) {
            *err = "metrics: cannot listen on " + spec + ": " + why;
        }
        return nullptr;
    };

    auto impl = std::make_unique<Impl>();
    impl->source = std::make_shared<Source>();
    try {
        impl->exposer = std::make_unique<prometheus::Exposer>(spec, 2);
        impl->exposer->RegisterCollectable(impl->source, "/metrics");
        const std::vector<int> ports = impl->exposer->GetListeningPorts();
        if (ports.empty() || ports[0] <= 0 || ports[0] > 65535) {
            return fail("no listening port after start");
        }
        impl->port = static_cast<uint16_t>(ports[0]);
    } catch (const std::exception& e) {
        impl->exposer.reset();
        std::string why = diagnose_bind(address, port);
        if (why.empty()) {
            why = e.what();
            if (spec.front() == '[') {
                // Debian's civetweb 1.15 is built without USE_IPV6.
                why += " (the address binds; the installed civetweb may lack IPv6 support)";
            }
        }
        return fail(why);
    }
    BRAID_LOG(metrics, INFO, "serving /metrics on %s", listen_spec(address, impl->port).c_str());
    return std::unique_ptr<Exporter>(new Exporter(std::move(impl)));
}

void Exporter::add_collector(std::string name, Collector c) {
    impl_->source->add(std::move(name), std::move(c));
}

uint16_t Exporter::port() const {
    return impl_->port;
}

std::vector<Family> Exporter::collect() const {
    return impl_->source->gather();
}

}  // namespace braid::metrics
