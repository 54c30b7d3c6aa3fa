//! The `AbsenceIngest` service.

use crate::auth::Authenticator;
use crate::convert::{absence_from_proto, event_to_proto, stored_to_proto};
use crate::proto;
use crate::proto::absence_ingest_server::AbsenceIngest;
use crate::status::{invalid_argument, to_status};
use absync_application::{ChangeOutcome, ChangeResult, FieldViolation, IngestService};
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

fn absence_id(text: &str) -> Result<AbsenceId, Status> {
    AbsenceId::parse(text)
        .map_err(|e| invalid_argument(&[FieldViolation::new("absence_id", e.to_string())]))
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

    async fn delete_absence(
        &self,
        request: Request<proto::DeleteAbsenceRequest>,
    ) -> Result<Response<proto::ChangeResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::AbsencesWrite).await?;
        let body = request.into_inner();
        let id = absence_id(&body.absence_id)?;
        let revision = Revision::new(body.revision)
            .map_err(|e| invalid_argument(&[FieldViolation::new("revision", e.to_string())]))?;
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
