//! Which addresses are not globally reachable, after the IANA IPv4 and IPv6 Special-Purpose Address
//! Registries, and which IPv4 address an IPv6 transition form reaches.
//!
//! IPv4: every block of the IPv4 registry whose "Globally Reachable" is false (or that is deprecated, as
//! the 6to4 relay anycast 192.88.99.0/24 is), plus multicast (224.0.0.0/4). The whole of 192.0.0.0/24
//! is refused, the two anycast addresses the registry marks reachable (PCP 192.0.0.9, TURN 192.0.0.10)
//! included: anycast reaches the *nearest* such server, which may be inside the network.
//!
//! IPv6: an address must be global unicast (2000::/3) outside the registry's blocks that are not
//! globally reachable, or one of the forms below that embeds an allowed IPv4 address. Anything else —
//! 100::/64 discard-only, 5f00::/16 SRv6 SIDs, fc00::/7, fe80::/10, the deprecated site-local
//! fec0::/10, ff00::/8 multicast, and the unassigned rest of the space — is refused. Within
//! 2001::/23 (IETF protocol assignments) only the blocks the registry marks globally reachable pass,
//! except the PCP, TURN and DNS-SD anycast addresses in 2001:1::/48, refused for the reason above.
//!
//! IPv6 forms that carry an IPv4 address are judged by that address, so `[2002:7f00:1::]` is as much
//! loopback as `127.0.0.1`:
//! - IPv4-mapped `::ffff:a.b.c.d` and IPv4-compatible `::a.b.c.d` (deprecated, but still routed to an
//!   IPv4 tunnel by some stacks): the last 32 bits;
//! - NAT64, well-known prefix `64:ff9b::/96` (RFC 6052): the last 32 bits;
//! - NAT64, local-use prefix `64:ff9b:1::/48` (RFC 8215): not globally reachable, so always refused;
//!   the last 32 bits (the `/96` layout, the common one) only name the reason when they are internal,
//!   since an operator may embed the address at other offsets;
//! - 6to4 `2002:a.b.c.d::/48` (RFC 3056): bits 16 to 47;
//! - Teredo `2001:0::/32` (RFC 4380): the client's address, the last 32 bits inverted.

use super::{AddressClass, Ipv4Form};
use ipnet::{Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IPv4 blocks refused, first match wins (so the broadcast address comes before 240.0.0.0/4).
pub(super) const V4_REFUSED: &[(Ipv4Net, AddressClass)] = &[
    (v4(0, 0, 0, 0, 8), AddressClass::Unspecified),
    (v4(10, 0, 0, 0, 8), AddressClass::Private),
    // Shared address space (carrier-grade NAT).
    (v4(100, 64, 0, 0, 10), AddressClass::Private),
    (v4(127, 0, 0, 0, 8), AddressClass::Loopback),
    (v4(169, 254, 0, 0, 16), AddressClass::LinkLocal),
    (v4(172, 16, 0, 0, 12), AddressClass::Private),
    // IETF protocol assignments: DS-Lite, dummy address, PCP and TURN anycast, NAT64 discovery.
    (v4(192, 0, 0, 0, 24), AddressClass::Reserved),
    (v4(192, 0, 2, 0, 24), AddressClass::Documentation),
    // Deprecated 6to4 relay anycast.
    (v4(192, 88, 99, 0, 24), AddressClass::Reserved),
    (v4(192, 168, 0, 0, 16), AddressClass::Private),
    (v4(198, 18, 0, 0, 15), AddressClass::Benchmarking),
    (v4(198, 51, 100, 0, 24), AddressClass::Documentation),
    (v4(203, 0, 113, 0, 24), AddressClass::Documentation),
    (v4(224, 0, 0, 0, 4), AddressClass::Multicast),
    (v4(255, 255, 255, 255, 32), AddressClass::Multicast),
    (v4(240, 0, 0, 0, 4), AddressClass::Reserved),
];

/// IPv6 blocks refused, first match wins. The transition forms are handled before this table.
const V6_REFUSED: &[(Ipv6Net, AddressClass)] = &[
    // Discard-only and the dummy prefix.
    (v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64), AddressClass::Reserved),
    (v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64), AddressClass::Reserved),
    // PCP, TURN and DNS-SD service registration anycast (see the module documentation).
    (
        v6([0x2001, 1, 0, 0, 0, 0, 0, 0], 48),
        AddressClass::Reserved,
    ),
    (
        v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48),
        AddressClass::Benchmarking,
    ),
    (
        v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
        AddressClass::Documentation,
    ),
    (
        v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
        AddressClass::Documentation,
    ),
    // Segment Routing (SRv6) SIDs.
    (
        v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),
        AddressClass::Reserved,
    ),
    (
        v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),
        AddressClass::UniqueLocal,
    ),
    (
        v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressClass::LinkLocal,
    ),
    // Site-local, deprecated but still routed inside some networks.
    (
        v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),
        AddressClass::Reserved,
    ),
    (
        v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),
        AddressClass::Multicast,
    ),
];

/// The blocks of 2001::/23 (IETF protocol assignments) that are globally reachable.
const V6_IETF_REACHABLE: &[Ipv6Net] = &[
    // AMT.
    v6([0x2001, 3, 0, 0, 0, 0, 0, 0], 32),
    // AS112-v6.
    v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48),
    // ORCHIDv2.
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),
    // Drone remote ID entity tags.
    v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28),
];

const IETF_PROTOCOL_ASSIGNMENTS: Ipv6Net = v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23);
const GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);
const IPV4_MAPPED: Ipv6Net = v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96);
const IPV4_COMPATIBLE: Ipv6Net = v6([0, 0, 0, 0, 0, 0, 0, 0], 96);
const NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
const LOCAL_NAT64: Ipv6Net = v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48);
const SIX_TO_FOUR: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);
const TEREDO: Ipv6Net = v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32);

/// The class of a refused IPv4 address; `None` when it is globally reachable.
pub(super) fn v4_class(ip: Ipv4Addr) -> Option<AddressClass> {
    V4_REFUSED
        .iter()
        .find(|(net, _)| net.contains(&ip))
        .map(|&(_, class)| class)
}

/// The IPv4 address an IPv6 address carries, and in which form; `None` for other addresses.
pub(super) fn embedded_v4(ip: Ipv6Addr) -> Option<(Ipv4Form, Ipv4Addr)> {
    let bits = u128::from(ip);
    // Truncation intended: each form keeps the IPv4 address in a known 32-bit field.
    #[allow(clippy::cast_possible_truncation)]
    let field = |shift: u32| Ipv4Addr::from((bits >> shift) as u32);
    if IPV4_MAPPED.contains(&ip) {
        Some((Ipv4Form::Mapped, field(0)))
    } else if IPV4_COMPATIBLE.contains(&ip) && bits > 1 {
        // `::` and `::1` are the unspecified and loopback addresses, not IPv4-compatible ones.
        Some((Ipv4Form::Compatible, field(0)))
    } else if NAT64.contains(&ip) {
        Some((Ipv4Form::Nat64, field(0)))
    } else if LOCAL_NAT64.contains(&ip) {
        Some((Ipv4Form::LocalNat64, field(0)))
    } else if SIX_TO_FOUR.contains(&ip) {
        Some((Ipv4Form::SixToFour, field(80)))
    } else if TEREDO.contains(&ip) {
        Some((Ipv4Form::Teredo, !field(0)))
    } else {
        None
    }
}

/// The class of a refused IPv6 address that carries no IPv4 address; `None` when it is allowed.
pub(super) fn v6_class(ip: Ipv6Addr) -> Option<AddressClass> {
    if ip.is_unspecified() {
        return Some(AddressClass::Unspecified);
    }
    if ip.is_loopback() {
        return Some(AddressClass::Loopback);
    }
    if let Some(&(_, class)) = V6_REFUSED.iter().find(|(net, _)| net.contains(&ip)) {
        return Some(class);
    }
    if IETF_PROTOCOL_ASSIGNMENTS.contains(&ip) {
        return (!V6_IETF_REACHABLE.iter().any(|net| net.contains(&ip)))
            .then_some(AddressClass::Reserved);
    }
    (!GLOBAL_UNICAST.contains(&ip)).then_some(AddressClass::Reserved)
}
