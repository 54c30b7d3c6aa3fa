//! The SSRF guard at the network edge: names are resolved here and every address is checked against the
//! domain's [`DestinationPolicy`] — when a subscription is made ([`DnsGuard`]) and again for every
//! connection the sender opens ([`GuardedResolver`]), so a DNS answer that changes later (rebinding)
//! cannot reach an internal address. Address literals in URLs, which skip resolution, are checked by
//! [`check_literal`].

use absync_application::ports::{DestinationGuard, DestinationRefused};
use absync_domain::{DestinationPolicy, DestinationUrl};
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A connection refused by the guard (found in a send error's source chain).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForbiddenDestination(pub String);

/// Resolves `host` and checks every address; allowlisted host names are not checked.
async fn resolve_checked(
    policy: &DestinationPolicy,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ForbiddenDestination> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ForbiddenDestination(format!("{host} does not resolve: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(ForbiddenDestination(format!("{host} does not resolve")));
    }
    if !policy.allows_host(host) {
        for addr in &addrs {
            policy.check_ip(addr.ip()).map_err(|reason| {
                ForbiddenDestination(format!("{host} resolves to {}, {reason}", addr.ip()))
            })?;
        }
    }
    Ok(addrs)
}

/// The host of a URL as an address, when it is an address literal (`http://[::1]/`, `http://10.0.0.1/`).
fn literal(url: &reqwest::Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Checks a URL whose host is an address literal; names pass here (the resolver checks them).
///
/// # Errors
/// [`ForbiddenDestination`] for an internal address that is not allowlisted.
pub fn check_literal(
    policy: &DestinationPolicy,
    url: &reqwest::Url,
) -> Result<(), ForbiddenDestination> {
    match literal(url) {
        Some(ip) => policy
            .check_ip(ip)
            .map_err(|reason| ForbiddenDestination(format!("{ip} is {reason}"))),
        None => Ok(()),
    }
}

/// The subscription-time check: the application's [`DestinationGuard`].
#[derive(Debug, Clone)]
pub struct DnsGuard {
    policy: DestinationPolicy,
}

impl DnsGuard {
    /// A guard applying `policy`.
    #[must_use]
    pub fn new(policy: DestinationPolicy) -> Self {
        Self { policy }
    }
}

#[async_trait]
impl DestinationGuard for DnsGuard {
    // A refused destination is the caller's to fix, never a fault of absync: INFO, not ERROR.
    #[tracing::instrument(
        name = "ssrf.check_destination",
        skip_all,
        err(level = "info", Display)
    )]
    async fn check(&self, url: &DestinationUrl) -> Result<(), DestinationRefused> {
        let url =
            reqwest::Url::parse(url.as_str()).map_err(|e| DestinationRefused(e.to_string()))?;
        check_literal(&self.policy, &url).map_err(|e| DestinationRefused(e.0))?;
        if literal(&url).is_some() {
            return Ok(());
        }
        let host = url
            .host_str()
            .ok_or_else(|| DestinationRefused("names no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(443);
        resolve_checked(&self.policy, host, port)
            .await
            .map(drop)
            .map_err(|e| DestinationRefused(e.0))
    }
}

/// The connection-time check: reqwest resolves every host name through it.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: Arc<DestinationPolicy>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: Arc<DestinationPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs = resolve_checked(&policy, name.as_str(), 0).await?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> DestinationUrl {
        DestinationUrl::parse(text, true).unwrap()
    }

    #[tokio::test]
    async fn internal_literals_and_names_are_refused_unless_allowlisted() {
        let strict = DnsGuard::new(DestinationPolicy::default());
        for target in [
            "http://127.0.0.1/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::ffff:10.0.0.1]/",
            "http://localhost:8080/",
        ] {
            let err = strict.check(&url(target)).await.unwrap_err();
            assert!(!err.0.is_empty(), "{target}");
        }
        let lenient =
            DnsGuard::new(DestinationPolicy::with_allowlist(&["127.0.0.0/8", "::1/128"]).unwrap());
        assert!(lenient.check(&url("http://127.0.0.1:9/")).await.is_ok());
        assert!(lenient.check(&url("http://localhost:9/")).await.is_ok());
        assert!(
            lenient
                .check(&url("http://[::ffff:10.0.0.1]/"))
                .await
                .is_err()
        );
        let err = lenient
            .check(&url("https://does-not-exist.invalid/"))
            .await
            .unwrap_err();
        assert!(err.0.contains("does not resolve"), "{}", err.0);
    }
}
