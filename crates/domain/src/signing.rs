//! Webhook signatures, as the Standard Webhooks specification defines them *(ours)*:
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the bytes of a
//! `whsec_…` secret. Verifiable by the stock `standardwebhooks` and `svix` libraries.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a signing secret's text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// A signing secret was not `whsec_` followed by the base64 of 24 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a signing secret is whsec_ followed by the base64 of 24 to 64 bytes")]
pub struct SigningSecretError;

/// A subscription's signing secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Wraps 24 to 64 random bytes.
    ///
    /// # Errors
    /// [`SigningSecretError`] for any other length.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, SigningSecretError> {
        if (24..=64).contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(SigningSecretError)
        }
    }

    /// Wraps a freshly generated 32-byte key.
    #[must_use]
    pub fn from_key(key: [u8; 32]) -> Self {
        Self(key.to_vec())
    }

    /// Parses `whsec_<base64>`.
    ///
    /// # Errors
    /// [`SigningSecretError`] for anything else.
    pub fn parse(text: &str) -> Result<Self, SigningSecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SigningSecretError)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| SigningSecretError)?;
        Self::from_bytes(bytes)
    }

    /// The text form, `whsec_<base64>`: shown to the subscriber once, and stored.
    #[must_use]
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    #[must_use]
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return String::new();
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("whsec_****")
    }
}

/// The `webhook-signature` value: one `v1,…` per secret, space-separated (during a rotation both the new
/// and the previous secret sign).
#[must_use]
pub fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_standard_webhooks_vector_reproduces() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(secret.expose(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        assert_eq!(format!("{secret:?}"), "whsec_****");
    }

    #[test]
    fn secrets_are_checked_and_several_sign_together() {
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_c2hvcnQ=").is_err());
        assert!(SigningSecret::parse("whsec_not base64!").is_err());
        let a = SigningSecret::from_bytes(vec![1; 32]).unwrap();
        let b = SigningSecret::from_bytes(vec![2; 32]).unwrap();
        let header = signature_header(&[a.clone(), b.clone()], "1", 10, b"{}");
        assert_eq!(
            header,
            format!("{} {}", a.sign("1", 10, b"{}"), b.sign("1", 10, b"{}"))
        );
        assert_ne!(a.sign("1", 10, b"{}"), a.sign("1", 10, b"{ }"));
    }
}
