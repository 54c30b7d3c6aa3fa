//! The length limits of the texts absync accepts, in one place: each constructor that takes outside
//! text checks it against its limit here, and the API documentation lists the same numbers.
//!
//! Lengths count characters (Unicode scalar values), not bytes: `é` is one character. Values that
//! may only hold ASCII (`Authorization` values) have as many bytes as characters.

/// The source's id of an absence (`absence_id`).
pub const ABSENCE_ID: usize = 128;
/// An owner's display name (`owner.name`).
pub const OWNER_NAME: usize = 200;
/// An owner's e-mail address (`owner.email`): the longest path RFC 5321 allows.
pub const EMAIL: usize = 254;
/// An owner's employee number (`owner.employee_number`).
pub const EMPLOYEE_NUMBER: usize = 64;
/// An owner's badge number (`owner.badge_number`).
pub const BADGE_NUMBER: usize = 64;
/// A leave account's name and its category's name (`leave_account.name`,
/// `leave_account.category_name`).
pub const ACCOUNT_NAME: usize = 200;
/// The code of an absence or shift definition (`…_definition.code`).
pub const DEFINITION_CODE: usize = 64;
/// A subscription's destination URL, as given and once normalised.
pub const DESTINATION_URL: usize = 2048;
/// The `Authorization` value a subscription sends.
pub const AUTHORIZATION: usize = 4096;
/// The note an operator keeps with a delivery marked processed.
pub const NOTE: usize = 1000;

/// A text longer than its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be at most {max} characters")]
pub struct TooLong {
    /// The limit, in characters.
    pub max: usize,
}

/// Checks that `text` has at most `max` characters, without counting past the limit.
///
/// # Errors
/// [`TooLong`] when it has more.
pub fn check_length(text: &str, max: usize) -> Result<(), TooLong> {
    // A character takes at least one byte: a text of `max` bytes or fewer is within the limit.
    if text.len() <= max || text.chars().nth(max).is_none() {
        Ok(())
    } else {
        Err(TooLong { max })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert_eq!(check_length("", 0), Ok(()));
        assert_eq!(check_length(&"x".repeat(200), OWNER_NAME), Ok(()));
        assert_eq!(
            check_length(&"x".repeat(201), OWNER_NAME),
            Err(TooLong { max: OWNER_NAME })
        );
        // 200 two-byte characters are 400 bytes, and within the limit.
        assert_eq!(check_length(&"é".repeat(200), OWNER_NAME), Ok(()));
        assert_eq!(
            check_length(&"é".repeat(201), OWNER_NAME),
            Err(TooLong { max: OWNER_NAME })
        );
        assert_eq!(
            TooLong { max: 64 }.to_string(),
            "must be at most 64 characters"
        );
    }
}
