//! The SSRF guard's rules: which network addresses a webhook may never be sent to, and the operator's
//! allowlist of exceptions. Pure: resolving names happens in the adapters, which apply these rules both
//! when a subscription is made and when each connection is opened.
//!
//! An address is refused when it is not globally reachable: the blocks of the IANA special-purpose
//! registries and the rest listed in the `special` module's documentation. IPv6 forms that carry an IPv4 address
//! (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged by the IPv4 address they reach.
//! Allowlist entries are parsed and matched with `ipnet`; they exempt the address as resolved (an
//! allowlisted `127.0.0.0/8` does not exempt `::ffff:127.0.0.1`).

mod special;

use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr};

/// What kind of address a refused one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressClass {
    /// 127.0.0.0/8, ::1.
    #[error("a loopback address")]
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (shared address space).
    #[error("a private address")]
    Private,
    /// 169.254/16, fe80::/10 (cloud metadata services live here).
    #[error("a link-local address")]
    LinkLocal,
    /// fc00::/7.
    #[error("a unique-local address")]
    UniqueLocal,
    /// 224/4, ff00::/8, 255.255.255.255.
    #[error("a multicast or broadcast address")]
    Multicast,
    /// 0.0.0.0/8, ::.
    #[error("an unspecified address")]
    Unspecified,
    /// 192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32, 3fff::/20.
    #[error("a documentation address")]
    Documentation,
    /// 198.18/15, 2001:2::/48.
    #[error("a benchmarking address")]
    Benchmarking,
    /// Any other address that is not globally reachable: 240/4, 192.0.0/24, 192.88.99/24, 100::/64,
    /// 64:ff9b:1::/48, 5f00::/16, fec0::/10, most of 2001::/23, everything outside 2000::/3.
    #[error("a special-purpose address that is not globally reachable")]
    Reserved,
}

/// An IPv6 form that carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Form {
    /// `::ffff:0:0/96`.
    Mapped,
    /// `::/96` (deprecated).
    Compatible,
    /// NAT64 with the well-known prefix `64:ff9b::/96`.
    Nat64,
    /// NAT64 with the local-use prefix `64:ff9b:1::/48`.
    LocalNat64,
    /// 6to4, `2002::/16`.
    SixToFour,
    /// Teredo, `2001::/32` (the client's address, inverted).
    Teredo,
}

impl std::fmt::Display for Ipv4Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Mapped => "IPv4-mapped",
            Self::Compatible => "IPv4-compatible",
            Self::Nat64 => "NAT64",
            Self::LocalNat64 => "local-use NAT64",
            Self::SixToFour => "6to4",
            Self::Teredo => "Teredo",
        })
    }
}

/// The IPv4 address an IPv6 address reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddedIpv4 {
    /// How it is carried.
    pub form: Ipv4Form,
    /// The IPv4 address.
    pub address: Ipv4Addr,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForbiddenAddress {
    /// What it is (for an IPv6 form carrying an IPv4 address: what that IPv4 address is).
    pub class: AddressClass,
    /// The IPv4 address it carries, when that is why it is refused.
    pub embedded: Option<EmbeddedIpv4>,
}

impl ForbiddenAddress {
    fn direct(class: AddressClass) -> Self {
        Self {
            class,
            embedded: None,
        }
    }
}

impl std::fmt::Display for ForbiddenAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.embedded {
            Some(EmbeddedIpv4 { form, address }) => {
                write!(f, "a {form} address of {address}, {}", self.class)
            }
            None => write!(f, "{}", self.class),
        }
    }
}

impl std::error::Error for ForbiddenAddress {}

/// Why `ip` is refused, before the allowlist; `None` when it is globally reachable.
fn classify(ip: IpAddr) -> Option<ForbiddenAddress> {
    match ip {
        IpAddr::V4(v4) => special::v4_class(v4).map(ForbiddenAddress::direct),
        IpAddr::V6(v6) => match special::embedded_v4(v6) {
            Some((form, address)) => match special::v4_class(address) {
                Some(class) => Some(ForbiddenAddress {
                    class,
                    embedded: Some(EmbeddedIpv4 { form, address }),
                }),
                // Not globally reachable whatever it carries (see `special`).
                None if form == Ipv4Form::LocalNat64 => {
                    Some(ForbiddenAddress::direct(AddressClass::Reserved))
                }
                None => None,
            },
            None => special::v6_class(v6).map(ForbiddenAddress::direct),
        },
    }
}

/// Why an allowlist entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CIDR (127.0.0.0/8, fd00::/8), an address or a host name")]
pub struct AllowEntryError(pub String);

/// One exemption: a network, or an exact host name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowEntry {
    Network(IpNet),
    Host(String),
}

impl AllowEntry {
    fn parse(text: &str) -> Result<Self, AllowEntryError> {
        let text = text.trim();
        let bad = || AllowEntryError(text.to_owned());
        if text.contains('/') {
            return text.parse().map(Self::Network).map_err(|_| bad());
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(Self::Network(IpNet::from(ip)));
        }
        let host = text.to_ascii_lowercase();
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(bad());
        }
        Ok(Self::Host(host))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match self {
            Self::Network(net) => net.contains(&ip),
            Self::Host(_) => false,
        }
    }
}

/// Where webhooks may go: every globally reachable address, plus the operator's allowlist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationPolicy {
    allow: Vec<AllowEntry>,
}

impl DestinationPolicy {
    /// A policy exempting the listed CIDRs, addresses and host names (`ABSYNC_ALLOW_DESTINATIONS`).
    ///
    /// # Errors
    /// [`AllowEntryError`] naming the first bad entry.
    pub fn with_allowlist<S: AsRef<str>>(entries: &[S]) -> Result<Self, AllowEntryError> {
        let allow = entries
            .iter()
            .map(AsRef::as_ref)
            .filter(|e| !e.trim().is_empty())
            .map(AllowEntry::parse)
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    /// True when the host name itself is on the allowlist (its addresses are then not checked).
    #[must_use]
    pub fn allows_host(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allow
            .iter()
            .any(|e| matches!(e, AllowEntry::Host(h) if *h == host))
    }

    /// Checks one address a destination resolves to.
    ///
    /// # Errors
    /// [`ForbiddenAddress`] when it is not globally reachable and not allowlisted.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ForbiddenAddress> {
        match classify(ip) {
            Some(_) if self.allow.iter().any(|e| e.contains(ip)) => Ok(()),
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
