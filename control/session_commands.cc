// Static sessions from the CLI and what the user plane knows about sessions. Every change goes
// through the App's session action functions — the path PFCP uses — as a whole new spec built
// from the current one (all or nothing, one publication).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cinttypes>
#include <functional>
#include <string>

#include "control/commands.h"
#include "control/static_sessions.h"
#include "mptcp/scheduler.h"

namespace braid::control {

namespace {

using cli::Args;
using cli::Output;
using dataplane::SessionSpec;

std::string ipv4_text(uint32_t host) {
    char b[16];
    std::snprintf(b, sizeof(b), "%u.%u.%u.%u", host >> 24, (host >> 16) & 0xff, (host >> 8) & 0xff,
                  host & 0xff);
    return b;
}

std::string prefix_text(const dataplane::sdf::Prefix& p) {
    char b[INET6_ADDRSTRLEN];
    inet_ntop(p.family == 6 ? AF_INET6 : AF_INET, p.addr.data(), b, sizeof(b));
    return std::string(b) + "/" + std::to_string(p.len);
}

std::optional<uint32_t> ipv4_arg(const Args& args, std::string_view name) {
    auto v = args.get(name);
    in_addr a{};
    if (!v || inet_pton(AF_INET, std::string(*v).c_str(), &a) != 1) {
        return std::nullopt;
    }
    return ntohl(a.s_addr);
}

void print_error(Output& out, const char* what, const dataplane::SpecError& e) {
    out.printf("error: %s: %s (%s): %s\n", what, std::string(dataplane::to_string(e.kind)).c_str(),
               e.rule.c_str(), e.message.c_str());
}

void print_report(Output& out, const dataplane::UsageReport& r) {
    out.printf("usage report: session %" PRIu64 " urr %u seq %u trigger %s: ul %" PRIu64
               " B / %" PRIu64 " pkts, dl %" PRIu64 " B / %" PRIu64 " pkts, %u s with traffic\n",
               r.seid, r.urr_id, r.sequence, std::string(dataplane::to_string(r.trigger)).c_str(),
               r.volume.bytes_ul, r.volume.packets_ul, r.volume.bytes_dl, r.volume.packets_dl,
               r.duration_s);
}

// `session add` makes the same session as a YAML static session with these fields
// (control/static_sessions.h): QER 1 and URR 1 without limits or triggers until `session set`.
void session_add(dataplane::App& app, const Args& args, Output& out) {
    auto ue = ipv4_arg(args, "ue");
    auto gnb = ipv4_arg(args, "gnb");
    auto teid = args.get_uint("teid");
    auto gnb_teid = args.get_uint("gnb_teid");
    auto seid = args.get_uint("seid");
    if (!ue || !gnb || !teid || !gnb_teid || !seid) {
        out.printf("error: session add: bad arguments\n");
        return;
    }
    if (*teid == 0 || *gnb_teid == 0) {
        out.printf("error: session add: TEID 0 is reserved (TS 29.281 §5.1)\n");
        return;
    }
    config::StaticSession s;
    s.seid = *seid;
    s.uplink_teid = static_cast<uint32_t>(*teid);
    s.ue_ipv4 = *ue;
    s.gnb_ipv4 = *gnb;
    s.gnb_teid = static_cast<uint32_t>(*gnb_teid);
    if (auto err = app.create_session(session_spec(s))) {
        print_error(out, "session add", *err);
        return;
    }
    out.printf("session %" PRIu64 " added\n", *seid);
}

void session_del(dataplane::App& app, const Args& args, Output& out) {
    const uint64_t seid = args.get_uint("seid").value_or(0);
    auto reports = app.delete_session(seid);
    if (!reports) {
        out.printf("error: session del: no session %" PRIu64 "\n", seid);
        return;
    }
    for (const auto& r : *reports) {
        print_report(out, r);
    }
    out.printf("session %" PRIu64 " deleted\n", seid);
}

// Apply `edit` to a copy of the session's spec and publish it. `edit` returns an error text or
// an empty string.
void session_change(dataplane::App& app, const Args& args, Output& out,
                    const std::function<std::string(SessionSpec&, dataplane::ModifyFlags&)>& edit) {
    const uint64_t seid = args.get_uint("seid").value_or(0);
    const SessionSpec* current = app.sessions().spec(seid);
    if (current == nullptr) {
        out.printf("error: session set: no session %" PRIu64 "\n", seid);
        return;
    }
    SessionSpec s = *current;
    dataplane::ModifyFlags flags;
    if (std::string e = edit(s, flags); !e.empty()) {
        out.printf("error: session set: %s\n", e.c_str());
        return;
    }
    std::vector<dataplane::UsageReport> reports;
    if (auto err = app.modify_session(s, flags, &reports)) {
        print_error(out, "session set", *err);
        return;
    }
    for (const auto& r : reports) {
        print_report(out, r);
    }
    out.printf("session %" PRIu64 " modified\n", seid);
}

// The FAR of the session's downlink PDRs (the ones not from the access side).
dataplane::Far* downlink_far(SessionSpec& s) {
    for (const auto& p : s.pdrs) {
        if (p.source != dataplane::Interface::access) {
            for (auto& f : s.fars) {
                if (f.id == p.far_id) {
                    return &f;
                }
            }
        }
    }
    return nullptr;
}

// QER 1 on every PDR, created on first use.
dataplane::Qer& qer1(SessionSpec& s) {
    for (auto& q : s.qers) {
        if (q.id == 1) {
            return q;
        }
    }
    dataplane::Qer q;
    q.id = 1;
    s.qers.push_back(q);
    for (auto& p : s.pdrs) {
        if (std::find(p.qer_ids.begin(), p.qer_ids.end(), 1u) == p.qer_ids.end()) {
            p.qer_ids.push_back(1);
        }
    }
    return s.qers.back();
}

std::optional<bool> gate_arg(std::string_view v) {
    if (v == "open") {
        return true;
    }
    if (v == "closed") {
        return false;
    }
    return std::nullopt;
}

void register_changes(cli::Registry& r, dataplane::App& app) {
    using Flags = dataplane::ModifyFlags;
    r.add({"session set <seid:u64> gnb <gnb:ipv4> gnb-teid <gnb_teid:u32>",
           "move the downlink tunnel (handover); no End Marker", [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags& f) -> std::string {
                   dataplane::Far* far = downlink_far(s);
                   auto gnb = ipv4_arg(a, "gnb");
                   if (far == nullptr || !far->outer_header || !gnb) {
                       return "the session has no downlink GTP-U tunnel";
                   }
                   far->outer_header =
                       dataplane::OuterHeaderCreation{uint32_t(*a.get_uint("gnb_teid")), *gnb};
                   (void)f;
                   return "";
               });
           }});
    r.add({"session set <seid:u64> gnb <gnb:ipv4> gnb-teid <gnb_teid:u32> end-marker",
           "move the downlink tunnel and send an End Marker on the old one (SNDEM)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags& f) -> std::string {
                   dataplane::Far* far = downlink_far(s);
                   auto gnb = ipv4_arg(a, "gnb");
                   if (far == nullptr || !far->outer_header || !gnb) {
                       return "the session has no downlink GTP-U tunnel";
                   }
                   far->outer_header =
                       dataplane::OuterHeaderCreation{uint32_t(*a.get_uint("gnb_teid")), *gnb};
                   f.send_end_marker = true;
                   return "";
               });
           }});
    r.add({"session set <seid:u64> dl-action <action:str>",
           "downlink FAR apply action: forward, drop, buffer or buffer-notify",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   dataplane::Far* far = downlink_far(s);
                   if (far == nullptr) {
                       return "the session has no downlink FAR";
                   }
                   const std::string v(a.get("action").value_or(""));
                   dataplane::ApplyAction act;
                   if (v == "forward") {
                       act.forward = true;
                   } else if (v == "drop") {
                       act.drop = true;
                   } else if (v == "buffer" || v == "buffer-notify") {
                       act.buffer = true;
                       act.notify_cp = v == "buffer-notify";
                   } else {
                       return "action must be forward, drop, buffer or buffer-notify";
                   }
                   far->action = act;
                   return "";
               });
           }});
    r.add({"session set <seid:u64> buffer-packets <count:u32>",
           "packets buffered for the session at most (BAR 1 on the downlink FAR)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   dataplane::Far* far = downlink_far(s);
                   if (far == nullptr) {
                       return "the session has no downlink FAR";
                   }
                   s.bars = {dataplane::Bar{1, uint32_t(*a.get_uint("count"))}};
                   far->bar_id = 1;
                   return "";
               });
           }});
    // The MPTCP MAR of a session (issue 7), as an SMF's Create/Update/Remove MAR would set it:
    // MAR 1, steering functionality MPTCP, on every downlink PDR; the 3GPP access forwards
    // through the downlink FAR. An existing MAR 1 keeps its accesses (an MA PDU session's
    // non-3GPP FAR: without it the non-3GPP subflows would lose their downlink), only the mode,
    // weights and threshold change, as an Update MAR would. The proxy applies it to the
    // session's live connections.
    auto set_mar = [&app](const Args& a, Output& o) {
        session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
            const std::string mode(a.get("mode").value_or(""));
            auto is_mar1 = [](const dataplane::Mar& m) { return m.id == 1; };
            std::optional<dataplane::Mar> old;
            if (auto it = std::find_if(s.mars.begin(), s.mars.end(), is_mar1); it != s.mars.end()) {
                old = *it;
            }
            std::erase_if(s.mars, is_mar1);
            for (auto& p : s.pdrs) {
                if (p.mar_id == uint16_t{1}) {
                    p.mar_id.reset();
                }
            }
            if (mode == "none") {
                return "";  // Remove MAR
            }
            auto sm = mptcp::scheduler_mode(mode);
            if (!sm) {
                return "steering mode must be one of active_standby, smallest_delay, "
                       "load_balancing, priority_based, redundant (none: remove the MAR)";
            }
            const dataplane::Far* far = downlink_far(s);
            if (far == nullptr) {
                return "the session has no downlink FAR";
            }
            dataplane::Mar m;
            m.id = 1;
            m.steering_functionality = 1;  // MPTCP
            m.steering_mode = static_cast<uint8_t>(*sm);
            // The accesses' FARs and URRs stay; weights and priorities are the new mode's
            // (mar_scheduler's defaults per mode, the weight below).
            auto keep = [](const dataplane::MarAccess& from) {
                dataplane::MarAccess to;
                to.far_id = from.far_id;
                to.urr_ids = from.urr_ids;
                return to;
            };
            dataplane::MarAccess tgpp;
            tgpp.far_id = far->id;
            if (old && old->tgpp) {
                tgpp = keep(*old->tgpp);
            }
            if (old && old->non_tgpp) {
                m.non_tgpp = keep(*old->non_tgpp);
            }
            if (auto w = a.get_uint("weight")) {
                if (*w > 100) {
                    return "weight is a percentage (0..100)";
                }
                tgpp.weight = static_cast<uint8_t>(*w);
                if (m.non_tgpp) {
                    m.non_tgpp->weight = static_cast<uint8_t>(100 - *w);
                }
            }
            m.tgpp = tgpp;
            if (auto t = a.get_uint("rtt_ms")) {
                if (*t == 0 || *t > UINT16_MAX) {
                    return "rtt threshold must be 1..65535 ms";
                }
                m.rtt_threshold_ms = static_cast<uint16_t>(*t);
            }
            s.mars.push_back(m);
            for (auto& p : s.pdrs) {
                if (p.source != dataplane::Interface::access) {
                    p.mar_id = 1;
                }
            }
            return "";
        });
    };
    r.add({"session set <seid:u64> mar <mode:str>",
           "MPTCP MAR 1 with a steering mode (active_standby, smallest_delay, load_balancing, "
           "priority_based, redundant; none removes it) on the downlink PDRs: the proxy's "
           "scheduler",
           [set_mar](const Args& a, Output& o) { set_mar(a, o); }});
    r.add({"session set <seid:u64> mar <mode:str> weight <weight:u32>",
           "MPTCP MAR 1 with the 3GPP access's weight (load_balancing, percent)",
           [set_mar](const Args& a, Output& o) { set_mar(a, o); }});
    r.add({"session set <seid:u64> mar <mode:str> rtt <rtt_ms:u32>",
           "MPTCP MAR 1 with an RTT threshold (Thresholds IE) in ms",
           [set_mar](const Args& a, Output& o) { set_mar(a, o); }});
    r.add({"session set <seid:u64> mbr <ul_kbps:u64> <dl_kbps:u64>",
           "maximum bit rate of QER 1 in kbit/s per direction (0: none)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   dataplane::Qer& q = qer1(s);
                   q.mbr_ul_kbps = *a.get_uint("ul_kbps");
                   q.mbr_dl_kbps = *a.get_uint("dl_kbps");
                   return "";
               });
           }});
    r.add({"session set <seid:u64> gate ul <ul:str> dl <dl:str>",
           "gate status of QER 1 per direction: open or closed", [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   auto ul = gate_arg(a.get("ul").value_or(""));
                   auto dl = gate_arg(a.get("dl").value_or(""));
                   if (!ul || !dl) {
                       return "gate status must be open or closed";
                   }
                   dataplane::Qer& q = qer1(s);
                   q.gate_ul_open = *ul;
                   q.gate_dl_open = *dl;
                   return "";
               });
           }});
    r.add({"session set <seid:u64> qfi <qfi:u32>",
           "QFI of QER 1 (written into downlink PDU Session Containers)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   if (*a.get_uint("qfi") > 63) {
                       return "a QFI has 6 bits (0-63)";
                   }
                   qer1(s).qfi = static_cast<uint8_t>(*a.get_uint("qfi"));
                   return "";
               });
           }});
    r.add({"session set <seid:u64> urr volume <bytes:u64> time <time_s:u32> period <period_s:u32>",
           "reporting triggers of URR 1: volume threshold, time threshold, period (0: off)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   for (auto& u : s.urrs) {
                       if (u.id == 1) {
                           u.volume_threshold_bytes = *a.get_uint("bytes");
                           u.time_threshold_s = uint32_t(*a.get_uint("time_s"));
                           u.measurement_period_s = uint32_t(*a.get_uint("period_s"));
                           return "";
                       }
                   }
                   return "the session has no URR 1";
               });
           }});
    r.add({"session set <seid:u64> sdf <pdr:u32> <filter:str...>",
           "add an SDF filter (IPFilterRule, e.g. permit out 17 from any to assigned 53) to a PDR",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   auto fd = dataplane::sdf::parse_flow_description(a.get("filter").value_or(""));
                   if (auto* e = std::get_if<std::string>(&fd)) {
                       return "flow description: " + *e;
                   }
                   for (auto& p : s.pdrs) {
                       if (p.id == *a.get_uint("pdr")) {
                           dataplane::sdf::Filter f;
                           f.flow = std::get<dataplane::sdf::FlowDescription>(fd);
                           p.sdf_filters.push_back(f);
                           return "";
                       }
                   }
                   return "no PDR " + std::to_string(*a.get_uint("pdr"));
               });
           }});
    r.add({"session set <seid:u64> ue6 <prefix:str>",
           "give the UE an IPv6 /64 (a downlink PDR 3 for it, same FAR and QERs as PDR 2)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [&a](SessionSpec& s, Flags&) -> std::string {
                   std::string text(a.get("prefix").value_or(""));
                   if (auto slash = text.find('/'); slash != std::string::npos) {
                       if (text.substr(slash) != "/64") {
                           return "the UE prefix must be a /64";
                       }
                       text.resize(slash);
                   }
                   dataplane::sdf::Prefix p{6, {}, 64};
                   if (inet_pton(AF_INET6, text.c_str(), p.addr.data()) != 1) {
                       return "not an IPv6 address: " + text;
                   }
                   std::fill(p.addr.begin() + 8, p.addr.end(), 0);
                   const dataplane::Pdr* dl = nullptr;
                   for (const auto& q : s.pdrs) {
                       if (q.id == 2) {
                           dl = &q;
                       }
                   }
                   if (dl == nullptr) {
                       return "the session has no downlink PDR 2";
                   }
                   dataplane::Pdr v6 = *dl;
                   v6.id = 3;
                   v6.ue_ipv4.reset();
                   v6.ue_ipv6 = p;
                   std::erase_if(s.pdrs, [](const dataplane::Pdr& q) { return q.id == 3; });
                   s.pdrs.push_back(v6);
                   return "";
               });
           }});
    r.add({"session query <seid:u64>", "usage reports of every URR now (Query URR)",
           [&app](const Args& a, Output& o) {
               session_change(app, a, o, [](SessionSpec&, Flags& f) -> std::string {
                   f.query_all_urrs = true;
                   return "";
               });
           }});
}

void show_session(dataplane::App& app, const dataplane::SessionRules& r, Output& out) {
    out.printf("session %" PRIu64 " (generation %" PRIu64 ", owner worker %u)\n", r.seid,
               r.generation, unsigned{r.owner});
    for (const auto& p : r.pdrs) {
        std::string match;
        if (p.local_teid) {
            match += " teid " + std::to_string(*p.local_teid);
        }
        if (p.ue_ipv4) {
            match += " ue " + ipv4_text(*p.ue_ipv4);
        }
        if (p.ue_ipv6) {
            match += " ue " + prefix_text(*p.ue_ipv6);
        }
        if (p.qfi) {
            match += " qfi " + std::to_string(*p.qfi);
        }
        if (p.sdf_filters != 0) {
            match += " sdf-filters " + std::to_string(p.sdf_filters);
        }
        out.printf("  pdr %-5u precedence %-6u source %-11s%s%s -> far %u\n", p.id, p.precedence,
                   std::string(dataplane::to_string(p.source)).c_str(), match.c_str(),
                   p.remove_outer_header ? " (remove outer header)" : "", r.fars[p.far_index].id);
    }
    // Link-specific multipath addresses (issue 7) and the FAR their downlink leaves by.
    for (const auto& l : r.link) {
        const auto access = dataplane::to_string(l.access);
        std::string text = prefix_text(l.prefix);
        if (l.prefix.family == 4) {
            text = text.substr(0, text.find('/'));  // an address, not a prefix
        }
        out.printf("  link-specific %.*s %s\n", int(access.size()), access.data(), text.c_str());
    }
    for (const auto& f : r.fars) {
        std::string action = f.action.forward     ? "forward"
                             : f.action.drop      ? "drop"
                             : f.action.notify_cp ? "buffer+notify"
                                                  : "buffer";
        out.printf("  far %-5u %s to %s", f.id, action.c_str(),
                   std::string(dataplane::to_string(f.destination)).c_str());
        if (f.outer_header) {
            out.printf(" via GTP-U teid %u peer %s", f.outer_header->teid,
                       ipv4_text(f.outer_header->peer_ipv4).c_str());
        }
        out.printf("\n");
    }
    for (const auto& q : r.qers) {
        out.printf("  qer %-5u gate ul %s dl %s, mbr ul %" PRIu64 " dl %" PRIu64 " kbit/s%s\n",
                   q.qer.id, q.qer.gate_ul_open ? "open" : "closed",
                   q.qer.gate_dl_open ? "open" : "closed", q.qer.mbr_ul_kbps, q.qer.mbr_dl_kbps,
                   q.qer.qfi ? (", qfi " + std::to_string(*q.qer.qfi)).c_str() : "");
    }
    for (const auto& u : r.urrs) {
        auto now = app.current_usage(r.seid, u.urr.id).value_or(dataplane::UsageTotals{});
        out.printf("  urr %-5u volume threshold %" PRIu64
                   " B, time threshold %u s, period %u s; "
                   "since last report: ul %" PRIu64 " B / %" PRIu64 " pkts, dl %" PRIu64
                   " B / %" PRIu64 " pkts\n",
                   u.urr.id, u.urr.volume_threshold_bytes, u.urr.time_threshold_s,
                   u.urr.measurement_period_s, now.bytes_ul, now.packets_ul, now.bytes_dl,
                   now.packets_dl);
    }
    if (size_t n = app.packet_buffer().packets(r.seid)) {
        out.printf("  %zu downlink packets buffered\n", n);
    }
}

void show_sessions(dataplane::App& app, const Args& args, Output& out) {
    const auto& t = app.sessions();
    if (auto seid = args.get_uint("seid")) {
        const dataplane::SessionRules* r = t.by_seid(*seid);
        if (r == nullptr) {
            out.printf("error: no session %" PRIu64 "\n", *seid);
            return;
        }
        show_session(app, *r, out);
        return;
    }
    for (uint64_t seid : t.seids()) {
        const dataplane::SessionRules* r = t.by_seid(seid);
        out.printf("session %-20" PRIu64 " pdrs %-4zu fars %-4zu qers %-4zu urrs %zu\n", seid,
                   r->pdrs.size(), r->fars.size(), r->qers.size(), r->urrs.size());
    }
    out.printf("%zu sessions (max %u), %zu retired snapshots awaiting a grace period\n", t.size(),
               app.config().sessions.max, t.retired());
}

// `show session teid <teid>` / `show session ue <ip>`: the session workers would pick.
void show_session_by(dataplane::App& app, const Args& args, Output& out) {
    const auto& t = app.sessions();
    const dataplane::SessionRules* r = nullptr;
    std::string what;
    if (auto teid = args.get_uint("teid")) {
        r = t.by_teid(static_cast<uint32_t>(*teid));
        what = "uplink TEID " + std::to_string(*teid);
    } else if (auto ue = args.get("ue")) {
        what = "UE address " + std::string(*ue);
        in_addr a4{};
        in6_addr a6{};
        const std::string text(*ue);
        if (inet_pton(AF_INET, text.c_str(), &a4) == 1) {
            r = t.by_ue_ipv4(ntohl(a4.s_addr));
        } else if (inet_pton(AF_INET6, text.c_str(), &a6) == 1) {
            r = t.by_ue_ipv6(a6.s6_addr);
        }
    }
    if (r == nullptr) {
        out.printf("error: no session for %s\n", what.c_str());
        return;
    }
    show_session(app, *r, out);
}

// `show pdr|far|qer|urr <seid> <id>`: one rule of a session, every field.
void show_rule(dataplane::App& app, const Args& args, Output& out) {
    const uint64_t seid = *args.get_uint("seid");
    const auto id = static_cast<uint32_t>(*args.get_uint("id"));
    const dataplane::SessionRules* r = app.sessions().by_seid(seid);
    const SessionSpec* spec = app.sessions().spec(seid);
    if (r == nullptr || spec == nullptr) {
        out.printf("error: no session %" PRIu64 "\n", seid);
        return;
    }
    auto ids = [](const std::vector<uint32_t>& v) {
        std::string s;
        for (uint32_t x : v) {
            s += (s.empty() ? "" : ",") + std::to_string(x);
        }
        return s.empty() ? std::string("-") : s;
    };
    if (args.has("pdr")) {
        for (const auto& p : spec->pdrs) {
            if (p.id != id) {
                continue;
            }
            out.printf("pdr %u of session %" PRIu64 "\n  precedence %u, source interface %s\n",
                       p.id, seid, p.precedence,
                       std::string(dataplane::to_string(p.source)).c_str());
            if (p.local_teid) {
                out.printf("  local F-TEID %u (0x%08x)\n", *p.local_teid, *p.local_teid);
            }
            if (p.ue_ipv4) {
                out.printf("  UE IPv4 %s\n", ipv4_text(*p.ue_ipv4).c_str());
            }
            if (p.ue_ipv6) {
                out.printf("  UE IPv6 %s\n", prefix_text(*p.ue_ipv6).c_str());
            }
            if (p.qfi) {
                out.printf("  QFI %u\n", *p.qfi);
            }
            if (p.access) {
                out.printf("  access %s (source interface type)\n",
                           std::string(dataplane::to_string(*p.access)).c_str());
            }
            if (!p.network_instance.empty()) {
                out.printf("  network instance %s\n", p.network_instance.c_str());
            }
            for (const auto& f : p.sdf_filters) {
                std::string text = f.flow ? dataplane::sdf::to_string(*f.flow) : "any";
                if (f.tos) {
                    text +=
                        " tos " + std::to_string((*f.tos)[0]) + "/" + std::to_string((*f.tos)[1]);
                }
                if (f.spi) {
                    text += " spi " + std::to_string(*f.spi);
                }
                if (f.flow_label) {
                    text += " flow-label " + std::to_string(*f.flow_label);
                }
                out.printf("  sdf filter: %s\n", text.c_str());
            }
            out.printf("  outer header removal %s\n  far %u, qers %s, urrs %s\n",
                       p.remove_outer_header ? "GTP-U/UDP/IPv4" : "none", p.far_id,
                       ids(p.qer_ids).c_str(), ids(p.urr_ids).c_str());
            return;
        }
    } else if (args.has("far")) {
        for (const auto& f : spec->fars) {
            if (f.id != id) {
                continue;
            }
            out.printf("far %u of session %" PRIu64 "\n  apply action:%s%s%s%s%s\n", f.id, seid,
                       f.action.forward ? " FORW" : "", f.action.drop ? " DROP" : "",
                       f.action.buffer ? " BUFF" : "", f.action.notify_cp ? " NOCP" : "",
                       f.action.duplicate ? " DUPL" : "");
            out.printf("  destination interface %s\n",
                       std::string(dataplane::to_string(f.destination)).c_str());
            if (f.outer_header) {
                out.printf("  outer header creation GTP-U/UDP/IPv4: TEID %u (0x%08x) peer %s\n",
                           f.outer_header->teid, f.outer_header->teid,
                           ipv4_text(f.outer_header->peer_ipv4).c_str());
            }
            for (const auto& d : f.duplicates) {
                out.printf("  duplicate to %s: GTP-U/UDP/IPv4 TEID %u (0x%08x) peer %s\n",
                           d.li_function ? "LI function"
                                         : std::string(dataplane::to_string(d.destination)).c_str(),
                           d.outer_header.teid, d.outer_header.teid,
                           ipv4_text(d.outer_header.peer_ipv4).c_str());
            }
            if (f.bar_id) {
                out.printf("  bar %u\n", *f.bar_id);
            }
            if (!f.network_instance.empty()) {
                out.printf("  network instance %s\n", f.network_instance.c_str());
            }
            return;
        }
    } else if (args.has("qer")) {
        for (const auto& q : r->qers) {
            if (q.qer.id != id) {
                continue;
            }
            out.printf("qer %u of session %" PRIu64 "\n  gate ul %s, dl %s\n", q.qer.id, seid,
                       q.qer.gate_ul_open ? "open" : "closed",
                       q.qer.gate_dl_open ? "open" : "closed");
            out.printf("  mbr ul %" PRIu64 " kbit/s%s, dl %" PRIu64 " kbit/s%s\n",
                       q.qer.mbr_ul_kbps, q.limit_ul ? " (policed, srTCM)" : "", q.qer.mbr_dl_kbps,
                       q.limit_dl ? " (policed, srTCM)" : "");
            if (q.qer.qfi) {
                out.printf("  qfi %u (written into downlink PDU Session Containers)\n", *q.qer.qfi);
            }
            return;
        }
    } else if (args.has("urr")) {
        for (const auto& u : r->urrs) {
            if (u.urr.id != id) {
                continue;
            }
            auto now = app.current_usage(seid, id).value_or(dataplane::UsageTotals{});
            out.printf("urr %u of session %" PRIu64 "\n", id, seid);
            out.printf("  volume threshold %" PRIu64 " B, time threshold %u s, period %u s\n",
                       u.urr.volume_threshold_bytes, u.urr.time_threshold_s,
                       u.urr.measurement_period_s);
            out.printf("  since the last report: uplink %" PRIu64 " B in %" PRIu64
                       " packets, downlink %" PRIu64 " B in %" PRIu64 " packets\n",
                       now.bytes_ul, now.packets_ul, now.bytes_dl, now.packets_dl);
            return;
        }
    }
    out.printf("error: session %" PRIu64 " has no %s %u\n", seid, std::string(args.word(1)).c_str(),
               id);
}

void show_gtpu_peers(dataplane::App& app, Output& out) {
    const auto& paths = app.gtpu_paths();
    const auto& cfg = paths.config();
    out.printf("GTP-U paths: echo every %u s, T3-RESPONSE %u ms, N3-REQUESTS %u\n",
               cfg.echo_interval_ms / 1000, cfg.t3_response_ms, cfg.n3_requests);
    out.printf("%-16s %-8s %8s %10s %10s %10s %9s %8s\n", "peer", "state", "sessions", "requests",
               "responses", "timeouts", "failures", "rtt ms");
    for (const auto& [ip, p] : paths.peers()) {
        out.printf("%-16s %-8s %8u %10" PRIu64 " %10" PRIu64 " %10" PRIu64 " %9" PRIu64 " %8s\n",
                   ipv4_text(ip).c_str(), std::string(dataplane::to_string(p.state)).c_str(),
                   p.sessions, p.requests_sent, p.responses, p.timeouts, p.path_failures,
                   p.last_response_ms != 0 ? std::to_string(p.last_rtt_ms).c_str() : "-");
    }
    const auto& st = paths.stats();
    out.printf("%zu peers; echo requests sent %" PRIu64 ", responses %" PRIu64
               ", unexpected responses %" PRIu64 ", timeouts %" PRIu64 "; path failures %" PRIu64
               ", recoveries %" PRIu64 "\n",
               paths.peers().size(), st.requests_sent, st.responses, st.unexpected_responses,
               st.timeouts, st.path_failures, st.path_recoveries);
}

void show_reports(dataplane::App& app, Output& out) {
    for (const auto& rep : app.recent_reports()) {
        if (const auto* u = std::get_if<dataplane::UsageReport>(&rep)) {
            print_report(out, *u);
        } else if (const auto* e = std::get_if<dataplane::ErrorIndicationReport>(&rep)) {
            out.printf("error indication: session %" PRIu64 " teid %u peer %s\n", e->seid, e->teid,
                       ipv4_text(e->peer_ipv4).c_str());
        } else if (const auto* d = std::get_if<dataplane::DownlinkDataReport>(&rep)) {
            out.printf("downlink data: session %" PRIu64 " pdr %u\n", d->seid, d->pdr_id);
        }
    }
    const auto& c = app.session_counters();
    out.printf("sessions created %" PRIu64 " modified %" PRIu64 " deleted %" PRIu64
               " rejected %" PRIu64 "\n",
               c.created, c.modified, c.deleted, c.rejected);
    out.printf("reports: usage %" PRIu64 ", error indication %" PRIu64 " (+%" PRIu64
               " for no session), downlink data %" PRIu64 "; end markers sent %" PRIu64
               "; reports dropped unread %" PRIu64 "\n",
               c.usage_reports, c.error_ind_reports, c.error_ind_unmatched, c.downlink_data_reports,
               c.end_markers_sent, c.reports_dropped);
    const auto& b = app.packet_buffer().stats();
    out.printf("buffer: %zu packets held, buffered %" PRIu64 ", released %" PRIu64
               ", dropped oldest %" PRIu64 ", discarded %" PRIu64 "\n",
               app.packet_buffer().total(), b.buffered, b.released, b.dropped_oldest, b.discarded);
}

}  // namespace

void register_session_commands(cli::Registry& r, CommandContext& ctx) {
    auto& app = ctx.app;
    r.add(
        {"session add <seid:u64> teid <teid:u32> ue <ue:ipv4> gnb <gnb:ipv4> gnb-teid "
         "<gnb_teid:u32>",
         "install a static session: uplink G-PDUs to teid -> N6, downlink to ue -> GTP-U to gnb",
         [&app](const Args& a, Output& o) { session_add(app, a, o); }});
    r.add({"session del <seid:u64>", "remove a session (prints its final usage reports)",
           [&app](const Args& a, Output& o) { session_del(app, a, o); }});
    register_changes(r, app);
    r.add({"show sessions", "sessions with their rule counts",
           [&app](const Args& a, Output& o) { show_sessions(app, a, o); }});
    r.add({"show session <seid:u64>", "one session's rules as workers see them, usage, buffer",
           [&app](const Args& a, Output& o) { show_sessions(app, a, o); }});
    r.add({"show session reports", "the last reports for the SMF, session and buffer counters",
           [&app](const Args&, Output& o) { show_reports(app, o); }});
    r.add({"show session teid <teid:u32>", "the session owning an uplink TEID (as workers match)",
           [&app](const Args& a, Output& o) { show_session_by(app, a, o); }});
    r.add({"show session ue <ue:ip>", "the session owning a UE IPv4 address or IPv6 /64",
           [&app](const Args& a, Output& o) { show_session_by(app, a, o); }});
    r.add({"show pdr|far|qer|urr <seid:u64> <id:u32>", "one rule of a session, every field",
           [&app](const Args& a, Output& o) { show_rule(app, a, o); }});
    r.add({"show gtpu peers", "GTP-U peers sessions tunnel to: echo path state and counters",
           [&app](const Args&, Output& o) { show_gtpu_peers(app, o); }});
}

}  // namespace braid::control
