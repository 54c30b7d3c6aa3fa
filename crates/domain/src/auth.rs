//! Token scopes: what a caller may do.

/// A scope was not one of the known names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?}; known: absences:write, absences:read, webhooks:write, webhooks:read, deliveries:read, deliveries:write and the connector-protimeapi-* aliases"
)]
pub struct ScopeError(pub String);

/// One permission a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Put and delete absences.
    AbsencesWrite,
    /// Read absences.
    AbsencesRead,
    /// Create, change and delete subscriptions.
    WebhooksWrite,
    /// Read subscriptions.
    WebhooksRead,
    /// Read deliveries.
    DeliveriesRead,
    /// Re-sync deliveries and mark them processed.
    DeliveriesWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Self; 6] = [
        Self::AbsencesWrite,
        Self::AbsencesRead,
        Self::WebhooksWrite,
        Self::WebhooksRead,
        Self::DeliveriesRead,
        Self::DeliveriesWrite,
    ];

    /// The canonical name (`absences:write`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AbsencesWrite => "absences:write",
            Self::AbsencesRead => "absences:read",
            Self::WebhooksWrite => "webhooks:write",
            Self::WebhooksRead => "webhooks:read",
            Self::DeliveriesRead => "deliveries:read",
            Self::DeliveriesWrite => "deliveries:write",
        }
    }

    /// Parses a canonical name or a Protime alias.
    ///
    /// # Errors
    /// [`ScopeError`] for an unknown name.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        Ok(match text {
            "absences:write" => Self::AbsencesWrite,
            "absences:read" | "connector-protimeapi-absences.read" => Self::AbsencesRead,
            "webhooks:write" | "connector-protimeapi-webhooks.write" => Self::WebhooksWrite,
            "webhooks:read" | "connector-protimeapi-webhooks.read" => Self::WebhooksRead,
            "deliveries:read" => Self::DeliveriesRead,
            "deliveries:write" => Self::DeliveriesWrite,
            other => return Err(ScopeError(other.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse() {
        for s in Scope::ALL {
            assert_eq!(Scope::parse(s.as_str()), Ok(s));
        }
        assert_eq!(
            Scope::parse("connector-protimeapi-webhooks.write"),
            Ok(Scope::WebhooksWrite)
        );
        assert_eq!(
            Scope::parse("connector-protimeapi-absences.read"),
            Ok(Scope::AbsencesRead)
        );
        assert!(Scope::parse("root").is_err());
    }
}
