//! Subscriptions: who receives which events, in which format, where.

use crate::event::{LeaveEvent, LeaveEventRecord};
use crate::leave::LeaveState;
use crate::limits::{self, check_length};

/// The payload format a subscriber receives (what the APIs and the stores call its *collection*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadFormat {
    /// Timmi Absences leave v1: one POST per leave and event.
    Leaves,
    /// Protime absence v1: one delta item per leave event.
    Absences,
}

impl PayloadFormat {
    /// The format's name, as the APIs' collection fields and the stores spell it (`leaves`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Leaves => "leaves",
            Self::Absences => "absences",
        }
    }

    /// True when a subscription in this format is disabled once a delivery has exhausted its retries:
    /// Protime's lifecycle (`absences`). Timmi subscriptions (`leaves`) stay enabled; their failures go
    /// to the pending-tasks dashboard.
    #[must_use]
    pub fn disabled_when_retries_exhausted(self) -> bool {
        matches!(self, Self::Absences)
    }

    /// Parses [`PayloadFormat::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "leaves" => Some(Self::Leaves),
            "absences" => Some(Self::Absences),
            _ => None,
        }
    }
}

/// Which events a subscriber wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFilter {
    /// created, approved and deleted.
    All,
    /// approved, and deleted of leaves that had been approved *(ours)*.
    ValidatedOnly,
}

impl EventFilter {
    /// `all` or `validated_only`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::ValidatedOnly => "validated_only",
        }
    }

    /// Parses [`EventFilter::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Self::All),
            "validated_only" => Some(Self::ValidatedOnly),
            _ => None,
        }
    }

    /// True when a subscriber with this filter is to be told about `record`.
    #[must_use]
    pub fn accepts(self, record: &LeaveEventRecord) -> bool {
        match self {
            Self::All => true,
            Self::ValidatedOnly => match record.event {
                LeaveEvent::Approved => true,
                LeaveEvent::Created => false,
                LeaveEvent::Deleted => record.previous_state == Some(LeaveState::Approved),
            },
        }
    }
}

/// Whether a subscription receives new deliveries, and whether they are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionStatus {
    /// Receives deliveries.
    Enabled,
    /// Receives nothing new.
    Disabled,
    /// Its deliveries are queued and not sent until it is resumed *(ours)*.
    Paused,
}

impl SubscriptionStatus {
    /// `Enabled`, `Disabled` or `Paused`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "Enabled",
            Self::Disabled => "Disabled",
            Self::Paused => "Paused",
        }
    }

    /// Parses [`SubscriptionStatus::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "Enabled" => Some(Self::Enabled),
            "Disabled" => Some(Self::Disabled),
            "Paused" => Some(Self::Paused),
            _ => None,
        }
    }
}

/// The most deliveries a subscription is sent per second, summed over every instance *(ours)*: from 1
/// to [`MaxPerSecond::LIMIT`]. After a quiet spell, [`MaxPerSecond::burst`] may go at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaxPerSecond(u32);

/// A rate out of range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be from 1 to {} deliveries per second", MaxPerSecond::LIMIT)]
pub struct MaxPerSecondError;

impl MaxPerSecond {
    /// The highest rate that can be set.
    pub const LIMIT: u32 = 10_000;

    /// A rate of `per_second` deliveries a second.
    ///
    /// # Errors
    /// [`MaxPerSecondError`] when it is 0 or above [`MaxPerSecond::LIMIT`].
    pub fn new(per_second: u32) -> Result<Self, MaxPerSecondError> {
        if (1..=Self::LIMIT).contains(&per_second) {
            Ok(Self(per_second))
        } else {
            Err(MaxPerSecondError)
        }
    }

    /// The rate, per second.
    #[must_use]
    pub fn get(self) -> u32 {
        self.0
    }

    /// How many deliveries may go at once after a quiet spell: half a second's worth, at least one
    /// (the token bucket's size). Over any span of `t` seconds, at most `burst + t × rate` go; half a
    /// second keeps that below `(t + 1) × rate` with room for the jitter of the network.
    #[must_use]
    pub fn burst(self) -> f64 {
        (f64::from(self.0) / 2.0).max(1.0)
    }
}

/// Why a destination URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationUrlError {
    /// Not an absolute URL.
    #[error("must be an absolute URL: {0}")]
    NotAbsolute(String),
    /// A scheme other than https (or http where allowed).
    #[error("scheme must be https (or http where the operator allows it), not {0}")]
    Scheme(String),
    /// The URL carries a user name or password.
    #[error("must not carry a user name or password")]
    UserInfo,
    /// The URL has no host.
    #[error("must name a host")]
    NoHost,
    /// Longer than [`limits::DESTINATION_URL`] characters, as given or once normalised.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
}

/// Where deliveries are POSTed: an absolute `https` (or allowed `http`) URL without userinfo, of at
/// most [`limits::DESTINATION_URL`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationUrl(String);

impl DestinationUrl {
    /// Parses a destination; `allow_http` permits plain `http`.
    ///
    /// # Errors
    /// [`DestinationUrlError`] naming what is wrong.
    pub fn parse(text: &str, allow_http: bool) -> Result<Self, DestinationUrlError> {
        let too_long = |e: limits::TooLong| DestinationUrlError::TooLong { max: e.max };
        check_length(text, limits::DESTINATION_URL).map_err(too_long)?;
        let url =
            url::Url::parse(text).map_err(|e| DestinationUrlError::NotAbsolute(e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if allow_http => {}
            other => return Err(DestinationUrlError::Scheme(other.to_owned())),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(DestinationUrlError::UserInfo);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(DestinationUrlError::NoHost);
        }
        // Normalising percent-encodes what needs it, which may lengthen the URL that is stored.
        check_length(url.as_str(), limits::DESTINATION_URL).map_err(too_long)?;
        Ok(Self(url.into()))
    }

    /// Wraps a URL read back from the store, where it was checked on the way in.
    #[must_use]
    pub fn from_trusted(text: String) -> Self {
        Self(text)
    }

    /// The URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The URL as telemetry may show it (OpenTelemetry's `url.full`): a user name and password
    /// (never accepted, but a stored URL is not checked again) and the values of the query
    /// parameters that conventionally carry signatures or keys read `REDACTED`.
    #[must_use]
    pub fn redacted(&self) -> String {
        const SECRET_PARAMETERS: [&str; 4] =
            ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];
        let Ok(mut url) = url::Url::parse(&self.0) else {
            return "REDACTED".to_owned();
        };
        if !url.username().is_empty() || url.password().is_some() {
            let _ = url.set_username("REDACTED");
            let _ = url.set_password(Some("REDACTED"));
        }
        if url
            .query_pairs()
            .any(|(name, _)| SECRET_PARAMETERS.contains(&name.as_ref()))
        {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .map(|(name, value)| {
                    let value = if SECRET_PARAMETERS.contains(&name.as_ref()) {
                        "REDACTED".to_owned()
                    } else {
                        value.into_owned()
                    };
                    (name.into_owned(), value)
                })
                .collect();
            url.query_pairs_mut().clear().extend_pairs(pairs);
        }
        url.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_bounded_and_burst_half_a_second() {
        assert!(MaxPerSecond::new(0).is_err());
        assert!(MaxPerSecond::new(MaxPerSecond::LIMIT + 1).is_err());
        let burst = |n| MaxPerSecond::new(n).unwrap().burst();
        assert!((burst(20) - 10.0).abs() < f64::EPSILON);
        assert!(
            (burst(1) - 1.0).abs() < f64::EPSILON,
            "at least one token's room"
        );
        assert!((burst(3) - 1.5).abs() < f64::EPSILON);
    }

    #[test]
    fn telemetry_sees_destinations_without_credentials() {
        let shown = |url: &str| DestinationUrl::from_trusted(url.to_owned()).redacted();
        assert_eq!(
            shown("https://example.com/hook?a=1"),
            "https://example.com/hook?a=1"
        );
        assert_eq!(
            shown("https://user:pass@example.com/hook"),
            "https://REDACTED:REDACTED@example.com/hook"
        );
        assert_eq!(
            shown("https://example.com/hook?sig=abc&a=1&Signature=x"),
            "https://example.com/hook?sig=REDACTED&a=1&Signature=REDACTED"
        );
        assert_eq!(shown("not a url"), "REDACTED");
    }

    #[test]
    fn destinations_are_checked() {
        assert!(DestinationUrl::parse("https://example.com/hook", false).is_ok());
        assert!(matches!(
            DestinationUrl::parse("http://example.com/hook", false),
            Err(DestinationUrlError::Scheme(_))
        ));
        assert!(DestinationUrl::parse("http://example.com/hook", true).is_ok());
        assert!(matches!(
            DestinationUrl::parse("ftp://x", true),
            Err(DestinationUrlError::Scheme(_))
        ));
        assert!(matches!(
            DestinationUrl::parse("/relative", true),
            Err(DestinationUrlError::NotAbsolute(_))
        ));
        assert_eq!(
            DestinationUrl::parse("https://u:p@example.com/", false),
            Err(DestinationUrlError::UserInfo)
        );
    }

    #[test]
    fn destinations_have_a_limit() {
        let prefix = "https://example.com/";
        let at_limit = format!(
            "{prefix}{}",
            "x".repeat(limits::DESTINATION_URL - prefix.len())
        );
        assert!(DestinationUrl::parse(&at_limit, false).is_ok());
        let too_long = DestinationUrlError::TooLong {
            max: limits::DESTINATION_URL,
        };
        assert_eq!(
            DestinationUrl::parse(&format!("{at_limit}x"), false),
            Err(too_long.clone())
        );
        // Within the limit as given, over it once the spaces are percent-encoded.
        let spaced = format!("{prefix}{}", " x".repeat(1000));
        assert_eq!(DestinationUrl::parse(&spaced, false), Err(too_long));
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(PayloadFormat::parse("leaves"), Some(PayloadFormat::Leaves));
        assert_eq!(
            PayloadFormat::parse("absences"),
            Some(PayloadFormat::Absences)
        );
        assert_eq!(PayloadFormat::parse("people"), None);
        for f in [EventFilter::All, EventFilter::ValidatedOnly] {
            assert_eq!(EventFilter::parse(f.as_str()), Some(f));
        }
        for s in [SubscriptionStatus::Enabled, SubscriptionStatus::Disabled] {
            assert_eq!(SubscriptionStatus::parse(s.as_str()), Some(s));
        }
    }
}

/// The `Authorization` header value a subscriber asked for. Never printed: `Debug` and
/// [`AuthorizationValue::redacted`] show only its scheme (`Basic ****`).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationValue(String);

impl AuthorizationValue {
    /// Wraps a header value.
    ///
    /// # Errors
    /// [`AuthorizationValueError`] when empty, longer than [`limits::AUTHORIZATION`] characters or
    /// not a valid header value.
    pub fn parse(value: &str) -> Result<Self, AuthorizationValueError> {
        if value.trim().is_empty() {
            return Err(AuthorizationValueError::Empty);
        }
        check_length(value, limits::AUTHORIZATION)
            .map_err(|e| AuthorizationValueError::TooLong { max: e.max })?;
        if !value
            .bytes()
            .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
        {
            return Err(AuthorizationValueError::NotVisibleAscii);
        }
        Ok(Self(value.to_owned()))
    }

    /// The value to send. Only the sender calls this.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The scheme followed by `****`, e.g. `Basic ****`; just `****` when there is no scheme.
    #[must_use]
    pub fn redacted(&self) -> String {
        match self.0.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} ****"),
            None => "****".to_owned(),
        }
    }
}

impl std::fmt::Debug for AuthorizationValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Why an `Authorization` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationValueError {
    /// Empty or blank.
    #[error("must not be blank (leave it out instead)")]
    Empty,
    /// Longer than [`limits::AUTHORIZATION`] characters (visible ASCII: as many bytes).
    #[error("must be at most {max} characters")]
    TooLong {
        /// The limit, in characters.
        max: usize,
    },
    /// Holds characters a header cannot carry.
    #[error("must be visible ASCII")]
    NotVisibleAscii,
}

#[cfg(test)]
mod authorization_tests {
    use super::*;

    #[test]
    fn authorization_is_never_shown_in_full() {
        let v = AuthorizationValue::parse("Basic YWxhZGRpbjpvcGVuc2VzYW1l").unwrap();
        assert_eq!(v.redacted(), "Basic ****");
        assert_eq!(format!("{v:?}"), "Basic ****");
        assert_eq!(
            AuthorizationValue::parse("token").unwrap().redacted(),
            "****"
        );
        assert!(AuthorizationValue::parse(" ").is_err());
        assert!(AuthorizationValue::parse("a\nb").is_err());
    }

    #[test]
    fn authorization_values_have_a_limit() {
        let at_limit = format!("Basic {}", "x".repeat(limits::AUTHORIZATION - 6));
        assert!(AuthorizationValue::parse(&at_limit).is_ok());
        assert_eq!(
            AuthorizationValue::parse(&format!("{at_limit}x")),
            Err(AuthorizationValueError::TooLong {
                max: limits::AUTHORIZATION
            })
        );
    }
}
