//! Decoding stored values, for store adapters: a value the store gives back that does not decode
//! (written by another version, or damaged) is a [`StoreError::Unexpected`] naming what it was.

use super::StoreError;
use absync_domain::{AuthorizationValue, PayloadFormat, SigningSecret, TenantId};

/// A stored value that does not decode (JSON written by another version, an unknown enum name).
#[derive(Debug, thiserror::Error)]
#[error("stored {what} does not decode: {detail}")]
pub struct DecodeError {
    /// What the value was.
    pub what: &'static str,
    /// Why it does not decode.
    pub detail: String,
}

/// The error for a stored `what` that does not decode.
pub fn decode_error(what: &'static str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(Box::new(DecodeError {
        what,
        detail: detail.to_string(),
    }))
}

/// A stored tenant id.
///
/// # Errors
/// A [`DecodeError`] when it is not a valid tenant id.
pub fn tenant(text: &str) -> Result<TenantId, StoreError> {
    TenantId::parse(text).map_err(|e| decode_error("tenant id", e))
}

/// A stored payload format name (the `collection` column of `subscriptions`).
///
/// # Errors
/// A [`DecodeError`] for an unknown name.
pub fn payload_format(text: &str) -> Result<PayloadFormat, StoreError> {
    PayloadFormat::parse(text).ok_or_else(|| decode_error("collection", text))
}

/// A stored `Authorization` value, if any.
///
/// # Errors
/// A [`DecodeError`] when it is not a valid value.
pub fn authorization(value: Option<String>) -> Result<Option<AuthorizationValue>, StoreError> {
    value
        .map(|v| AuthorizationValue::parse(&v))
        .transpose()
        .map_err(|e| decode_error("authorization", e))
}

/// A stored signing secret.
///
/// # Errors
/// A [`DecodeError`] when it is not a `whsec_` secret.
pub fn signing_secret(text: &str) -> Result<SigningSecret, StoreError> {
    SigningSecret::parse(text).map_err(|e| decode_error("signing secret", e))
}

/// Absence numbers a store took ahead of need (a block at a time, so most absences need no round
/// trip for theirs), handed out smallest first. Gaps after a restart are harmless. Cheap to clone;
/// the clones share the spare numbers.
#[derive(Debug, Clone, Default)]
pub struct SpareNumbers(std::sync::Arc<std::sync::Mutex<Vec<i64>>>);

impl SpareNumbers {
    /// The next number: a spare one, or the smallest of a new block that `take` fetches from the
    /// store (the rest are kept).
    ///
    /// # Errors
    /// What `take` returns, or a decode error when it returns no number or an invalid one.
    pub async fn next<F, Fut>(&self, take: F) -> Result<absync_domain::AbsenceNumber, StoreError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<i64>, StoreError>>,
    {
        let spare = self.0.lock().map(|mut spare| spare.pop()).unwrap_or(None);
        let number = match spare {
            Some(number) => number,
            None => {
                let mut taken = take().await?;
                taken.sort_unstable_by(|a, b| b.cmp(a));
                let first = taken
                    .pop()
                    .ok_or_else(|| decode_error("absence number", "none returned"))?;
                if let Ok(mut spare) = self.0.lock() {
                    spare.extend(taken);
                    spare.sort_unstable_by(|a, b| b.cmp(a));
                }
                first
            }
        };
        absync_domain::AbsenceNumber::new(number).map_err(|e| decode_error("absence number", e))
    }
}
