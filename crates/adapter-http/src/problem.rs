//! Problem documents (RFC 9457): every error answer is `application/problem+json`.

use absync_application::{ApplicationError, Field};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The REST API's name of a field the application names: as its JSON spells it.
pub(crate) const fn rest_field(field: Field) -> &'static str {
    match field {
        Field::DestinationUrl => "destinationUrl",
        Field::ValidUntil => "validUntil",
        // Not fields of this API's requests: their canonical names.
        Field::Scope | Field::Note => field.as_str(),
    }
}

/// One bad field of the request.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct FieldError {
    /// The field or query parameter, as the request spells it.
    #[schema(example = "destinationUrl")]
    pub(crate) field: String,
    /// What is wrong with it.
    #[schema(example = "is required")]
    pub(crate) message: String,
}

/// An error answer: an RFC 9457 problem document, served as `application/problem+json`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!(Problem::field("destinationUrl", "is required")))]
pub(crate) struct Problem {
    /// Always `about:blank`: the status code says what kind of problem it is.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "about:blank")]
    kind: &'static str,
    /// The reason phrase of the status code.
    #[schema(value_type = String, example = "Bad Request")]
    title: &'static str,
    /// The HTTP status code of the answer.
    #[schema(minimum = 400, maximum = 599, example = 400)]
    status: u16,
    /// What went wrong, for people; never internal detail.
    #[schema(example = "destinationUrl: is required")]
    detail: String,
    /// Each bad field, when the problem is with fields of the request (400 only); absent otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    errors: Vec<FieldError>,
}

/// The token is missing or unknown, or lacks the operation's scope (the Protime API answers 401 for
/// a missing scope too).
#[derive(utoipa::ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("WWW-Authenticate" = String, description = "`Bearer`")),
    example = json!(Problem::unauthorized("missing Authorization: Bearer <token>")),
)]
#[allow(dead_code)] // Describes an answer `Problem` gives.
pub(crate) struct Unauthorized(Problem);

/// The store is unreachable (or a destination cannot be checked now): nothing was written, the call
/// is safe to retry.
#[derive(utoipa::ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!(Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the store is unavailable; nothing was written, the call is safe to retry"
    )),
)]
#[allow(dead_code)] // Describes an answer `Problem` gives.
pub(crate) struct Unavailable(Problem);

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 400 naming one field.
    pub(crate) fn field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut problem = Self::new(StatusCode::BAD_REQUEST, format!("{field}: {message}"));
        problem.errors.push(FieldError {
            field: field.to_owned(),
            message,
        });
        problem
    }

    /// The fields the problem names.
    #[cfg(test)]
    pub(crate) fn fields(&self) -> Vec<&str> {
        self.errors.iter().map(|e| e.field.as_str()).collect()
    }

    /// 401 with the reason.
    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
    }

    /// Maps a use-case error, naming fields by [`rest_field`]. Internal detail is never returned;
    /// the use case that failed has logged it.
    pub(crate) fn from_application(err: &ApplicationError) -> Self {
        match err {
            ApplicationError::InvalidInput(violations) => {
                let errors: Vec<FieldError> = violations
                    .iter()
                    .map(|v| FieldError {
                        field: rest_field(v.field).to_owned(),
                        message: v.description.clone(),
                    })
                    .collect();
                let detail = errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut problem = Self::new(StatusCode::BAD_REQUEST, detail);
                problem.errors = errors;
                problem
            }
            ApplicationError::NotFound(what) => {
                Self::new(StatusCode::NOT_FOUND, format!("{what} not found"))
            }
            ApplicationError::RevisionConflict { .. } | ApplicationError::Precondition(_) => {
                Self::new(StatusCode::CONFLICT, err.to_string())
            }
            ApplicationError::Contended => Self::new(StatusCode::CONFLICT, err.to_string()),
            // The Protime document answers 401 for a missing scope too.
            ApplicationError::Unauthenticated | ApplicationError::PermissionDenied(_) => {
                Self::unauthorized(err.to_string())
            }
            ApplicationError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is unavailable; nothing was written, the call is safe to retry",
            ),
            ApplicationError::GuardUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "{}: cannot be checked now (its host name does not resolve at the moment); \
                     nothing was written, the call is safe to retry",
                    rest_field(Field::DestinationUrl)
                ),
            ),
            ApplicationError::Unexpected(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_destination_is_a_400_and_an_unchecked_one_a_503() {
        let refused = Problem::from_application(&ApplicationError::invalid(
            Field::DestinationUrl,
            "hooks.example does not exist (no such name)",
        ));
        assert_eq!(refused.status, 400);
        assert_eq!(refused.errors.len(), 1);
        assert_eq!(refused.errors[0].field, "destinationUrl");

        let unchecked = Problem::from_application(&ApplicationError::GuardUnavailable(
            "hooks.example cannot be resolved now: timed out".into(),
        ));
        assert_eq!(unchecked.status, 503);
        assert!(
            unchecked.detail.starts_with("destinationUrl: "),
            "{}",
            unchecked.detail
        );
        assert!(!unchecked.detail.contains("timed out"));
        let response = unchecked.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }
}
