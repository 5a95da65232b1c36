// braid metrics: a Prometheus exporter (prometheus-cpp Exposer, civetweb) fed by collectors.
//
// Subsystems keep their counters as plain data (per-worker arrays, see STYLE.md "Counters and
// metrics") and register a Collector that turns them into Families at scrape time. Collectors run
// on an exporter (civetweb) thread, one scrape at a time, never on a worker lcore.
//
// Families that break the naming rules (valid_family), that repeat a name already emitted in the
// same scrape, or that come from a collector that threw, are dropped and counted in
// braid_metrics_invalid_families_total{collector="..."}: a bug never breaks the scrape.
// The exporter always emits braid_build_info{version,git_rev} 1 and braid_metrics_scrapes_total.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace braid::metrics {

enum class Type { counter, gauge, histogram };

struct Sample {
    std::vector<std::pair<std::string, std::string>> labels;  // (name, value)
    double value = 0;  // counter, gauge: the value; histogram: the sum of the observations
    // Histogram only: (upper bound, cumulative count) in increasing order of bound, without
    // +Inf (the exporter adds it with `count`), and the number of observations.
    std::vector<std::pair<double, uint64_t>> buckets;
    uint64_t count = 0;
};

struct Family {
    std::string name;
    std::string help;
    Type type = Type::counter;
    std::vector<Sample> samples;
};

// Appends families; runs on the exporter thread at scrape time.
using Collector = std::function<void(std::vector<Family>&)>;

class Exporter {
public:
    // Starts an HTTP listener on address:port serving /metrics. address is an IPv4 or IPv6 literal
    // ("::1" or "[::1]"; IPv6 needs a civetweb built with IPv6, which Debian 12's is not); empty
    // means 0.0.0.0. port 0 picks an ephemeral port (see port()).
    // Returns nullptr and sets *err (if err is not null) on failure, e.g.
    // "metrics: cannot listen on 127.0.0.1:9464: Address already in use".
    static std::unique_ptr<Exporter> start(const std::string& address, uint16_t port,
                                           std::string* err);

    ~Exporter();
    Exporter(const Exporter&) = delete;
    Exporter& operator=(const Exporter&) = delete;

    // Thread-safe with respect to scrapes. name labels the collector in
    // braid_metrics_invalid_families_total.
    void add_collector(std::string name, Collector c);

    // The bound port (the kernel's choice when started with port 0).
    uint16_t port() const;

    // What a scrape would return (validated families plus the exporter's own), without HTTP and
    // without counting as a scrape. For a CLI command: render_text(exporter->collect()).
    std::vector<Family> collect() const;

    struct Impl;

private:
    explicit Exporter(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The families in Prometheus text exposition format (0.0.4), as rendered by the exporter.
// Renders what it is given: it does not validate.
std::string render_text(const std::vector<Family>& families);

// Naming rules: name matches ^braid_[a-z0-9_]+$, counters end in _total, gauges and histograms
// don't (a histogram's buckets are cumulative, their bounds increasing, none above `count`); label
// names match ^[a-z_][a-z0-9_]*$ and do not repeat within a sample; no two samples of a family
// have the same label set. On failure sets *why (if not null) to a message naming the family.
bool valid_family(const Family& family, std::string* why);

}  // namespace braid::metrics
