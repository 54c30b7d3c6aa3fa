//! The one mapping from application errors to gRPC statuses. Internal detail is never returned; the
//! use case that failed has logged it, at the level its cause calls for
//! ([`absync_application::failure`]), so nothing is logged here.

use absync_application::ApplicationError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// `INVALID_ARGUMENT` with a `google.rpc.BadRequest` naming each bad field.
pub(crate) fn invalid_argument(violations: &[absync_application::FieldViolation]) -> Status {
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
        ApplicationError::InvalidInput(violations) => invalid_argument(violations),
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
        ApplicationError::Unexpected(_) => Status::internal("internal error"),
    }
}
