//! Identifier newtypes. Each constructor checks the value once; afterwards it is valid by construction.

use crate::limits::{self, check_length};
use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value was empty.
    #[error("must not be empty")]
    Empty,
    /// The value was longer than allowed.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum length.
        max: usize,
    },
    /// The value holds characters outside the allowed set.
    #[error("may only contain {allowed}")]
    BadCharacters {
        /// A description of the allowed characters.
        allowed: &'static str,
    },
    /// The value is not the text form of a UUID.
    #[error("must be a UUID (8-4-4-4-12 hexadecimal digits)")]
    NotUuid,
}

/// True for the text form of a UUID (8-4-4-4-12 hexadecimal digits, either case): the shape of the
/// ids the stores make for subscriptions and tokens.
#[must_use]
pub fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// A tenant: one customer organisation. Lower-case letters, digits, `-` and `_`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant id.
    ///
    /// # Errors
    /// [`IdError`] when empty, longer than 64 characters or holding other characters.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        if value.is_empty() {
            return Err(IdError::Empty);
        }
        if value.len() > 64 {
            return Err(IdError::TooLong { max: 64 });
        }
        if !value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            return Err(IdError::BadCharacters {
                allowed: "lower-case letters, digits, '-' and '_'",
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The source system's id of an absence: non-empty, at most [`limits::ABSENCE_ID`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AbsenceId(String);

impl AbsenceId {
    /// Parses an absence id.
    ///
    /// # Errors
    /// [`IdError`] when empty, longer than [`limits::ABSENCE_ID`] characters or holding control
    /// characters.
    pub fn parse(value: &str) -> Result<Self, IdError> {
        if value.is_empty() {
            return Err(IdError::Empty);
        }
        check_length(value, limits::ABSENCE_ID).map_err(|e| IdError::TooLong { max: e.max })?;
        if value.chars().any(char::is_control) {
            return Err(IdError::BadCharacters {
                allowed: "printable characters",
            });
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AbsenceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// absync's stable numeric id of an absence, assigned on first ingest (the prefix of its leave keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbsenceNumber(i64);

impl AbsenceNumber {
    /// The largest number a leave id can encode (see [`LeaveNumber`]).
    pub const MAX: i64 = (1 << 46) - 1;

    /// Wraps a number handed out by the store.
    ///
    /// # Errors
    /// [`IdError::TooLong`] when it is not in `1..=AbsenceNumber::MAX`.
    pub fn new(value: i64) -> Result<Self, IdError> {
        if (1..=Self::MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(IdError::TooLong { max: 14 })
        }
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for AbsenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The stable numeric id of one leave (Protime's absence-instance `id`). Derived, never stored apart:
/// `absence number × 2^17 + days since 1970-01-01 × 2 + (1 for PM)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaveNumber(i64);

impl LeaveNumber {
    pub(crate) fn from_raw(value: i64) -> Self {
        Self(value)
    }

    /// The number.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

/// The source's version of an absence. `0` means "newer than whatever is stored" (arrival order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Revision(u64);

impl Revision {
    /// The largest revision the store keeps (it is stored as a signed 64-bit number).
    pub const MAX: u64 = i64::MAX as u64;

    /// Wraps a revision.
    ///
    /// # Errors
    /// [`IdError::TooLong`] above [`Revision::MAX`].
    pub fn new(value: u64) -> Result<Self, IdError> {
        if value > Self::MAX {
            return Err(IdError::TooLong { max: 19 });
        }
        Ok(Self(value))
    }

    /// The revision.
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }

    /// True for revision 0, "newer than whatever is stored".
    #[must_use]
    pub fn is_arrival_order(self) -> bool {
        self.0 == 0
    }
}

/// The per-tenant, strictly increasing number of a leave event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChangeVersion(i64);

impl ChangeVersion {
    /// Wraps a version handed out by the store.
    #[must_use]
    pub fn new(value: i64) -> Self {
        Self(value)
    }

    /// The version.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

/// The id of a subscription (a UUID in text form, made by the store).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SubscriptionId(String);

impl SubscriptionId {
    /// Wraps an id made by a store (trusted: no check).
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads an id from outside (a request, a path, a form).
    ///
    /// # Errors
    /// [`IdError::Empty`] or [`IdError::NotUuid`].
    pub fn parse(text: &str) -> Result<Self, IdError> {
        if text.is_empty() {
            Err(IdError::Empty)
        } else if is_uuid(text) {
            Ok(Self(text.to_owned()))
        } else {
            Err(IdError::NotUuid)
        }
    }

    /// Whether the id has the shape of a store's id: one that does not can name no subscription.
    #[must_use]
    pub fn is_well_formed(&self) -> bool {
        is_uuid(&self.0)
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one delivery (one event to one subscription); stable across retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryId(i64);

impl DeliveryId {
    /// Wraps an id handed out by the store.
    #[must_use]
    pub fn new(value: i64) -> Self {
        Self(value)
    }

    /// The id.
    #[must_use]
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for DeliveryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_are_uuids() {
        let id = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(
            SubscriptionId::parse(id).map(|s| s.as_str().to_owned()),
            Ok(id.to_owned())
        );
        assert!(SubscriptionId::parse(&id.to_uppercase()).is_ok());
        assert_eq!(SubscriptionId::parse(""), Err(IdError::Empty));
        for bad in [
            "nope",
            &id[1..],
            "0f8fad5b-d9cb-469f-a165-70867728950g",
            "0f8fad5bxd9cb-469f-a165-70867728950e",
        ] {
            assert_eq!(SubscriptionId::parse(bad), Err(IdError::NotUuid), "{bad}");
        }
        assert!(SubscriptionId::new(id).is_well_formed());
        assert!(!SubscriptionId::new("nope").is_well_formed());
    }

    #[test]
    fn tenant_ids_are_checked() {
        assert!(TenantId::parse("acme-1").is_ok());
        assert_eq!(TenantId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            TenantId::parse("Acme"),
            Err(IdError::BadCharacters { .. })
        ));
        assert!(matches!(
            TenantId::parse(&"a".repeat(65)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn absence_ids_are_checked() {
        assert!(AbsenceId::parse("HR/2024/17").is_ok());
        assert_eq!(AbsenceId::parse(""), Err(IdError::Empty));
        assert!(AbsenceId::parse(&"x".repeat(128)).is_ok());
        assert!(matches!(
            AbsenceId::parse(&"x".repeat(129)),
            Err(IdError::TooLong { .. })
        ));
    }

    #[test]
    fn absence_numbers_fit_leave_numbers() {
        assert!(AbsenceNumber::new(0).is_err());
        assert!(AbsenceNumber::new(AbsenceNumber::MAX).is_ok());
        assert!(AbsenceNumber::new(AbsenceNumber::MAX + 1).is_err());
    }
}
