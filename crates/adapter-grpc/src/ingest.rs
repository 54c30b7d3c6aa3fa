//! The `AbsenceIngest` service.

use crate::auth::Authenticator;
use crate::convert::{Violation, absence_from_proto, event_to_proto, stored_to_proto};
use crate::proto;
use crate::proto::absence_ingest_server::AbsenceIngest;
use crate::status::{invalid_argument, request_violations, to_status};
use absync_application::{ChangeOutcome, ChangeResult, IngestService};
use absync_domain::{AbsenceId, Revision, Scope};
use tonic::{Request, Response, Status};

/// Serves PutAbsence, DeleteAbsence and GetAbsence.
#[derive(Debug, Clone)]
pub(crate) struct IngestApi {
    pub(crate) auth: Authenticator,
    pub(crate) ingest: IngestService,
}

fn change_response(result: ChangeResult) -> proto::ChangeResponse {
    proto::ChangeResponse {
        outcome: match result.outcome {
            ChangeOutcome::Applied => proto::ChangeOutcome::Applied,
            ChangeOutcome::Unchanged => proto::ChangeOutcome::Unchanged,
            ChangeOutcome::Stale => proto::ChangeOutcome::Stale,
        }
        .into(),
        revision: result.revision.get(),
        events: result
            .events
            .iter()
            .map(|e| proto::LeaveEventInfo {
                leave_id: e.leave_key.to_string(),
                event: event_to_proto(e.event).into(),
                change_version: u64::try_from(e.change_version.get()).unwrap_or_default(),
            })
            .collect(),
        absence_number: result.absence_number.get(),
    }
}

/// Most absences per PutAbsences call.
const MAX_BATCH: usize = 1000;
/// Different absences of one PutAbsences call applied at once.
const BATCH_CONCURRENCY: usize = 8;

/// The canonical name of a status code (`INVALID_ARGUMENT`).
fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

fn error_result(status: &Status, violations: &[Violation]) -> proto::PutAbsenceResult {
    proto::PutAbsenceResult {
        result: Some(proto::put_absence_result::Result::Error(
            proto::AbsenceError {
                code: code_name(status.code()).to_owned(),
                message: status.message().to_owned(),
                field_violations: violations
                    .iter()
                    .map(|v| proto::FieldViolation {
                        field: v.field.clone(),
                        description: v.description.clone(),
                    })
                    .collect(),
            },
        )),
    }
}

fn absence_id(text: &str) -> Result<AbsenceId, Status> {
    AbsenceId::parse(text)
        .map_err(|e| invalid_argument(&[Violation::new("absence_id", e.to_string())]))
}

#[tonic::async_trait]
impl AbsenceIngest for IngestApi {
    async fn put_absence(
        &self,
        request: Request<proto::PutAbsenceRequest>,
    ) -> Result<Response<proto::ChangeResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::AbsencesWrite).await?;
        let absence =
            absence_from_proto(request.into_inner().absence).map_err(|v| invalid_argument(&v))?;
        let result = self
            .ingest
            .put_absence(&tenant, &absence)
            .await
            .map_err(to_status)?;
        Ok(Response::new(change_response(result)))
    }

    async fn put_absences(
        &self,
        request: Request<proto::PutAbsencesRequest>,
    ) -> Result<Response<proto::PutAbsencesResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::AbsencesWrite).await?;
        let absences = request.into_inner().absences;
        if absences.len() > MAX_BATCH {
            return Err(invalid_argument(&[Violation::new(
                "absences",
                format!("at most {MAX_BATCH} absences per call"),
            )]));
        }
        let mut results: Vec<Option<proto::PutAbsenceResult>> = Vec::with_capacity(absences.len());
        let mut valid = Vec::new();
        let mut valid_at = Vec::new();
        for (index, absence) in absences.into_iter().enumerate() {
            match absence_from_proto(Some(absence)) {
                Ok(absence) => {
                    valid.push(absence);
                    valid_at.push(index);
                    results.push(None);
                }
                Err(violations) => results.push(Some(error_result(
                    &invalid_argument(&violations),
                    &violations,
                ))),
            }
        }
        let outcomes = self
            .ingest
            .put_absences(&tenant, valid, BATCH_CONCURRENCY)
            .await;
        for (index, outcome) in valid_at.into_iter().zip(outcomes) {
            results[index] = Some(match outcome {
                Ok(change) => proto::PutAbsenceResult {
                    result: Some(proto::put_absence_result::Result::Change(change_response(
                        change,
                    ))),
                },
                Err(err) => {
                    let violations = match &err {
                        absync_application::ApplicationError::InvalidInput(v) => {
                            request_violations(v, "")
                        }
                        _ => Vec::new(),
                    };
                    error_result(&to_status(err), &violations)
                }
            });
        }
        Ok(Response::new(proto::PutAbsencesResponse {
            results: results.into_iter().flatten().collect(),
        }))
    }

    async fn delete_absence(
        &self,
        request: Request<proto::DeleteAbsenceRequest>,
    ) -> Result<Response<proto::ChangeResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::AbsencesWrite).await?;
        let body = request.into_inner();
        let id = absence_id(&body.absence_id)?;
        let revision = Revision::new(body.revision)
            .map_err(|e| invalid_argument(&[Violation::new("revision", e.to_string())]))?;
        let result = self
            .ingest
            .delete_absence(&tenant, &id, revision)
            .await
            .map_err(to_status)?;
        Ok(Response::new(change_response(result)))
    }

    async fn get_absence(
        &self,
        request: Request<proto::GetAbsenceRequest>,
    ) -> Result<Response<proto::GetAbsenceResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::AbsencesRead).await?;
        let id = absence_id(&request.get_ref().absence_id)?;
        let stored = self
            .ingest
            .get_absence(&tenant, &id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(stored_to_proto(&stored)))
    }
}
