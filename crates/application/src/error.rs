//! The errors use cases report. Adapters map each variant to their protocol (gRPC status, HTTP status).

use crate::failure::{Failure, Severity};
use crate::ports::StoreError;
use absync_domain::{Revision, Scope};

/// An input field a use case checks. Each adapter names it as its API spells it: the gRPC adapter
/// and the console by [`Field::as_str`], the REST API by its own JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// A subscription's destination URL.
    DestinationUrl,
    /// When a subscription stops receiving new deliveries.
    ValidUntil,
    /// The scopes of a token to issue.
    Scope,
    /// The operator's note on a delivery marked processed.
    Note,
}

impl Field {
    /// The canonical name: `destination_url`, `valid_until`, `scope` or `note`, the names of the
    /// proto fields (and what the logs show).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DestinationUrl => "destination_url",
            Self::ValidUntil => "valid_until",
            Self::Scope => "scope",
            Self::Note => "note",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bad input field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field.
    pub field: Field,
    /// What is wrong.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: Field, description: impl Into<String>) -> Self {
        Self {
            field,
            description: description.into(),
        }
    }
}

/// What a use case reports when it cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    /// The input is invalid; nothing was written.
    #[error("invalid input: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    InvalidInput(Vec<FieldViolation>),
    /// The thing does not exist for this tenant.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The same revision came with different content.
    #[error(
        "revision {incoming} is already stored with different content (stored revision {stored})"
    )]
    RevisionConflict {
        /// The stored revision.
        stored: u64,
        /// The incoming revision.
        incoming: u64,
    },
    /// The action does not fit the current state (e.g. re-syncing a superseded delivery).
    #[error("{0}")]
    Precondition(&'static str),
    /// The absence kept changing under us; the caller may retry.
    #[error("the absence was changed concurrently too often; retry")]
    Contended,
    /// No valid token.
    #[error("missing, unknown or revoked token")]
    Unauthenticated,
    /// The token lacks a scope.
    #[error("the token lacks the scope {}", .0.as_str())]
    PermissionDenied(Scope),
    /// The store cannot be reached; nothing was written, safe to retry.
    #[error("the store is unavailable")]
    Unavailable(#[source] StoreError),
    /// The SSRF guard cannot check a destination now (its name does not resolve for a passing
    /// reason); nothing was written, safe to retry. Holds the guard's reason, for the logs.
    #[error("the destination cannot be checked now: {0}")]
    GuardUnavailable(String),
    /// Anything else.
    #[error("unexpected error")]
    Unexpected(#[source] StoreError),
}

impl ApplicationError {
    /// One invalid field.
    pub fn invalid(field: Field, description: impl Into<String>) -> Self {
        Self::InvalidInput(vec![FieldViolation::new(field, description)])
    }

    pub(crate) fn conflict(stored: Revision, incoming: Revision) -> Self {
        Self::RevisionConflict {
            stored: stored.get(),
            incoming: incoming.get(),
        }
    }
}

impl Failure for ApplicationError {
    fn code(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "invalid_input",
            Self::NotFound(_) => "not_found",
            Self::RevisionConflict { .. } => "revision_conflict",
            Self::Precondition(_) => "precondition",
            Self::Contended => "contended",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied(_) => "permission_denied",
            Self::Unavailable(_) => "unavailable",
            Self::GuardUnavailable(_) => "destination_unchecked",
            Self::Unexpected(_) => "unexpected",
        }
    }

    /// The caller's mistakes are [`Severity::Expected`]; refused credentials, contention and a
    /// resolver that cannot answer now (outside absync, and the caller retries) [`Severity::Notable`];
    /// an unavailable or failing store a [`Severity::Fault`].
    fn severity(&self) -> Severity {
        match self {
            Self::InvalidInput(_)
            | Self::NotFound(_)
            | Self::RevisionConflict { .. }
            | Self::Precondition(_) => Severity::Expected,
            Self::Unauthenticated
            | Self::PermissionDenied(_)
            | Self::Contended
            | Self::GuardUnavailable(_) => Severity::Notable,
            Self::Unavailable(_) | Self::Unexpected(_) => Severity::Fault,
        }
    }
}

impl From<StoreError> for ApplicationError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::Unavailable(err),
            StoreError::Conflict | StoreError::Unexpected(_) => Self::Unexpected(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_faults_of_absync_or_its_store_are_faults() {
        let store_down = || StoreError::Unavailable("connection refused".into());
        let cases = [
            (
                ApplicationError::invalid(Field::ValidUntil, "must lie in the future"),
                Severity::Expected,
            ),
            (ApplicationError::NotFound("absence"), Severity::Expected),
            (
                ApplicationError::RevisionConflict {
                    stored: 2,
                    incoming: 2,
                },
                Severity::Expected,
            ),
            (
                ApplicationError::Precondition("superseded"),
                Severity::Expected,
            ),
            (ApplicationError::Unauthenticated, Severity::Notable),
            (
                ApplicationError::PermissionDenied(Scope::AbsencesWrite),
                Severity::Notable,
            ),
            (ApplicationError::Contended, Severity::Notable),
            (ApplicationError::from(store_down()), Severity::Fault),
            (
                ApplicationError::from(StoreError::Unexpected("disk I/O error".into())),
                Severity::Fault,
            ),
        ];
        for (err, severity) in cases {
            assert_eq!(err.severity(), severity, "{err:?}");
        }
        assert_eq!(ApplicationError::from(store_down()).code(), "unavailable");
    }
}
