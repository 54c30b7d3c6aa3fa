//! Name resolution for the SSRF guard, behind the [`NameResolver`] trait so that the guard can tell a
//! name that does not exist (bad input: the subscription is refused) from a resolver that cannot answer
//! now (an outage: the caller is told to retry), and so that tests answer without querying any DNS.
//!
//! [`SystemResolver`] is the default: the operating system's `getaddrinfo`, as `tokio::net::lookup_host`
//! used before, so `/etc/hosts`, `nsswitch.conf` and `resolv.conf` apply exactly as for every other
//! program on the host (`localhost` included). It is called through the `dns-lookup` crate, because
//! std and tokio turn getaddrinfo's error code into an `io::Error` whose only trace of `EAI_NONAME`
//! versus `EAI_AGAIN` is the message text, while `dns-lookup` returns it as a typed
//! `LookupErrorKind` (and keeps the unsafe FFI out of this crate, which forbids `unsafe`). A full DNS
//! client such as `hickory-resolver` would type the answers too, but would replace the host's resolver
//! configuration with its own reading of it and pull in a DNS stack; `dns-lookup` adds one small crate
//! over `libc` and `socket2`, both already in the build.
//!
//! getaddrinfo's codes map as follows: `EAI_NONAME` (NXDOMAIN, or a name unknown to every source) and
//! `EAI_NODATA` (the name has no address) are [`LookupError::NoSuchName`]; `EAI_AGAIN` (a timeout, a
//! SERVFAIL, no reachable name server), `EAI_FAIL` and every other failure are
//! [`LookupError::Unavailable`]: when in doubt, the caller retries rather than being told its URL is
//! wrong.

use async_trait::async_trait;
use dns_lookup::LookupErrorKind;
use std::net::IpAddr;

/// Why a name gave no address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The name does not exist, or has no address: the destination is wrong.
    #[error("no such name ({0})")]
    NoSuchName(String),
    /// The resolver cannot answer now (a timeout, a server failure, no resolver configured): the same
    /// lookup may succeed later.
    #[error("the resolver does not answer now ({0})")]
    Unavailable(String),
}

/// Resolves host names to addresses. The SSRF guard checks whatever it answers, at subscription time
/// and before every connection.
#[async_trait]
pub trait NameResolver: Send + Sync + std::fmt::Debug {
    /// Every address `host` resolves to (an empty list counts as no such name).
    ///
    /// # Errors
    /// [`LookupError`]: no such name, or no answer now.
    async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupError>;
}

/// The operating system's resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl NameResolver for SystemResolver {
    async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
        let name = host.to_owned();
        tokio::task::spawn_blocking(move || {
            dns_lookup::lookup_host(&name).map(Iterator::collect::<Vec<_>>)
        })
        .await
        .map_err(|e| LookupError::Unavailable(format!("the lookup did not finish: {e}")))?
        .map_err(|e| classify(&e))
    }
}

/// Sorts a getaddrinfo failure into "no such name" and "try again".
fn classify(err: &dns_lookup::LookupError) -> LookupError {
    let detail = err.to_string();
    match err.kind() {
        LookupErrorKind::NoName | LookupErrorKind::NoData => LookupError::NoSuchName(detail),
        _ => LookupError::Unavailable(detail),
    }
}

/// Resolvers that answer from a table, for tests: nothing leaves the process.
#[cfg(test)]
pub(crate) mod testing {
    use super::{LookupError, NameResolver};
    use async_trait::async_trait;
    use std::collections::HashMap;
    use std::net::IpAddr;

    /// What [`TableResolver`] answers for one name.
    #[derive(Debug, Clone)]
    pub(crate) enum Answer {
        /// These addresses.
        Addresses(Vec<IpAddr>),
        /// NXDOMAIN.
        NoSuchName,
        /// A resolver that gave up (a timeout, a SERVFAIL).
        Unavailable,
        /// A resolver that never answers.
        Hang,
    }

    /// Answers each name from its table; a name not in it does not exist.
    #[derive(Debug, Default)]
    pub(crate) struct TableResolver(HashMap<String, Answer>);

    impl TableResolver {
        /// Adds `name`'s answer.
        pub(crate) fn with(mut self, name: &str, answer: Answer) -> Self {
            self.0.insert(name.to_owned(), answer);
            self
        }

        /// Adds `name` resolving to `addresses` (address literals).
        pub(crate) fn resolving(self, name: &str, addresses: &[&str]) -> Self {
            let addresses = addresses.iter().map(|a| a.parse().unwrap()).collect();
            self.with(name, Answer::Addresses(addresses))
        }
    }

    #[async_trait]
    impl NameResolver for TableResolver {
        async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, LookupError> {
            match self.0.get(host) {
                Some(Answer::Addresses(addresses)) => Ok(addresses.clone()),
                Some(Answer::NoSuchName) | None => Err(LookupError::NoSuchName(format!(
                    "{host}: Name or service not known"
                ))),
                Some(Answer::Unavailable) => Err(LookupError::Unavailable(
                    "Temporary failure in name resolution".into(),
                )),
                Some(Answer::Hang) => std::future::pending().await,
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn getaddrinfo_codes_split_into_no_such_name_and_try_again() {
        for (code, no_such_name) in [
            (libc::EAI_NONAME, true),
            (libc::EAI_NODATA, true),
            (libc::EAI_AGAIN, false),
            (libc::EAI_FAIL, false),
            (libc::EAI_SYSTEM, false),
            (libc::EAI_MEMORY, false),
            (-12_345, false),
        ] {
            let got = classify(&dns_lookup::LookupError::new(code));
            assert_eq!(
                matches!(got, LookupError::NoSuchName(_)),
                no_such_name,
                "{code}: {got}"
            );
            let (LookupError::NoSuchName(detail) | LookupError::Unavailable(detail)) = got;
            assert!(!detail.is_empty(), "{code}");
        }
    }

    /// `localhost` comes from the host's own tables (`/etc/hosts`), never from a name server.
    #[tokio::test]
    async fn the_system_resolver_answers_localhost_with_loopback_addresses() {
        let addresses = SystemResolver.lookup("localhost").await.unwrap();
        assert!(!addresses.is_empty());
        assert!(addresses.iter().all(IpAddr::is_loopback), "{addresses:?}");
    }
}
