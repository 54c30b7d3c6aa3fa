//! Bad input gets INVALID_ARGUMENT naming the field and writes nothing; no token gets UNAUTHENTICATED.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter};
use absync_e2e::client::Clients;
use absync_e2e::fixtures::monday_to_tuesday;
use tonic_types::StatusExt;

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_details_bad_request()
        .expect("google.rpc.BadRequest details")
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

#[tokio::test]
async fn malformed_absences_name_the_field_and_change_nothing() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;

    let mut no_owner = monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved);
    no_owner.owner = None;
    let mut zero_owner = monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved);
    zero_owner.owner.as_mut().unwrap().id = 0;
    let mut end_before_start = monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved);
    end_before_start.period = Some(proto::absence::Period::HalfDays(proto::HalfDayPeriod {
        start_date: "2024-03-05".into(),
        start_half: proto::HalfDay::Am.into(),
        end_date: "2024-03-04".into(),
        end_half: proto::HalfDay::Pm.into(),
    }));
    let mut bad_date = monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved);
    bad_date.period = Some(proto::absence::Period::HalfDays(proto::HalfDayPeriod {
        start_date: "2024-02-30".into(),
        start_half: proto::HalfDay::Am.into(),
        end_date: "2024-03-04".into(),
        end_half: proto::HalfDay::Pm.into(),
    }));

    let cases = [
        (no_owner, "absence.owner"),
        (zero_owner, "absence.owner.id"),
        (end_before_start, "absence.half_days.end_date"),
        (bad_date, "absence.half_days.start_date"),
    ];
    for (absence, field) in cases {
        let status = app.put(absence).await.unwrap_err();
        assert_eq!(violated_fields(&status), [field]);
        assert!(status.message().contains(field), "{}", status.message());
    }
    for table in ["absences", "leave_events", "deliveries"] {
        assert_eq!(app.count(table).await, 0, "{table} must stay empty");
    }
}

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let app = spawn_app().await;
    for token in [None, Some("absync_not-a-real-token".to_owned())] {
        let mut anonymous = Clients::connect(app.grpc_addr, token).await;
        let request = anonymous.request(proto::PutAbsenceRequest {
            absence: Some(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved)),
        });
        let status = anonymous.ingest.put_absence(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let request = anonymous.request(proto::ListSubscriptionsRequest::default());
        let status = anonymous
            .subscriptions
            .list_subscriptions(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
    assert_eq!(app.count("absences").await, 0);
}
