// Typed leaf IEs (TS 29.244 §8.2; spec/n4-gtpu-mams.md §1.9, §1.10).
//
// Each type T has:
//   static constexpr IeType type;
//   static Result<T, IeError> parse(std::span<const uint8_t> value);  // value octets only
//   void encode(Writer& w) const;                                       // the whole TLV
//   bool operator==(const T&) const;                                   // parse(encode(x)) == x
//
// Reading rules (§8.1.1, §1.4): a value shorter than its fixed fields or than its flags demand
// is IeError invalid_length; a field with a value the spec does not define is invalid_value;
// trailing octets beyond what is understood are ignored (IEs are extendable); spare bits are
// neither checked nor kept. parse_ie<T>(view) also checks the view's type.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "control/pfcp/ie.h"
#include "control/pfcp/result.h"
#include "control/pfcp/types.h"

namespace braid::pfcp {

using Ipv4Address = std::array<uint8_t, 4>;   // network byte order
using Ipv6Address = std::array<uint8_t, 16>;  // network byte order

template <typename T>
Result<T, IeError> parse_ie(const IeView& ie) {
    if (ie.type() != T::type) {
        return Unexpected{IeError::invalid_value(ie.type())};
    }
    return T::parse(ie.value());
}

// ---- single integers (table-driven: one template, one alias per IE) -----------------------

template <IeType T, typename Rep>
struct UintIe {
    static constexpr IeType type = T;
    Rep value = 0;

    static Result<UintIe, IeError> parse(std::span<const uint8_t> v) {
        if (v.size() < sizeof(Rep)) {
            return Unexpected{IeError::invalid_length(T)};
        }
        uint64_t x = 0;
        for (size_t i = 0; i < sizeof(Rep); ++i) {
            x = x << 8 | v[i];
        }
        return UintIe{static_cast<Rep>(x)};
    }
    void encode(Writer& w) const {
        w.begin_ie(T);
        for (size_t i = sizeof(Rep); i-- > 0;) {
            w.put_u8(static_cast<uint8_t>(static_cast<uint64_t>(value) >> (8 * i)));
        }
        w.end_ie();
    }
    bool operator==(const UintIe&) const = default;
};

using Precedence = UintIe<IeType::precedence, uint32_t>;  // lower value = higher precedence
using PdrId = UintIe<IeType::pdr_id, uint16_t>;
using FarId = UintIe<IeType::far_id, uint32_t>;
using QerId = UintIe<IeType::qer_id, uint32_t>;
using UrrId = UintIe<IeType::urr_id, uint32_t>;
using TimeThreshold = UintIe<IeType::time_threshold, uint32_t>;          // seconds
using MeasurementPeriod = UintIe<IeType::measurement_period, uint32_t>;  // seconds

// FAR/QER/URR ID: bit 8 of octet 5 set = a rule predefined in the UP function.
inline constexpr uint32_t predefined_rule_bit = 0x80000000u;
template <IeType T>
constexpr bool is_predefined(const UintIe<T, uint32_t>& id) {
    return (id.value & predefined_rule_bit) != 0;
}

// ---- Cause, Offending IE, Recovery Time Stamp ---------------------------------------------

struct CauseIe {
    static constexpr IeType type = IeType::cause;
    Cause value = Cause::request_accepted;  // 0 is rejected (reserved)

    static Result<CauseIe, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const CauseIe&) const = default;
};

struct OffendingIe {
    static constexpr IeType type = IeType::offending_ie;
    IeType value{};

    static Result<OffendingIe, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const OffendingIe&) const = default;
};

// NTP seconds (RFC 5905): era 0 from 1900-01-01, era 1 from 2036-02-07 (MSB clear => era 1).
struct RecoveryTimeStamp {
    static constexpr IeType type = IeType::recovery_time_stamp;
    uint32_t ntp_seconds = 0;

    static RecoveryTimeStamp from_unix(int64_t unix_seconds);
    int64_t to_unix() const;

    static Result<RecoveryTimeStamp, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const RecoveryTimeStamp&) const = default;
};

// ---- Node ID, F-SEID, F-TEID, UE IP Address -----------------------------------------------

struct NodeId {
    static constexpr IeType type = IeType::node_id;
    enum class Kind : uint8_t { ipv4 = 0, ipv6 = 1, fqdn = 2 };

    Kind kind = Kind::ipv4;
    Ipv4Address ipv4{};  // kind == ipv4
    Ipv6Address ipv6{};  // kind == ipv6
    std::string fqdn;    // kind == fqdn: dotted ("upf.example.org"), no trailing dot

    static NodeId from_ipv4(Ipv4Address a) { return {Kind::ipv4, a, {}, {}}; }
    static NodeId from_ipv6(Ipv6Address a) { return {Kind::ipv6, {}, a, {}}; }
    static NodeId from_fqdn(std::string name) { return {Kind::fqdn, {}, {}, std::move(name)}; }

    // FQDN: DNS label encoding (RFC 1035 §3.1) without the root label; a received trailing
    // zero octet is tolerated. Labels are 1-63 printable ASCII octets other than '.'.
    static Result<NodeId, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;  // an FQDN that cannot be label-encoded fails the Writer
    bool operator==(const NodeId&) const = default;
};

struct FSeid {
    static constexpr IeType type = IeType::f_seid;
    Seid seid;
    std::optional<Ipv4Address> ipv4;  // flag V4 (0x02)
    std::optional<Ipv6Address> ipv6;  // flag V6 (0x01); at least one address is required

    static Result<FSeid, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const FSeid&) const = default;
};

struct FTeid {
    static constexpr IeType type = IeType::f_teid;
    // CH=1 (only the CP sets it): the UP allocates; V4/V6 name the families wanted; PDRs of
    // one request with the same CHOOSE ID share the F-TEID.
    struct Choose {
        bool v4 = false;
        bool v6 = false;
        std::optional<uint8_t> choose_id;  // CHID
        bool operator==(const Choose&) const = default;
    };

    std::optional<Choose> choose;     // set: no TEID or addresses follow
    Teid teid;                        // CH=0
    std::optional<Ipv4Address> ipv4;  // CH=0, flag V4 (0x01)
    std::optional<Ipv6Address> ipv6;  // CH=0, flag V6 (0x02)

    static Result<FTeid, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const FTeid&) const = default;
};

struct UeIpAddress {
    static constexpr IeType type = IeType::ue_ip_address;
    std::optional<Ipv4Address> ipv4;                     // V4 (0x02)
    std::optional<Ipv6Address> ipv6;                     // V6 (0x01)
    bool destination = false;                            // S/D (0x04): 1 = destination
    std::optional<uint8_t> ipv6_prefix_delegation_bits;  // IPv6D (0x08)
    bool choose_v4 = false;                              // CHV4 (0x10)
    bool choose_v6 = false;                              // CHV6 (0x20)
    std::optional<uint8_t> ipv6_prefix_length;           // IP6PL (0x40)

    static Result<UeIpAddress, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const UeIpAddress&) const = default;
};

// ---- Feature bitmaps (§1.9) ----------------------------------------------------------------

// X(name, octet, bit, "spec name"): spec octet 5.. and bit 1 (LSB) .. 8; one octet per
// line pair, as in the §1.9 table. (R16/R17 call TSN "TSCU".)
// clang-format off
#define BRAID_PFCP_UP_FEATURES(X)                                                                 \
    X(bucp, 5, 1, "BUCP") X(ddnd, 5, 2, "DDND") X(dlbd, 5, 3, "DLBD") X(trst, 5, 4, "TRST")       \
    X(ftup, 5, 5, "FTUP") X(pfdm, 5, 6, "PFDM") X(heeu, 5, 7, "HEEU") X(treu, 5, 8, "TREU")       \
    X(empu, 6, 1, "EMPU") X(pdiu, 6, 2, "PDIU") X(udbc, 6, 3, "UDBC") X(quoac, 6, 4, "QUOAC")     \
    X(trace, 6, 5, "TRACE") X(frrt, 6, 6, "FRRT") X(pfde, 6, 7, "PFDE") X(epfar, 6, 8, "EPFAR")   \
    X(dpdra, 7, 1, "DPDRA") X(adpdp, 7, 2, "ADPDP") X(ueip, 7, 3, "UEIP") X(sset, 7, 4, "SSET")   \
    X(mnop, 7, 5, "MNOP") X(mte, 7, 6, "MTE") X(bundl, 7, 7, "BUNDL") X(gcom, 7, 8, "GCOM")       \
    X(mpas, 8, 1, "MPAS") X(rttl, 8, 2, "RTTL") X(vtime, 8, 3, "VTIME") X(norp, 8, 4, "NORP")     \
    X(iptv, 8, 5, "IPTV") X(ip6pl, 8, 6, "IP6PL") X(tsn, 8, 7, "TSN") X(mptcp, 8, 8, "MPTCP")     \
    X(atsss_ll, 9, 1, "ATSSS-LL") X(qfqm, 9, 2, "QFQM") X(gpqm, 9, 3, "GPQM")                     \
    X(mt_edt, 9, 4, "MT-EDT") X(ciot, 9, 5, "CIOT") X(ethar, 9, 6, "ETHAR")                       \
    X(ddds, 9, 7, "DDDS") X(rds, 9, 8, "RDS")                                                     \
    X(rttwp, 10, 1, "RTTWP") X(quasf, 10, 2, "QUASF") X(nspoc, 10, 3, "NSPOC")                    \
    X(l2tp, 10, 4, "L2TP") X(upber, 10, 5, "UPBER") X(resps, 10, 6, "RESPS")                      \
    X(iprep, 10, 7, "IPREP") X(dnsts, 10, 8, "DNSTS")                                             \
    X(drqos, 11, 1, "DRQOS") X(mbsn4, 11, 2, "MBSN4") X(psuprm, 11, 3, "PSUPRM")                  \
    X(epppi, 11, 4, "EPPPI") X(ratp, 11, 5, "RATP") X(upidp, 11, 6, "UPIDP")                      \
    X(afsfc, 11, 7, "AFSFC") X(mpquic_udp, 11, 8, "MPQUIC-UDP")                                   \
    X(redsm, 12, 1, "REDSM") X(dbdm, 12, 2, "DBDM") X(tscts, 12, 3, "TSCTS")                      \
    X(drtsc, 12, 4, "DRTSC") X(n6jedb, 12, 5, "N6JEDB") X(qmcon, 12, 6, "QMCON")                  \
    X(detnet, 12, 7, "DETNET") X(eml4s, 12, 8, "EML4S")                                           \
    X(pdusm, 13, 1, "PDUSM") X(cn_tl, 13, 2, "CN-TL") X(qmdrm, 13, 3, "QMDRM")                    \
    X(edbnc, 13, 4, "EDBNC") X(mt_sdt, 13, 5, "MT-SDT") X(upsbies, 13, 6, "UPSBIES")              \
    X(umn6ip, 13, 7, "UMN6IP") X(un6tu, 13, 8, "UN6TU")                                           \
    X(mbsch, 14, 1, "MBSCH") X(un6dm, 14, 2, "UN6DM") X(natpub, 14, 3, "NATPUB")                  \
    X(ushph, 14, 4, "USHPH") X(mpquic_ip, 14, 5, "MPQUIC-IP") X(mpquic_e, 14, 6, "MPQUIC-E")      \
    X(dyntr, 14, 7, "DYNTR") X(muxmf, 14, 8, "MUXMF")                                             \
    X(conudp, 15, 1, "CONUDP") X(moq, 15, 2, "MOQ") X(ulm, 15, 3, "ULM")                          \
    X(psitlm, 15, 4, "PSITLM") X(udpopt, 15, 5, "UDPOPT") X(qmabr, 15, 6, "QMABR")                \
    X(papfd, 15, 7, "PAPFD")

#define BRAID_PFCP_CP_FEATURES(X)                                                                 \
    X(load, 5, 1, "LOAD") X(ovrl, 5, 2, "OVRL") X(epfar, 5, 3, "EPFAR") X(sset, 5, 4, "SSET")     \
    X(bundl, 5, 5, "BUNDL") X(mpas, 5, 6, "MPAS") X(ardr, 5, 7, "ARDR") X(uiaur, 5, 8, "UIAUR")   \
    X(psucc, 6, 1, "PSUCC") X(rpgur, 6, 2, "RPGUR") X(papfd, 6, 3, "PAPFD")
// clang-format on

// Enumerator value = bit index in the value: (octet - 5) * 8 + (bit - 1).
enum class UpFeature : uint8_t {
#define BRAID_X(name, octet, bit, text) name = (octet - 5) * 8 + (bit - 1),
    BRAID_PFCP_UP_FEATURES(BRAID_X)
#undef BRAID_X
};
enum class CpFeature : uint8_t {
#define BRAID_X(name, octet, bit, text) name = (octet - 5) * 8 + (bit - 1),
    BRAID_PFCP_CP_FEATURES(BRAID_X)
#undef BRAID_X
};

std::string_view to_string(UpFeature f);
std::string_view to_string(CpFeature f);

// A variable-length octet bitmap of named features. Keeps every received bit of the first
// max_octets octets (unknown ones too); encodes max(min_octets, octets received, octets needed)
// octets, so a decoded value re-encodes byte for byte.
template <typename Feature, IeType T, size_t MinOctets>
class FeatureSet {
public:
    static constexpr IeType type = T;
    static constexpr size_t min_octets = MinOctets;
    static constexpr size_t max_octets = 16;

    FeatureSet() = default;
    FeatureSet(std::initializer_list<Feature> fs) {
        for (Feature f : fs) {
            set(f);
        }
    }

    bool has(Feature f) const { return test(static_cast<size_t>(f)); }
    void set(Feature f, bool on = true) { set_bit(static_cast<size_t>(f), on); }
    bool test(size_t bit) const {
        return bit < 8 * max_octets && (bits_[bit / 8] >> (bit % 8)) & 1;
    }
    void set_bit(size_t bit, bool on) {
        if (bit >= 8 * max_octets) {
            return;
        }
        const auto mask = static_cast<uint8_t>(1u << (bit % 8));
        bits_[bit / 8] = on ? bits_[bit / 8] | mask : bits_[bit / 8] & ~mask;
    }
    // Octets encode() writes.
    size_t octets() const {
        size_t n = received_octets_ > min_octets ? received_octets_ : min_octets;
        for (size_t i = max_octets; i > n; --i) {
            if (bits_[i - 1] != 0) {
                return i;
            }
        }
        return n;
    }
    std::span<const uint8_t> raw() const { return std::span(bits_).first(octets()); }

    static Result<FeatureSet, IeError> parse(std::span<const uint8_t> v) {
        if (v.size() < min_octets) {
            return Unexpected{IeError::invalid_length(T)};
        }
        FeatureSet s;
        const size_t n = v.size() < max_octets ? v.size() : max_octets;
        for (size_t i = 0; i < n; ++i) {
            s.bits_[i] = v[i];
        }
        s.received_octets_ = static_cast<uint8_t>(n);
        return s;
    }
    void encode(Writer& w) const { w.add(T, raw()); }
    // Equal when the same features are set (the encoded length may differ).
    bool operator==(const FeatureSet& o) const { return bits_ == o.bits_; }

private:
    std::array<uint8_t, max_octets> bits_{};
    uint8_t received_octets_ = 0;
};

using UpFunctionFeatures = FeatureSet<UpFeature, IeType::up_function_features, 2>;
using CpFunctionFeatures = FeatureSet<CpFeature, IeType::cp_function_features, 1>;

std::string to_string(const UpFunctionFeatures& s);  // "FTUP EMPU ..."; unknown bits as "bit37"
std::string to_string(const CpFunctionFeatures& s);

// ---- PDI / FAR members -----------------------------------------------------------------------

struct SourceInterface {
    static constexpr IeType type = IeType::source_interface;
    enum class Value : uint8_t {
        access = 0,
        core = 1,
        sgi_lan_n6_lan = 2,
        cp_function = 3,
        vn_internal_5g = 4
    };
    Value value = Value::access;

    static Result<SourceInterface, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const SourceInterface&) const = default;
};

struct DestinationInterface {
    static constexpr IeType type = IeType::destination_interface;
    enum class Value : uint8_t {
        access = 0,
        core = 1,
        sgi_lan_n6_lan = 2,
        cp_function = 3,
        li_function = 4,
        vn_internal_5g = 5
    };
    Value value = Value::access;

    static Result<DestinationInterface, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const DestinationInterface&) const = default;
};

// Octet string: a label-encoded DNN/APN or an operator-defined string; compared as bytes.
struct NetworkInstance {
    static constexpr IeType type = IeType::network_instance;
    std::string value;

    static Result<NetworkInstance, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const NetworkInstance&) const = default;
};

struct SdfFilter {
    static constexpr IeType type = IeType::sdf_filter;
    std::optional<std::string> flow_description;       // FD: IPFilterRule text (TS 29.212 §5.4.2)
    std::optional<uint16_t> tos_traffic_class;         // TTC: value << 8 | mask
    std::optional<uint32_t> security_parameter_index;  // SPI
    std::optional<uint32_t> flow_label;                // FL: 20 bits
    std::optional<uint32_t> sdf_filter_id;             // BID
    // SMMII ((S)RTP media, R18) and later fields are not decoded.

    static Result<SdfFilter, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const SdfFilter&) const = default;
};

struct ApplyAction {
    static constexpr IeType type = IeType::apply_action;
    // Octet 5 in bits 0-7, octet 6 (R16+) in bits 8-15.
    static constexpr uint16_t drop = 0x0001, forw = 0x0002, buff = 0x0004, nocp = 0x0008,
                              dupl = 0x0010, ipma = 0x0020, ipmd = 0x0040, dfrt = 0x0080,
                              edrt = 0x0100, bdpn = 0x0200, ddpn = 0x0400, fssm = 0x0800,
                              mbsu = 0x1000;
    uint16_t flags = 0;

    bool has(uint16_t f) const { return (flags & f) != 0; }
    // Exactly one of DROP/FORW/BUFF/IPMA/IPMD/FSSM/MBSU; NOCP and BDPN only with BUFF.
    static Result<ApplyAction, IeError> parse(std::span<const uint8_t> v);  // 1 or 2+ octets
    void encode(Writer& w) const;                                           // 2 octets
    bool operator==(const ApplyAction&) const = default;
};

struct OuterHeaderCreation {
    static constexpr IeType type = IeType::outer_header_creation;
    // Description, octets 5-6 read as uint16.
    static constexpr uint16_t gtpu_udp_ipv4 = 0x0100, gtpu_udp_ipv6 = 0x0200, udp_ipv4 = 0x0400,
                              udp_ipv6 = 0x0800, ipv4 = 0x1000, ipv6 = 0x2000, c_tag = 0x4000,
                              s_tag = 0x8000, n19_indication = 0x0001, n6_indication = 0x0002,
                              low_layer_ssm_c_teid = 0x0004;
    uint16_t description = 0;
    // Present as the description says (zero otherwise):
    Teid teid;                             // GTP-U
    Ipv4Address ipv4_address{};            // *_ipv4 / ipv4
    Ipv6Address ipv6_address{};            // *_ipv6 / ipv6
    uint16_t port = 0;                     // udp_*
    std::array<uint8_t, 3> c_tag_value{};  // c_tag
    std::array<uint8_t, 3> s_tag_value{};  // s_tag

    bool has_teid() const { return (description & (gtpu_udp_ipv4 | gtpu_udp_ipv6)) != 0; }
    bool has_ipv4() const { return (description & (gtpu_udp_ipv4 | udp_ipv4 | ipv4)) != 0; }
    bool has_ipv6() const { return (description & (gtpu_udp_ipv6 | udp_ipv6 | ipv6)) != 0; }
    bool has_port() const { return (description & (udp_ipv4 | udp_ipv6)) != 0; }

    // At least one header type (0xff00) must be set.
    static Result<OuterHeaderCreation, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const OuterHeaderCreation&) const = default;
};

struct OuterHeaderRemoval {
    static constexpr IeType type = IeType::outer_header_removal;
    enum class Description : uint8_t {
        gtpu_udp_ipv4 = 0,
        gtpu_udp_ipv6 = 1,
        udp_ipv4 = 2,
        udp_ipv6 = 3,
        ipv4 = 4,
        ipv6 = 5,
        gtpu_udp_ip = 6,
        vlan_s_tag = 7,
        s_tag_and_c_tag = 8
    };
    static constexpr uint8_t delete_pdu_session_container = 0x01;
    Description description = Description::gtpu_udp_ipv4;
    std::optional<uint8_t> gtpu_extension_header_deletion;  // octet 6

    static Result<OuterHeaderRemoval, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const OuterHeaderRemoval&) const = default;
};

// ---- QER members ------------------------------------------------------------------------------

// 3GPP Interface Type (160, §8.2.118): the interface a PDI's packets arrive on (Source
// Interface Type) or a FAR's leave by (Destination Interface Type). Octet 5, low six bits; the
// values braid acts on are the N3 accesses of an MA PDU session (ATSSS, TS 23.501 §5.32).
struct TgppInterfaceType {
    static constexpr IeType type = IeType::tgpp_interface_type;
    static constexpr uint8_t n3_3gpp_access = 11, n3_trusted_non_3gpp_access = 12,
                             n3_untrusted_non_3gpp_access = 13;
    uint8_t value = 0;  // 0-63

    static Result<TgppInterfaceType, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const TgppInterfaceType&) const = default;
};

struct Qfi {
    static constexpr IeType type = IeType::qfi;
    uint8_t value = 0;  // 0-63

    static Result<Qfi, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const Qfi&) const = default;
};

struct GateStatus {
    static constexpr IeType type = IeType::gate_status;
    enum class Gate : uint8_t { open = 0, closed = 1 };  // 2-3 are read as closed
    Gate uplink = Gate::open;
    Gate downlink = Gate::open;

    static Result<GateStatus, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const GateStatus&) const = default;
};

// MBR / GBR: uplink then downlink, 5 octets each, kbit/s.
template <IeType T>
struct BitRate {
    static constexpr IeType type = T;
    static constexpr uint64_t max_kbps = (uint64_t{1} << 40) - 1;
    uint64_t uplink_kbps = 0;
    uint64_t downlink_kbps = 0;

    static Result<BitRate, IeError> parse(std::span<const uint8_t> v) {
        if (v.size() < 10) {
            return Unexpected{IeError::invalid_length(T)};
        }
        return BitRate{load_u40(v.data()), load_u40(v.data() + 5)};
    }
    void encode(Writer& w) const {
        if (uplink_kbps > max_kbps || downlink_kbps > max_kbps) {
            w.fail(WriteError::Code::unencodable_value, T);
        }
        w.begin_ie(T);
        w.put_u40(uplink_kbps);
        w.put_u40(downlink_kbps);
        w.end_ie();
    }
    bool operator==(const BitRate&) const = default;
};

using Mbr = BitRate<IeType::mbr>;
using Gbr = BitRate<IeType::gbr>;

// ---- URR members ------------------------------------------------------------------------------

// Volume Threshold (31); the same layout serves Subsequent Volume Threshold (34) and Volume
// Quota (73).
template <IeType T>
struct Volume {
    static constexpr IeType type = T;
    std::optional<uint64_t> total;     // TOVOL (0x01), octets
    std::optional<uint64_t> uplink;    // ULVOL (0x02)
    std::optional<uint64_t> downlink;  // DLVOL (0x04)

    static Result<Volume, IeError> parse(std::span<const uint8_t> v) {
        if (v.empty()) {
            return Unexpected{IeError::invalid_length(T)};
        }
        const uint8_t flags = v[0];
        const size_t need = 1 + 8 * (((flags & 1) != 0) + ((flags & 2) != 0) + ((flags & 4) != 0));
        if (v.size() < need) {
            return Unexpected{IeError::invalid_length(T)};
        }
        Volume out;
        const uint8_t* p = v.data() + 1;
        for (int bit = 0; bit < 3; ++bit) {
            if (flags & (1u << bit)) {
                (bit == 0 ? out.total : bit == 1 ? out.uplink : out.downlink) = load_u64(p);
                p += 8;
            }
        }
        return out;
    }
    void encode(Writer& w) const {
        w.begin_ie(T);
        w.put_u8(static_cast<uint8_t>((total ? 1 : 0) | (uplink ? 2 : 0) | (downlink ? 4 : 0)));
        for (const auto& f : {total, uplink, downlink}) {
            if (f) {
                w.put_u64(*f);
            }
        }
        w.end_ie();
    }
    bool operator==(const Volume&) const = default;
};

using VolumeThreshold = Volume<IeType::volume_threshold>;

struct MeasurementMethod {
    static constexpr IeType type = IeType::measurement_method;
    static constexpr uint8_t durat = 0x01, volum = 0x02, event = 0x04;
    uint8_t flags = 0;

    static Result<MeasurementMethod, IeError> parse(std::span<const uint8_t> v);
    void encode(Writer& w) const;
    bool operator==(const MeasurementMethod&) const = default;
};

struct ReportingTriggers {
    static constexpr IeType type = IeType::reporting_triggers;
    // Octet 5 in bits 0-7, octet 6 in 8-15, octet 7 in 16-23.
    static constexpr uint32_t perio = 0x000001, volth = 0x000002, timth = 0x000004,
                              quhti = 0x000008, start = 0x000010, stopt = 0x000020,
                              droth = 0x000040, liusa = 0x000080, volqu = 0x000100,
                              timqu = 0x000200, envcl = 0x000400, macar = 0x000800,
                              eveth = 0x001000, evequ = 0x002000, ipmjl = 0x004000,
                              quvti = 0x008000, reemr = 0x010000, upint = 0x020000;
    uint32_t flags = 0;

    static Result<ReportingTriggers, IeError> parse(std::span<const uint8_t> v);  // >= 2 octets
    void encode(Writer& w) const;  // 2 octets, 3 when octet 7 has a bit set
    bool operator==(const ReportingTriggers&) const = default;
};

}  // namespace braid::pfcp
