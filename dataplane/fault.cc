// The fault-injection stage: see fault.h for what happens to a packet, in which order.
#include "dataplane/fault.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace braid::dataplane {

// --- FaultRng --------------------------------------------------------------------------------

namespace {

uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

constexpr uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

}  // namespace

void FaultRng::reseed(uint64_t seed) {
    // splitmix64 never yields four zero words, which xoshiro's state must not be.
    for (auto& w : s_) {
        w = splitmix64(seed);
    }
}

uint64_t FaultRng::next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
}

// --- FaultInjector ---------------------------------------------------------------------------

void FaultInjector::configure(const FaultSpec& spec) {
    spec_ = spec;
    enabled_ = spec.enabled();
    rng_.reseed(spec.seed);
    flush_ = holding();
}

bool FaultInjector::heap_push(const Delayed& d) {
    if (n_delay_ == delay_capacity) {
        return false;
    }
    // Sift up: parents have earlier (release time, order).
    uint32_t i = n_delay_++;
    while (i > 0) {
        const uint32_t parent = (i - 1) / 2;
        const Delayed& p = delay_[parent];
        if (p.release_us < d.release_us || (p.release_us == d.release_us && p.order < d.order)) {
            break;
        }
        delay_[i] = p;
        i = parent;
    }
    delay_[i] = d;
    return true;
}

FaultInjector::Delayed FaultInjector::heap_pop() {
    const Delayed top = delay_[0];
    const Delayed last = delay_[--n_delay_];
    uint32_t i = 0;
    const auto earlier = [](const Delayed& a, const Delayed& b) {
        return a.release_us < b.release_us || (a.release_us == b.release_us && a.order < b.order);
    };
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= n_delay_) {
            break;
        }
        if (child + 1 < n_delay_ && earlier(delay_[child + 1], delay_[child])) {
            ++child;
        }
        if (!earlier(delay_[child], last)) {
            break;
        }
        delay_[i] = delay_[child];
        i = child;
    }
    if (n_delay_ > 0) {
        delay_[i] = last;
    }
    return top;
}

void FaultInjector::corrupt(rte_mbuf* m) {
    constexpr uint32_t eth_len = 14;
    if (m->data_len <= eth_len) {
        return;
    }
    const uint32_t at = eth_len + static_cast<uint32_t>(rng_.below(m->data_len - eth_len));
    const auto flip = static_cast<uint8_t>(1 + rng_.below(255));
    rte_pktmbuf_mtod_offset(m, uint8_t*, at)[0] ^= flip;
    counters.corrupted.add();
}

void FaultInjector::emit(rte_mbuf* m, Out& out) {
    out.pass[out.n_pass++] = m;
}

// A packet of this injector passed: reorder-held packets whose gap closes follow it (or, with
// `flush`, all of them).
void FaultInjector::after_pass(uint64_t now_us, Out& out, bool flush) {
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_reorder_; ++i) {
        Reordered& r = reorder_[i];
        if (!flush && r.remaining > 0) {
            --r.remaining;
        }
        const bool due = flush || r.remaining == 0 || now_us >= r.deadline_us;
        if (due && out.n_pass < out.pass_cap) {
            emit(r.m, out);
        } else {
            reorder_[k++] = r;  // keeps arrival order among the held
        }
    }
    n_reorder_ = k;
}

void FaultInjector::process(rte_mbuf* const* pkts, uint32_t n, uint64_t now_us, Out& out) {
    const FaultSpec& s = spec_;
    counters.seen.add(n);
    for (uint32_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        if (rng_.chance(s.drop_ppm)) {
            out.drop[out.n_drop++] = m;
            counters.dropped.add();
            continue;
        }
        if (rng_.chance(s.corrupt_ppm)) {
            corrupt(m);
        }
        rte_mbuf* copies[2] = {m, nullptr};
        if (rng_.chance(s.duplicate_ppm)) {
            copies[1] = rte_pktmbuf_copy(m, m->pool, 0, UINT32_MAX);
            (copies[1] != nullptr ? counters.duplicated : counters.duplicate_failed).add();
        }
        for (rte_mbuf* p : copies) {
            if (p == nullptr) {
                continue;
            }
            if (n_reorder_ < reorder_capacity && rng_.chance(s.reorder_ppm)) {
                reorder_[n_reorder_++] = {p, now_us + s.reorder_timeout_us, s.reorder_gap};
                counters.reordered.add();
                continue;
            }
            if (s.delay_us != 0 || s.jitter_us != 0) {
                int64_t d = s.delay_us;
                if (s.jitter_us != 0) {
                    d += static_cast<int64_t>(rng_.below(2 * uint64_t{s.jitter_us} + 1)) -
                         int64_t{s.jitter_us};
                }
                const uint64_t at = now_us + static_cast<uint64_t>(std::max<int64_t>(d, 0));
                if (heap_push({at, arrivals_++, p})) {
                    counters.delayed.add();
                    continue;
                }
                counters.delay_full.add();
            }
            emit(p, out);
            after_pass(now_us, out, false);
        }
    }
}

void FaultInjector::release(uint64_t now_us, Out& out) {
    const bool flush = flush_;
    while (n_delay_ > 0 && out.n_pass < out.pass_cap && (flush || delay_[0].release_us <= now_us)) {
        emit(heap_pop().m, out);
        after_pass(now_us, out, flush);
    }
    // Reorder-held packets whose timeout passed (or all, after configure()).
    uint32_t k = 0;
    for (uint32_t i = 0; i < n_reorder_; ++i) {
        const Reordered& r = reorder_[i];
        if ((flush || now_us >= r.deadline_us) && out.n_pass < out.pass_cap) {
            emit(r.m, out);
        } else {
            reorder_[k++] = r;
        }
    }
    n_reorder_ = k;
    if (!holding()) {
        flush_ = false;
    }
}

void FaultInjector::discard_all() {
    while (n_delay_ > 0) {
        rte_pktmbuf_free(heap_pop().m);
    }
    for (uint32_t i = 0; i < n_reorder_; ++i) {
        rte_pktmbuf_free(reorder_[i].m);
    }
    n_reorder_ = 0;
    flush_ = false;
}

// --- FaultWorker -----------------------------------------------------------------------------

void FaultWorker::refresh() {
    // Acquire: the plan the pointer names (stored before the generation) is fully written.
    const uint64_t g = generation.load(std::memory_order_acquire);
    if (g != adopted_generation) {
        const FaultPlan* p = published.load(std::memory_order_acquire);
        // Copied now: the plan may be freed after this worker's next quiescent-state report.
        for (size_t i = 0; i < injectors.size(); ++i) {
            injectors[i].configure(p != nullptr ? p->specs[i] : FaultSpec{});
        }
        adopted_generation = g;
    }
    active = false;
    for (const auto& inj : injectors) {
        active = active || inj.enabled() || inj.holding();
    }
}

void FaultWorker::discard_all() {
    for (auto& inj : injectors) {
        inj.discard_all();
    }
}

// --- FaultSpec keys --------------------------------------------------------------------------

namespace {

// "12.5" → 125000 ppm: 0..100 with at most four decimals.
std::optional<uint32_t> parse_percent(std::string_view v) {
    uint64_t whole = 0;
    size_t i = 0;
    if (v.empty() || v.size() > 16) {
        return std::nullopt;
    }
    for (; i < v.size() && v[i] >= '0' && v[i] <= '9'; ++i) {
        whole = whole * 10 + static_cast<uint64_t>(v[i] - '0');
    }
    if (i == 0) {
        return std::nullopt;
    }
    uint64_t frac = 0;
    unsigned digits = 0;
    if (i < v.size()) {
        if (v[i] != '.' || i + 1 == v.size()) {
            return std::nullopt;
        }
        for (++i; i < v.size(); ++i, ++digits) {
            if (v[i] < '0' || v[i] > '9' || digits == 4) {
                return std::nullopt;
            }
            frac = frac * 10 + static_cast<uint64_t>(v[i] - '0');
        }
    }
    for (; digits < 4; ++digits) {
        frac *= 10;
    }
    const uint64_t ppm = whole * 10'000 + frac;
    if (ppm > fault_ppm_max) {
        return std::nullopt;
    }
    return static_cast<uint32_t>(ppm);
}

std::optional<uint64_t> parse_uint(std::string_view v, uint64_t min, uint64_t max) {
    uint64_t x = 0;
    if (v.empty() || (v.size() > 1 && v[0] == '0')) {
        return std::nullopt;
    }
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || end != v.data() + v.size() || x < min || x > max) {
        return std::nullopt;
    }
    return x;
}

std::string percent_text(uint32_t ppm) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%u.%04u", ppm / 10'000, ppm % 10'000);
    std::string s = buf;
    while (s.back() == '0') {
        s.pop_back();
    }
    if (s.back() == '.') {
        s.push_back('0');
    }
    return s;
}

struct KeyInfo {
    std::string_view name;
    bool percent;
    uint64_t min, max;
};

constexpr KeyInfo key_info[] = {
    {"drop", true, 0, 0},
    {"duplicate", true, 0, 0},
    {"reorder", true, 0, 0},
    {"reorder_gap", false, 1, 64},
    {"reorder_timeout_us", false, 1, fault_delay_max_us},
    {"delay_us", false, 0, fault_delay_max_us},
    {"jitter_us", false, 0, fault_delay_max_us},
    {"corrupt", true, 0, 0},
    {"seed", false, 0, UINT64_MAX},
};
static_assert(std::size(key_info) == fault_keys.size());

}  // namespace

std::optional<std::string> set_fault_key(FaultSpec& spec, std::string_view key,
                                         std::string_view value) {
    const KeyInfo* k = std::find_if(std::begin(key_info), std::end(key_info),
                                    [&](const KeyInfo& ki) { return ki.name == key; });
    if (k == std::end(key_info)) {
        std::string names;
        for (std::string_view n : fault_keys) {
            names += (names.empty() ? "" : ", ") + std::string(n);
        }
        return "unknown key '" + std::string(key) + "' (expected one of: " + names + ")";
    }
    if (k->percent) {
        const auto ppm = parse_percent(value);
        if (!ppm) {
            return "expected a percentage 0..100 with at most 4 decimals, got '" +
                   std::string(value) + "'";
        }
        (key == "drop"        ? spec.drop_ppm
         : key == "duplicate" ? spec.duplicate_ppm
         : key == "reorder"   ? spec.reorder_ppm
                              : spec.corrupt_ppm) = *ppm;
        return std::nullopt;
    }
    const auto x = parse_uint(value, k->min, k->max);
    if (!x) {
        return "expected a decimal integer " + std::to_string(k->min) + ".." +
               std::to_string(k->max) + ", got '" + std::string(value) + "'";
    }
    if (key == "reorder_gap") {
        spec.reorder_gap = static_cast<uint16_t>(*x);
    } else if (key == "reorder_timeout_us") {
        spec.reorder_timeout_us = static_cast<uint32_t>(*x);
    } else if (key == "delay_us") {
        spec.delay_us = static_cast<uint32_t>(*x);
    } else if (key == "jitter_us") {
        spec.jitter_us = static_cast<uint32_t>(*x);
    } else {
        spec.seed = *x;
    }
    return std::nullopt;
}

std::string fault_key_text(const FaultSpec& s, std::string_view key) {
    if (key == "drop")
        return percent_text(s.drop_ppm);
    if (key == "duplicate")
        return percent_text(s.duplicate_ppm);
    if (key == "reorder")
        return percent_text(s.reorder_ppm);
    if (key == "corrupt")
        return percent_text(s.corrupt_ppm);
    if (key == "reorder_gap")
        return std::to_string(s.reorder_gap);
    if (key == "reorder_timeout_us")
        return std::to_string(s.reorder_timeout_us);
    if (key == "delay_us")
        return std::to_string(s.delay_us);
    if (key == "jitter_us")
        return std::to_string(s.jitter_us);
    if (key == "seed")
        return std::to_string(s.seed);
    return {};
}

std::string describe(const FaultSpec& s) {
    if (!s.enabled()) {
        return "off";
    }
    std::string out;
    const FaultSpec defaults;
    for (std::string_view k : fault_keys) {
        const std::string v = fault_key_text(s, k);
        if (v != fault_key_text(defaults, k) || k == "seed") {
            out += (out.empty() ? "" : " ") + std::string(k) + " " + v;
        }
    }
    return out;
}

std::string_view to_string(FaultDirection dir) {
    return dir == FaultDirection::rx ? "rx" : "tx";
}

}  // namespace braid::dataplane
