// Static sessions (YAML `sessions.static`, CLI `session add`) as session specs for the App's
// session action functions — the path PFCP uses too.
#pragma once

#include <string>

#include "control/config.h"
#include "dataplane/app.h"
#include "dataplane/session.h"

namespace braid::control {

// PDR 1 uplink (Local F-TEID, outer header removal, uplink filters) → FAR 1 to the core;
// PDR 2 downlink to the UE IPv4 address, PDR 3 to the UE IPv6 /64 (downlink filters) → FAR 2,
// GTP-U to the gNB; QER 1 (QFI, MBR) and URR 1 (triggers) on every PDR.
dataplane::SessionSpec session_spec(const config::StaticSession& s);

// Installs every configured static session. On the first refusal: false and `err` names the
// session and the reason (nothing else of that session is installed).
bool install_static_sessions(dataplane::App& app, const config::Config& cfg, std::string* err);

}  // namespace braid::control
