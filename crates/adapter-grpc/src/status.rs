//! The one mapping from application errors to gRPC statuses. Internal detail is never returned; the
//! use case that failed has logged it, at the level its cause calls for
//! ([`absync_application::failure`]), so nothing is logged here.

use crate::convert::Violation;
use absync_application::{ApplicationError, Field, FieldViolation};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The use case's violations as a request's: each field named by its path in a request that holds
/// the use case's fields under `path` (empty at the top, `subscription.` in UpdateSubscription), with
/// the field's canonical name ([`Field::as_str`]), which is the proto field's.
pub(crate) fn request_violations(violations: &[FieldViolation], path: &str) -> Vec<Violation> {
    violations
        .iter()
        .map(|v| Violation::new(format!("{path}{}", v.field.as_str()), v.description.clone()))
        .collect()
}

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming each bad field.
pub(crate) fn invalid_argument(violations: &[Violation]) -> Status {
    let mut details = ErrorDetails::new();
    for v in violations {
        details.add_bad_request_violation(v.field.clone(), v.description.clone());
    }
    let message = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    Status::with_error_details(Code::InvalidArgument, message, details)
}

pub(crate) fn to_status(err: ApplicationError) -> Status {
    match &err {
        ApplicationError::InvalidInput(violations) => {
            invalid_argument(&request_violations(violations, ""))
        }
        ApplicationError::NotFound(what) => Status::not_found(format!("{what} not found")),
        ApplicationError::RevisionConflict { .. } | ApplicationError::Precondition(_) => {
            Status::failed_precondition(err.to_string())
        }
        ApplicationError::Contended => Status::aborted(err.to_string()),
        ApplicationError::Unauthenticated => Status::unauthenticated(err.to_string()),
        ApplicationError::PermissionDenied(_) => Status::permission_denied(err.to_string()),
        ApplicationError::Unavailable(_) => Status::unavailable(
            "the store is unavailable; nothing was written, the call is safe to retry",
        ),
        ApplicationError::GuardUnavailable(_) => Status::unavailable(format!(
            "{}: cannot be checked now (its host name does not resolve at the moment); \
             nothing was written, the call is safe to retry",
            Field::DestinationUrl.as_str()
        )),
        ApplicationError::Unexpected(_) => Status::internal("internal error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use absync_application::ports::StoreError;

    #[test]
    fn a_refused_destination_is_invalid_and_an_unchecked_one_unavailable() {
        let refused = to_status(ApplicationError::invalid(
            Field::DestinationUrl,
            "hooks.example resolves to 2002:7f00:1::, a 6to4 address of 127.0.0.1, a loopback address",
        ));
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(
            refused
                .message()
                .starts_with("destination_url: hooks.example")
        );
        let field = refused.get_details_bad_request().unwrap().field_violations;
        assert_eq!(field[0].field, "destination_url");

        let unchecked = to_status(ApplicationError::GuardUnavailable(
            "hooks.example cannot be resolved now: timed out".into(),
        ));
        assert_eq!(unchecked.code(), Code::Unavailable);
        assert!(
            unchecked.message().starts_with("destination_url: "),
            "{}",
            unchecked.message()
        );
        // The resolver's own words stay in the log.
        assert!(!unchecked.message().contains("timed out"));

        let store = to_status(ApplicationError::Unavailable(StoreError::Unavailable(
            "connection refused".into(),
        )));
        assert_eq!(store.code(), Code::Unavailable);
        assert!(store.message().starts_with("the store is unavailable"));
    }
}
