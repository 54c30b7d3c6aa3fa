//! The SSRF guard's rules: which network addresses a webhook may never be sent to, and the operator's
//! allowlist of exceptions. Pure: resolving names happens in the adapters, which apply these rules both
//! when a subscription is made and when each connection is opened.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenAddress {
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
}

fn v4_class(ip: Ipv4Addr) -> Option<ForbiddenAddress> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some(ForbiddenAddress::Loopback)
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        Some(ForbiddenAddress::Private)
    } else if ip.is_link_local() {
        Some(ForbiddenAddress::LinkLocal)
    } else if ip.is_multicast() || ip.is_broadcast() {
        Some(ForbiddenAddress::Multicast)
    } else if a == 0 {
        Some(ForbiddenAddress::Unspecified)
    } else {
        None
    }
}

fn v6_class(ip: Ipv6Addr) -> Option<ForbiddenAddress> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return v4_class(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip.is_loopback() {
        Some(ForbiddenAddress::Loopback)
    } else if ip.is_unspecified() {
        Some(ForbiddenAddress::Unspecified)
    } else if segments[0] & 0xffc0 == 0xfe80 {
        Some(ForbiddenAddress::LinkLocal)
    } else if segments[0] & 0xfe00 == 0xfc00 {
        Some(ForbiddenAddress::UniqueLocal)
    } else if ip.is_multicast() {
        Some(ForbiddenAddress::Multicast)
    } else {
        None
    }
}

/// Why an allowlist entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a CIDR (127.0.0.0/8, fd00::/8), an address or a host name")]
pub struct AllowEntryError(pub String);

/// One exemption: a network, or an exact host name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowEntry {
    Network { base: IpAddr, prefix: u8 },
    Host(String),
}

impl AllowEntry {
    fn parse(text: &str) -> Result<Self, AllowEntryError> {
        let text = text.trim();
        let bad = || AllowEntryError(text.to_owned());
        if let Some((base, prefix)) = text.split_once('/') {
            let base: IpAddr = base.parse().map_err(|_| bad())?;
            let prefix: u8 = prefix.parse().map_err(|_| bad())?;
            let max = if base.is_ipv4() { 32 } else { 128 };
            if prefix > max {
                return Err(bad());
            }
            return Ok(Self::Network { base, prefix });
        }
        if let Ok(ip) = text.parse::<IpAddr>() {
            let prefix = if ip.is_ipv4() { 32 } else { 128 };
            return Ok(Self::Network { base: ip, prefix });
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
        let Self::Network { base, prefix } = self else {
            return false;
        };
        match (base, ip) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                u32::from(*base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                u128::from(*base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// Where webhooks may go: every public address, plus the operator's allowlist.
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
    /// [`ForbiddenAddress`] when it is internal and not allowlisted.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), ForbiddenAddress> {
        let class = match ip {
            IpAddr::V4(v4) => v4_class(v4),
            IpAddr::V6(v6) => v6_class(v6),
        };
        match class {
            Some(_) if self.allow.iter().any(|e| e.contains(ip)) => Ok(()),
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &DestinationPolicy, ip: &str) -> Result<(), ForbiddenAddress> {
        policy.check_ip(ip.parse().unwrap())
    }

    #[test]
    fn internal_addresses_are_refused() {
        let p = DestinationPolicy::default();
        assert_eq!(check(&p, "127.0.0.1"), Err(ForbiddenAddress::Loopback));
        assert_eq!(check(&p, "::1"), Err(ForbiddenAddress::Loopback));
        assert_eq!(check(&p, "10.0.0.1"), Err(ForbiddenAddress::Private));
        assert_eq!(check(&p, "172.31.255.255"), Err(ForbiddenAddress::Private));
        assert_eq!(check(&p, "192.168.1.1"), Err(ForbiddenAddress::Private));
        assert_eq!(check(&p, "100.64.0.1"), Err(ForbiddenAddress::Private));
        assert_eq!(
            check(&p, "169.254.169.254"),
            Err(ForbiddenAddress::LinkLocal)
        );
        assert_eq!(check(&p, "fe80::1"), Err(ForbiddenAddress::LinkLocal));
        assert_eq!(check(&p, "fd12::1"), Err(ForbiddenAddress::UniqueLocal));
        assert_eq!(check(&p, "224.0.0.1"), Err(ForbiddenAddress::Multicast));
        assert_eq!(check(&p, "ff02::1"), Err(ForbiddenAddress::Multicast));
        assert_eq!(
            check(&p, "255.255.255.255"),
            Err(ForbiddenAddress::Multicast)
        );
        assert_eq!(check(&p, "0.0.0.0"), Err(ForbiddenAddress::Unspecified));
        assert_eq!(check(&p, "::"), Err(ForbiddenAddress::Unspecified));
    }

    #[test]
    fn mapped_and_translated_forms_are_refused_too() {
        let p = DestinationPolicy::default();
        assert_eq!(check(&p, "::ffff:10.0.0.1"), Err(ForbiddenAddress::Private));
        assert_eq!(
            check(&p, "::ffff:127.0.0.1"),
            Err(ForbiddenAddress::Loopback)
        );
        assert_eq!(
            check(&p, "64:ff9b::a9fe:a9fe"),
            Err(ForbiddenAddress::LinkLocal)
        );
        assert_eq!(check(&p, "::ffff:8.8.8.8"), Ok(()));
    }

    #[test]
    fn public_addresses_pass() {
        let p = DestinationPolicy::default();
        for ip in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2001:4860:4860::8888",
        ] {
            assert_eq!(check(&p, ip), Ok(()), "{ip}");
        }
    }

    #[test]
    fn the_allowlist_exempts_networks_and_hosts() {
        let p = DestinationPolicy::with_allowlist(&[
            "127.0.0.0/8",
            "fd00::/8",
            "hooks.internal",
            "10.1.2.3",
        ])
        .unwrap();
        assert_eq!(check(&p, "127.9.9.9"), Ok(()));
        assert_eq!(
            check(&p, "::ffff:127.0.0.1"),
            Err(ForbiddenAddress::Loopback)
        );
        assert_eq!(check(&p, "fd12::1"), Ok(()));
        assert_eq!(check(&p, "10.1.2.3"), Ok(()));
        assert_eq!(check(&p, "10.1.2.4"), Err(ForbiddenAddress::Private));
        assert!(p.allows_host("HOOKS.internal."));
        assert!(!p.allows_host("other.internal"));
        assert!(DestinationPolicy::with_allowlist(&["10.0.0.0/33"]).is_err());
        assert!(DestinationPolicy::with_allowlist(&["not a host!"]).is_err());
        assert!(
            DestinationPolicy::with_allowlist(&["0.0.0.0/0"])
                .unwrap()
                .check_ip("10.0.0.1".parse().unwrap())
                .is_ok()
        );
    }
}
