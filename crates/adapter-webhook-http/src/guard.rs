//! The SSRF guard at the network edge: names are resolved here, through a [`NameResolver`], and every
//! address is checked against the domain's [`DestinationPolicy`] — when a subscription is made
//! ([`DnsGuard`]) and again for every connection the sender opens ([`GuardedResolver`]), so a DNS
//! answer that changes later (rebinding) cannot reach an internal address. Address literals in URLs,
//! which skip resolution, are checked by [`check_literal`].
//!
//! A name that does not exist makes a subscription's destination invalid; a resolver that cannot
//! answer now (or not within [`LOOKUP_TIMEOUT`]) makes it *unchecked*, which the caller may retry. At
//! connect time both are connection failures (the delivery is retried on the cascade), while a
//! forbidden address is a refusal ([`ForbiddenDestination`]).

#[cfg(test)]
mod tests;

use crate::resolver::{LookupError, NameResolver, SystemResolver};
use absync_application::ports::{DestinationCheckError, DestinationGuard};
use absync_domain::{DestinationPolicy, DestinationUrl};
use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long a name may take to resolve before the resolver counts as unavailable.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection refused by the guard (found in a send error's source chain).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ForbiddenDestination(pub String);

/// Why a host name gave no address that may be used.
#[derive(Debug, thiserror::Error)]
enum CheckFailure {
    /// It resolves to a forbidden address.
    #[error(transparent)]
    Forbidden(#[from] ForbiddenDestination),
    /// It could not be resolved.
    #[error("{host} cannot be resolved: {source}")]
    Lookup {
        host: String,
        #[source]
        source: LookupError,
    },
}

impl From<CheckFailure> for DestinationCheckError {
    fn from(failure: CheckFailure) -> Self {
        match failure {
            CheckFailure::Lookup {
                source: LookupError::Unavailable(_),
                ..
            } => Self::Unavailable(failure.to_string()),
            CheckFailure::Forbidden(_) | CheckFailure::Lookup { .. } => {
                Self::Refused(failure.to_string())
            }
        }
    }
}

/// Resolves `host` within `timeout` and checks every address; allowlisted host names are not checked.
async fn resolve_checked(
    resolver: &dyn NameResolver,
    timeout: Duration,
    policy: &DestinationPolicy,
    host: &str,
) -> Result<Vec<IpAddr>, CheckFailure> {
    let failed = |source| CheckFailure::Lookup {
        host: host.to_owned(),
        source,
    };
    let addrs = tokio::time::timeout(timeout, resolver.lookup(host))
        .await
        .map_err(|_| {
            failed(LookupError::Unavailable(format!(
                "no answer within {}s",
                timeout.as_secs_f32()
            )))
        })?
        .map_err(failed)?;
    if addrs.is_empty() {
        return Err(failed(LookupError::NoSuchName("no address".into())));
    }
    if !policy.allows_host(host) {
        for ip in &addrs {
            policy.check_ip(*ip).map_err(|reason| {
                ForbiddenDestination(format!("{host} resolves to {ip}, {reason}"))
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
    resolver: Arc<dyn NameResolver>,
    lookup_timeout: Duration,
}

impl DnsGuard {
    /// A guard applying `policy`, resolving names with the system's resolver.
    #[must_use]
    pub fn new(policy: DestinationPolicy) -> Self {
        Self::with_resolver(policy, Arc::new(SystemResolver))
    }

    /// A guard applying `policy`, resolving names with `resolver`.
    #[must_use]
    pub fn with_resolver(policy: DestinationPolicy, resolver: Arc<dyn NameResolver>) -> Self {
        Self {
            policy,
            resolver,
            lookup_timeout: LOOKUP_TIMEOUT,
        }
    }
}

#[async_trait]
impl DestinationGuard for DnsGuard {
    // The use case logs the outcome at the level of its cause (a refused destination is the caller's
    // to fix: INFO; a resolver that cannot answer: WARN), so the span records no error of its own.
    #[tracing::instrument(name = "ssrf.check_destination", skip_all)]
    async fn check(&self, url: &DestinationUrl) -> Result<(), DestinationCheckError> {
        let refused = DestinationCheckError::Refused;
        let url = reqwest::Url::parse(url.as_str()).map_err(|e| refused(e.to_string()))?;
        check_literal(&self.policy, &url).map_err(|e| refused(e.0))?;
        if literal(&url).is_some() {
            return Ok(());
        }
        let host = url
            .host_str()
            .ok_or_else(|| refused("names no host".into()))?;
        resolve_checked(&*self.resolver, self.lookup_timeout, &self.policy, host).await?;
        Ok(())
    }
}

/// The connection-time check: reqwest resolves every host name through it.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: Arc<DestinationPolicy>,
    resolver: Arc<dyn NameResolver>,
}

impl GuardedResolver {
    pub(crate) fn new(policy: Arc<DestinationPolicy>, resolver: Arc<dyn NameResolver>) -> Self {
        Self { policy, resolver }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let addrs = resolve_checked(&*resolver, LOOKUP_TIMEOUT, &policy, name.as_str())
                .await
                .map_err(|failure| -> Box<dyn std::error::Error + Send + Sync> {
                    match failure {
                        CheckFailure::Forbidden(forbidden) => Box::new(forbidden),
                        lookup @ CheckFailure::Lookup { .. } => Box::new(lookup),
                    }
                })?;
            let addrs: Addrs = Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}
