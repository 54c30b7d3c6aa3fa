//! Absences in over gRPC, exact Timmi leave POSTs out.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus, ChangeOutcome, EventFilter, HalfDay};
use absync_e2e::fixtures::{half_days, monday_to_tuesday, one_morning};
use absync_e2e::receiver::Received;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(400);

fn by_id(mut got: Vec<Received>) -> Vec<Received> {
    got.sort_by_key(|r| {
        (
            r.json()["id"].as_str().unwrap().to_owned(),
            r.header("x-event").map(str::to_owned),
        )
    });
    got
}

fn ids(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect()
}

fn leave(number: i64, date: &str, am: bool) -> serde_json::Value {
    json!({
        "id": format!("{number}-{}-{}", date.replace('-', ""), if am { "AM" } else { "PM" }),
        "date": date,
        "isAm": am,
        "owner": {"id": 134, "name": "Luca Pacioli", "email": "luca.pacioli@example.com", "employeeNumber": "00001"},
        "leaveAccount": {"id": 1718, "name": "Paid leave 2024", "categoryId": 1, "categoryName": "Paid leave"},
        "isConfirmed": true,
        "confirmationDate": "2024-02-21T10:30:15.250",
        "isCancelled": false,
        "cancellationDate": "",
        "creationDate": "2024-02-20T09:00:00.000"
    })
}

#[tokio::test]
async fn an_approved_absence_monday_to_tuesday_makes_exactly_four_exact_posts() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;
    let answer = app
        .put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(answer.outcome(), ChangeOutcome::Applied);
    assert_eq!(answer.events.len(), 4);
    let n = answer.absence_number;

    app.receiver.wait_for(4, WAIT).await;
    app.receiver.assert_stays_at(4, QUIET).await;
    let got = by_id(app.receiver.received());
    let expected = [
        leave(n, "2024-03-04", true),
        leave(n, "2024-03-04", false),
        leave(n, "2024-03-05", true),
        leave(n, "2024-03-05", false),
    ];
    for (request, body) in got.iter().zip(&expected) {
        assert_eq!(request.uri, "/hook");
        assert_eq!(&request.json(), body);
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(
            request.header("authorization"),
            Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        );
        assert_eq!(request.header("x-version"), Some("1"));
        assert_eq!(request.header("x-resource-type"), Some("leave"));
        assert_eq!(request.header("x-event"), Some("approved"));
    }
    // The change versions of one change are consecutive and increasing.
    let versions: Vec<u64> = answer.events.iter().map(|e| e.change_version).collect();
    assert!(
        versions.windows(2).all(|w| w[1] == w[0] + 1),
        "{versions:?}"
    );
}

#[tokio::test]
async fn weekends_and_holidays_are_skipped_and_hours_carry_their_duration() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;

    // Friday AM to Monday PM: the weekend is skipped.
    let friday = app
        .put(half_days(
            "fri-mon",
            1,
            AbsenceStatus::Approved,
            ("2024-03-08", HalfDay::Am),
            ("2024-03-11", HalfDay::Pm),
        ))
        .await
        .unwrap();
    let n = friday.absence_number;
    let got = by_id(app.receiver.wait_for(4, WAIT).await);
    app.receiver.assert_stays_at(4, QUIET).await;
    assert_eq!(
        ids(&got),
        [
            format!("{n}-20240308-AM"),
            format!("{n}-20240308-PM"),
            format!("{n}-20240311-AM"),
            format!("{n}-20240311-PM")
        ]
    );

    // Monday to Wednesday with Tuesday a holiday.
    let mut holiday = half_days(
        "holiday",
        1,
        AbsenceStatus::Approved,
        ("2024-04-29", HalfDay::Am),
        ("2024-05-01", HalfDay::Pm),
    );
    holiday.non_working_dates = vec!["2024-04-30".into()];
    let n = app.put(holiday).await.unwrap().absence_number;
    let got = app.receiver.wait_for(8, WAIT).await;
    app.receiver.assert_stays_at(8, QUIET).await;
    let mut second = ids(&got[4..]);
    second.sort();
    assert_eq!(
        second,
        [
            format!("{n}-20240429-AM"),
            format!("{n}-20240429-PM"),
            format!("{n}-20240501-AM"),
            format!("{n}-20240501-PM")
        ]
    );

    // 225 minutes from 08:00: one AM leave of 03:45:00.
    let mut hours = one_morning("hours", "2024-03-04", 1, AbsenceStatus::Pending);
    hours.period = Some(proto::absence::Period::Hours(proto::HourPeriod {
        date: "2024-03-04".into(),
        start_minute: 480,
        duration_minutes: 225,
    }));
    let n = app.put(hours).await.unwrap().absence_number;
    let got = app.receiver.wait_for(9, WAIT).await;
    app.receiver.assert_stays_at(9, QUIET).await;
    let body = got[8].json();
    assert_eq!(body["id"], json!(format!("{n}-20240304-AM")));
    assert_eq!(body["isAm"], json!(true));
    assert_eq!(body["durationInHours"], json!("03:45:00"));
    assert_eq!(got[8].header("x-event"), Some("created"));
}

#[tokio::test]
async fn a_repeated_put_is_unchanged_and_a_lower_revision_is_stale() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;
    let first = app
        .put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(first.outcome(), ChangeOutcome::Applied);
    app.receiver.wait_for(4, WAIT).await;

    let again = app
        .put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(again.outcome(), ChangeOutcome::Unchanged);
    assert!(again.events.is_empty());
    assert_eq!(again.absence_number, first.absence_number);

    let older = app
        .put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    assert_eq!(older.outcome(), ChangeOutcome::Stale);
    assert_eq!(older.revision, 2);

    let conflict = app
        .put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Pending))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), tonic::Code::FailedPrecondition);

    app.receiver.assert_stays_at(4, QUIET).await;
    assert_eq!(app.count("deliveries").await, 4);
}

#[tokio::test]
async fn pending_then_approved_then_deleted() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;

    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    let got = app.receiver.wait_for(4, WAIT).await;
    assert!(got.iter().all(|r| r.header("x-event") == Some("created")));
    assert!(got.iter().all(|r| r.json()["isConfirmed"] == json!(false)));

    app.put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    let got = app.receiver.wait_for(8, WAIT).await;
    assert!(
        got[4..]
            .iter()
            .all(|r| r.header("x-event") == Some("approved"))
    );
    assert!(
        got[4..]
            .iter()
            .all(|r| r.json()["isConfirmed"] == json!(true))
    );

    let request = app.clients.request(proto::DeleteAbsenceRequest {
        absence_id: "hr-1".into(),
        revision: 3,
    });
    let deleted = app
        .clients
        .ingest
        .delete_absence(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(deleted.outcome(), ChangeOutcome::Applied);
    assert_eq!(deleted.events.len(), 4);
    let got = app.receiver.wait_for(12, WAIT).await;
    app.receiver.assert_stays_at(12, QUIET).await;
    for request in &got[8..] {
        assert_eq!(request.header("x-event"), Some("deleted"));
        let body = request.json();
        assert_eq!(body["isCancelled"], json!(true));
        assert_ne!(body["cancellationDate"], json!(""));
    }
    // Each leave saw created, then approved, then deleted, in that order.
    for key in ids(&got[..4]) {
        let events: Vec<_> = got
            .iter()
            .filter(|r| r.json()["id"] == json!(key))
            .map(|r| r.header("x-event").unwrap().to_owned())
            .collect();
        assert_eq!(events, ["created", "approved", "deleted"], "{key}");
    }

    // The absence reads back as deleted, with no leaves.
    let request = app.clients.request(proto::GetAbsenceRequest {
        absence_id: "hr-1".into(),
    });
    let stored = app
        .clients
        .ingest
        .get_absence(request)
        .await
        .unwrap()
        .into_inner();
    assert!(stored.deleted);
    assert!(stored.leaves.is_empty());
}

#[tokio::test]
async fn put_absences_answers_each_absence_in_order() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;
    let mut bad = monday_to_tuesday("hr-bad", 1, AbsenceStatus::Approved);
    bad.owner = None;
    let request = app.clients.request(proto::PutAbsencesRequest {
        absences: vec![
            monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending),
            bad,
            monday_to_tuesday("hr-2", 1, AbsenceStatus::Approved),
            monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved),
            monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending),
        ],
    });
    let results = app
        .clients
        .ingest
        .put_absences(request)
        .await
        .unwrap()
        .into_inner()
        .results;
    use proto::put_absence_result::Result as R;
    let outcome = |i: usize| match results[i].result.as_ref().unwrap() {
        R::Change(change) => format!("{:?}", change.outcome()),
        R::Error(error) => error.code.clone(),
    };
    assert_eq!(
        (0..5).map(outcome).collect::<Vec<_>>(),
        ["Applied", "INVALID_ARGUMENT", "Applied", "Applied", "Stale"]
    );
    let R::Error(error) = results[1].result.as_ref().unwrap() else {
        unreachable!()
    };
    assert_eq!(error.field_violations[0].field, "absence.owner");
    // hr-1 created then approved, hr-2 approved: 12 POSTs.
    app.receiver.wait_for(12, WAIT).await;
    app.receiver.assert_stays_at(12, QUIET).await;
}
