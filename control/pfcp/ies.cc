#include "control/pfcp/ies.h"

#include <bit>
#include <string>

namespace braid::pfcp {

namespace {

template <typename T>
Unexpected<IeError> bad_length() {
    return Unexpected{IeError::invalid_length(T::type)};
}
template <typename T>
Unexpected<IeError> bad_value() {
    return Unexpected{IeError::invalid_value(T::type)};
}

// Sequential reads over a value whose total length the caller has already checked.
class Reader {
public:
    explicit Reader(std::span<const uint8_t> v) : v_(v) {}
    size_t left() const { return v_.size() - off_; }
    uint8_t u8() { return v_[off_++]; }
    uint16_t u16() { return load_u16(take(2)); }
    uint32_t u24() { return load_u24(take(3)); }
    uint32_t u32() { return load_u32(take(4)); }
    uint64_t u64() { return load_u64(take(8)); }
    template <size_t N>
    std::array<uint8_t, N> bytes() {
        std::array<uint8_t, N> a{};
        const uint8_t* p = take(N);
        for (size_t i = 0; i < N; ++i) {
            a[i] = p[i];
        }
        return a;
    }
    std::string string(size_t n) {
        const uint8_t* p = take(n);
        return std::string(reinterpret_cast<const char*>(p), n);
    }

private:
    const uint8_t* take(size_t n) {
        const uint8_t* p = v_.data() + off_;
        off_ += n;
        return p;
    }
    std::span<const uint8_t> v_;
    size_t off_ = 0;
};

// One-octet enumerations: the low nibble (high nibble spare), valid up to `max`.
template <typename T>
Result<T, IeError> parse_nibble_enum(std::span<const uint8_t> v, uint8_t max) {
    if (v.empty()) {
        return bad_length<T>();
    }
    const uint8_t x = v[0] & 0x0f;
    if (x > max) {
        return bad_value<T>();
    }
    return T{static_cast<typename T::Value>(x)};
}

void put_ipv4(Writer& w, const Ipv4Address& a) {
    w.put_bytes(a);
}
void put_ipv6(Writer& w, const Ipv6Address& a) {
    w.put_bytes(a);
}

constexpr int64_t ntp_unix_offset = 2208988800;  // 1900-01-01 to 1970-01-01
constexpr int64_t ntp_era = int64_t{1} << 32;

bool fqdn_char_ok(uint8_t c) {
    return c > 0x20 && c < 0x7f && c != '.';
}

}  // namespace

// ---- Cause, Offending IE, Recovery Time Stamp --------------------------------------------

Result<CauseIe, IeError> CauseIe::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<CauseIe>();
    }
    if (v[0] == 0) {
        return bad_value<CauseIe>();
    }
    return CauseIe{static_cast<Cause>(v[0])};
}

void CauseIe::encode(Writer& w) const {
    if (value == Cause::reserved) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    const uint8_t b = static_cast<uint8_t>(value);
    w.add(type, std::span(&b, 1));
}

Result<OffendingIe, IeError> OffendingIe::parse(std::span<const uint8_t> v) {
    if (v.size() < 2) {
        return bad_length<OffendingIe>();
    }
    return OffendingIe{static_cast<IeType>(load_u16(v.data()))};
}

void OffendingIe::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u16(static_cast<uint16_t>(value));
    w.end_ie();
}

RecoveryTimeStamp RecoveryTimeStamp::from_unix(int64_t unix_seconds) {
    const int64_t ntp = unix_seconds + ntp_unix_offset;
    return RecoveryTimeStamp{static_cast<uint32_t>(((ntp % ntp_era) + ntp_era) % ntp_era)};
}

int64_t RecoveryTimeStamp::to_unix() const {
    // RFC 4330 §3: MSB clear means era 1 (2036-02-07 .. 2104).
    const int64_t era = (ntp_seconds & 0x80000000u) != 0 ? 0 : ntp_era;
    return era + ntp_seconds - ntp_unix_offset;
}

Result<RecoveryTimeStamp, IeError> RecoveryTimeStamp::parse(std::span<const uint8_t> v) {
    if (v.size() < 4) {
        return bad_length<RecoveryTimeStamp>();
    }
    return RecoveryTimeStamp{load_u32(v.data())};
}

void RecoveryTimeStamp::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u32(ntp_seconds);
    w.end_ie();
}

// ---- Node ID ---------------------------------------------------------------------------------

Result<NodeId, IeError> NodeId::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<NodeId>();
    }
    Reader r(v.subspan(1));
    switch (v[0] & 0x0f) {
        case 0:
            if (r.left() < 4) {
                return bad_length<NodeId>();
            }
            return from_ipv4(r.bytes<4>());
        case 1:
            if (r.left() < 16) {
                return bad_length<NodeId>();
            }
            return from_ipv6(r.bytes<16>());
        case 2:
            break;
        default:
            return bad_value<NodeId>();
    }
    // FQDN: the rest of the value is label-encoded.
    auto labels = v.subspan(1);
    if (labels.empty()) {
        return bad_length<NodeId>();
    }
    std::string name;
    size_t off = 0;
    while (off < labels.size()) {
        const size_t len = labels[off];
        if (len == 0) {
            if (off + 1 != labels.size() || name.empty()) {  // only as a trailing root label
                return bad_value<NodeId>();
            }
            break;
        }
        if (len > 63) {
            return bad_value<NodeId>();
        }
        if (len > labels.size() - off - 1) {
            return bad_length<NodeId>();
        }
        if (!name.empty()) {
            name.push_back('.');
        }
        for (size_t i = 0; i < len; ++i) {
            const uint8_t c = labels[off + 1 + i];
            if (!fqdn_char_ok(c)) {
                return bad_value<NodeId>();
            }
            name.push_back(static_cast<char>(c));
        }
        off += 1 + len;
    }
    return from_fqdn(std::move(name));
}

void NodeId::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>(kind));
    switch (kind) {
        case Kind::ipv4:
            put_ipv4(w, ipv4);
            break;
        case Kind::ipv6:
            put_ipv6(w, ipv6);
            break;
        case Kind::fqdn: {
            if (fqdn.empty() || fqdn.size() > 255) {
                w.fail(WriteError::Code::unencodable_value, type);
            }
            size_t start = 0;
            while (start <= fqdn.size()) {
                size_t dot = fqdn.find('.', start);
                if (dot == std::string::npos) {
                    dot = fqdn.size();
                }
                const std::string_view label(fqdn.data() + start, dot - start);
                bool ok = !label.empty() && label.size() <= 63;
                for (char c : label) {
                    ok = ok && fqdn_char_ok(static_cast<uint8_t>(c));
                }
                if (!ok) {
                    w.fail(WriteError::Code::unencodable_value, type);
                }
                w.put_u8(static_cast<uint8_t>(label.size()));
                w.put_string(label);
                start = dot + 1;
            }
            break;
        }
        default:
            w.fail(WriteError::Code::unencodable_value, type);
    }
    w.end_ie();
}

// ---- F-SEID ---------------------------------------------------------------------------------

Result<FSeid, IeError> FSeid::parse(std::span<const uint8_t> v) {
    if (v.size() < 9) {
        return bad_length<FSeid>();
    }
    const bool v6 = (v[0] & 0x01) != 0;
    const bool v4 = (v[0] & 0x02) != 0;
    if (v.size() < 9 + (v4 ? 4u : 0u) + (v6 ? 16u : 0u)) {
        return bad_length<FSeid>();
    }
    if (!v4 && !v6) {
        return bad_value<FSeid>();
    }
    Reader r(v.subspan(1));
    FSeid out;
    out.seid = Seid(r.u64());
    if (v4) {
        out.ipv4 = r.bytes<4>();
    }
    if (v6) {
        out.ipv6 = r.bytes<16>();
    }
    return out;
}

void FSeid::encode(Writer& w) const {
    if (!ipv4 && !ipv6) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>((ipv6 ? 0x01 : 0) | (ipv4 ? 0x02 : 0)));
    w.put_u64(seid.value());
    if (ipv4) {
        put_ipv4(w, *ipv4);
    }
    if (ipv6) {
        put_ipv6(w, *ipv6);
    }
    w.end_ie();
}

// ---- F-TEID ---------------------------------------------------------------------------------

namespace {
constexpr uint8_t fteid_v4 = 0x01, fteid_v6 = 0x02, fteid_ch = 0x04, fteid_chid = 0x08;
}

Result<FTeid, IeError> FTeid::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<FTeid>();
    }
    const uint8_t flags = v[0];
    const bool v4 = (flags & fteid_v4) != 0;
    const bool v6 = (flags & fteid_v6) != 0;
    FTeid out;
    if (flags & fteid_ch) {
        const bool chid = (flags & fteid_chid) != 0;
        if (v.size() < 1u + (chid ? 1u : 0u)) {
            return bad_length<FTeid>();
        }
        if (!v4 && !v6) {
            return bad_value<FTeid>();
        }
        out.choose = Choose{v4, v6, chid ? std::optional<uint8_t>(v[1]) : std::nullopt};
        return out;
    }
    if (flags & fteid_chid) {  // CHID without CH
        return bad_value<FTeid>();
    }
    if (v.size() < 5 + (v4 ? 4u : 0u) + (v6 ? 16u : 0u)) {
        return bad_length<FTeid>();
    }
    if (!v4 && !v6) {
        return bad_value<FTeid>();
    }
    Reader r(v.subspan(1));
    out.teid = Teid(r.u32());
    if (v4) {
        out.ipv4 = r.bytes<4>();
    }
    if (v6) {
        out.ipv6 = r.bytes<16>();
    }
    return out;
}

void FTeid::encode(Writer& w) const {
    w.begin_ie(type);
    if (choose) {
        if (!choose->v4 && !choose->v6) {
            w.fail(WriteError::Code::unencodable_value, type);
        }
        w.put_u8(static_cast<uint8_t>(fteid_ch | (choose->v4 ? fteid_v4 : 0) |
                                      (choose->v6 ? fteid_v6 : 0) |
                                      (choose->choose_id ? fteid_chid : 0)));
        if (choose->choose_id) {
            w.put_u8(*choose->choose_id);
        }
    } else {
        if (!ipv4 && !ipv6) {
            w.fail(WriteError::Code::unencodable_value, type);
        }
        w.put_u8(static_cast<uint8_t>((ipv4 ? fteid_v4 : 0) | (ipv6 ? fteid_v6 : 0)));
        w.put_u32(teid.value());
        if (ipv4) {
            put_ipv4(w, *ipv4);
        }
        if (ipv6) {
            put_ipv6(w, *ipv6);
        }
    }
    w.end_ie();
}

// ---- UE IP Address --------------------------------------------------------------------------

namespace {
constexpr uint8_t ueip_v6 = 0x01, ueip_v4 = 0x02, ueip_sd = 0x04, ueip_ipv6d = 0x08,
                  ueip_chv4 = 0x10, ueip_chv6 = 0x20, ueip_ip6pl = 0x40;
}

Result<UeIpAddress, IeError> UeIpAddress::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<UeIpAddress>();
    }
    const uint8_t f = v[0];
    const size_t need = 1 + ((f & ueip_v4) ? 4 : 0) + ((f & ueip_v6) ? 16 : 0) +
                        ((f & ueip_ipv6d) ? 1 : 0) + ((f & ueip_ip6pl) ? 1 : 0);
    if (v.size() < need) {
        return bad_length<UeIpAddress>();
    }
    Reader r(v.subspan(1));
    UeIpAddress out;
    if (f & ueip_v4) {
        out.ipv4 = r.bytes<4>();
    }
    if (f & ueip_v6) {
        out.ipv6 = r.bytes<16>();
    }
    if (f & ueip_ipv6d) {
        out.ipv6_prefix_delegation_bits = r.u8();
    }
    if (f & ueip_ip6pl) {
        const uint8_t len = r.u8();
        if (len > 128) {
            return bad_value<UeIpAddress>();
        }
        out.ipv6_prefix_length = len;
    }
    out.destination = (f & ueip_sd) != 0;
    out.choose_v4 = (f & ueip_chv4) != 0;
    out.choose_v6 = (f & ueip_chv6) != 0;
    return out;
}

void UeIpAddress::encode(Writer& w) const {
    if (ipv6_prefix_length && *ipv6_prefix_length > 128) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>(
        (ipv6 ? ueip_v6 : 0) | (ipv4 ? ueip_v4 : 0) | (destination ? ueip_sd : 0) |
        (ipv6_prefix_delegation_bits ? ueip_ipv6d : 0) | (choose_v4 ? ueip_chv4 : 0) |
        (choose_v6 ? ueip_chv6 : 0) | (ipv6_prefix_length ? ueip_ip6pl : 0)));
    if (ipv4) {
        put_ipv4(w, *ipv4);
    }
    if (ipv6) {
        put_ipv6(w, *ipv6);
    }
    if (ipv6_prefix_delegation_bits) {
        w.put_u8(*ipv6_prefix_delegation_bits);
    }
    if (ipv6_prefix_length) {
        w.put_u8(*ipv6_prefix_length);
    }
    w.end_ie();
}

// ---- Feature bitmaps --------------------------------------------------------------------------

std::string_view to_string(UpFeature f) {
    switch (f) {
#define BRAID_X(name, octet, bit, text) \
    case UpFeature::name:               \
        return text;
        BRAID_PFCP_UP_FEATURES(BRAID_X)
#undef BRAID_X
    }
    return "";
}

std::string_view to_string(CpFeature f) {
    switch (f) {
#define BRAID_X(name, octet, bit, text) \
    case CpFeature::name:               \
        return text;
        BRAID_PFCP_CP_FEATURES(BRAID_X)
#undef BRAID_X
    }
    return "";
}

namespace {
template <typename Feature, typename Set>
std::string feature_list(const Set& s) {
    std::string out;
    for (size_t bit = 0; bit < 8 * Set::max_octets; ++bit) {
        if (!s.test(bit)) {
            continue;
        }
        if (!out.empty()) {
            out.push_back(' ');
        }
        std::string_view name =
            bit < 256 ? to_string(static_cast<Feature>(bit)) : std::string_view();
        out += name.empty() ? "bit" + std::to_string(bit) : std::string(name);
    }
    return out;
}
}  // namespace

std::string to_string(const UpFunctionFeatures& s) {
    return feature_list<UpFeature>(s);
}
std::string to_string(const CpFunctionFeatures& s) {
    return feature_list<CpFeature>(s);
}

// ---- Interfaces, Network Instance, SDF Filter -------------------------------------------------

Result<SourceInterface, IeError> SourceInterface::parse(std::span<const uint8_t> v) {
    return parse_nibble_enum<SourceInterface>(v, 4);
}

void SourceInterface::encode(Writer& w) const {
    const uint8_t b = static_cast<uint8_t>(value) & 0x0f;
    w.add(type, std::span(&b, 1));
}

Result<DestinationInterface, IeError> DestinationInterface::parse(std::span<const uint8_t> v) {
    return parse_nibble_enum<DestinationInterface>(v, 5);
}

void DestinationInterface::encode(Writer& w) const {
    const uint8_t b = static_cast<uint8_t>(value) & 0x0f;
    w.add(type, std::span(&b, 1));
}

Result<NetworkInstance, IeError> NetworkInstance::parse(std::span<const uint8_t> v) {
    return NetworkInstance{std::string(reinterpret_cast<const char*>(v.data()), v.size())};
}

void NetworkInstance::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_string(value);
    w.end_ie();
}

namespace {
constexpr uint8_t sdf_fd = 0x01, sdf_ttc = 0x02, sdf_spi = 0x04, sdf_fl = 0x08, sdf_bid = 0x10;
}

Result<SdfFilter, IeError> SdfFilter::parse(std::span<const uint8_t> v) {
    if (v.size() < 2) {
        return bad_length<SdfFilter>();
    }
    const uint8_t f = v[0];
    Reader r(v.subspan(2));  // octet 6 spare
    SdfFilter out;
    if (f & sdf_fd) {
        if (r.left() < 2) {
            return bad_length<SdfFilter>();
        }
        const size_t len = r.u16();
        if (r.left() < len) {
            return bad_length<SdfFilter>();
        }
        out.flow_description = r.string(len);
    }
    const size_t need = ((f & sdf_ttc) ? 2 : 0) + ((f & sdf_spi) ? 4 : 0) + ((f & sdf_fl) ? 3 : 0) +
                        ((f & sdf_bid) ? 4 : 0);
    if (r.left() < need) {
        return bad_length<SdfFilter>();
    }
    if (f & sdf_ttc) {
        out.tos_traffic_class = r.u16();
    }
    if (f & sdf_spi) {
        out.security_parameter_index = r.u32();
    }
    if (f & sdf_fl) {
        out.flow_label = r.u24() & 0x0fffff;
    }
    if (f & sdf_bid) {
        out.sdf_filter_id = r.u32();
    }
    return out;
}

void SdfFilter::encode(Writer& w) const {
    if ((flow_description && flow_description->size() > 0xffff) ||
        (flow_label && *flow_label > 0x0fffff)) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>((flow_description ? sdf_fd : 0) |
                                  (tos_traffic_class ? sdf_ttc : 0) |
                                  (security_parameter_index ? sdf_spi : 0) |
                                  (flow_label ? sdf_fl : 0) | (sdf_filter_id ? sdf_bid : 0)));
    w.put_u8(0);
    if (flow_description) {
        w.put_u16(static_cast<uint16_t>(flow_description->size()));
        w.put_string(*flow_description);
    }
    if (tos_traffic_class) {
        w.put_u16(*tos_traffic_class);
    }
    if (security_parameter_index) {
        w.put_u32(*security_parameter_index);
    }
    if (flow_label) {
        w.put_u24(*flow_label);
    }
    if (sdf_filter_id) {
        w.put_u32(*sdf_filter_id);
    }
    w.end_ie();
}

// ---- Apply Action, Outer Header Creation / Removal ----------------------------------------

namespace {
constexpr uint16_t apply_action_exclusive =
    ApplyAction::drop | ApplyAction::forw | ApplyAction::buff | ApplyAction::ipma |
    ApplyAction::ipmd | ApplyAction::fssm | ApplyAction::mbsu;
bool apply_action_valid(uint16_t f) {
    if (std::popcount(static_cast<unsigned>(f & apply_action_exclusive)) != 1) {
        return false;
    }
    const bool buff = (f & ApplyAction::buff) != 0;
    return buff || (f & (ApplyAction::nocp | ApplyAction::bdpn)) == 0;
}
}  // namespace

Result<ApplyAction, IeError> ApplyAction::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<ApplyAction>();
    }
    // Octet 6 bits 6-8 are spare: not checked, not kept.
    const uint16_t f = static_cast<uint16_t>(v[0] | (v.size() >= 2 ? (v[1] & 0x1f) << 8 : 0));
    if (!apply_action_valid(f)) {
        return bad_value<ApplyAction>();
    }
    return ApplyAction{f};
}

void ApplyAction::encode(Writer& w) const {
    if (!apply_action_valid(flags)) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    const uint8_t b[2] = {static_cast<uint8_t>(flags), static_cast<uint8_t>(flags >> 8)};
    w.add(type, b);
}

Result<OuterHeaderCreation, IeError> OuterHeaderCreation::parse(std::span<const uint8_t> v) {
    if (v.size() < 2) {
        return bad_length<OuterHeaderCreation>();
    }
    OuterHeaderCreation out;
    out.description = load_u16(v.data());
    if ((out.description & 0xff00) == 0) {
        return bad_value<OuterHeaderCreation>();
    }
    const size_t need = 2 + (out.has_teid() ? 4 : 0) + (out.has_ipv4() ? 4 : 0) +
                        (out.has_ipv6() ? 16 : 0) + (out.has_port() ? 2 : 0) +
                        ((out.description & c_tag) ? 3 : 0) + ((out.description & s_tag) ? 3 : 0);
    if (v.size() < need) {
        return bad_length<OuterHeaderCreation>();
    }
    Reader r(v.subspan(2));
    if (out.has_teid()) {
        out.teid = Teid(r.u32());
    }
    if (out.has_ipv4()) {
        out.ipv4_address = r.bytes<4>();
    }
    if (out.has_ipv6()) {
        out.ipv6_address = r.bytes<16>();
    }
    if (out.has_port()) {
        out.port = r.u16();
    }
    if (out.description & c_tag) {
        out.c_tag_value = r.bytes<3>();
    }
    if (out.description & s_tag) {
        out.s_tag_value = r.bytes<3>();
    }
    return out;
}

void OuterHeaderCreation::encode(Writer& w) const {
    if ((description & 0xff00) == 0) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u16(description);
    if (has_teid()) {
        w.put_u32(teid.value());
    }
    if (has_ipv4()) {
        put_ipv4(w, ipv4_address);
    }
    if (has_ipv6()) {
        put_ipv6(w, ipv6_address);
    }
    if (has_port()) {
        w.put_u16(port);
    }
    if (description & c_tag) {
        w.put_bytes(c_tag_value);
    }
    if (description & s_tag) {
        w.put_bytes(s_tag_value);
    }
    w.end_ie();
}

Result<OuterHeaderRemoval, IeError> OuterHeaderRemoval::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<OuterHeaderRemoval>();
    }
    if (v[0] > static_cast<uint8_t>(Description::s_tag_and_c_tag)) {
        return bad_value<OuterHeaderRemoval>();
    }
    OuterHeaderRemoval out;
    out.description = static_cast<Description>(v[0]);
    if (v.size() >= 2) {
        out.gtpu_extension_header_deletion = v[1];
    }
    return out;
}

void OuterHeaderRemoval::encode(Writer& w) const {
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>(description));
    if (gtpu_extension_header_deletion) {
        w.put_u8(*gtpu_extension_header_deletion);
    }
    w.end_ie();
}

// ---- QFI, Gate Status -----------------------------------------------------------------------

Result<Qfi, IeError> Qfi::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<Qfi>();
    }
    return Qfi{static_cast<uint8_t>(v[0] & 0x3f)};
}

void Qfi::encode(Writer& w) const {
    if (value > 0x3f) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    const uint8_t b = value & 0x3f;
    w.add(type, std::span(&b, 1));
}

Result<TgppInterfaceType, IeError> TgppInterfaceType::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<TgppInterfaceType>();
    }
    return TgppInterfaceType{static_cast<uint8_t>(v[0] & 0x3f)};
}

void TgppInterfaceType::encode(Writer& w) const {
    if (value > 0x3f) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    const uint8_t b = value & 0x3f;
    w.add(type, std::span(&b, 1));
}

Result<GateStatus, IeError> GateStatus::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<GateStatus>();
    }
    auto gate = [](unsigned x) { return x == 0 ? Gate::open : Gate::closed; };
    return GateStatus{gate((v[0] >> 2) & 3), gate(v[0] & 3)};
}

void GateStatus::encode(Writer& w) const {
    const uint8_t b =
        static_cast<uint8_t>(static_cast<uint8_t>(uplink) << 2 | static_cast<uint8_t>(downlink));
    w.add(type, std::span(&b, 1));
}

// ---- Measurement Method, Reporting Triggers ---------------------------------------------------

Result<MeasurementMethod, IeError> MeasurementMethod::parse(std::span<const uint8_t> v) {
    if (v.empty()) {
        return bad_length<MeasurementMethod>();
    }
    return MeasurementMethod{static_cast<uint8_t>(v[0] & 0x07)};
}

void MeasurementMethod::encode(Writer& w) const {
    const uint8_t b = flags;
    w.add(type, std::span(&b, 1));
}

Result<ReportingTriggers, IeError> ReportingTriggers::parse(std::span<const uint8_t> v) {
    if (v.size() < 2) {
        return bad_length<ReportingTriggers>();
    }
    uint32_t f = v[0] | static_cast<uint32_t>(v[1]) << 8;
    if (v.size() >= 3) {
        f |= static_cast<uint32_t>(v[2] & 0x03) << 16;
    }
    return ReportingTriggers{f};
}

void ReportingTriggers::encode(Writer& w) const {
    if (flags > 0xffffff) {
        w.fail(WriteError::Code::unencodable_value, type);
    }
    w.begin_ie(type);
    w.put_u8(static_cast<uint8_t>(flags));
    w.put_u8(static_cast<uint8_t>(flags >> 8));
    if (flags >> 16) {
        w.put_u8(static_cast<uint8_t>(flags >> 16));
    }
    w.end_ie();
}

}  // namespace braid::pfcp
